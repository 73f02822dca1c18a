"""The JSON export: the whole session in one document (:class:`SessionExport`).

Field names are stable (``format`` and ``format_version`` say which shape a file has;
a change of shape bumps the version):

- ``session_id``, ``exported_at``, ``start_time`` / ``end_time`` (wall-clock, first frame
  to the end of the last one), ``duration_seconds``, ``size_bytes`` (all parts);
- ``integrity``: ``ok`` and ``summary`` of the chain verification (as ``verify`` prints it);
- ``segments``: per part, in chain order: ``part``, ``file``, ``size_bytes`` and ``sha256``
  of the file as it is on disk now (null when it is gone), ``status`` (the chain verdict:
  ok, modified, missing, reordered, unsealed), ``problems``, and ``metadata``: the part's
  metadata file as stored (unknown keys kept);
- ``events``: the session's input events in time order (:mod:`.events`; each with
  ``kind``, ``at``, ``t`` and its kind's fields, see README "Input events"),
  ``events_file``: the first part's events file (null: none recorded), ``events_files``:
  every part's, ``events_problems``: damaged files or lines that were skipped.

Nothing is re-derived from user input and nothing is added that the recorder did not
store: connection details and window titles were redacted when they were recorded.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from fastrec.export.events import session_events
from fastrec.export.output import ExportOutput, as_output
from fastrec.export.progress import Progress, no_progress
from fastrec.export.source import PartSource, SessionSource
from fastrec.storage.integrity import sha256_stream

__all__ = ["FORMAT", "FORMAT_VERSION", "IntegritySummary", "SegmentExport", "SessionExport", "build_document",
           "export_json"]

FORMAT = "fastrec.session-export"
FORMAT_VERSION = 1


class SegmentExport(BaseModel):
    """One part: its file as on disk, its chain verdict and its metadata as stored."""

    part: int
    file: str
    size_bytes: int | None = Field(description="on disk now; null when the file is gone")
    sha256: str | None = Field(description="of the file on disk now; null when it is gone")
    status: Literal["ok", "modified", "missing", "reordered", "unsealed"]
    problems: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(description="the part's _metadata.json as stored")


class IntegritySummary(BaseModel):
    ok: bool
    summary: str


class SessionExport(BaseModel):
    """The JSON export of one session (``format`` fastrec.session-export, version 1)."""

    format: Literal["fastrec.session-export"] = FORMAT
    format_version: Literal[1] = FORMAT_VERSION
    session_id: str
    exported_at: datetime
    start_time: datetime
    end_time: datetime
    duration_seconds: float
    size_bytes: int
    integrity: IntegritySummary
    segments: list[SegmentExport]
    events_file: str | None = None
    events_files: list[str] = Field(default_factory=list)
    events: list[dict[str, Any]] = Field(default_factory=list)
    events_problems: list[str] = Field(default_factory=list)


def build_document(source: SessionSource, progress: Progress = no_progress) -> SessionExport:
    """The document for ``source`` (hashes every part's file: reports progress per part)."""
    segments = []
    total = len(source.parts)
    for number, part in enumerate(source.parts, 1):
        progress((number - 1) / total, f"hashing part {part.part} of {total}")
        size, sha256 = _measure(part)
        check = part.check
        segments.append(SegmentExport(
            part=part.part, file=part.meta.file.name,
            size_bytes=size, sha256=sha256,
            status=check.status if check is not None else "missing",
            problems=list(check.problems) if check is not None else ["not in the chain verdict"],
            metadata=json.loads(part.meta.to_json())))
    events = session_events(source.directory, source.session_id)
    return SessionExport(
        session_id=source.session_id, exported_at=datetime.now().astimezone(), start_time=source.start,
        end_time=source.end, duration_seconds=(source.end - source.start).total_seconds(),
        size_bytes=source.size_bytes, integrity=IntegritySummary(ok=source.report.ok, summary=source.report.summary),
        segments=segments, events_file=events.file, events_files=events.files, events=events.events,
        events_problems=events.problems)


def export_json(source: SessionSource, output: str | os.PathLike[str] | ExportOutput,
                progress: Progress = no_progress) -> SessionExport:
    """Write the document to ``output`` (atomically, 0600; a path or an
    :class:`~fastrec.export.output.ExportOutput`) and return it."""
    document = build_document(source, progress)
    target = as_output(output)
    target.write_bytes((document.model_dump_json(indent=2) + "\n").encode("utf-8"))
    progress(1.0, f"{len(document.segments)} segment(s) in {target.path.name}")
    return document


def _measure(part: PartSource) -> tuple[int | None, str | None]:
    """The size and SHA-256 of the part's bytes as they are now (on disk or in the object
    store; an encrypted part's ciphertext, which its seal is of), or (None, None) when they
    cannot be read."""
    try:
        with part.open_video(decrypt=False) as video:
            return video.size, sha256_stream(video.handle)
    except OSError:
        return None, None
