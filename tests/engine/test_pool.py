"""The encoder pool with real worker processes, fed through a real ring by this process.

The test is the capture side: it publishes frames into the ring and reads the pool's
events, and synchronises on those events and on states it can see (a file that exists, a
process that is a zombie) only.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import psutil

from fastrec.core.convert import i420_size
from fastrec.engine.encoder.pool import EncodeJob, EncoderPool, Event
from fastrec.engine.encoder.writer import EncoderSettings
from fastrec.engine.protocol import (
    EncoderFailed,
    FrameFlags,
    SegmentNaming,
    SegmentOpened,
    SegmentPolicy,
    SegmentSkipped,
    SessionEncoded,
    WorkerDied,
)
from fastrec.engine.ring import FrameRing

W, H = 160, 120
MAX_FRAMES = 3000  # a hang guard: frames published while waiting for one event


def _decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


class Feeder:
    """Publishes noise frames (each one differs from the one before) at 10 fps of
    timestamps."""

    def __init__(self, ring: FrameRing, pool: EncoderPool, width: int = W, height: int = H) -> None:
        self.ring, self.pool = ring, pool
        self.size = (width, height)
        self.published = 0
        self.events: list[Event] = []
        rng = np.random.default_rng(1)
        self._frames = [rng.integers(0, 256, i420_size(width, height), dtype=np.uint8)
                        for _ in range(7)]

    def publish(self) -> None:
        """One frame, unless the ring stays full (then it is dropped, as capture would)."""
        slot = self.ring.acquire()
        if slot is not None:
            with slot:
                slot.data[: i420_size(*self.size)] = self._frames[self.published % 7]
                flags = FrameFlags.KEYFRAME if self.published == 0 else FrameFlags.NONE
                slot.publish(1000.0 + 0.1 * self.published, *self.size, int(flags),
                             i420_size(*self.size))
            self.published += 1

    def until(self, done: Callable[[Event], bool]) -> Event:
        """Publish frames until the pool reports an event ``done`` accepts; returns it."""
        for _ in range(MAX_FRAMES):
            self.publish()
            for event in self.pool.events(timeout=0.01):
                self.events.append(event)
                if done(event):
                    return event
        raise AssertionError(f"not reported after {MAX_FRAMES} frames; events: {self.events}")

    def drain(self, done: Callable[[Event], bool]) -> Event:
        """Read events (publishing nothing) until ``done`` accepts one."""
        for _ in range(MAX_FRAMES):
            for event in self.pool.events(timeout=0.1):
                self.events.append(event)
                if done(event):
                    return event
        raise AssertionError(f"not reported; events: {self.events}")


def test_a_replacement_worker_never_touches_a_part_the_dead_one_left(tmp_path: Path):
    naming = SegmentNaming(tmp_path, "session_p")
    with EncoderPool(workers=1) as pool, \
            FrameRing(i420_size(W, H), slots=4, policy="block", timeout=1.0) as ring:
        pool.submit(EncodeJob("p", ring.endpoint(0), EncoderSettings(W, H), SegmentPolicy(),
                              naming))
        feed = Feeder(ring, pool)
        feed.until(lambda e: isinstance(e, SegmentOpened) and e.part == 1)
        # The worker was also writing part 2 already (the supervisor hears of a part only
        # once the one before it is finished): its file is there, unreported.
        unreported = naming.path(2)
        recorded = b"video the dead worker recorded" * 4096
        unreported.write_bytes(recorded)
        os.kill(pool.pids[0], signal.SIGKILL)
        died = feed.until(lambda e: isinstance(e, WorkerDied))
        assert died.sessions == ("p",)
        opened = feed.until(lambda e: isinstance(e, SegmentOpened) and e.part > 1)
        for _ in range(20):  # 2 s of video in the new part
            feed.publish()
        ring.close()
        end = feed.drain(lambda e: isinstance(e, SessionEncoded | EncoderFailed))
    assert isinstance(end, SessionEncoded), end
    assert unreported.read_bytes() == recorded
    assert SegmentSkipped("p", 2, unreported) in feed.events
    assert opened.part == 3 and opened.path == naming.path(3)
    assert _decoded_frames(naming.path(3)) == end.frames >= 20
    assert _decoded_frames(naming.path(1)) >= 0  # the killed worker's part still opens as a video


def test_an_encoder_failure_carries_its_traceback(tmp_path: Path):
    blocker = tmp_path / "a_file"
    blocker.write_bytes(b"")
    naming = SegmentNaming(blocker / "sub", "session_f")  # its directory cannot be created
    with EncoderPool(workers=1) as pool, \
            FrameRing(i420_size(W, H), slots=4, policy="block", timeout=1.0) as ring:
        pool.submit(EncodeJob("f", ring.endpoint(0), EncoderSettings(W, H), SegmentPolicy(),
                              naming))
        failed = Feeder(ring, pool).until(lambda e: isinstance(e, EncoderFailed))
    assert str(naming.path(1)) in failed.error
    assert failed.traceback is not None
    assert failed.traceback.startswith("Traceback (most recent call last)")
    assert "_create_part" in failed.traceback  # where the writer raised, in the worker


def test_a_worker_killed_just_after_a_rotation_leaves_every_file_as_it_was(tmp_path: Path):
    # The real case: rotation closed part N, whose finishing (fsync, then its report) runs on
    # the finisher thread while the encoder thread already writes part N+1, which is
    # reported only after part N.
    width, height = 640, 360  # noise at this size: segments of several MB
    naming = SegmentNaming(tmp_path, "session_r")
    with EncoderPool(workers=1) as pool, \
            FrameRing(i420_size(width, height), slots=4, policy="block", timeout=1.0) as ring:
        pool.submit(EncodeJob("r", ring.endpoint(0), EncoderSettings(width, height),
                              SegmentPolicy(max_seconds=2.0), naming))
        feed = Feeder(ring, pool, width, height)
        worker = psutil.Process(pool.pids[0])
        # publish until the first rotation is seen on disk (a rotation every 20 frames)
        for _ in range(MAX_FRAMES):
            feed.publish()
            feed.events += pool.events()
            if naming.path(2).exists():
                worker.send_signal(signal.SIGKILL)
                break
        else:
            raise AssertionError("no rotation was ever seen")
        for _ in range(100 * MAX_FRAMES):  # dead, not yet reaped: nothing can write any more
            if worker.status() == psutil.STATUS_ZOMBIE:
                break
        else:
            raise AssertionError("the killed worker did not die")
        left = {p: p.read_bytes() for p in tmp_path.glob("session_r*.mp4")}
        heard = {e.part for e in feed.events if isinstance(e, SegmentOpened)}
        unreported = sorted(p for p in left if p not in {naming.path(n) for n in heard})
        feed.until(lambda e: isinstance(e, WorkerDied))
        opened = feed.until(lambda e: isinstance(e, SegmentOpened) and e.part > max(heard))
        for _ in range(20):
            feed.publish()
        ring.close()
        end = feed.drain(lambda e: isinstance(e, SessionEncoded | EncoderFailed))
    assert isinstance(end, SessionEncoded), end
    for path, data in left.items():  # every byte the dead worker wrote is still there
        assert path.read_bytes() == data, path
    skipped = [e.path for e in feed.events if isinstance(e, SegmentSkipped)]
    assert skipped == unreported and opened.path not in left
    # the replacement's parts (it rotates too) hold every frame it was given
    after = [e.path for e in feed.events if isinstance(e, SegmentOpened) and e.part >= opened.part]
    assert sum(_decoded_frames(p) for p in after) == end.frames >= 20
    # the part the rotation closed plays whole: it was written before part 2 was created
    assert _decoded_frames(naming.path(1)) == 20
