"""One HLS playlist and one timeline over a session's parts: recorded by the real engine,
read back by FFmpeg, grown as a live viewer sees them, and the timeline's wall-clock
mapping checked over generated sessions."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from media_recording import RESTART_PAUSE, SESSION, Recorded, ffprobe_packets, recorded  # noqa: F401

from fastrec.server.media.fmp4 import Fragment, FragmentIndex, index_fragments
from fastrec.server.media.playlist import (
    GROUP_TARGET_DURATION,
    PART_WINDOW_TARGETS,
    PartMedia,
    build_timeline,
    media_playlist,
    part_media,
)
from fastrec.storage.metadata import TimedNote


@dataclass
class Listed:
    """One media segment as a playlist lists it."""

    uri: str
    offset: int
    length: int
    duration: float
    program_date_time: datetime


@dataclass
class Parsed:
    header: list[str]
    maps: list[tuple[str, str]] = field(default_factory=list)  # (uri, byterange)
    parts: list[list[Listed]] = field(default_factory=list)  # segments per EXT-X-MAP
    partials: list[list[tuple[int, int, bool]]] = field(default_factory=list)  # EXT-X-PART (offset, size, independent)
    discontinuities_before: list[int] = field(default_factory=list)  # index of the part each precedes
    ended: bool = False


def _parse(text: str) -> Parsed:
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    body = next(i for i, line in enumerate(lines) if line.startswith(("#EXT-X-MAP", "#EXT-X-DISCONTINUITY")))
    parsed = Parsed(lines[:body])
    pdt = extinf = byterange = None
    for line in lines[body:]:
        if line == "#EXT-X-DISCONTINUITY":
            parsed.discontinuities_before.append(len(parsed.parts))
        elif line.startswith("#EXT-X-MAP:"):
            uri = line.split('URI="')[1].split('"')[0]
            parsed.maps.append((uri, line.split('BYTERANGE="')[1].rstrip('"')))
            parsed.parts.append([])
            parsed.partials.append([])
        elif line.startswith("#EXT-X-PART:"):
            size, offset = line.split('BYTERANGE="')[1].split('"')[0].split("@")
            parsed.partials[-1].append((int(offset), int(size), line.endswith(",INDEPENDENT=YES")))
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pdt = datetime.fromisoformat(line.split(":", 1)[1])
        elif line.startswith("#EXTINF:"):
            extinf = float(line.split(":", 1)[1].rstrip(","))
        elif line.startswith("#EXT-X-BYTERANGE:"):
            byterange = line.split(":", 1)[1]
        elif line == "#EXT-X-ENDLIST":
            parsed.ended = True
        elif not line.startswith("#"):
            assert pdt is not None and extinf is not None and byterange is not None
            length, offset = byterange.split("@")
            parsed.parts[-1].append(Listed(line, int(offset), int(length), extinf, pdt))
            pdt = extinf = byterange = None
    return parsed


def _media(recorded: Recorded, uri: str = "file") -> list[PartMedia]:
    return [part_media(m, index_fragments(recorded.video(m)),
                       recorded.video(m).as_uri() if uri == "file" else f"{uri}/{m.chain.part}/video.mp4")
            for m in recorded.parts]


def test_the_vod_playlist_addresses_every_fragment_of_every_part_once(recorded: Recorded):
    parts = _media(recorded)
    parsed = _parse(media_playlist(parts))
    assert parsed.header[1:] == ["#EXT-X-VERSION:7", parsed.header[2], "#EXT-X-PLAYLIST-TYPE:VOD",
                                 "#EXT-X-INDEPENDENT-SEGMENTS"] and parsed.ended
    assert [uri for uri, _ in parsed.maps] == [p.uri for p in parts]
    assert [byterange for _, byterange in parsed.maps] == [f"{p.index.init_size}@0" for p in parts]
    assert parsed.discontinuities_before == list(range(1, len(parts)))  # between parts, never before the first
    longest = 0
    for part, listed in zip(parts, parsed.parts, strict=True):
        index = part.index
        assert {s.uri for s in listed} == {part.uri}
        # the segments run through every fragment, each once, each starting at a keyframe
        keyframes = [f.offset for f in index.fragments if f.keyframe]
        assert [s.offset for s in listed] == keyframes
        ends = [s.offset + s.length for s in listed]
        assert ends == keyframes[1:] + [index.fragments[-1].offset + index.fragments[-1].size]
        assert listed[0].offset == index.init_size
        assert sum(s.duration for s in listed) == pytest.approx(index.duration, abs=1e-5)
        # each segment's program date-time is the capture time of its first frame
        for segment in listed:
            fragment = next(f for f in index.fragments if f.offset == segment.offset)
            expected = part.start_time + timedelta(seconds=fragment.start)
            assert abs((segment.program_date_time - expected).total_seconds()) <= 0.0005
        longest = max(longest, *(round(s.duration) for s in listed))
    assert parsed.header[2] == f"#EXT-X-TARGETDURATION:{max(1, longest)}"


def _count_packets(playlist: Path) -> tuple[int, list[int]]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "packet=size", "-of", "json", str(playlist)],
                         capture_output=True, text=True, check=True).stdout
    sizes = [int(p["size"]) for p in json.loads(out)["packets"]]
    return len(sizes), sizes


def _decoded(playlist: Path) -> int:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames",
                          "-of", "csv=p=0", str(playlist)], capture_output=True, text=True, check=True).stdout
    return int(out.strip().splitlines()[0])


def test_ffmpeg_reads_every_frame_of_every_part_through_the_playlist(recorded: Recorded, tmp_path: Path):
    parts = _media(recorded)
    playlist = tmp_path / "session.m3u8"
    playlist.write_text(media_playlist(parts))
    # a finished session has one playlist, however it was followed live
    assert media_playlist(parts, low_latency=True) == media_playlist(parts)
    # every frame of every part, in order, through the byte ranges and across the discontinuities
    expected = [size for m in recorded.parts for _, size, _ in ffprobe_packets(recorded.video(m))]
    count, sizes = _count_packets(playlist)
    assert count == sum(m.frames.encoded for m in recorded.parts) == len(expected)
    assert sizes == expected
    # and each part's frames decode from its byte ranges alone (FFmpeg 5.1's HLS demuxer runs
    # all parts through one MP4 demuxer, which drops the first fragment after a timestamp
    # reset; hls.js starts each discontinuity afresh)
    for part in parts:
        single = tmp_path / f"part{part.part}.m3u8"
        single.write_text(media_playlist([part]))
        assert _decoded(single) == part.index.frames


def _segment_lines(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("#EXT-X-MAP"))
    return [line for line in lines[start:] if line != "#EXT-X-ENDLIST"]


@pytest.mark.parametrize("low_latency", [False, True], ids=["keyframe-groups", "low-latency"])
def test_a_live_playlist_only_grows_until_it_is_the_finished_one(recorded: Recorded, tmp_path: Path,
                                                                low_latency: bool):
    # the session's last part as a viewer sees it while it is written: prefixes of its file
    sealed = _media(recorded, uri="/api/recordings/s/parts")
    last, source = sealed[-1], recorded.video(recorded.parts[-1])
    data = source.read_bytes()
    growing = tmp_path / "growing.mp4"
    cuts = sorted({f.offset + f.size + extra for f in last.index.fragments for extra in (-1, 0, 5)} - {len(data)})
    previous: list[str] | None = None
    for cut in [last.index.init_size - 3, *cuts]:
        growing.write_bytes(data[:cut])
        live = PartMedia(last.part, last.start_time, index_fragments(growing), last.uri, recording=True)
        text = media_playlist([*sealed[:-1], live], low_latency=low_latency)
        lines = text.splitlines()
        assert "#EXT-X-PLAYLIST-TYPE:EVENT" in lines and "#EXT-X-ENDLIST" not in lines
        assert f"#EXT-X-TARGETDURATION:{GROUP_TARGET_DURATION}" in lines and "#EXT-X-INDEPENDENT-SEGMENTS" in lines
        if low_latency:
            assert "#EXT-X-PART-INF:PART-TARGET=1.000" in lines and "#EXT-X-SERVER-CONTROL:PART-HOLD-BACK=3.000" in lines
        parsed = _parse(text)
        whole = [f for f in last.index.fragments if f.offset + f.size <= cut]
        listed = parsed.parts[-1] if len(parsed.maps) == len(sealed) else []
        # segments: keyframe groups; the group still growing is left out until the next keyframe closes it
        closed = [f for i, f in enumerate(whole) if f.keyframe and any(g.keyframe for g in whole[i + 1:])]
        assert [s.offset for s in listed] == [f.offset for f in closed]
        partials = parsed.partials[-1] if len(parsed.maps) == len(sealed) else []
        if low_latency:  # every whole fragment at once, as a part: the live edge is the last one on disk
            assert partials == [(f.offset, f.size, f.keyframe) for f in whole]
        else:
            assert not any(line.startswith(("#EXT-X-PART", "#EXT-X-SERVER-CONTROL")) for line in lines)
        # nothing listed ever changes but the parts, which LL-HLS lets a playlist drop
        kept = [line for line in lines if not line.startswith("#EXT-X-PART:")]
        if previous is not None:
            assert kept[: len(previous)] == previous
        previous = kept
    finished = media_playlist(sealed, low_latency=low_latency)
    assert _segment_lines(finished)[: len(_segment_lines("\n".join(previous)))] == _segment_lines("\n".join(previous))


def test_a_low_latency_playlist_lists_parts_only_near_the_live_edge(recorded: Recorded):
    sealed = _media(recorded)
    live = [*sealed[:-1], PartMedia(sealed[-1].part, sealed[-1].start_time, sealed[-1].index, sealed[-1].uri,
                                    recording=True)]
    parsed = _parse(media_playlist(live, low_latency=True, target_duration=1))
    window = PART_WINDOW_TARGETS * 1
    ends: list[tuple[float, list[tuple[int, int, bool]], PartMedia, list[Listed]]] = []
    position = 0.0
    for part, listed, partials in zip(live, parsed.parts, parsed.partials, strict=True):
        position += sum(s.duration for s in listed)
        ends.append((position, partials, part, listed))
    growing = [f for f in live[-1].index.fragments if f.offset >= max(
        (f.offset for f in live[-1].index.fragments if f.keyframe), default=0)]
    end = position + sum(f.duration for f in growing)
    # whole segments more than the window before the live edge list no parts; the growing
    # group and the segments near the edge list every fragment
    assert not ends[0][1] and end - ends[0][0] > window
    assert [p[0] for p in ends[-1][1][-len(growing):]] == [f.offset for f in growing]
    for _, partials, part, listed in ends:
        for offset, size, independent in partials:
            fragment = next(f for f in part.index.fragments if f.offset == offset)
            assert (fragment.size, fragment.keyframe) == (size, independent)


def test_a_part_without_a_whole_fragment_yet_is_left_out(recorded: Recorded, tmp_path: Path):
    sealed = _media(recorded)
    fresh = tmp_path / "fresh.mp4"
    fresh.write_bytes(b"")
    opened = PartMedia(sealed[-1].part + 1, sealed[-1].start_time + timedelta(minutes=1), index_fragments(fresh),
                       fresh.as_uri(), recording=True)
    parsed = _parse(media_playlist([*sealed, opened]))
    assert len(parsed.maps) == len(sealed) and not parsed.ended
    timeline = build_timeline([*sealed, opened], session_id=SESSION)
    assert [p.part for p in timeline.parts] == [p.part for p in sealed] and timeline.live


def test_the_timeline_lays_the_parts_end_to_end_and_marks_the_restart(recorded: Recorded):
    parts = _media(recorded)
    timeline = build_timeline(parts, session_id=SESSION, idle_threshold=1.0)
    parsed = _parse(media_playlist(parts))
    offset = 0.0
    for placed, part, listed in zip(timeline.parts, parts, parsed.parts, strict=True):
        assert placed.offset == pytest.approx(offset) and placed.part == part.part
        assert placed.duration == pytest.approx(sum(s.duration for s in listed), abs=1e-6)  # as hls.js lays it
        assert placed.wall_start == part.start_time
        assert abs((listed[0].program_date_time - placed.wall_start).total_seconds()) <= 0.0005  # in ms
        assert timeline.wall_clock(placed.offset) == placed.wall_start
        offset += placed.duration
    assert timeline.duration == pytest.approx(offset) and not timeline.live
    # rotated parts abut in wall-clock time: the recorder dates a part from its first frame
    n = recorded.first_recording
    for before, after in zip(timeline.parts, timeline.parts[1:]):
        if after.part != parts[n].part:
            assert abs((after.wall_start - before.wall_end).total_seconds()) < 0.01
    # the restart is a marker, not dead time
    (gap,) = [m for m in timeline.markers if m.kind == "gap"]
    assert gap.at == pytest.approx(timeline.parts[n].offset) and gap.part == parts[n].part
    assert gap.length is not None and gap.length >= RESTART_PAUSE and gap.text == f"gap of {gap.length:.0f} s"
    # idle stretches: where ffprobe sees no new frame for a second or more
    expected = []
    for placed, meta in zip(timeline.parts, recorded.parts, strict=True):
        times = [t for t, _, _ in ffprobe_packets(recorded.video(meta))] + [placed.duration]
        expected += [(round(placed.offset + a, 3), round(placed.offset + b, 3))
                     for a, b in zip(times, times[1:]) if b - a >= 1.0]
    assert [(round(i.start, 3), round(i.end, 3)) for i in timeline.idle] == expected and expected


def test_pauses_errors_titles_and_bookmarks_become_markers(recorded: Recorded):
    metas = list(recorded.parts)
    second = metas[1].model_copy(deep=True)
    second.capture.pauses = [TimedNote(at_seconds=0.5, text="window minimised")]
    second.capture.window_titles = [TimedNote(at_seconds=0.0, text="prod-db-01 - Remote Desktop")]
    second.errors = ["encoder worker 0 died (exit code -9); recording continues in a new segment"]
    metas[1] = second
    parts = [part_media(m, index_fragments(recorded.video(m)), recorded.video(m).as_uri()) for m in metas]
    placed = build_timeline(parts, session_id=SESSION).parts[1]
    bookmark = placed.wall_start + timedelta(seconds=1.25)
    timeline = build_timeline(parts, session_id=SESSION, bookmarks=[(bookmark, "look here")])
    marks = {(m.kind, m.text): m for m in timeline.markers}
    pause = marks["pause", "window minimised"]
    assert pause.at == pytest.approx(placed.offset + 0.5) and pause.wall == placed.wall_start + timedelta(seconds=0.5)
    assert marks["window", "prod-db-01 - Remote Desktop"].at == pytest.approx(placed.offset)
    error = marks["error", second.errors[0]]
    assert error.at == pytest.approx(placed.offset + placed.duration) and error.part == placed.part
    assert marks["bookmark", "look here"].at == pytest.approx(placed.offset + 1.25)
    assert [m.at for m in timeline.markers] == sorted(m.at for m in timeline.markers)


def test_a_uri_that_would_break_the_playlist_is_refused(recorded: Recorded):
    meta = recorded.parts[0]
    index = index_fragments(recorded.video(meta))
    for bad in ('a"b.mp4', "a\nb.mp4", "", "#EXT-X-ENDLIST"):
        with pytest.raises(ValueError, match="uri must be"):
            part_media(meta, index, bad)


# --- the wall-clock mapping, over generated sessions ---------------------------------------

def _index(durations: list[float]) -> FragmentIndex:
    fragments, start, offset = [], 0.0, 1000
    for i, duration in enumerate(durations):
        fragments.append(Fragment(offset, 500, start, duration, i % 3 == 0, (start,)))
        start, offset = start + duration, offset + 500
    return FragmentIndex(Path("generated.mp4"), offset, 0, 1000, 1000, 1, tuple(fragments), True, offset)


durations = st.lists(st.floats(0.001, 30.0), min_size=1, max_size=6)
sessions = st.lists(st.tuples(durations, st.floats(0.0, 3600.0)), min_size=1, max_size=5)


@settings(max_examples=300, deadline=None)
@given(session=sessions, zone=st.integers(-14 * 60, 14 * 60), start=st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1)),
       fractions=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20))
def test_timeline_and_wall_clock_map_onto_each_other(session, zone, start, fractions):
    tz = timezone(timedelta(minutes=zone))
    parts, wall = [], start.replace(tzinfo=tz)
    for number, (fragment_durations, gap) in enumerate(session, 1):
        wall += timedelta(seconds=gap)
        index = _index(fragment_durations)
        parts.append(PartMedia(number, wall, index, f"/p/{number}"))
        wall += timedelta(seconds=index.duration)
    timeline = build_timeline(parts, session_id="s")
    positions = sorted(f * timeline.duration for f in fractions)
    walls = [timeline.wall_clock(p) for p in positions]
    assert walls == sorted(walls)  # later on the timeline is later on the clock
    for position, when in zip(positions, walls):
        # datetimes hold microseconds: the round trip is exact to that
        assert abs(timeline.position(when) - position) <= 2e-6
    # a time between two parts (the session was stopped) maps to the boundary between them
    for before, after in zip(timeline.parts, timeline.parts[1:]):
        if (after.wall_start - before.wall_end).total_seconds() > 1e-3:
            middle = before.wall_end + (after.wall_start - before.wall_end) / 2
            assert timeline.position(middle) == pytest.approx(after.offset, abs=2e-6)
