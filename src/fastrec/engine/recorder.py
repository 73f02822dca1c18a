"""The supervisor: sessions, each a capture process, sharing one encoder pool.

The engine owns each session's life-cycle (:mod:`fastrec.engine.events`).  ``start`` and
``stop`` only change a session's state under the lock and wake the supervisor thread, so
they return at once and any number of threads may call them; the supervisor thread does
everything slow or fallible: it launches capture processes, hands their rings to encoder
workers, and routes what the processes say into the session and out as typed events.

Invariants:
- A session is finished only when both its sides are: the capture process has said its
  last word (or died), and - if its ring ever reached an encoder - that encoder has
  reported the session encoded or failed.  So no segment event can follow
  :class:`~fastrec.engine.events.SessionFinished`.
- Nothing that goes wrong while handling one message stops the supervisor: the session
  concerned ends in ``error`` with the traceback logged; other sessions go on.
- Observer failures are logged with their traceback and otherwise ignored.

Start-up (issue 14): the encoder workers start with the Recorder, and one capture
interpreter is started ahead (``spare_capture``), importing the capture loop while nothing
records, so a new session's first frame waits for neither interpreter.  The spare is taken
by the next session.  A capture process whose session stopped cleanly while no other
session records becomes the spare itself (:func:`~fastrec.engine.capture_loop.capture_sessions`):
an application that records one connection after another pays no interpreter per session.
Otherwise a new spare is started once no session has been recording for ``SPARE_DELAY``
seconds, so a recording holds no idle interpreter's memory, and a command that records
once and exits starts none it does not use.  A spare is named ``fastrec-capture`` (it does
not know its session yet); one started for a session at once is
``fastrec-capture-{session id}``.  A session's messages all come before the supervisor's
"bye" to its process (sent under the lock, after which nothing else is sent for it), so a
reused process never sees a late "stop" meant for the session before.
"""

from __future__ import annotations

import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from typing import Any

import structlog

from fastrec.core_present import require_compiled_core
from fastrec.crypt.context import SegmentEncryption
from fastrec.engine import launch
from fastrec.engine.capture_config import CaptureConfig
from fastrec.engine.encoder.pool import EncodeJob, EncoderPool
from fastrec.engine.encoder.writer import EncoderSettings
from fastrec.engine.events import (
    LIVE_STATES,
    EngineEvent,
    SegmentFinished,
    SessionError,
    SessionFinished,
    SessionStarted,
    SessionState,
)
from fastrec.engine.protocol import (
    EncoderFailed,
    SegmentClosed,
    SegmentInfo,
    SegmentNaming,
    SegmentOpened,
    SegmentPolicy,
    SegmentSkipped,
    SessionEncoded,
    WorkerDied,
)
from fastrec.privacy.screen_rules import ScreenRules

log = structlog.get_logger("fastrec.engine")

# no recording without the compiled core: refused here, at once, though only the children load it
require_compiled_core()

OnEvent = Callable[[EngineEvent], None]

# the capture process's body, by name: the supervisor does not import the capture loop
CAPTURE_SESSIONS = launch.Target("fastrec.engine.capture_loop", "capture_sessions")

# seconds without a recording session before a spare capture interpreter is started again
SPARE_DELAY = 1.0


@dataclass(frozen=True, slots=True)
class EncodingOptions:
    """The session-independent part of the encoder settings."""

    crf: int = 23
    preset: str = "veryfast"
    keyframe_interval: float = 60.0  # seconds of capture time (EncoderSettings.keyframe_interval)


@dataclass
class Session:
    """A session as the supervisor sees it; ``status()`` reports it."""

    config: CaptureConfig
    options: EncodingOptions
    policy: SegmentPolicy
    naming: SegmentNaming
    state: SessionState = SessionState.STARTING
    process: launch.Child | None = None
    submitted: bool = False  # its ring went to an encoder: wait for the encoder's last word
    stop_requested: bool = False
    started: float = field(default_factory=time.time)
    errors: list[str] = field(default_factory=list)
    capture: dict[str, Any] = field(default_factory=dict)
    segments: list[SegmentInfo] = field(default_factory=list)
    current: str | None = None
    encoded_frames: int = 0
    encoder_cpu_seconds: float = 0.0
    encoder_pid: int | None = None
    capture_done: bool = False
    encoder_done: bool = False
    pending_rules: ScreenRules | None = None  # new privacy rules the supervisor has yet to send
    encryption: SegmentEncryption | None = field(default=None, repr=False)  # the session's key
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def session_id(self) -> str:
        return self.config.session_id

    def status(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id, "state": str(self.state), "errors": list(self.errors),
            "started": self.started, "current_file": self.current,
            "segments": [str(s.path) for s in self.segments], "encoded_frames": self.encoded_frames,
            "encoder_cpu_seconds": self.encoder_cpu_seconds, "encoder_pid": self.encoder_pid,
            "capture_pid": self.process.pid if self.process is not None else None,
            "capture": dict(self.capture),
        }


class Recorder:
    """Record several sessions at once; a context manager. Thread-safe.

    ``on_event`` is called on the supervisor thread with every
    :data:`~fastrec.engine.events.EngineEvent`; it must not block (hand the event over to
    another thread for slow work such as writing files).
    """

    def __init__(self, workers: int | None = None, on_event: OnEvent | None = None,
                 spare_capture: bool = True) -> None:
        self._spare_capture = spare_capture
        self._spare: launch.Child | None = None
        self._idle_since = time.monotonic()
        if spare_capture:
            self._start_spare()  # first: its imports overlap the encoder workers' start
        self._pool = EncoderPool(workers)
        self._on_event = on_event
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._closing = False
        # the supervisor sleeps in wait() until a process says something; this wakes it
        # for a new session, a stop request or close()
        self._wake_in, self._wake_out = socket.socketpair()
        self._thread = threading.Thread(target=self._supervise, name="fastrec-supervisor", daemon=True)
        self._thread.start()

    def start(self, config: CaptureConfig, options: EncodingOptions, policy: SegmentPolicy,
              naming: SegmentNaming, encryption: SegmentEncryption | None = None) -> None:
        """Start recording a session; returns at once (state ``starting``).  Raises
        ValueError when a session of that id has not finished yet.  ``encryption``: the
        session's key, with which its encoder encrypts every segment."""
        with self._lock:
            if self._closing:
                raise RuntimeError("the recorder is closed")
            old = self._sessions.get(config.session_id)
            if old is not None and not old.done.is_set():
                raise ValueError(f"session {config.session_id!r} is already recording")
            self._sessions[config.session_id] = Session(config, options, policy, naming, encryption=encryption)
        self._wake()

    def stop(self, session_id: str) -> bool:
        """Ask a session to stop; returns at once (``wait`` for it to finish).  False when
        it had already been asked or has finished."""
        with self._lock:
            session = self._session(session_id)
            if session.stop_requested or session.done.is_set():
                return False
            session.stop_requested = True
            if session.state in (SessionState.STARTING, SessionState.RECORDING):
                session.state = SessionState.STOPPING
            if session.process is not None and not session.capture_done:
                launch.send(session.process.conn, "stop")
        self._wake()  # a session not launched yet is finished by the supervisor
        return True

    def update_rules(self, session_id: str, rules: ScreenRules) -> bool:
        """Apply new privacy rules to a session from its next frame on; returns at once.
        False when the session has finished (or its capture side has)."""
        if not isinstance(rules, ScreenRules):
            raise ValueError(f"rules must be a ScreenRules, got {type(rules).__name__}")
        with self._lock:
            session = self._session(session_id)
            if session.done.is_set() or session.capture_done:
                return False
            session.config = replace(session.config, rules=rules)  # not launched yet: it starts with them
            if session.process is not None:
                session.pending_rules = rules  # sent by the supervisor thread, the connection's writer
        self._wake()
        return True

    def wait_started(self, session_id: str, timeout: float = 30.0) -> None:
        """Wait until a session records (its capture process is up and its ring handed to an
        encoder); raises RuntimeError with its errors if it failed, TimeoutError if slow."""
        session = self._session(session_id)
        deadline = time.monotonic() + timeout
        while session.state == SessionState.STARTING:
            if time.monotonic() > deadline:
                raise TimeoutError(f"session {session_id!r} did not start within {timeout:.0f} s")
            if session.done.wait(0.02):
                break
        if session.state == SessionState.ERROR:
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

    def forget(self, session_id: str) -> None:
        """Drop a finished session's status (its id can then be started again)."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None and session.done.is_set():
                del self._sessions[session_id]

    def close(self, timeout: float = 30.0) -> None:
        """Stop every session, wait for their files, stop the workers."""
        with self._lock:
            sessions = list(self._sessions.values())
        for session in sessions:
            self.stop(session.session_id)
        deadline = time.monotonic() + timeout
        for session in sessions:
            session.done.wait(max(0.0, deadline - time.monotonic()))
        with self._lock:
            self._closing = True
        self._wake()
        self._thread.join(timeout)
        self._drop_spare()
        self._pool.close()
        for session in sessions:
            if session.process is not None:
                session.process.join(5)
                session.process.kill()
                session.process.conn.close()
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

    def _emit(self, event: EngineEvent) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:  # an observer's bug must not stop the recording
            log.exception("Recording observer failed", engine_event=type(event).__name__,
                          session_id=event.session_id)

    def _wake(self) -> None:
        try:
            self._wake_out.send(b"!")
        except OSError:
            pass  # already closed: the supervisor is gone

    @contextmanager
    def _guard(self, session: Session, what: str) -> Iterator[None]:
        """A bug or an unexpected failure while handling ``session`` ends that session
        (with the traceback logged), never the supervisor."""
        try:
            yield
        except Exception as exc:
            self._fail(session, f"{what}: {type(exc).__name__}: {exc}", traceback.format_exc())

    def _supervise(self) -> None:
        try:
            while not self._closing:
                try:
                    self._supervise_once()
                except Exception:  # a bug in the loop itself: say so, back off, go on
                    log.exception("Recording supervisor error; it goes on")
                    wait([self._wake_in], timeout=1.0)
        finally:
            self._wake_in.close()
            with self._lock:
                unfinished = [s for s in self._sessions.values() if not s.done.is_set()]
            for session in unfinished:  # nobody would ever finish them
                session.capture_done = session.encoder_done = True
                self._fail(session, "the recording engine was closed before the session finished")

    def _supervise_once(self) -> None:
        with self._lock:
            waiting = [s for s in self._sessions.values() if s.process is None and not s.done.is_set()]
            busy = any(not s.done.is_set() for s in self._sessions.values())
        for session in waiting:
            with self._guard(session, "capture process could not be started"):
                self._launch(session)
        self._keep_spare(busy)
        with self._lock:
            for session in self._sessions.values():
                if session.pending_rules is not None and session.process is not None:
                    if not session.capture_done:
                        launch.send(session.process.conn, ("rules", session.pending_rules))
                    session.pending_rules = None
        with self._lock:
            live = {s.process.conn: s for s in self._sessions.values()
                    if s.process is not None and not s.capture_done}
        # an idle recorder wakes once a second (or when a process writes or exits)
        ready = wait([*live, *self._pool.connections, self._wake_in], timeout=1.0)
        if self._wake_in in ready:
            self._wake_in.recv(4096)
        for conn in ready:
            if conn in live:
                with self._guard(live[conn], "capture message could not be handled"):
                    self._on_capture(live[conn])
        self._pool_events()

    def _launch(self, session: Session) -> None:
        if session.stop_requested:  # stopped before it ever started: nothing was recorded
            session.capture_done = session.encoder_done = True
            self._maybe_done(session)
            return
        launched = session.config
        process, self._spare = self._spare, None
        # a spare that died while it waited (or just now: the send fails) is replaced
        if process is None or not process.is_alive() or not launch.send(process.conn, ("session", launched)):
            if process is not None:
                process.kill()
                process.conn.close()
            process = launch.start(CAPTURE_SESSIONS, name=f"fastrec-capture-{session.session_id}")
            launch.send(process.conn, ("session", launched))
        with self._lock:
            session.process = process
            if session.config is not launched:  # rules changed while it was being launched
                session.pending_rules = session.config.rules
            if session.stop_requested:  # asked while it was being launched
                launch.send(process.conn, "stop")

    def _start_spare(self) -> None:
        try:
            self._spare = launch.start(CAPTURE_SESSIONS, name="fastrec-capture")
        except Exception as exc:  # noqa: BLE001 - only start-up time is lost: sessions start cold
            self._spare_capture = False
            log.warning("No capture process could be started ahead; sessions start without one",
                        error=f"{type(exc).__name__}: {exc}")

    def _keep_spare(self, busy: bool) -> None:
        """Start a spare capture interpreter once no session has been recording for a while."""
        now = time.monotonic()
        if busy:
            self._idle_since = now
        elif (self._spare_capture and self._spare is None and not self._closing
              and now - self._idle_since >= SPARE_DELAY):
            self._start_spare()

    def _drop_spare(self) -> None:
        spare, self._spare = self._spare, None
        if spare is not None:
            spare.conn.close()  # EOF: it exits
            spare.join(5)
            spare.kill()

    def _pool_events(self) -> None:
        try:
            events = self._pool.events()
        except Exception as exc:  # e.g. a dead worker could not be replaced
            tb = traceback.format_exc()
            log.error("Encoder pool failed", error=f"{type(exc).__name__}: {exc}", exception=tb)
            with self._lock:
                hit = [s for s in self._sessions.values() if s.submitted and not s.encoder_done]
            for session in hit:
                session.encoder_done = True
                self._fail(session, f"encoder pool failed: {type(exc).__name__}: {exc}", tb)
            return
        for event in events:
            if isinstance(event, WorkerDied):
                for sid in event.sessions:
                    session = self._sessions.get(sid)
                    if session is not None:
                        with self._guard(session, "encoder event could not be handled"):
                            self._on_worker_died(session, event)
                continue
            sid = event.info.session_id if isinstance(event, SegmentClosed) else event.session_id
            session = self._sessions.get(sid)
            if session is not None and not session.done.is_set():
                with self._guard(session, "encoder event could not be handled"):
                    self._on_encoder(session, event)

    def _on_capture(self, session: Session) -> None:
        assert session.process is not None
        try:
            kind, *rest = session.process.conn.recv()
        except (EOFError, OSError):
            session.process.join(1)  # its exit code says how it died
            kind, rest = "error", [f"capture process exited unexpectedly (code {session.process.exitcode})"]
        if kind == "ring":
            endpoint, (width, height) = rest
            c = session.config
            o = session.options
            settings = EncoderSettings(width, height, o.crf, o.preset, c.fps, keyframe_interval=o.keyframe_interval)
            worker = self._pool.submit(EncodeJob(c.session_id, endpoint, settings, session.policy, session.naming,
                                                   encryption=session.encryption))
            session.submitted = True
            session.encoder_pid = self._pool.pids[worker]
            with self._lock:
                if session.state == SessionState.STARTING:
                    session.state = SessionState.RECORDING
            self._emit(SessionStarted(c.session_id, width, height))
        elif kind == "stats":
            session.capture = rest[0]
        elif kind == "stopped":
            session.capture = rest[0]
            self._capture_ended(session, reusable=True)
            self._maybe_done(session)
        elif kind == "error":
            self._capture_ended(session, reusable=False)
            self._fail(session, rest[0], rest[1] if len(rest) > 1 else None)
        else:
            raise ValueError(f"unknown message {kind!r} from the capture process")

    def _capture_ended(self, session: Session, reusable: bool) -> None:
        """The capture process has said its last word: "bye" (it may exit - or wait for the
        next session, if it becomes the spare), after which nothing more is sent for this
        session (``capture_done``, under the lock that every sender holds)."""
        process = session.process
        assert process is not None
        with self._lock:
            session.capture_done = True
            launch.send(process.conn, "bye")
            others = any(s is not session and not s.done.is_set() for s in self._sessions.values())
        if (reusable and not others and self._spare_capture and self._spare is None and not self._closing
                and process.is_alive()):
            self._spare = process
        else:
            process.conn.close()  # EOF: it exits (reaped by close())

    def _on_worker_died(self, session: Session, event: WorkerDied) -> None:
        message = (f"encoder worker {event.worker} died (exit code {event.exitcode}); "
                   "recording continues in a new segment")
        session.errors.append(message)
        session.encoder_pid = self._pool.pids[event.worker]
        self._emit(SessionError(session.session_id, message, fatal=False))

    def _on_encoder(self, session: Session, event: Any) -> None:
        if isinstance(event, SegmentOpened):
            session.current = str(event.path)
            self._emit(event)
        elif isinstance(event, SegmentSkipped):
            self._emit(event)
        elif isinstance(event, SegmentClosed):
            session.segments.append(event.info)
            if session.current == str(event.info.path):
                session.current = None
            self._emit(SegmentFinished(event.info, dict(session.capture)))
        elif isinstance(event, SessionEncoded):
            session.encoded_frames = event.frames
            session.encoder_cpu_seconds = event.worker_cpu_seconds
            session.encoder_done = True
            self._maybe_done(session)
        elif isinstance(event, EncoderFailed):
            session.encoder_done = True
            with self._lock:
                if session.process is not None and not session.capture_done:
                    launch.send(session.process.conn, "stop")  # files written so far stay playable
            self._fail(session, event.error, getattr(event, "traceback", None))

    def _fail(self, session: Session, message: str, tb: str | None = None) -> None:
        """A fatal error: the session ends in ``error`` once both sides are done."""
        if session.done.is_set():
            return
        log.error("Recording engine error", session_id=session.session_id, error=message,
                  **({"exception": tb} if tb else {}))
        with self._lock:
            session.errors.append(message)
            session.state = SessionState.ERROR
            if session.process is None:
                session.capture_done = True
            elif not session.capture_done:
                launch.send(session.process.conn, "stop")
        self._emit(SessionError(session.session_id, message, fatal=True, traceback=tb))
        self._maybe_done(session)

    def _maybe_done(self, session: Session) -> None:
        # a ring that never reached an encoder leaves nothing for an encoder to finish
        encoder_done = session.encoder_done or not session.submitted
        if not (session.capture_done and encoder_done) or session.done.is_set():
            return
        with self._lock:
            if session.state != SessionState.ERROR:
                session.state = SessionState.STOPPED
            session.current = None
            session.done.set()
        self._emit(SessionFinished(session.session_id, session.state, tuple(session.segments),
                                   tuple(session.errors), dict(session.capture)))
