"""The segment writer on real files: timestamps the muxer accepts, a header on disk from the
first moment, and never a byte written into a file it did not create.

Files are checked as a player reads them (PyAV, ffprobe).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from fastrec.engine.encoder.writer import EncoderSettings, SegmentWriter
from fastrec.engine.protocol import SegmentInfo, SegmentPolicy
from fastrec.storage.files import UnsafeDirectory

W, H = 160, 120
T0 = 1000.0  # capture timestamps are time.monotonic() readings: any origin


def _frame(seed: int) -> np.ndarray:
    """One I420 frame of noise: every frame differs, so each is encoded."""
    return np.random.default_rng(seed).integers(0, 256, (H * 3 // 2, W), dtype=np.uint8)


def _writer(tmp_path: Path, policy: SegmentPolicy = SegmentPolicy(), first_part: int = 1,
            taken: list[tuple[int, Path]] | None = None) -> SegmentWriter:
    def path_for(part: int) -> Path:
        return tmp_path / ("session.mp4" if part == 1 else f"session_part{part}.mp4")

    on_taken = None if taken is None else (lambda part, path: taken.append((part, path)))
    return SegmentWriter("s", EncoderSettings(W, H), policy, path_for, first_part=first_part,
                         on_taken=on_taken)


def _decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def _packet_pts(path: Path) -> list[float]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                          "packet=pts_time", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return [float(p["pts_time"]) for p in json.loads(out)["packets"]]


def test_a_frame_within_a_millisecond_of_the_previous_one_is_kept(tmp_path: Path):
    # the session's final frame, stamped at stop time, 0.4 ms after the last tick's frame:
    # both round to the same millisecond, which the muxer refused (EINVAL)
    stamps = [T0, T0 + 0.1, T0 + 0.1004]
    with _writer(tmp_path) as writer:
        for i, stamp in enumerate(stamps):
            writer.write(_frame(i), stamp, keyframe=i == 0)
    (segment,) = writer.segments
    assert segment.finalized and segment.frames == 3
    assert _decoded_frames(segment.path) == 3
    pts = _packet_pts(segment.path)
    assert pts == sorted(set(pts)) and len(pts) == 3  # strictly increasing
    # the video lasts as long as the frames' span, to the millisecond
    assert round(pts[-1] - pts[0], 3) == 0.101


def _playable(path: Path) -> int:
    with av.open(str(path)) as container:  # what a kill at this moment leaves
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (W, H)
        return sum(1 for _ in container.decode(stream))


def test_a_segments_first_frame_is_on_disk_once_the_second_comes(tmp_path: Path):
    # x264 holds a frame back until the next comes; an encoder killed before then used to
    # leave a 0-byte part that no player opens ("moov atom not found"): the header is there.
    # Issue 14: the fragmented-MP4 muxer then held the first frame's fragment until the next
    # packet too - until a third frame, which an idle login screen never sends (the capture
    # loop sends the second at its next tick).
    with _writer(tmp_path, SegmentPolicy(max_seconds=1.0)) as writer:
        for part, stamp in ((1, T0), (2, T0 + 1.5)):  # the second part opens by rotation
            writer.write(_frame(part * 10), stamp, keyframe=part == 1)
            assert writer.part == part and writer.path is not None
            assert _playable(writer.path) == 0
            writer.write(_frame(part * 10 + 1), stamp + 0.1)
            assert _playable(writer.path) == 1
    assert [_decoded_frames(s.path) for s in writer.segments] == [2, 2]

def test_an_existing_file_at_the_part_name_is_left_alone(tmp_path: Path):
    # what a replacement worker finds: the dead worker was still writing part 2, which the
    # supervisor never heard of, so the replacement starts at part 2 too
    dead_workers_part = tmp_path / "session_part2.mp4"
    recorded = b"the dead worker's recorded video" * 1000
    dead_workers_part.write_bytes(recorded)
    taken: list[tuple[int, Path]] = []
    with _writer(tmp_path, first_part=2, taken=taken) as writer:
        for i in range(5):
            writer.write(_frame(i), T0 + i * 0.1, keyframe=i == 0)
    assert dead_workers_part.read_bytes() == recorded
    assert taken == [(2, dead_workers_part)]
    (segment,) = writer.segments
    assert segment.part == 3 and segment.path == tmp_path / "session_part3.mp4"
    assert _decoded_frames(segment.path) == 5


def test_a_directory_others_may_write_in_is_refused_with_what_is_allowed(tmp_path: Path):
    # bug: the refusal came out as "[Errno None] cannot write recording ...: None"
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    writer = SegmentWriter("s", EncoderSettings(W, H), SegmentPolicy(), lambda part: shared / "s.mp4")
    with pytest.raises(UnsafeDirectory) as refused:
        writer.write(_frame(0), T0)
    assert str(shared) in str(refused.value) and "group or others may write in it" in str(refused.value)
    assert "allowed: a directory owned by uid" in str(refused.value) and "None" not in str(refused.value)
    assert list(shared.iterdir()) == []


def test_a_planted_symlink_at_the_next_part_is_never_written_through(tmp_path: Path):
    victim = tmp_path / "elsewhere" / "victim.txt"
    victim.parent.mkdir()
    victim.write_bytes(b"not yours")
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    planted = recordings / "session_part2.mp4"
    planted.symlink_to(victim)
    taken: list[tuple[int, Path]] = []
    # a new segment every 0.5 s: part 1, then the planted part 2's name, then part 3
    with _writer(recordings, SegmentPolicy(max_seconds=0.5), taken=taken) as writer:
        for i in range(10):
            writer.write(_frame(i), T0 + i * 0.1, keyframe=i == 0)
    segments: list[SegmentInfo] = writer.segments
    assert victim.read_bytes() == b"not yours"
    assert planted.is_symlink() and os.readlink(planted) == str(victim)
    assert taken == [(2, planted)]
    assert [s.part for s in segments] == [1, 3]
    assert sum(_decoded_frames(s.path) for s in segments) == 10
    assert all(s.path.stat().st_mode & 0o777 == 0o600 for s in segments)


@pytest.fixture
def tiny_disk(tmpfs) -> Path:
    return tmpfs("300k")


def test_a_segment_cut_short_by_a_full_disk_is_reported_with_its_error(tiny_disk: Path):
    # reported closed with no error, a metadata writer sealed it "complete"
    writer = _writer(tiny_disk)
    with pytest.raises(OSError, match="No space left on device"), writer:
        for i in range(1000):
            writer.write(_frame(i), T0 + i * 0.1, keyframe=i % 10 == 0)
    (segment,) = writer.segments
    assert not segment.finalized
    assert segment.error is not None and "No space left on device" in segment.error
    assert _decoded_frames(segment.path) > 0  # cut back to its last whole fragment: it plays


def _frame_types(path: Path) -> list[tuple[float, bool, str]]:
    """(pts seconds, key_frame, pict_type) of every decoded frame, as ffprobe sees them."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                          "frame=pts_time,key_frame,pict_type", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return [(float(f["pts_time"]), f["key_frame"] == 1, f["pict_type"]) for f in json.loads(out)["frames"]]


def _nal_types(packet: av.Packet) -> set[int]:
    """The H.264 NAL unit types in an MP4 sample (4-byte length prefixes)."""
    data, position, types = bytes(packet), 0, set()
    while position + 4 <= len(data):
        length = int.from_bytes(data[position:position + 4], "big")
        types.add(data[position + 4] & 0x1F)
        position += 4 + length
    return types


def test_keyframes_come_by_capture_time_and_idle_stretches_cost_none(tmp_path: Path):
    # typing at 10 fps, then 6 s in which nothing changes (no frame comes), then typing:
    # with keyframes every 1 s of capture time, none falls in the idle stretch
    stamps = [T0 + i * 0.1 for i in range(25)] + [T0 + 8.4 + i * 0.1 for i in range(25)]
    settings = EncoderSettings(W, H, keyframe_interval=1.0)
    writer = SegmentWriter("s", settings, SegmentPolicy(), lambda part: tmp_path / "session.mp4")
    with writer:
        for i, stamp in enumerate(stamps):
            writer.write(_frame(i), stamp)
    (segment,) = writer.segments
    expected, last = [], -1e9
    for stamp in stamps:  # the first frame at least 1 s after the last keyframe
        if stamp - last >= 1.0 - 1e-9:
            expected.append(round(stamp - T0, 3))
            last = stamp
    frames = _frame_types(segment.path)
    assert len(frames) == len(stamps)
    keyframes = [round(t, 3) for t, key, kind in frames if key]
    assert keyframes == expected == [0.0, 1.0, 2.0, 8.4, 9.4, 10.4]
    assert all(kind == "I" for _, key, kind in frames if key) and segment.keyframes == len(expected)
    # each is an IDR (NAL type 5): nothing after it refers to a frame before it
    with av.open(str(segment.path)) as container:
        keys = [p for p in container.demux(video=0) if p.size and p.is_keyframe]
    assert len(keys) == len(expected) and all(5 in _nal_types(p) for p in keys)
    # and opens a fragment: a player fetching from there can decode
    from fastrec.server.media.fmp4 import index_fragments

    starts = [round(f.sample_times[0], 3) for f in index_fragments(segment.path).fragments if f.keyframe]
    assert starts == expected


def test_the_session_has_a_keyframe_after_a_second_and_each_part_opens_with_one(tmp_path: Path):
    # the session's second keyframe comes 1 s after its first (a live viewer's playlist lists
    # whole keyframe groups only); later parts open with a keyframe and need no such group
    stamps = [T0 + i * 0.1 for i in range(250)]
    writer = _writer(tmp_path, SegmentPolicy(max_seconds=12.0))
    with writer:
        for i, stamp in enumerate(stamps):
            writer.write(_frame(i), stamp)
    assert len(writer.segments) == 3  # 12 s, 12 s and the last second
    keyframes = [[round(t, 3) for t, key, _ in _frame_types(segment.path) if key]
                 for segment in writer.segments]
    assert keyframes == [[0.0, 1.0], [0.0], [0.0]]


def _typing(still: np.ndarray, seed: int) -> np.ndarray:
    """A still picture in which one small block changes."""
    frame = still.copy()
    frame[8:16, 8 * (seed % 16):8 * (seed % 16) + 8] = seed % 251
    return frame


def test_frames_that_come_often_have_a_keyframe_every_300_frames(tmp_path: Path):
    # small changes at 10 fps: a keyframe every 300 frames (a seek's decoding bound; the
    # interval, 60 s by default, is not reached), and the session's second one after a second
    w, h = 320, 240
    still = np.random.default_rng(0).integers(0, 256, (h * 3 // 2, w), dtype=np.uint8)
    stamps = [T0 + i * 0.1 for i in range(700)]
    writer = SegmentWriter("s", EncoderSettings(w, h), SegmentPolicy(), lambda part: tmp_path / "s.mp4")
    with writer:
        for i, stamp in enumerate(stamps):
            writer.write(_typing(still, i + 1), stamp)
    (segment,) = writer.segments
    frames = _frame_types(segment.path)
    assert len(frames) == len(stamps)
    assert [round(t, 3) for t, key, _ in frames if key] == [0.0, 1.0, 31.0, 61.0]


def test_a_closed_part_keeps_every_byte_written_and_ffmpeg_seeks_in_it(tmp_path: Path):
    path = tmp_path / "session.mp4"
    writer = SegmentWriter("s", EncoderSettings(W, H, keyframe_interval=1.0), SegmentPolicy(),
                           lambda part: path)
    with writer:
        for i in range(40):
            writer.write(_frame(i), T0 + i * 0.1)
            if i == 30:
                written = path.read_bytes()  # what a live viewer may have fetched by now
    assert len(written) > 1000 and path.read_bytes()[: len(written)] == written  # closing appends
    (segment,) = writer.segments
    assert segment.finalized and segment.bytes == path.stat().st_size
    duration = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                               str(path)], capture_output=True, text=True, check=True).stdout
    assert abs(float(duration) - 4.0) < 0.01  # 40 frames of 0.1 s
    # a seek shows the frame captured at that time, as a decode from the start does
    every = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "framemd5", "-"],
                           capture_output=True, text=True, check=True).stdout
    hashes = [line.split(",")[-1].strip() for line in every.splitlines() if not line.startswith("#")]
    assert len(hashes) == 40
    for frame in (7, 23, 36):
        seeked = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{frame / 10:.2f}", "-i", str(path),
                                 "-frames:v", "1", "-f", "framemd5", "-"],
                                capture_output=True, text=True, check=True).stdout
        (line,) = [line for line in seeked.splitlines() if not line.startswith("#")]
        assert line.split(",")[-1].strip() == hashes[frame]


def test_rotated_parts_abut_in_time_an_idle_stretch_included(tmp_path: Path):
    from fastrec.server.media.fmp4 import index_fragments

    stamps = [T0 + i * 0.1 for i in range(12)] + [T0 + 5.0 + i * 0.1 for i in range(12)]
    with _writer(tmp_path, SegmentPolicy(max_seconds=2.0)) as writer:
        for i, stamp in enumerate(stamps):
            writer.write(_frame(i), stamp)
    first, second = writer.segments
    # the frame at 5.0 s rotated: part 1's last frame is shown until then
    assert second.first_timestamp == T0 + 5.0
    assert index_fragments(first.path).duration == pytest.approx(5.0, abs=1e-3)
