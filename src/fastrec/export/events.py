"""A session's input events as the exports include them (issue 12).

The events are read from the parts' events files (:mod:`fastrec.events.file`: the files
each part's metadata names, in part order), as recorded - titles were redacted when they
were written, keys were never recorded - and listed in time order (by ``t``).  A damaged
file or line never fails an export: what can be read is listed and the rest is named in
``problems``.  A session recorded without input events has ``file`` null and no events.

Contract for the exports: each event is a JSON object with at least ``kind``
(:class:`~fastrec.events.model.EventKind`), ``at`` (ISO 8601 wall-clock time) and ``t``
(seconds since the session's start).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from fastrec.events.file import read_session_events, session_event_files

__all__ = ["SessionEvents", "session_events"]


class SessionEvents(BaseModel):
    """A session's input events, as the exports include them."""

    file: str | None = Field(default=None, description="the first part's events file; null: none recorded")
    files: list[str] = Field(default_factory=list, description="every part's events file, in part order")
    events: list[dict[str, Any]] = Field(default_factory=list, description="in time order")
    problems: list[str] = Field(default_factory=list, description="unreadable files or lines, skipped")


def session_events(directory: Path, session_id: str) -> SessionEvents:
    """The events of ``session_id`` in ``directory``, from every part's events file."""
    files = [path.name for _, path in session_event_files(directory, session_id)]
    events, problems = read_session_events(directory, session_id)
    return SessionEvents(file=files[0] if files else None, files=files,
                         events=[event.model_dump(mode="json") for event in events], problems=problems)

