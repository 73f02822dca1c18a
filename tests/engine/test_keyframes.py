"""The keyframe schedule alone: which frames become seeking points (the writer's tests check
the same on encoded files)."""

from __future__ import annotations

from fastrec.engine.encoder.keyframes import FIRST_GROUP_SECONDS, MAX_GROUP_FRAMES, KeyframeSchedule


def _run(schedule: KeyframeSchedule, seconds: float, fps: float = 10, start: float = 0.0,
         asked: frozenset[float] = frozenset()) -> list[float]:
    """Keyframe times of frames every 1/fps s."""
    times = (round(start + i / fps, 3) for i in range(round(seconds * fps)))
    return [t for t in times if schedule.decide(t, asked=t in asked)]


def test_a_keyframe_every_300_frames_when_frames_come_often():
    # typing or a scroll at 10 fps: a seek decodes at most 300 frames, whatever they hold
    assert MAX_GROUP_FRAMES == 300
    assert _run(KeyframeSchedule(60.0), 100) == [0.0, FIRST_GROUP_SECONDS, 31.0, 61.0, 91.0]


def test_a_keyframe_every_interval_when_frames_come_seldom():
    # an editor, two changed frames a second: the interval comes first
    assert _run(KeyframeSchedule(60.0), 200, fps=2) == [0.0, 1.0, 61.0, 121.0, 181.0]
    assert _run(KeyframeSchedule(2.0), 7) == [0.0, 1.0, 3.0, 5.0]


def test_an_asked_keyframe_comes_at_once_and_restarts_the_wait():
    assert _run(KeyframeSchedule(60.0), 100, fps=2, asked=frozenset({30.0})) == [0.0, 1.0, 30.0, 90.0]


def test_an_idle_stretch_brings_no_keyframe():
    schedule = KeyframeSchedule(60.0)
    keys = _run(schedule, 5) + _run(schedule, 5, start=300.0)
    # no frame came between 5 s and 300 s: the first frame after the stretch is past the interval
    assert keys == [0.0, 1.0, 300.0]
