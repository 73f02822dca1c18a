"""The metadata file written next to every segment: ``{basename}_metadata.json``.

The reference's keys (session_id, connection_info, start_time, recorder_settings) keep
their names and shapes, so files written by the reference recorder still load; the rest
(end time, frame counts, capture geometry, file hash, chain links, status, errors) is ours.
Unknown keys are kept on load and written back unchanged: a newer or older writer never
loses what another one recorded.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fastrec.storage.files import write_private
from fastrec.storage.naming import METADATA_SUFFIX, VIDEO_SUFFIX, basename_of

__all__ = [
    "FORMAT_VERSION",
    "CaptureInfo",
    "ChainInfo",
    "ConnectionInfo",
    "FileInfo",
    "FrameCounts",
    "MetadataError",
    "RecorderSettings",
    "SegmentMetadata",
    "SegmentStatus",
    "iter_metadata",
    "read_metadata",
    "write_metadata",
]

FORMAT_VERSION = 1
SegmentStatus = Literal["recording", "complete", "interrupted"]


class _Open(BaseModel):
    # extra="allow": keys we do not know survive a read-modify-write
    model_config = ConfigDict(extra="allow", populate_by_name=True)


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

    captured: int = 0
    encoded: int = 0
    unchanged: int = 0
    dropped: int = 0


class CaptureInfo(_Open):
    """What was captured: mode, screen region [x, y, w, h] and encoded size [w, h]."""

    mode: str | None = None
    region: tuple[int, int, int, int] | None = None
    output_size: tuple[int, int] | None = None


class FileInfo(_Open):
    """The segment's video file: its name (no directory), size and SHA-256 once sealed."""

    name: str = ""
    size_bytes: int | None = None
    sha256: str | None = None


class ChainInfo(_Open):
    """Links to the neighbouring parts; ``chain_hash = sha256(previous chain_hash + sha256)``."""

    part: int = Field(default=1, ge=1)
    previous_sha256: str | None = None
    previous_file: str | None = None
    next_file: str | None = None
    chain_hash: str | None = None


class SegmentMetadata(_Open):
    """Everything known about one segment (one video file) of a recorded session."""

    format_version: int = FORMAT_VERSION
    session_id: str
    connection_info: ConnectionInfo = Field(default_factory=ConnectionInfo)
    start_time: datetime
    recorder_settings: RecorderSettings = Field(default_factory=RecorderSettings)
    end_time: datetime | None = None
    duration_seconds: float | None = None
    frames: FrameCounts = Field(default_factory=FrameCounts)
    capture: CaptureInfo = Field(default_factory=CaptureInfo)
    file: FileInfo = Field(default_factory=FileInfo)
    chain: ChainInfo = Field(default_factory=ChainInfo)
    status: SegmentStatus = "recording"
    errors: list[str] = Field(default_factory=list)

    def to_json(self) -> str:
        """The file's content: indented JSON, ISO 8601 times."""
        return self.model_dump_json(indent=2)


class MetadataError(ValueError):
    """A metadata file that cannot be read or is not valid metadata; ``path`` names it."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def write_metadata(path: str | os.PathLike[str], meta: SegmentMetadata) -> Path:
    """Atomically replace the metadata file at ``path`` (0600); the old one survives a failure."""
    return write_private(path, meta.to_json() + "\n")


def read_metadata(path: str | os.PathLike[str]) -> SegmentMetadata:
    """Load a metadata file; raises :class:`MetadataError` naming the file and the problem.

    Unknown keys are kept.  A file from the reference recorder (no ``file`` section) gets
    its video name from its own file name.
    """
    source = Path(path)
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise MetadataError(source, f"cannot be read ({exc.strerror or exc})") from exc
    try:
        data: Any = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise MetadataError(source, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        if not raw.strip():
            raise MetadataError(source, "empty file") from exc
        where = f"at line {exc.lineno} column {exc.colno}"
        raise MetadataError(source, f"not valid JSON ({exc.msg} {where})") from exc
    if not isinstance(data, dict):
        raise MetadataError(source, f"expected a JSON object, found {type(data).__name__}")
    try:
        meta = SegmentMetadata.model_validate(data)
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors())
        raise MetadataError(source, f"not valid metadata ({details})") from exc
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
        if path.name.startswith(".") or not path.is_file():
            continue
        try:
            yield path, read_metadata(path)
        except MetadataError as exc:
            yield path, exc
