"""The supervisor: sessions, each a capture process, sharing one encoder pool.

One supervisor thread routes messages: a capture process's ring goes to an encoder
worker, stats and segment events land in the session's status, errors stop the session
cleanly, and observers hear of started / segment_opened / rotated / segment_closed /
stopped / error (``segment_closed`` carries the :class:`SegmentInfo` a metadata writer needs).  ``start`` and
``stop`` return promptly; ``wait`` blocks until a stopping session is finished.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from fastrec.engine import launch
from fastrec.engine.capture_loop import CaptureConfig, capture_main
from fastrec.engine.encoder.pool import EncodeJob, EncoderPool
from fastrec.engine.protocol import (
    EncoderFailed,
    SegmentClosed,
    SegmentInfo,
    SegmentNaming,
    SegmentOpened,
    SegmentPolicy,
    SessionEncoded,
    WorkerDied,
)
from fastrec.engine.encoder.writer import EncoderSettings

Observer = Callable[[str, str, dict[str, Any]], None]  # (event, session_id, details)


@dataclass(frozen=True, slots=True)
class EncodingOptions:
    """The session-independent part of the encoder settings."""

    crf: int = 23
    preset: str = "veryfast"


@dataclass
class Session:
    """A session as the supervisor sees it; ``status()`` reports it."""

    config: CaptureConfig
    options: EncodingOptions
    policy: SegmentPolicy
    naming: SegmentNaming
    process: launch.Child
    control: Connection
    started: float = field(default_factory=time.time)
    state: str = "starting"  # starting, recording, stopping, stopped, error
    errors: list[str] = field(default_factory=list)
    capture: dict[str, Any] = field(default_factory=dict)
    segments: list[SegmentInfo] = field(default_factory=list)
    current: str | None = None
    encoded_frames: int = 0
    encoder_cpu_seconds: float = 0.0
    capture_done: bool = False
    encoder_done: bool = False
    done: threading.Event = field(default_factory=threading.Event)

    def status(self) -> dict[str, Any]:
        return {
            "session_id": self.config.session_id, "state": self.state, "errors": list(self.errors),
            "started": self.started, "current_file": self.current,
            "segments": [str(s.path) for s in self.segments], "encoded_frames": self.encoded_frames,
            "encoder_cpu_seconds": self.encoder_cpu_seconds, "capture": dict(self.capture),
        }


class Recorder:
    """Record several sessions at once; a context manager. Thread-safe."""

    def __init__(self, workers: int | None = None, observer: Observer | None = None) -> None:
        self._pool = EncoderPool(workers)
        self._observer = observer
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._closing = False
        # the supervisor sleeps in wait() until a process says something; this wakes it
        # for a new session or for close()
        self._wake_in, self._wake_out = socket.socketpair()
        self._thread = threading.Thread(target=self._supervise, name="fastrec-supervisor", daemon=True)
        self._thread.start()

    def start(self, config: CaptureConfig, options: EncodingOptions, policy: SegmentPolicy,
              naming: SegmentNaming) -> None:
        """Start recording a session; returns at once (state "starting")."""
        with self._lock:
            old = self._sessions.get(config.session_id)
            if old is not None and not old.done.is_set():
                raise ValueError(f"session {config.session_id!r} is already recording")
            process = launch.start(capture_main, config, name=f"fastrec-capture-{config.session_id}")
            self._sessions[config.session_id] = Session(config, options, policy, naming, process,
                                                        process.conn)
        self._wake()

    def stop(self, session_id: str) -> None:
        """Ask a session to stop; returns at once.  ``wait`` for it to finish."""
        with self._lock:
            session = self._session(session_id)
            if session.state in ("starting", "recording"):
                session.state = "stopping"
                launch.send(session.control, "stop")

    def wait_started(self, session_id: str, timeout: float = 30.0) -> None:
        """Wait until a session records (its capture process is up and its ring handed to an
        encoder); raises RuntimeError with its errors if it failed, TimeoutError if slow."""
        session = self._session(session_id)
        deadline = time.monotonic() + timeout
        while session.state == "starting":
            if time.monotonic() > deadline:
                raise TimeoutError(f"session {session_id!r} did not start within {timeout:.0f} s")
            time.sleep(0.02)
        if session.state == "error":
            raise RuntimeError("; ".join(session.errors))

    def wait(self, session_id: str, timeout: float | None = None) -> dict[str, Any]:
        """Wait until a session has finished (files closed); returns its status."""
        session = self._session(session_id)
        if not session.done.wait(timeout):
            raise TimeoutError(f"session {session_id!r} did not finish within {timeout} s")
        return session.status()

    def status(self, session_id: str | None = None) -> dict[str, Any]:
        """One session's status, or {session_id: status} for all."""
        with self._lock:
            if session_id is not None:
                return self._session(session_id).status()
            return {sid: s.status() for sid, s in self._sessions.items()}

    @property
    def encoder_pids(self) -> list[int]:
        return self._pool.pids

    def close(self, timeout: float = 30.0) -> None:
        """Stop every session, wait for their files, stop the workers."""
        for sid in list(self._sessions):
            self.stop(sid)
        deadline = time.monotonic() + timeout
        for session in list(self._sessions.values()):
            session.done.wait(max(0.0, deadline - time.monotonic()))
        self._closing = True
        self._wake()
        self._thread.join(timeout)
        self._pool.close()
        for session in self._sessions.values():
            session.process.join(5)
            session.process.kill()
            session.control.close()
        self._wake_out.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- supervisor thread -------------------------------------------------------------

    def _session(self, session_id: str) -> Session:
        try:
            return self._sessions[session_id]
        except KeyError:
            raise KeyError(f"no session {session_id!r}") from None

    def _emit(self, event: str, session: Session, **details: Any) -> None:
        if self._observer is not None:
            try:
                self._observer(event, session.config.session_id, details)
            except Exception:  # an observer's bug must not stop the recording
                pass

    def _wake(self) -> None:
        try:
            self._wake_out.send(b"!")
        except OSError:
            pass  # already closed: the supervisor is gone

    def _supervise(self) -> None:
        try:
            while not self._closing:
                with self._lock:
                    live = {s.control: s for s in self._sessions.values() if not s.capture_done}
                # an idle recorder wakes once a second (or when a process writes or exits)
                ready = wait([*live, *self._pool.connections, self._wake_in], timeout=1.0)
                if self._wake_in in ready:
                    self._wake_in.recv(4096)
                for conn in ready:
                    if conn in live:
                        self._on_capture(live[conn])
                for event in self._pool.events():
                    self._on_pool(event)
        finally:
            self._wake_in.close()

    def _on_capture(self, session: Session) -> None:
        try:
            kind, *rest = session.control.recv()
        except (EOFError, OSError):
            session.process.join(1)  # its exit code says how it died
            kind, rest = "error", [f"capture process exited unexpectedly (code {session.process.exitcode})"]
        if kind == "ring":
            endpoint, (width, height) = rest
            c = session.config
            settings = EncoderSettings(width, height, session.options.crf, session.options.preset, c.fps)
            self._pool.submit(EncodeJob(c.session_id, endpoint, settings, session.policy, session.naming))
            if session.state == "starting":
                session.state = "recording"
            self._emit("started", session, width=width, height=height)
        elif kind == "stats":
            session.capture = rest[0]
        elif kind == "stopped":
            session.capture = rest[0]
            session.capture_done = True
            self._maybe_done(session)
        elif kind == "error":
            session.errors.append(rest[0])
            session.capture_done = True
            if session.current is None:  # never reached the encoder: nothing else will finish it
                session.encoder_done = True
            session.state = "error"
            self._emit("error", session, error=rest[0])
            self._maybe_done(session)

    def _on_pool(self, event: Any) -> None:
        if isinstance(event, WorkerDied):
            for sid in event.sessions:
                session = self._sessions.get(sid)
                if session is not None:
                    message = (f"encoder worker {event.worker} died (exit code {event.exitcode}); "
                               "recording continues in a new segment")
                    session.errors.append(message)
                    self._emit("error", session, error=message)
            return
        sid = event.info.session_id if isinstance(event, SegmentClosed) else event.session_id
        session = self._sessions.get(sid)
        if session is None:
            return
        if isinstance(event, SegmentOpened):
            session.current = str(event.path)
            self._emit("segment_opened", session, part=event.part, path=event.path)
            if event.part > 1:
                self._emit("rotated", session, part=event.part, path=str(event.path))
        elif isinstance(event, SegmentClosed):
            session.segments.append(event.info)
            self._emit("segment_closed", session, info=event.info, capture=dict(session.capture))
        elif isinstance(event, SessionEncoded):
            session.encoded_frames = event.frames
            session.encoder_cpu_seconds = event.worker_cpu_seconds
            session.encoder_done = True
            self._maybe_done(session)
        elif isinstance(event, EncoderFailed):
            session.errors.append(event.error)
            session.state = "error"
            session.encoder_done = True
            launch.send(session.control, "stop")  # files written so far stay playable
            self._emit("error", session, error=event.error)
            self._maybe_done(session)

    def _maybe_done(self, session: Session) -> None:
        if session.capture_done and session.encoder_done and not session.done.is_set():
            if session.state != "error":
                session.state = "stopped"
            session.done.set()
            self._emit("stopped", session, segments=[str(s.path) for s in session.segments])
