"""Encoder worker processes: the supervisor side that starts, feeds and watches them (the
workers' body is :mod:`fastrec.engine.encoder.worker`, which the supervisor never imports).

Each worker runs one thread per session it was given; a session's frames are encoded in
order by that one thread.  libx264 releases the GIL while it encodes, so one worker can
carry several sessions.  A worker that dies is replaced; each of its sessions goes on in
a new segment in the replacement, from the next frame in its ring.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait

from typing import TYPE_CHECKING

from fastrec.checks import check_int
from fastrec.engine import launch
from fastrec.engine.protocol import (
    EncoderFailed,
    SegmentClosed,
    SegmentNaming,
    SegmentOpened,
    SegmentPolicy,
    SegmentSkipped,
    SessionEncoded,
    WorkerDied,
)

if TYPE_CHECKING:
    from fastrec.crypt.context import SegmentEncryption
    from fastrec.engine.encoder.writer import EncoderSettings
    from fastrec.engine.ring_endpoint import RingEndpoint

# the worker's body, by name: the supervisor does not import the worker's numpy and PyAV
WORKER_MAIN = launch.Target("fastrec.engine.encoder.worker", "worker_main")

Event = SegmentOpened | SegmentSkipped | SegmentClosed | SessionEncoded | EncoderFailed | WorkerDied


@dataclass(frozen=True, slots=True)
class EncodeJob:
    """Everything a worker needs to encode one session."""

    session_id: str
    endpoint: RingEndpoint
    settings: EncoderSettings
    policy: SegmentPolicy
    naming: SegmentNaming
    first_part: int = 1
    encryption: SegmentEncryption | None = field(default=None, repr=False)  # the session's key, if encrypted


@dataclass
class _Worker:
    child: launch.Child
    jobs: dict[str, EncodeJob] = field(default_factory=dict)
    eof: bool = False  # its connection closed: it is exiting or dead
    lock: threading.Lock = field(default_factory=threading.Lock)  # submit and close race

    def send(self, message: EncodeJob | None) -> None:
        with self.lock:
            # if it died, the next events() call replaces it and resubmits its jobs
            launch.send(self.child.conn, message)

    def drain(self) -> list[Event]:
        out: list[Event] = []
        try:
            while self.child.conn.poll():
                out.append(self.child.conn.recv())
        except (EOFError, OSError):
            self.eof = True
        return out


class EncoderPool:
    """``workers`` encoder processes; a context manager.

    ``submit`` hands a session to the least busy worker.  ``events`` returns what happened
    since the last call (segments opened and closed, sessions done or failed, workers that
    died and were replaced); call it regularly, e.g. from a supervisor thread.
    """

    def __init__(self, workers: int | None = None) -> None:
        if workers is None:
            from fastrec.settings import default_encoder_workers  # pydantic: not in the workers
            workers = default_encoder_workers()
        check_int("workers", workers, 1, 64)
        self._workers = [self._spawn() for _ in range(workers)]
        self._parts: dict[str, int] = {}  # session -> part being written
        self._closed = False

    @staticmethod
    def _spawn() -> _Worker:
        return _Worker(launch.start(WORKER_MAIN, name="fastrec-encoder"))

    @property
    def pids(self) -> list[int]:
        return [w.child.pid for w in self._workers]

    @property
    def connections(self) -> list[Connection]:
        """The workers' connections: readable when there are events (or a worker died)."""
        return [w.child.conn for w in self._workers if not w.child.conn.closed]

    def submit(self, job: EncodeJob) -> int:
        """Start encoding a session; returns the worker index it went to."""
        index = min(range(len(self._workers)), key=lambda i: len(self._workers[i].jobs))
        worker = self._workers[index]
        worker.jobs[job.session_id] = job
        worker.send(job)
        return index

    def events(self, timeout: float = 0.0) -> list[Event]:
        """Events since the last call, waiting up to ``timeout`` for the first one."""
        out: list[Event] = self._replace_dead()
        if not out:
            wait([w.child.conn for w in self._workers], timeout=timeout)
        for worker in self._workers:
            out.extend(worker.drain())
        for event in out:
            self._track(event)
        return out

    def _track(self, event: Event) -> None:
        if isinstance(event, SegmentOpened):
            self._parts[event.session_id] = event.part
        elif isinstance(event, SessionEncoded | EncoderFailed):
            self._parts.pop(event.session_id, None)
            for worker in self._workers:
                job = worker.jobs.pop(event.session_id, None)
                if job is not None:
                    job.endpoint.close()

    def _replace_dead(self) -> list[Event]:
        out: list[Event] = []
        for index, old in enumerate(self._workers):
            if old.child.is_alive() and not old.eof:
                continue
            last = old.drain()  # what it said before it died comes first
            for event in last:
                self._track(event)
            out.extend(last)
            old.child.join(5)
            old.child.kill()  # a worker that closed its end but hangs is as good as dead
            old.child.conn.close()
            self._workers[index] = new = self._spawn()
            for session_id, job in old.jobs.items():
                # The part after the last one we heard of.  The dead worker may have opened
                # later ones we never heard of (it reports a part only once the one before
                # it is finished): the writer skips every name that exists (SegmentSkipped).
                part = self._parts.get(session_id, job.first_part - 1) + 1
                new.jobs[session_id] = moved = replace(job, first_part=part)
                new.send(moved)
            out.append(WorkerDied(index, old.child.exitcode, tuple(old.jobs)))
        return out

    def close(self, timeout: float = 30.0) -> None:
        """Let every worker finish its sessions (their rings must be closed) and exit."""
        if self._closed:
            return
        self._closed = True
        for worker in self._workers:
            worker.send(None)
        for worker in self._workers:
            worker.child.join(timeout)
            worker.child.kill()
            worker.child.conn.close()
            for job in worker.jobs.values():
                job.endpoint.close()

    def __enter__(self) -> EncoderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
