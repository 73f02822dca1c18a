"""Deleting a recorded session on purpose, with a record that the integrity chain keeps.

An auditor must be able to tell a recording that was deleted by an admin from one that
vanished.  Each deletion appends one JSON line to ``fastrec_deletions.jsonl`` in the
recordings directory: who, when, why, and every part's file name, SHA-256 and chain hash
(the chain as it was).  The lines are themselves chained: each carries the SHA-256 of
the line before it (``previous``), so removing or editing a deletion record breaks the
log's chain (:func:`verify_deletions`).

Invariants:

- The record is written and fsync'ed *before* any file is removed: a crash part-way
  leaves a record naming files that may still exist (harmless), never a silent deletion.
- Only the files the session's own metadata names are removed (a
  :func:`~fastrec.storage.segments.scan_segments` segment: video, temporary files,
  metadata last), never a link or a file another program put there.
- A part whose recorder still runs is never deleted (:class:`DeletionRefused`).
- Parts uploaded to the directory's object store (:func:`~fastrec.storage.videos.store_for`)
  are deleted there first; a store that is down raises (an OSError) with the local files kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from fastrec.storage.files import create_private, read_private
from fastrec.storage.recovery import recorder_alive
from fastrec.storage.segments import Segment, scan_segments
from fastrec.storage.videos import store_for

__all__ = ["DELETIONS_FILE", "DeletionRecord", "DeletionRefused", "delete_session", "read_deletions",
           "verify_deletions"]

DELETIONS_FILE = "fastrec_deletions.jsonl"
_MAX_LOG = 256 * 1024 * 1024


class DeletedPart(BaseModel):
    part: int
    file: str
    sha256: str | None = None
    chain_hash: str | None = None
    size_bytes: int | None = None


class DeletionRecord(BaseModel):
    """One deletion: ``previous`` is the SHA-256 of the log's previous line (None for the first)."""

    at: float
    session_id: str
    by: str
    reason: str = ""
    parts: list[DeletedPart] = Field(default_factory=list)
    previous: str | None = None


class DeletionRefused(RuntimeError):
    """The session cannot be deleted now; the message says why."""


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


def _append(directory: Path, record: DeletionRecord) -> None:
    path = directory / DELETIONS_FILE
    try:
        os.close(create_private(path))
    except FileExistsError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        os.write(fd, record.model_dump_json().encode("utf-8") + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def delete_session(directory: str | os.PathLike[str], session_id: str, *, by: str,
                   reason: str = "") -> DeletionRecord | None:
    """Delete every part of ``session_id`` in ``directory``; the record, or None when the
    session has no parts there.  Raises :class:`DeletionRefused` while a part's recorder
    runs, OSError when a file or an object cannot be removed (the record says what was meant)."""
    folder = Path(directory)
    segments: list[Segment] = [s for s in scan_segments(folder) if s.session_id == session_id]
    if not segments:
        return None
    for segment in segments:
        meta = segment.meta
        if meta is not None and meta.status == "recording" and meta.recorder is not None \
                and recorder_alive(meta.recorder) is not False:
            raise DeletionRefused(f"session {session_id!r} part {meta.chain.part} is still being recorded "
                                  f"(pid {meta.recorder.pid}); stop it first")
    lines = _lines(folder)
    previous = hashlib.sha256(lines[-1].raw).hexdigest() if lines else None
    parts = [DeletedPart(part=s.part, file=s.video_path.name,
                         sha256=s.meta.file.sha256 if s.meta else None,
                         chain_hash=s.meta.chain.chain_hash if s.meta else None,
                         size_bytes=s.meta.file.size_bytes if s.meta else None)
             for s in sorted(segments, key=lambda s: s.part)]
    record = DeletionRecord(at=time.time(), session_id=session_id, by=by, reason=reason, parts=parts,
                            previous=previous)
    _append(folder, record)
    store = store_for(folder)
    for segment in segments:
        if store is not None:  # the uploaded copies first: the local metadata records them until then
            store.delete_segment(segment.basename)
        for path in segment.files:  # video, temps, metadata last
            try:
                path.unlink()
            except FileNotFoundError:
                continue
    return record
