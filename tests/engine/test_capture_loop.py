"""The capture loop's schedule under load, run with its own code in a thread.

The loop's parts are real: the synthetic source, a real FrameRing under the block policy
with no reader (so every frame after the first few waits out the ring's timeout: a loop
whose every tick is late) and a real pipe as the supervisor's control connection.
"""

from __future__ import annotations

import threading
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import Any

from fastrec.capture.synthetic import SyntheticSource
from fastrec.core.convert import i420_size
from fastrec.engine.capture_loop import CaptureConfig, CaptureLoop, _run
from fastrec.engine.ring import FrameRing

FPS = 10
RUNAWAY_TICKS = 30  # a loop that ignored "stop" this long is stopped by the source instead


class _Runaway(Exception):
    """The loop went on ticking long after it was told to stop."""


class StopAfter:
    """The synthetic source, which sends "stop" from its ``stop_at``-th tick and counts the
    ticks that follow; it ends a loop that ignores the stop (the test's hang guard)."""

    def __init__(self, source: SyntheticSource, supervisor: Connection, stop_at: int) -> None:
        self._source = source
        self._supervisor = supervisor
        self._stop_at = stop_at
        self.ticks = 0
        self.ticks_after_stop = 0

    def locate(self) -> Any:
        self.ticks += 1
        if self.ticks == self._stop_at:
            self._supervisor.send("stop")
        elif self.ticks > self._stop_at:
            self.ticks_after_stop += 1
            if self.ticks_after_stop >= RUNAWAY_TICKS:
                raise _Runaway(f"{self.ticks_after_stop} ticks after stop")
        return self._source.locate()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)


def test_stop_is_honoured_when_every_tick_is_late():
    # a full ring under the block policy: each frame waits 0.11 s for a slot that never
    # frees, longer than the 0.1 s between ticks at 10 fps, so the loop is never ahead
    supervisor, control = Pipe()
    config = CaptureConfig("late", mode="synthetic", fps=FPS, ring_slots=2, full_policy="block",
                           ring_timeout=0.11, settle_seconds=0.0)
    outcome: list[BaseException | None] = []
    with SyntheticSource(160, 120, fps=FPS, scenario="video") as synthetic, \
            FrameRing(i420_size(160, 120), slots=2, policy="block", timeout=0.11) as ring:
        source = StopAfter(synthetic, supervisor, stop_at=5)
        loop = CaptureLoop(config, source, ring, 160, 120)

        def run() -> None:
            try:
                _run(loop, FPS, control)
                outcome.append(None)
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                outcome.append(exc)

        thread = threading.Thread(target=run, name="capture-loop", daemon=True)
        thread.start()
        thread.join(120)  # a hang guard only: the runaway source ends a loop that ignores stop
        assert not thread.is_alive()
    assert outcome == [None], outcome  # it returned because it was told to, not a runaway
    assert source.ticks_after_stop <= 1, source.ticks_after_stop
    # it really was overloaded: after the two slots every frame waited out the ring
    assert loop.stats.published == 2 and loop.stats.dropped >= loop.stats.ticks - 2 > 0, loop.stats


def test_the_tick_after_the_first_frame_sends_a_second_one_even_on_a_static_screen():
    # Issue 14: x264 returns a frame only when the next one comes, so a login screen left
    # idle reached the disk only at the next change; the second tick now always publishes
    config = CaptureConfig("static", mode="synthetic", fps=FPS, settle_seconds=0.0)
    with SyntheticSource(160, 120, fps=FPS, scenario="static") as source, \
            FrameRing(i420_size(160, 120), slots=8, policy="drop_oldest") as ring:
        loop = CaptureLoop(config, source, ring, 160, 120)
        for tick in range(6):
            loop.tick(tick / FPS)
    assert loop.stats.published == 2 and loop.stats.unchanged + loop.stats.damage_skips == 4, loop.stats


def _until(supervisor: Connection, kind: str) -> tuple[Any, ...]:
    """The capture process's messages up to the first of ``kind`` (a hang guard: 60 s)."""
    while supervisor.poll(60):
        message = supervisor.recv()
        if message[0] == kind:
            return message
        if message[0] == "error":
            raise AssertionError(message)
    raise AssertionError(f"no {kind!r} message within 60 s")


def test_a_reused_capture_process_drops_a_late_stop_meant_for_the_session_before():
    # Issue 14: one capture process records sessions one after another.  A "stop" sent for
    # the first session after it ended (the supervisor's says-bye boundary comes after it)
    # must not stop the second one.
    from fastrec.engine.capture_loop import capture_sessions

    supervisor, control = Pipe()
    thread = threading.Thread(target=capture_sessions, args=(control,), name="capture-process", daemon=True)
    thread.start()
    for session in ("first", "second"):
        config = CaptureConfig(session, mode="synthetic", fps=FPS, settle_seconds=0.0,
                               source_options={"width": 160, "height": 120, "fps": FPS, "scenario": "video"})
        supervisor.send(("session", config))
        _, endpoint, size = _until(supervisor, "ring")
        assert size == (160, 120)
        # still recording one stats period later: the late stop did not reach this session
        assert _until(supervisor, "stats")[1]["published"] > 0
        supervisor.send("stop")
        assert _until(supervisor, "stopped")[1]["published"] > 0
        endpoint.close()
        supervisor.send("stop")  # late: the session has ended (a stop racing its last word)
        supervisor.send("bye")
    supervisor.close()  # EOF: the process has no next session and ends
    thread.join(60)
    assert not thread.is_alive()
