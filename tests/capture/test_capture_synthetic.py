"""Synthetic and video-file sources: deterministic frames a recording can be checked against."""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from fastrec.capture import CaptureError, Region, SyntheticSource, Target, VideoFileSource
from fastrec.capture.synthetic import clock_blocks, decode_clock


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def digest(frame: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(frame).tobytes()).hexdigest()


@pytest.mark.parametrize("scenario", ["static", "typing", "video"])
def test_same_seed_same_frames_in_any_order(scenario):
    a = SyntheticSource(320, 240, 10, scenario, seed=7)
    b = SyntheticSource(320, 240, 10, scenario, seed=7)
    times = [0.0, 0.35, 1.0, 4.2, 9.99, 31.0]
    forward = [digest(a.frame_at(t)) for t in times]
    backward = [digest(b.frame_at(t)) for t in reversed(times)][::-1]
    assert forward == backward
    for t in times:
        frame = a.frame_at(t)
        assert frame.shape == (240, 320, 4) and frame.dtype == np.uint8
        assert (frame[..., 3] == 255).all()


def test_different_seeds_differ():
    assert digest(SyntheticSource(320, 240, 10, "typing", seed=1).frame_at(20)) != \
        digest(SyntheticSource(320, 240, 10, "typing", seed=2).frame_at(20))


def changes(source: SyntheticSource, seconds: float) -> list[bool]:
    frames = [source.frame_at(i / source.fps) for i in range(int(seconds * source.fps))]
    return [not np.array_equal(a, b) for a, b in itertools.pairwise(frames)]


def test_static_never_changes_and_video_always_does():
    assert not any(changes(SyntheticSource(160, 120, 10, "static"), 3))
    assert all(changes(SyntheticSource(160, 120, 10, "video"), 3))


def test_typing_has_keystrokes_and_idle_stretches():
    source = SyntheticSource(640, 360, 10, "typing", seed=3)
    changed = changes(source, 30)
    assert 0.15 < sum(changed) / len(changed) < 0.8
    longest_idle = max(len(run) for run in "".join("x" if c else "." for c in changed).split("x"))
    assert longest_idle >= 15  # 1.5 s or more without a key press
    keys_per_second = source.chars_typed(30.0) / 30
    assert 1.5 < keys_per_second < 10  # a human, not a bot


def test_content_changes_only_on_frame_boundaries():
    source = SyntheticSource(160, 120, 5, "video")
    assert np.array_equal(source.frame_at(0.2), source.frame_at(0.399))
    assert not np.array_equal(source.frame_at(0.399), source.frame_at(0.4))
    assert source.frame_index(0.6) == 3  # 0.6 * 5 is 2.9999999999999996 in floats


def test_grab_is_frame_at_the_clock_time_and_damage_is_exact():
    clock = FakeClock()
    source = SyntheticSource(320, 240, 10, "typing", seed=5, clock=clock)
    with source:
        target = source.locate()
        assert target.region == Region(0, 0, 320, 240)
        assert source.damaged() is True
        clock.now += 12.34
        frame = source.grab(target)
        assert source.last_grab_time == pytest.approx(12.34)
        assert np.array_equal(frame, source.frame_at(12.34))
        part = source.grab(Target(Region(10, 20, 30, 40)))
        assert np.array_equal(part, source.frame_at(12.34)[20:60, 10:40])
        seen = []
        for _ in range(100):
            clock.now += 0.1
            seen.append(source.damaged())
        assert True in seen and False in seen
        with pytest.raises(CaptureError, match="not inside the synthetic screen"):
            source.grab(Target(Region(300, 0, 100, 10)))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scenario": "gaming"}, "SyntheticSource.scenario must be one of static, typing, video, clock, got 'gaming'"),
    ({"scenario": "clock", "epoch": -5}, "SyntheticSource.epoch must be epoch seconds in [0, 2**32), got -5"),
    ({"fps": 0}, "SyntheticSource.fps must be between 1 and 240, got 0"),
    ({"width": 10.5}, "SyntheticSource.width must be an integer, got 10.5"),
])
def test_synthetic_rejects_bad_values(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=re.escape(message)):
        SyntheticSource(**kwargs)


def test_clock_shows_the_wall_clock_second_and_reads_back():
    source = SyntheticSource(320, 240, 10, "clock", epoch=1_767_225_599.5)
    assert decode_clock(source.frame_at(0.0)) == 1_767_225_599
    assert decode_clock(source.frame_at(0.49)) == 1_767_225_599
    assert decode_clock(source.frame_at(0.5)) == 1_767_225_600  # the next wall second
    assert decode_clock(source.frame_at(3.7)) == 1_767_225_603
    # it changes once a wall second, not at every frame
    assert sum(changes(source, 3)) == 3
    # a picture that is not a clock (blank, another scenario) reads as None, not as a time
    assert decode_clock(np.zeros((240, 320, 4), np.uint8)) is None
    assert decode_clock(SyntheticSource(320, 240, 10, "typing").frame_at(5)) is None


def test_clock_survives_h264_and_scaling():
    # what a browser shows: an H.264 picture at a low quality, scaled to another size
    second = 1_767_225_600
    picture = clock_blocks(second, 320, 240)
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = 320, 240, "yuv420p"
    codec.time_base = Fraction(1, 10)
    codec.options = {"crf": "40", "preset": "ultrafast"}
    frame = av.VideoFrame.from_ndarray(picture, format="bgra").reformat(format="yuv420p")
    frame.pts = 0
    packets = list(codec.encode(frame)) + list(codec.encode(None))
    decoder = av.CodecContext.create("h264", "r")
    decoded = [f for p in packets for f in decoder.decode(p)] + list(decoder.decode(None))
    shown = decoded[0].reformat(width=213, height=160, format="rgb24").to_ndarray()
    assert decode_clock(shown) == second


def test_clock_takes_the_wall_clock_when_it_opens():
    clock = FakeClock()
    source = SyntheticSource(160, 120, 10, "clock", clock=clock)
    before = time.time()
    with source:
        after = time.time()
        assert source.epoch is not None and before <= source.epoch <= after
        clock.now += 2.0
        assert decode_clock(source.grab(source.locate())) == math.floor(source.epoch + 2.0)


def test_frame_at_rejects_negative_time():
    with pytest.raises(ValueError, match="t must be >= 0 seconds, got -1"):
        SyntheticSource(64, 64).frame_at(-1)


def write_video(path: Path, frames: list[np.ndarray], fps: int = 10) -> None:
    """A lossless (FFV1, BGRA) file, so decoded frames equal the written ones."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "bgra"
        stream.time_base = Fraction(1, fps)
        for i, frame in enumerate(frames):
            video_frame = av.VideoFrame.from_ndarray(frame, format="bgra")
            video_frame.pts = i
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode())


@pytest.fixture
def synthetic_video(tmp_path: Path) -> tuple[Path, list[np.ndarray]]:
    source = SyntheticSource(96, 64, 10, "video", seed=11)
    frames = [source.frame_at(i / 10) for i in range(8)]
    path = tmp_path / "clip.mkv"
    write_video(path, frames)
    return path, frames


def test_video_file_frames_one_by_one(synthetic_video):
    path, frames = synthetic_video
    with VideoFileSource(path, realtime=False) as source:
        got = []
        while (target := source.locate()) is not None:
            got.append(source.grab(target))
        assert source.pause_reason == "end of file"
    assert len(got) == len(frames)
    for expected, frame in zip(frames, got, strict=True):
        assert np.array_equal(expected, frame)


def test_video_file_in_real_time_skips_and_loops(synthetic_video):
    path, frames = synthetic_video
    clock = FakeClock()
    with VideoFileSource(path, clock=clock, loop=True) as source:
        assert np.array_equal(source.grab(source.locate()), frames[0])
        clock.now += 0.35  # frame 3 is due
        assert np.array_equal(source.grab(source.locate()), frames[3])
        assert source.current_time == pytest.approx(0.3)
        clock.now += 0.8  # 1.15 s: the second pass, frame 3 again
        assert np.array_equal(source.grab(source.locate()), frames[3])
        assert source.current_time == pytest.approx(1.1)


def test_video_file_in_real_time_ends(synthetic_video):
    path, frames = synthetic_video
    clock = FakeClock()
    with VideoFileSource(path, clock=clock) as source:
        clock.now += 0.75
        assert np.array_equal(source.grab(source.locate()), frames[7])
        clock.now += 0.2
        assert source.locate() is None and source.pause_reason == "end of file"


def test_video_file_errors_name_the_path(tmp_path: Path):
    with pytest.raises(ValueError, match="VideoFileSource.path: no such file"):
        VideoFileSource(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video")
    with pytest.raises(CaptureError, match="cannot open video"):
        VideoFileSource(junk).open()
