"""One entry point for every export format: what the CLI and the admin server call.

:func:`export_session` loads the session (:class:`~.source.SessionSource`), resolves the
time range, writes the chosen format and returns an :class:`ExportOutcome`.  The default
file name is :func:`default_name`: the session id made safe for a file name
(:func:`fastrec.storage.naming.sanitize_component`), the range when there is one, and the
format's extension.  Errors a caller can fix are :class:`ExportRefused` (bad range,
unknown session, parts that do not verify, parts that cannot be joined): each message
names what was asked, the value and what is allowed.

Encrypted sessions: ``seal=True`` (the admin server's stored exports) writes an encrypted
session's export sealed (:class:`~fastrec.export.output.SealedOutput`); without it (the
CLI's ``--output FILE``) the file is the plaintext the user asked for.  Either way no
intermediate file of an encrypted session is plaintext (:mod:`.output`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from fastrec.export.output import ExportOutput, PlainOutput, SealedOutput
from fastrec.export.progress import Progress, no_progress
from fastrec.export.source import NoSuchSession, SessionSource, UnverifiedParts
from fastrec.export.timerange import RangeError, TimeBound, TimeRange
from fastrec.storage.naming import sanitize_component

__all__ = ["FORMATS", "ExportFormat", "ExportOutcome", "ExportRefused", "default_name", "export_session"]

ExportFormat = Literal["json", "mp4", "pdf"]
FORMATS: tuple[ExportFormat, ...] = ("json", "mp4", "pdf")
MEDIA_TYPES: dict[str, str] = {"json": "application/json", "mp4": "video/mp4", "pdf": "application/pdf"}


class ExportRefused(ValueError):
    """The export cannot be made as asked; the message says why and what is allowed.

    ``reason``: ``usage`` (a bad format or range: CLI exit 2, HTTP 422), ``not_found`` (no
    such session: exit 1, 404) or ``refused`` (parts that do not verify or cannot be
    joined: exit 1, 409).
    """

    def __init__(self, message: str, reason: Literal["usage", "not_found", "refused"] = "refused") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ExportOutcome:
    """What was written: the file, the wall-clock span it covers, and notes for the operator."""

    path: Path
    format: ExportFormat
    session_id: str
    start: datetime
    end: datetime
    notes: tuple[str, ...] = field(default=())  # parts let through unverified, frames re-encoded...
    sealed: bool = False  # written encrypted (SealedOutput): read it with open_sealed


def default_name(session_id: str, fmt: ExportFormat, time_range: TimeRange | None = None) -> str:
    """``{session}[_{HHMMSS}-{HHMMSS}].{fmt}``, safe on every filesystem."""
    stem = sanitize_component(session_id, 96, max_bytes=160)
    if time_range is not None:
        stem += f"_{time_range.start.astimezone():%Y%m%d_%H%M%S}-{time_range.end.astimezone():%H%M%S}"
    return f"{stem}.{fmt}"


def export_session(directory: str | os.PathLike[str], session_id: str, fmt: ExportFormat, *,
                   output: str | os.PathLike[str] | None = None, output_dir: str | os.PathLike[str] | None = None,
                   first: TimeBound | None = None, last: TimeBound | None = None,
                   allow_unverified: bool = False, seal: bool = False,
                   progress: Progress = no_progress) -> ExportOutcome:
    """Export ``session_id`` of the recordings in ``directory`` as ``fmt``.

    ``output`` names the file; otherwise it is :func:`default_name` in ``output_dir`` (default:
    the current directory).  ``first``/``last`` bound the range (MP4 and PDF; the JSON
    export is always the whole session).  ``allow_unverified`` lets parts that do not verify
    into an MP4 (the file's comment and the outcome's notes say which).  ``seal``: an
    encrypted session's export is written encrypted (see the module).
    """
    if fmt not in FORMATS:
        raise ExportRefused(f"format={fmt!r}: must be one of {', '.join(FORMATS)}", "usage")
    if fmt == "json" and (first is not None or last is not None):
        raise ExportRefused("--from/--to: the JSON export is always the whole session (formats mp4 and pdf "
                            "take a time range)", "usage")
    try:
        source = SessionSource.load(directory, session_id)
    except NoSuchSession as exc:
        raise ExportRefused(str(exc), "not_found") from None
    if not source.playable() and fmt != "json":
        why = next((f" ({p.meta.file.name}: {p.problem})" for p in source.parts if p.problem), "")
        raise ExportRefused(f"session {session_id!r}: no part holds playable video{why} (verify shows why)")
    try:
        time_range = (TimeRange.within(source.start, source.end, first, last)
                      if first is not None or last is not None else None)
    except RangeError as exc:
        raise ExportRefused(str(exc), "usage") from None
    name = default_name(session_id, fmt, time_range)
    if output is None:
        target = Path(output_dir or ".") / name
    else:  # an existing directory gets the default name in it
        target = Path(output) / name if Path(output).is_dir() else Path(output)
    span = time_range or TimeRange(source.start, source.end)
    output = _output(source, target, seal)
    try:
        if fmt == "json":
            from fastrec.export.document import export_json

            document = export_json(source, output, progress)
            notes = () if document.integrity.ok else (document.integrity.summary,)
        elif fmt == "mp4":
            from fastrec.export.mp4 import ExportError, export_mp4

            try:
                made = export_mp4(source, output, time_range, allow_unverified=allow_unverified, progress=progress)
            except ExportError as exc:
                raise ExportRefused(str(exc)) from None
            span = TimeRange(made.start, made.end)  # its start may move onto a frame (.mp4)
            notes = tuple(f"unverified: {line}" for line in made.unverified)
            if made.reencoded_frames:
                notes += (f"{made.reencoded_frames} frame(s) re-encoded (the range starts inside a group of "
                          f"pictures), {made.copied_frames} copied",)
        else:
            from fastrec.export.pdf import export_pdf

            report = export_pdf(source, output, time_range, progress=progress)
            notes = report.notes
    except UnverifiedParts as exc:
        raise ExportRefused(str(exc)) from None
    return ExportOutcome(target, fmt, session_id, span.start, span.end, tuple(notes), output.sealed)


def _output(source: SessionSource, target: Path, seal: bool) -> ExportOutput:
    """Where the export goes: sealed when asked and the session is stored encrypted."""
    if not seal or not source.encrypted:
        return PlainOutput(target)
    from fastrec.crypt.context import encryption_for

    encryption = encryption_for(source.directory)
    if encryption is None:
        raise ExportRefused(f"session {source.session_id!r}: encrypted, and no keys are set for "
                            f"{source.directory} (FASTREC_ENCRYPTION_KEY_FILE or FASTREC_ENCRYPTION_KEY)")
    return SealedOutput(target, encryption, source.session_id)
