"""The metadata file written next to every segment: ``{basename}_metadata.json``.

The reference's keys (session_id, connection_info, start_time, recorder_settings) keep
their names and shapes, so files written by the reference recorder still load; the rest
(end time, frame counts, capture geometry, file hash, chain links, status, errors) is ours.
Unknown keys are kept on load and written back unchanged: a newer or older writer never
loses what another one recorded.

A metadata file is input, not trusted: anyone who can edit one must not be able to break
a whole command (``verify``, ``list``, ``storage``) with it.  So every value read is
validated with bounds -- part numbers up to :data:`MAX_PART`, sizes, frame counts and
durations non-negative and bounded, hashes 64 hex digits, times between
:data:`EARLIEST` and :data:`LATEST` -- and times are made timezone-aware (a naive one, as
the reference recorder wrote them, is local time), so two of them always compare.  Any
failure to read or parse, including JSON nested deep enough to exhaust the recursion
limit, is one :class:`MetadataError` naming the file and the problem.

The optional ``recorder`` section (:class:`RecorderProcess`) names the process writing a
part (pid, process start time, host), so that :mod:`fastrec.storage.recovery` can tell a
part whose recorder died from one still being written.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from fastrec.storage.files import read_private, write_private
from fastrec.storage.naming import METADATA_SUFFIX, VIDEO_SUFFIX, basename_of
from fastrec.storage.signing import FROM_ENV, KeyRing, Signature, resolve_keys

__all__ = [
    "FORMAT_VERSION",
    "CaptureInfo",
    "ChainInfo",
    "ConnectionInfo",
    "EventsFileInfo",
    "FileInfo",
    "FrameCounts",
    "MetadataError",
    "RecorderProcess",
    "RecorderSettings",
    "SegmentMetadata",
    "SegmentStatus",
    "TimedNote",
    "iter_metadata",
    "read_metadata",
    "signed_content",
    "write_metadata",
]

FORMAT_VERSION = 1
SegmentStatus = Literal["recording", "complete", "interrupted"]

MAX_PART = 1_000_000  # a part a minute for almost two years
MAX_METADATA_BYTES = 4 * 1024 * 1024  # ours are a few kB; anything this big is not ours
EARLIEST = datetime(1971, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, tzinfo=UTC)
_MAX_COUNT = 2**53  # sizes in bytes, frame counts: what a JSON number holds exactly
_MAX_SECONDS = 100 * 366 * 86400.0


def _sane_time(value: datetime) -> datetime:
    # compare before converting: astimezone() itself fails (OverflowError) near year 1
    if not EARLIEST.replace(tzinfo=None).date() <= value.date() <= LATEST.replace(tzinfo=None).date():
        raise ValueError(f"{value.isoformat()} is not between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    return value.astimezone() if value.tzinfo is None else value  # naive: local time


Time = Annotated[datetime, AfterValidator(_sane_time)]
Count = Annotated[int, Field(ge=0, le=_MAX_COUNT)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
FileName = Annotated[str, Field(max_length=1024)]


class _Open(BaseModel):
    # extra="allow": keys we do not know survive a read-modify-write
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)  # validators built on first use, not at import (issue 14)


class ConnectionInfo(_Open):
    """Who connected where (the reference's ``connection_info``)."""

    con_codigo: int | str | None = None
    ip: str | None = None
    name: str | None = None
    user: str | None = None
    connection_type: str | None = None


class RecorderSettings(_Open):
    """The settings the segment was recorded with (the reference's ``recorder_settings``)."""

    fps: int | None = None
    quality: int | None = None
    resolution_scale: float | None = None
    max_file_size_mb: float | None = None
    max_duration_minutes: float | None = None


class FrameCounts(_Open):
    """Frames seen by the capture loop: encoded + unchanged + dropped = captured."""

    captured: Count = 0
    encoded: Count = 0
    unchanged: Count = 0
    dropped: Count = 0


class TimedNote(_Open):
    """Something that happened during a part, ``at_seconds`` into it."""

    at_seconds: float = Field(ge=0, le=10 * 365 * 86400, allow_inf_nan=False)
    text: str = Field(max_length=4096)


class CaptureInfo(_Open):
    """What was captured: mode, screen region [x, y, w, h] and encoded size [w, h]; the
    recorded window's title when it changed (the one shown at the part's start first) and
    why recording paused (the window minimised, covered, gone, or a privacy rule's window
    uncertain); the privacy rules in force (the set at the part's start first) and how many
    capture ticks of this part were not recorded because a window rule could not be applied
    with certainty (``privacy_blocked``: fail closed), and how many frames left the OCR
    stage (RECORDING_OCR_PII) with a changed region blocked because it could not be read
    in time (``ocr_blocked``)."""

    mode: str | None = None
    region: tuple[int, int, int, int] | None = None
    output_size: tuple[int, int] | None = None
    window_titles: list[TimedNote] = Field(default_factory=list, max_length=10_000)
    pauses: list[TimedNote] = Field(default_factory=list, max_length=10_000)
    privacy_rules: list[TimedNote] = Field(default_factory=list, max_length=10_000)
    privacy_blocked: Count = 0
    ocr_blocked: Count = 0


class FileInfo(_Open):
    """The segment's video file: its name (no directory), size and SHA-256 once sealed."""

    name: FileName = ""
    size_bytes: Count | None = None
    sha256: Sha256 | None = None


class EventsFileInfo(_Open):
    """The part's input-events file (:mod:`fastrec.events`), named when the part opens;
    its size and SHA-256 once sealed (the chain hash then covers it too)."""

    name: FileName = ""
    size_bytes: Count | None = None
    sha256: Sha256 | None = None


class ChainInfo(_Open):
    """Links to the neighbouring parts; ``chain_hash = sha256(previous chain_hash + sha256)``."""

    part: int = Field(default=1, ge=1, le=MAX_PART)
    previous_sha256: Sha256 | None = None
    previous_file: FileName | None = None
    next_file: FileName | None = None
    chain_hash: Sha256 | None = None


class RecorderProcess(_Open):
    """The process that writes a part while its status is ``recording``.

    A part whose process is gone (no such pid, or a pid now used by a process that started
    at another time) was orphaned by a crash; ``host`` tells whether the pid can be
    checked here at all (a directory shared between machines).
    """

    pid: int = Field(ge=1, le=2**31)
    start_time: float = Field(ge=0, le=LATEST.timestamp(), allow_inf_nan=False)  # epoch s
    host: str | None = Field(default=None, max_length=255)

    @classmethod
    def current(cls) -> RecorderProcess:
        """This process: its pid, its start time (psutil's figure) and this host's name."""
        import socket

        from fastrec.process_start import this_process_started  # only the writer of a part needs it

        return cls(pid=os.getpid(), start_time=this_process_started(), host=socket.gethostname())


class SegmentMetadata(_Open):
    """Everything known about one segment (one video file) of a recorded session."""

    format_version: int = FORMAT_VERSION
    session_id: str = Field(min_length=1, max_length=1024)
    connection_info: ConnectionInfo = Field(default_factory=ConnectionInfo)
    start_time: Time
    recorder_settings: RecorderSettings = Field(default_factory=RecorderSettings)
    end_time: Time | None = None
    duration_seconds: float | None = Field(default=None, ge=-_MAX_SECONDS, le=_MAX_SECONDS, allow_inf_nan=False)
    frames: FrameCounts = Field(default_factory=FrameCounts)
    capture: CaptureInfo = Field(default_factory=CaptureInfo)
    file: FileInfo = Field(default_factory=FileInfo)
    events: EventsFileInfo | None = None  # None: no input events recorded for this part
    chain: ChainInfo = Field(default_factory=ChainInfo)
    status: SegmentStatus = "recording"
    errors: list[str] = Field(default_factory=list)
    recorder: RecorderProcess | None = None  # set while recording (see RecorderProcess)
    signature: Signature | None = None  # over signed_content(); see fastrec.storage.signing

    def to_json(self) -> str:
        """The file's content: indented JSON, ISO 8601 times."""
        return self.model_dump_json(indent=2)


class MetadataError(ValueError):
    """A metadata file that cannot be read or is not valid metadata; ``path`` names it."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def signed_content(meta: SegmentMetadata) -> dict[str, Any]:
    """What a metadata signature covers: every field (unknown keys too) but the signature."""
    return meta.model_dump(mode="json", exclude={"signature"})




def write_metadata(path: str | os.PathLike[str], meta: SegmentMetadata, *,
                   keys: KeyRing | None = FROM_ENV) -> Path:
    """Atomically replace the metadata file at ``path`` (0600); the old one survives a failure.

    Signed with ``keys`` (by default the ring of FASTREC_SIGNING_KEY_FILE / FASTREC_SIGNING_KEY,
    :func:`~fastrec.storage.signing.keyring_from_env`); without one, written unsigned (a
    signature ``meta`` carried is dropped: it would no longer match).  What is signed is the
    content as a reader will parse it back, so a value held in memory in another form (a
    naive time) cannot make a good file fail verification.
    """
    ring = resolve_keys(keys)
    clean = SegmentMetadata.model_validate_json(meta.model_dump_json(exclude={"signature"}))
    if ring is not None:
        clean.signature = ring.sign("metadata", signed_content(clean))
    return write_private(path, clean.to_json() + "\n")


def read_metadata(path: str | os.PathLike[str]) -> SegmentMetadata:
    """Load a metadata file; raises :class:`MetadataError` naming the file and the problem.

    Unknown keys are kept.  A file from the reference recorder (no ``file`` section) gets
    its video name from its own file name.  Never follows a link, reads only a regular
    file of at most :data:`MAX_METADATA_BYTES`, and turns every parse failure (deep
    nesting included) into MetadataError.
    """
    source = Path(path)
    try:
        raw = read_private(source, MAX_METADATA_BYTES)
    except OSError as exc:
        raise MetadataError(source, f"cannot be read ({exc.strerror or exc})") from exc
    try:
        data: Any = json.loads(raw)
    except RecursionError as exc:
        raise MetadataError(source, "not valid metadata (JSON nested too deeply)") from exc
    except UnicodeDecodeError as exc:
        raise MetadataError(source, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        if not raw.strip():
            raise MetadataError(source, "empty file") from exc
        where = f"at line {exc.lineno} column {exc.colno}"
        raise MetadataError(source, f"not valid JSON ({exc.msg} {where})") from exc
    except ValueError as exc:  # e.g. an integer of thousands of digits (int conversion limit)
        raise MetadataError(source, f"not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise MetadataError(source, f"expected a JSON object, found {type(data).__name__}")
    try:
        meta = SegmentMetadata.model_validate(data)
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors()[:5])
        raise MetadataError(source, f"not valid metadata ({details})") from exc
    except (RecursionError, ValueError, OverflowError) as exc:  # what a validator may let through
        raise MetadataError(source, f"not valid metadata ({type(exc).__name__}: {exc})") from exc
    if not meta.file.name:
        base = basename_of(source)
        if base is not None and source.name.endswith(METADATA_SUFFIX):
            meta.file.name = base + VIDEO_SUFFIX
    return meta


def iter_metadata(directory: str | os.PathLike[str]) -> Iterator[tuple[Path, SegmentMetadata | MetadataError]]:
    """Every ``*_metadata.json`` in ``directory`` (sorted by name) with its content or its error.

    Corrupt files are yielded with their :class:`MetadataError` rather than raised, so one
    bad file never hides the others.
    """
    folder = Path(directory)
    if not folder.is_dir():
        return
    for path in sorted(folder.glob(f"*{METADATA_SUFFIX}")):
        try:
            regular = stat.S_ISREG(path.lstat().st_mode)  # a link is not followed, nor listed
        except OSError:
            continue
        if path.name.startswith(".") or not regular:
            continue
        try:
            yield path, read_metadata(path)
        except MetadataError as exc:
            yield path, exc
