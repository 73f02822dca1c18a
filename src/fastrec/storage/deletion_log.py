"""The deletion log: one signed, chained JSON line per deletion, the tombstones ``verify`` reads.

``fastrec_deletions.jsonl`` in the recordings directory holds one :class:`DeletionRecord`
per deletion -- a session deleted by an admin (:mod:`fastrec.storage.deletions`) or a
segment deleted by retention (:mod:`fastrec.storage.retention`, ``by="retention"``): who,
when, why, and each deleted part's file name, SHA-256 and chain hash as they were.  So
``verify`` reports such a part as *deleted* (by whom, on which date) instead of missing,
and a part deleted by hand, with no record, is still reported missing.

Why records are trustworthy:

- The lines are chained: each carries the SHA-256 of the line before it (``previous``),
  so removing or editing a record breaks the log (:func:`verify_deletions`).
- With a signing key configured (:mod:`fastrec.storage.signing`) each record is signed
  over its whole content, ``previous`` included; ``verify`` accepts a tombstone only when
  its signature holds, so whoever cannot sign cannot hide a deletion behind a forged one.
- A record is appended and fsync'ed *before* any file is removed: a crash part-way leaves
  a record naming files that may still exist (harmless), never a silent deletion.

Kept free of the recorder's other storage modules so that :mod:`fastrec.storage.integrity`
can read it without an import cycle.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fastrec.storage.files import create_private, read_private
from fastrec.storage.signing import FROM_ENV, KeyRing, Signature, resolve_keys

__all__ = ["DELETIONS_FILE", "RETENTION", "DeletedPart", "DeletionRecord", "append_deletion", "read_deletions",
           "record_content", "verify_deletions"]

DELETIONS_FILE = "fastrec_deletions.jsonl"
RETENTION = "retention"  # the ``by`` of records that retention writes
_MAX_LOG = 256 * 1024 * 1024


class DeletedPart(BaseModel):
    model_config = ConfigDict(defer_build=True)  # validators built on first use, not at import (issue 14)

    part: int
    file: str
    sha256: str | None = None
    chain_hash: str | None = None
    size_bytes: int | None = None


class DeletionRecord(BaseModel):
    """One deletion: ``previous`` is the SHA-256 of the log's previous line (None for the first)."""

    model_config = ConfigDict(defer_build=True)  # validators built on first use, not at import (issue 14)
    at: float
    session_id: str
    by: str
    reason: str = ""
    parts: list[DeletedPart] = Field(default_factory=list)
    previous: str | None = None
    signature: Signature | None = None  # over record_content(); None when no key was configured


def record_content(record: DeletionRecord) -> dict[str, Any]:
    """What a record's signature covers: everything but the signature."""
    return record.model_dump(mode="json", exclude={"signature"})


@dataclass(frozen=True, slots=True)
class _Line:
    raw: bytes
    record: DeletionRecord | None


def _lines(directory: Path) -> list[_Line]:
    path = directory / DELETIONS_FILE
    try:
        data = read_private(path, _MAX_LOG)
    except FileNotFoundError:
        return []
    out: list[_Line] = []
    for raw in data.splitlines():
        if not raw.strip():
            continue
        try:
            out.append(_Line(raw, DeletionRecord.model_validate_json(raw)))
        except ValueError:
            out.append(_Line(raw, None))
    return out


def read_deletions(directory: str | os.PathLike[str]) -> list[DeletionRecord]:
    """Every readable deletion record, oldest first."""
    return [line.record for line in _lines(Path(directory)) if line.record is not None]


def verify_deletions(directory: str | os.PathLike[str]) -> list[str]:
    """Problems with the deletion log's chain (empty when intact)."""
    problems: list[str] = []
    previous: str | None = None
    for number, line in enumerate(_lines(Path(directory)), 1):
        if line.record is None:
            problems.append(f"line {number}: not a deletion record")
        elif line.record.previous != previous:
            problems.append(f"line {number}: does not follow line {number - 1} (a record was removed or edited)")
        previous = hashlib.sha256(line.raw).hexdigest()
    return problems


def append_deletion(directory: str | os.PathLike[str], record: DeletionRecord, *,
                    keys: KeyRing | None = FROM_ENV) -> DeletionRecord:
    """Append ``record`` to the log, chained to its last line and signed with ``keys`` (by
    default FASTREC_SIGNING_KEY_FILE / FASTREC_SIGNING_KEY's ring); fsync'ed before it
    returns the record as written.  Callers remove files only after this returns."""
    folder = Path(directory)
    ring = resolve_keys(keys)
    lines = _lines(folder)
    written = record.model_copy(update={"previous": hashlib.sha256(lines[-1].raw).hexdigest() if lines else None,
                                        "signature": None})
    if ring is not None:
        written.signature = ring.sign("deletion", record_content(written))
    path = folder / DELETIONS_FILE
    try:
        os.close(create_private(path))
    except FileExistsError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        os.write(fd, written.model_dump_json(exclude_none=False).encode("utf-8") + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return written
