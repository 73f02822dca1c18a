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


def test_the_header_is_on_disk_as_soon_as_a_segment_opens(tmp_path: Path):
    # x264 holds the first frame back until the second comes: an encoder killed before
    # then used to leave a 0-byte part that no player opens ("moov atom not found")
    with _writer(tmp_path) as writer:
        writer.write(_frame(0), T0, keyframe=True)
        assert writer.path is not None
        with av.open(str(writer.path)) as container:  # what a kill at this moment leaves
            stream = container.streams.video[0]
            assert (stream.codec_context.width, stream.codec_context.height) == (W, H)
            assert sum(1 for _ in container.decode(stream)) == 0
    assert _decoded_frames(writer.segments[0].path) == 1


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
