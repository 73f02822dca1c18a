"""The keyframe schedule alone: which frames become seeking points, given the bytes the
encoder returned (the writer's tests check the same on encoded files)."""

from __future__ import annotations

from fastrec.engine.encoder.keyframes import (
    BUSY_SECONDS,
    FIRST_GROUP_SECONDS,
    MAX_GROUP_FRAMES,
    KeyframeSchedule,
)

KEY = 100_000  # a 1080p desktop's keyframe, bytes


def _run(schedule: KeyframeSchedule, seconds: float, frame_bytes: float, fps: int = 10,
         start: float = 0.0, asked: frozenset[float] = frozenset()) -> list[float]:
    """Keyframe times of frames every 1/fps s; packets come back a frame late, as x264's."""
    keys, pending = [], None
    for i in range(round(seconds * fps)):
        t = round(start + i / fps, 3)
        if pending is not None:
            schedule.encoded(*pending)
        key = schedule.decide(t, asked=t in asked)
        if key:
            keys.append(t)
        pending = (KEY if key else round(frame_bytes), key)
    return keys


def test_slow_content_has_a_keyframe_every_300_frames_or_the_interval():
    # typing: half a kilobyte a frame; the keyframe stays most of a group's bytes, so the
    # frames a seek decodes (10 a second) or the interval (2 a second) bound the group
    assert MAX_GROUP_FRAMES == 300
    assert _run(KeyframeSchedule(60.0), 100, 500) == [0.0, FIRST_GROUP_SECONDS, 31.0, 61.0, 91.0]
    assert _run(KeyframeSchedule(60.0), 200, 500, fps=2) == [0.0, 1.0, 61.0, 121.0, 181.0]


def test_busy_content_has_a_keyframe_every_ten_seconds():
    # a scroll: 20 kB a frame, the group outweighs its keyframe 4 to 1 within a second
    assert _run(KeyframeSchedule(60.0), 35, 20_000) == [0.0, 1.0, 11.0, 21.0, 31.0]
    assert BUSY_SECONDS == 10.0


def test_a_keyframe_comes_once_the_group_outweighs_it_four_to_one():
    # 5 kB a frame: 4 x 100 kB after 80 frames (8 s) -> at 10 s; 2 kB a frame at 5 fps:
    # after 200 frames, counted a frame late (each packet comes when the next frame goes in)
    assert _run(KeyframeSchedule(60.0), 25, 5_000) == [0.0, 1.0, 11.0, 21.0]
    assert _run(KeyframeSchedule(60.0), 90, 2_000, fps=5) == [0.0, 1.0, 41.2, 81.4]


def test_a_short_interval_is_kept_whatever_the_content():
    assert _run(KeyframeSchedule(2.0), 7, 100) == [0.0, 1.0, 3.0, 5.0]
    assert _run(KeyframeSchedule(2.0), 7, 50_000) == [0.0, 1.0, 3.0, 5.0]


def test_an_asked_keyframe_comes_at_once_and_restarts_the_wait():
    assert _run(KeyframeSchedule(60.0), 100, 500, fps=2, asked=frozenset({30.0})) == [0.0, 1.0, 30.0, 90.0]


def test_an_idle_stretch_brings_no_keyframe():
    schedule = KeyframeSchedule(60.0)
    keys = _run(schedule, 5, 500) + _run(schedule, 5, 500, start=300.0)
    # the first frame after the stretch is the first past the interval
    assert keys == [0.0, 1.0, 300.0]
