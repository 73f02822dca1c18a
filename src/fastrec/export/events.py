"""The place for a session's input events in the exports (issue 12's events step).

The events recorder (clicks, scrolls, keyboard activity counts, window titles, focus,
pauses) is a later step: it will write one events file per session next to the segments.
Until it exists, every export says so plainly: the JSON has ``"events": []`` and
``events_file: null``, the PDF's timeline says "no input events recorded".  Nothing here
invents events: window titles and pauses already in the segments' metadata are shown from
the metadata, as recorded.

Contract for the events step: :func:`session_events` returns the session's
:class:`SessionEvents` (its file's name and its events as JSON objects, each with at least
``at`` (ISO 8601 wall-clock time) and ``kind``), already redacted as written; the exports
then list them in time order and need no other change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["SessionEvents", "session_events", "session_heatmap"]


class SessionEvents(BaseModel):
    """A session's input events, as the exports include them."""

    file: str | None = Field(default=None, description="the events file's name; null: none recorded")
    events: list[dict[str, Any]] = Field(default_factory=list, description="in time order")


def session_events(directory: Path, session_id: str) -> SessionEvents:
    """The events of ``session_id`` in ``directory``: none until the events step records them."""
    return SessionEvents()


def session_heatmap(directory: Path, session_id: str) -> Path | None:
    """The session's click heatmap PNG, once the heatmap step draws one (None: none yet)."""
    return None
