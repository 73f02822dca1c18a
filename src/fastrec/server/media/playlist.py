"""One HLS media playlist and one timeline over all the parts of a recorded session.

A session is recorded as parts (rotation; or the same session id stopped and started
again), each a fragmented MP4 (:mod:`.fmp4`).  The player (hls.js) gets one media
playlist - one timeline - for all of them: per part an ``EXT-X-MAP`` (its ftyp+moov) and
its media segments as byte ranges of the part's file, an ``EXT-X-DISCONTINUITY`` between
parts (each starts its timestamps at 0), and an ``EXT-X-PROGRAM-DATE-TIME`` on every
segment (the wall-clock time of its first frame).  :class:`Timeline` describes the same
timeline for the player's UI: where each part sits, idle stretches, markers, and the
mapping between timeline seconds and wall-clock time.

Segments (what hls.js fetches and appends) are keyframe groups: a keyframe-started run of
fragments, up to the next keyframe.  Every segment starts with an IDR frame (so the playlist
says ``EXT-X-INDEPENDENT-SEGMENTS``) and a seek fetches exactly one segment before it shows a
frame.  A segment never changes once listed, so the playlist of a session still recorded
only grows, as an EVENT playlist must; the group still growing is not a segment yet:

- **keyframe groups** (the default): the growing group is left out until the next keyframe
  closes it (or the part closes).  A live viewer is thus up to a keyframe interval (plus
  about a fragment) behind.
- **low latency** (``low_latency=True``, Low-Latency HLS): every whole fragment (about a
  second) is also listed as a partial segment (``EXT-X-PART``, byte range, ``INDEPENDENT=YES``
  when it starts with a keyframe) as soon as it is on disk: the growing group as parts after
  the last segment, and the parts of the segments of the last :data:`PART_WINDOW_TARGETS`
  target durations before their ``EXTINF`` (parts older than that are dropped from the
  playlist, as the LL-HLS rules allow).  hls.js plays the parts near the live edge, so a
  live viewer is a few seconds behind (``PART-HOLD-BACK``), and whole segments everywhere
  else, so a seek back into the session always starts at a keyframe.  (Fragments listed
  as segments of their own would not: hls.js appends a fragment that starts mid-group
  without the frames it depends on, the browser drops it and the seek never shows a frame.)
  Once no part is recorded, the playlist is the same as in the default mode.

Timeline: the parts are laid end to end, in part order, each as long as its listed
segments; the time between two parts' frames (a session stopped and started again, or an
idle stretch that a rotation closed) is not dead time on the timeline but a ``gap``
marker where the later part starts.  A part's timeline position t shows the frame
captured at ``start_time + media_start + (t - offset)``: ``start_time`` is the wall-clock
time of the part's pts 0 (its metadata's start_time, which the recorder takes from the
first frame's capture time).  Idle stretches are runs of at least ``idle_threshold``
seconds without a new frame (from the samples' times).  Pauses and window-title changes
(metadata notes, with their time) are markers at their time; a part's errors (metadata
has no time for them: most end the part) are markers at the part's end; bookmarks
(wall-clock times) are markers where :meth:`Timeline.position` puts them.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from fastrec.server.media.fmp4 import Fragment, FragmentIndex
from fastrec.storage.metadata import SegmentMetadata, TimedNote

__all__ = [
    "DEFAULT_IDLE_THRESHOLD",
    "GROUP_TARGET_DURATION",
    "PART_TARGET_DURATION",
    "PART_WINDOW_TARGETS",
    "IdleStretch",
    "Marker",
    "MediaSegment",
    "PartMedia",
    "Timeline",
    "TimelinePart",
    "build_timeline",
    "media_playlist",
    "media_segments",
    "part_media",
]

DEFAULT_IDLE_THRESHOLD = 3.0  # seconds without a new frame that make an idle stretch
PART_TARGET_DURATION = 1.0  # seconds: fragments are cut every second (writer's frag_duration)
# seconds: a live playlist's target duration.  Keyframe groups are often longer (up to
# keyframes.MAX_GROUP_FRAMES frames, and idle stretches), which hls.js takes; a longer target
# would only widen the window of listed parts.
GROUP_TARGET_DURATION = 10
PART_WINDOW_TARGETS = 3  # segments ending within this many target durations of the live edge list their parts
_DURATION_DIGITS = 6  # EXTINF and timeline arithmetic in microseconds, the same numbers in both


@dataclass(frozen=True, slots=True)
class PartMedia:
    """One part of a session as the playlist and the timeline need it.

    ``uri`` is where the server serves the part's file (the playlist names it, with byte
    ranges); the caller decides it - a client never supplies a path.  ``recording``: the
    part is still being written (more fragments will come).
    """

    part: int  # its number in the session's chain (metadata chain.part)
    start_time: datetime  # wall-clock time of its pts 0, timezone-aware (metadata start_time)
    index: FragmentIndex
    uri: str
    recording: bool = False
    pauses: tuple[TimedNote, ...] = ()  # at_seconds: media time of the part (pts 0 at start_time)
    titles: tuple[TimedNote, ...] = ()  # the recorded window's title changes
    errors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.part < 1:
            raise ValueError(f"part must be >= 1, got {self.part}")
        if self.start_time.tzinfo is None or self.start_time.utcoffset() is None:
            raise ValueError(f"start_time must be timezone-aware, got {self.start_time.isoformat()}")
        if not self.uri or any(c in self.uri for c in '"\r\n') or self.uri.startswith("#"):
            raise ValueError(f"uri must be a non-empty URI without quotes or line breaks that does not "
                             f"start with '#', got {self.uri!r}")


def part_media(meta: SegmentMetadata, index: FragmentIndex, uri: str) -> PartMedia:
    """A :class:`PartMedia` from a part's metadata and the index of its file."""
    return PartMedia(part=meta.chain.part, start_time=meta.start_time, index=index, uri=uri,
                     recording=meta.status == "recording", pauses=tuple(meta.capture.pauses),
                     titles=tuple(meta.capture.window_titles), errors=tuple(meta.errors))


@dataclass(frozen=True, slots=True)
class MediaSegment:
    """One media segment: bytes ``offset`` .. ``offset + length`` of a part's file.

    ``complete`` is False for the keyframe group still growing at the live edge, which a
    low-latency playlist lists as parts only (it is not a segment yet)."""

    part: int
    offset: int
    length: int
    start: float  # media time of its first frame in the part, seconds
    duration: float  # seconds, rounded to microseconds (EXTINF)
    independent: bool  # starts with a keyframe
    fragments: tuple[Fragment, ...]
    complete: bool = True


def media_segments(part: PartMedia, *, low_latency: bool = False) -> list[MediaSegment]:
    """The segments of ``part`` (see the module's docstring): its keyframe groups; while the
    part is recorded, the last group is left out, or in low latency kept as incomplete."""
    groups: list[list[Fragment]] = []
    for fragment in part.index.fragments:
        if not groups or fragment.keyframe:
            groups.append([fragment])
        else:
            groups[-1].append(fragment)
    growing = part.recording and bool(groups)
    if growing and not low_latency:
        groups.pop()  # more fragments may still join it
    out = []
    for i, group in enumerate(groups):
        first, last = group[0], group[-1]
        duration = round(sum(f.duration for f in group), _DURATION_DIGITS)
        out.append(MediaSegment(part.part, first.offset, last.offset + last.size - first.offset,
                                first.start, duration, first.keyframe, tuple(group),
                                complete=not (growing and i == len(groups) - 1)))
    return out


def _layout(parts: Sequence[PartMedia], low_latency: bool) -> list[tuple[PartMedia, list[MediaSegment]]]:
    numbers = [p.part for p in parts]
    if any(b <= a for a, b in zip(numbers, numbers[1:])):
        raise ValueError(f"parts must be in increasing part order, got {numbers}")
    laid = [(p, media_segments(p, low_latency=low_latency)) for p in parts]
    return [(p, segments) for p, segments in laid if segments]


def media_playlist(parts: Sequence[PartMedia], *, low_latency: bool = False,
                   target_duration: int | None = None, part_hold_back: float | None = None) -> str:
    """The HLS media playlist (text) of a session's ``parts`` (in part order).

    VOD when no part is recording (with ``EXT-X-ENDLIST``), else EVENT.  ``target_duration``
    and ``part_hold_back`` override the EVENT defaults (see the module's docstring).
    """
    laid = _layout(parts, low_latency)
    live = any(p.recording for p in parts)
    with_parts = live and low_latency
    segments = [s for _, part_segments in laid for s in part_segments]
    if live:
        target = target_duration or GROUP_TARGET_DURATION
    else:
        target = target_duration or max((math.floor(s.duration + 0.5) for s in segments), default=1)
    target = max(1, target)
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{target}",
             f"#EXT-X-PLAYLIST-TYPE:{'EVENT' if live else 'VOD'}"]
    if all(s.independent for s in segments):
        lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    if with_parts:
        lines += [f"#EXT-X-PART-INF:PART-TARGET={PART_TARGET_DURATION:.3f}",
                  f"#EXT-X-SERVER-CONTROL:PART-HOLD-BACK={part_hold_back or 3.0 * PART_TARGET_DURATION:.3f}"]
    window_start = _part_window_start(laid, target) if with_parts else math.inf
    position = 0.0  # where each segment starts on the playlist's timeline
    for i, (part, part_segments) in enumerate(laid):
        if i:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f'#EXT-X-MAP:URI="{part.uri}",BYTERANGE="{part.index.init_size}@0"')
        for s in part_segments:
            # to the nearest millisecond (isoformat truncates)
            when = part.start_time + timedelta(seconds=s.start, microseconds=500)
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{when.isoformat(timespec='milliseconds')}")
            if position + s.duration >= window_start or not s.complete:
                lines += [f'#EXT-X-PART:DURATION={f.duration:.{_DURATION_DIGITS}f},URI="{part.uri}",'
                          f'BYTERANGE="{f.size}@{f.offset}"' + (",INDEPENDENT=YES" if f.keyframe else "")
                          for f in s.fragments]
            if s.complete:
                lines += [f"#EXTINF:{s.duration:.{_DURATION_DIGITS}f},",
                          f"#EXT-X-BYTERANGE:{s.length}@{s.offset}",
                          part.uri]
            position += s.duration
    if not live:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _part_window_start(laid: Sequence[tuple[PartMedia, list[MediaSegment]]], target: int) -> float:
    """The playlist time from which segments list their parts: the last
    PART_WINDOW_TARGETS target durations before the live edge."""
    end = sum(s.duration for _, segments in laid for s in segments)
    return end - PART_WINDOW_TARGETS * target


# --- the timeline -------------------------------------------------------------------------

class _Model(BaseModel):
    model_config = ConfigDict(validate_assignment=True)


class TimelinePart(_Model):
    """Where one part sits on the timeline."""

    part: int
    offset: float  # timeline seconds where it starts
    duration: float  # seconds (the sum of its listed segments)
    wall_start: datetime  # wall-clock time of the frame at ``offset``
    wall_end: datetime  # wall_start + duration
    recording: bool = False


class IdleStretch(_Model):
    """A stretch of the timeline (seconds) in which no new frame came."""

    start: float
    end: float


class Marker(_Model):
    """Something to show on the timeline at ``at`` seconds (wall-clock ``wall``)."""

    at: float
    wall: datetime
    kind: Literal["pause", "error", "bookmark", "gap", "window", "rage_click"]
    text: str
    part: int | None = None  # the part it belongs to (a gap: the part after it)
    length: float | None = None  # seconds of wall-clock time it stands for (a gap's length)


class Timeline(_Model):
    """One session's timeline: what :func:`media_playlist` lists, laid end to end."""

    session_id: str
    duration: float
    live: bool  # a part is still being recorded: the timeline grows
    idle_threshold: float
    parts: list[TimelinePart]
    idle: list[IdleStretch]  # runs of at least idle_threshold seconds without a new frame
    markers: list[Marker]  # in timeline order
    start_at: float | None = None  # epoch seconds the player opens at (a share link's start)

    def wall_clock(self, position: float) -> datetime:
        """When the frame shown at timeline ``position`` (clamped to the timeline) was captured."""
        if not self.parts:
            raise ValueError("the timeline is empty: no position has a wall-clock time")
        position = min(max(position, 0.0), self.duration)
        i = max(0, bisect.bisect_right([p.offset for p in self.parts], position) - 1)
        part = self.parts[i]
        return part.wall_start + timedelta(seconds=position - part.offset)

    def position(self, wall: datetime) -> float:
        """The timeline position that shows the frame captured at ``wall``: within the
        first part (in timeline order) whose wall-clock span holds it; in a gap, the end of
        the part before the gap (= the start of the next); before everything, 0."""
        if not self.parts:
            raise ValueError("the timeline is empty: no wall-clock time has a position")
        if wall.tzinfo is None or wall.utcoffset() is None:
            raise ValueError(f"wall must be timezone-aware, got {wall.isoformat()}")
        best = 0.0
        for part in self.parts:
            if part.wall_start <= wall <= part.wall_end:
                return part.offset + min((wall - part.wall_start).total_seconds(), part.duration)
            if part.wall_end < wall:
                best = part.offset + part.duration
        return best


def build_timeline(parts: Sequence[PartMedia], *, session_id: str, low_latency: bool = False,
                   idle_threshold: float = DEFAULT_IDLE_THRESHOLD,
                   bookmarks: Sequence[tuple[datetime, str]] = ()) -> Timeline:
    """The :class:`Timeline` of the playlist :func:`media_playlist` builds from the same
    ``parts`` and ``low_latency``; ``bookmarks`` are (wall-clock time, text) pairs."""
    if not (math.isfinite(idle_threshold) and idle_threshold > 0):
        raise ValueError(f"idle_threshold must be a number of seconds > 0, got {idle_threshold!r}")
    laid = _layout(parts, low_latency)
    placed: list[TimelinePart] = []
    idle: list[IdleStretch] = []
    markers: list[Marker] = []
    offset = 0.0
    for part, segments in laid:
        media_start = segments[0].start
        duration = round(sum(s.duration for s in segments), _DURATION_DIGITS)
        start = part.start_time + timedelta(seconds=media_start)
        end = start + timedelta(seconds=duration)
        if placed:
            gap = (start - placed[-1].wall_end).total_seconds()
            if gap >= idle_threshold:
                markers.append(Marker(at=offset, wall=start, kind="gap", text=f"gap of {_span(gap)}",
                                      part=part.part, length=gap))
        placed.append(TimelinePart(part=part.part, offset=offset, duration=duration, wall_start=start,
                                   wall_end=end, recording=part.recording))

        def at(media_time: float) -> float:  # the timeline position of a media time of this part
            return offset + min(max(media_time - media_start, 0.0), duration)

        times = [t for s in segments for f in s.fragments for t in f.sample_times] + [media_start + duration]
        idle += [IdleStretch(start=at(t0), end=at(t1)) for t0, t1 in zip(times, times[1:])
                 if t1 - t0 >= idle_threshold]
        for kind, notes in (("pause", part.pauses), ("window", part.titles)):
            for note in notes:
                position = at(note.at_seconds)
                markers.append(Marker(at=position, wall=start + timedelta(seconds=position - offset),
                                      kind=kind, text=note.text, part=part.part))  # type: ignore[arg-type]
        markers += [Marker(at=offset + duration, wall=end, kind="error", text=error, part=part.part)
                    for error in part.errors]
        offset = round(offset + duration, _DURATION_DIGITS)
    timeline = Timeline(session_id=session_id, duration=offset, live=any(p.recording for p in parts),
                        idle_threshold=idle_threshold, parts=placed, idle=idle, markers=markers)
    if placed:
        for wall, text in bookmarks:
            timeline.markers.append(Marker(at=timeline.position(wall), wall=wall, kind="bookmark", text=text))
    timeline.markers.sort(key=lambda m: m.at)  # stable: at one moment, in the order added
    return timeline


def _span(seconds: float) -> str:
    """A gap's length for people: "45 s", "12 min", "2 h 5 min"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"
