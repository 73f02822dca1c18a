"""A session's heatmaps: its events (of a time range) drawn over its picture at that time.

What the CLI (``heatmap``), the admin server (``/api/recordings/{id}/heatmap[.png]``) and
the PDF report call.  The events are the session's events files
(:func:`fastrec.events.file.read_session_events`), kept when their wall-clock ``at`` lies in
the range (both ends included; no range: every event of the session).  The picture is the
frame shown at the middle of the range (:func:`fastrec.export.frame.frame_at`) - the
session's middle without a range - or, when no part has a readable frame, a blank picture
of the region's encoded size.  Computation and drawing: :mod:`fastrec.events.heatmap` and
:mod:`fastrec.events.heatmap_image`.

Invariant: a damaged events file never fails a heatmap: what can be read is counted, the
rest is named in ``problems``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from fastrec.events.file import read_session_events
from fastrec.events.heatmap import ClickStats, ScrollDepth, click_stats, scroll_depth
from fastrec.events.heatmap_image import blank_picture, png_bytes, render_clicks, render_scroll
from fastrec.events.model import Click, Event, Scroll
from fastrec.export.frame import frame_at
from fastrec.export.source import SessionSource
from fastrec.export.timerange import TimeBound, TimeRange

__all__ = ["HEATMAP_KINDS", "HeatmapImage", "HeatmapKind", "HeatmapStats", "heatmap_image", "heatmap_stats",
           "resolve_range"]

HeatmapKind = Literal["clicks", "scroll"]
HEATMAP_KINDS: tuple[HeatmapKind, ...] = ("clicks", "scroll")
_DEFAULT_SIZE = (640, 360)  # a blank picture when the metadata does not say the encoded size


@dataclass(frozen=True, slots=True)
class HeatmapStats:
    """The numbers behind both heatmaps of one range of a session."""

    session_id: str
    start: datetime | None  # the range (None: the whole session, every event)
    end: datetime | None
    clicks: ClickStats
    scroll: ScrollDepth
    problems: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class HeatmapImage:
    """A drawn heatmap: PNG bytes, its kind and the moment of the picture under it."""

    kind: HeatmapKind
    png: bytes
    width: int
    height: int
    picture_at: datetime | None  # None: no frame could be read, drawn over a blank picture
    stats: HeatmapStats


def resolve_range(source: SessionSource, first: TimeBound | None, last: TimeBound | None) -> TimeRange | None:
    """``first``..``last`` within the session (None when neither is given); RangeError."""
    if first is None and last is None:
        return None
    return TimeRange.within(source.start, source.end, first, last)


def _events(source: SessionSource, span: TimeRange | None) -> tuple[list[Event], list[str]]:
    events, problems = read_session_events(source.directory, source.session_id)
    if span is not None:
        events = [e for e in events if span.start <= e.at <= span.end]
    return events, problems


def _stats(source: SessionSource, span: TimeRange | None, events: list[Event], problems: list[str]) -> HeatmapStats:
    return HeatmapStats(source.session_id, None if span is None else span.start, None if span is None else span.end,
                        click_stats(e for e in events if isinstance(e, Click)),
                        scroll_depth(e for e in events if isinstance(e, Scroll)), tuple(problems))


def heatmap_stats(source: SessionSource, span: TimeRange | None = None) -> HeatmapStats:
    """Click statistics and scroll depth of ``span`` (default: the whole session)."""
    return _stats(source, span, *_events(source, span))


def _picture(source: SessionSource, span: TimeRange | None) -> tuple[Any, datetime | None]:
    start, end = (source.start, source.end) if span is None else (span.start, span.end)
    frame = frame_at(source, start + (end - start) / 2)
    if frame is not None:
        return frame.image, frame.at
    size = next((p.meta.capture.output_size for p in source.parts if p.meta.capture.output_size), None)
    width, height = size or _DEFAULT_SIZE
    return blank_picture(width, height), None


def heatmap_image(source: SessionSource, span: TimeRange | None = None, kind: HeatmapKind = "clicks") -> HeatmapImage:
    """The ``kind`` heatmap of ``span`` (default: the whole session) as a PNG."""
    if kind not in HEATMAP_KINDS:
        raise ValueError(f"kind={kind!r}: must be one of {', '.join(HEATMAP_KINDS)}")
    events, problems = _events(source, span)
    stats = _stats(source, span, events, problems)
    picture, at = _picture(source, span)
    if kind == "clicks":
        drawn = render_clicks(picture, (e for e in events if isinstance(e, Click)))
    else:
        drawn = render_scroll(picture, stats.scroll)
    return HeatmapImage(kind, png_bytes(drawn), drawn.width, drawn.height, at, stats)
