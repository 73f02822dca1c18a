"""One timeline over all of a session's parts: the HLS playlist hls.js plays and the
:class:`Timeline` the player draws (wall clock, idle stretches, markers).

Timeline seconds run from 0 at the first frame of part 1 through the parts in order with
no dead time between parts (a session stopped and started again under the same id shows
a "gap" marker instead); ``wall_start + (t - offset)`` within a part is the wall-clock
time of the frame shown at timeline second ``t``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from fastrec.server.catalogue import SessionParts
from fastrec.server.notes import Bookmark

__all__ = ["IdleStretch", "Marker", "Timeline", "TimelinePart", "build_playlist", "build_timeline"]


class TimelinePart(BaseModel):
    part: int
    offset: float          # timeline seconds where the part starts
    duration: float        # seconds
    wall_start: datetime   # wall clock of the part's first frame
    recording: bool = False


class IdleStretch(BaseModel):
    start: float
    end: float


class Marker(BaseModel):
    at: float              # timeline seconds
    wall: datetime
    kind: Literal["pause", "error", "bookmark", "gap", "window"]
    text: str


class Timeline(BaseModel):
    session_id: str
    duration: float
    live: bool
    parts: list[TimelinePart]
    idle: list[IdleStretch]
    markers: list[Marker]
    start_at: float | None = None  # epoch seconds the player opens at (a share link's start)


def build_playlist(parts: SessionParts, uri: Callable[[int], str]) -> str:
    raise NotImplementedError("media layer not merged yet")


def build_timeline(parts: SessionParts, bookmarks: Sequence[Bookmark], idle_seconds: float) -> Timeline:
    raise NotImplementedError("media layer not merged yet")
