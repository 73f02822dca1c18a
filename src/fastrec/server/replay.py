"""One timeline over all of a session's parts: the HLS playlist hls.js plays and the
:class:`Timeline` the player draws (wall clock, idle stretches, markers), built by the
media layer (:mod:`fastrec.server.media`) from the parts the catalogue found.

A session still being recorded gets a low-latency playlist (each fragment also listed as an
LL-HLS part as soon as it is whole) so "Watch" shows it a few seconds behind real time and a
rewind still starts at a keyframe; a sealed session one segment per keyframe group.  A
part whose file cannot be indexed (missing, a plain MP4 of an older version, damaged) is
left out of both and named in an ``error`` marker at the end of the timeline: the rest of
the session still plays.

Input events that deserve a marker (rage clicks, from the parts' events files) are placed
by their wall-clock time like bookmarks; titles and pauses already come from the parts'
metadata (``window`` and ``pause`` markers), so their events are not marked twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from fastrec.events.model import Event, EventKind, RageClick
from fastrec.server.catalogue import SessionParts
from fastrec.server.media.fmp4 import FragmentIndexError, index_fragments
from fastrec.server.media.playlist import (
    IdleStretch,
    Marker,
    PartMedia,
    Timeline,
    TimelinePart,
    build_timeline as _build_timeline,
    media_playlist,
    part_media,
)
from fastrec.server.notes import Bookmark

__all__ = ["IdleStretch", "Marker", "Timeline", "TimelinePart", "build_playlist", "build_timeline"]


def _media(parts: SessionParts, uri: Callable[[int], str]) -> tuple[list[PartMedia], list[str]]:
    media: list[PartMedia] = []
    problems: list[str] = []
    for entry, meta in zip(parts.entries, parts.metadata, strict=True):
        if meta is None:
            problems.append(f"part {entry.part}: its metadata cannot be read")
            continue
        try:
            media.append(part_media(meta, index_fragments(entry.path), uri(entry.part)))
        except FragmentIndexError as exc:
            problems.append(f"part {entry.part} cannot be replayed: {exc.problem}")
    return media, problems


def build_playlist(parts: SessionParts, uri: Callable[[int], str]) -> str:
    """The HLS media playlist of ``parts``; ``uri(part)`` is where the server serves each file."""
    media, _ = _media(parts, uri)
    return media_playlist(media, low_latency=parts.recording)


def build_timeline(parts: SessionParts, bookmarks: Sequence[Bookmark], idle_seconds: float,
                   *, include_notes: bool = True, events: Sequence[Event] = ()) -> Timeline:
    """The player's timeline of ``parts``; bookmarks become markers when ``include_notes``
    (a share link's anonymous viewer does not see the auditors' notes); rage clicks among
    ``events`` become ``rage_click`` markers."""
    media, problems = _media(parts, lambda part: f"part-{part}")  # the timeline names no URI
    marks = [(datetime.fromtimestamp(b.moment, UTC), b.note) for b in bookmarks] if include_notes else []
    timeline = _build_timeline(media, session_id=parts.session_id, low_latency=parts.recording,
                               idle_threshold=idle_seconds, bookmarks=marks)
    if timeline.parts:
        for event in events:
            if event.kind == EventKind.RAGE_CLICK:
                assert isinstance(event, RageClick)
                timeline.markers.append(Marker(
                    at=timeline.position(event.at), wall=event.at, kind="rage_click",
                    text=f"rage click: {event.clicks} {event.button} clicks at {event.x:g} %, {event.y:g} %"))
        timeline.markers.sort(key=lambda m: m.at)
    end = timeline.parts[-1].wall_end if timeline.parts else None
    for problem in problems:
        timeline.markers.append(Marker(at=timeline.duration, wall=end or datetime.now(UTC), kind="error",
                                       text=problem))
    return timeline
