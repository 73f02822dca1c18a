"""RecordingManager: the reference recorder's API over the engine and the storage layer.

The embedding app calls the reference's methods (``initialize``,
``start_session_recording``, ``stop_session_recording``, ``is_recording``,
``get_recording_status``, ``perform_cleanup``, ``get_storage_info``, ``shutdown`` and
``rotation_manager.force_cleanup_by_*``); several sessions record at once, by session id,
and the single-session calls of the reference (no id) act on the most recent session.

Threads: ``start``/``stop`` only queue a command and return within milliseconds; a
command thread talks to the engine (spawning a capture process takes longer than that),
and an event thread turns the engine's events into metadata files, index entries, log
lines and observer calls, in the order they happened.  Every file a session writes is
named by :func:`~fastrec.storage.claim_basename` (part 1) and the engine's
``{basename}_part{N}`` (later parts); each part's ``_metadata.json`` is written with
status ``recording`` when the part opens, linked to the next part when that one opens,
and sealed (size, SHA-256, hash chain, end time, frame counts) when it closes.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Self

import structlog

from fastrec.engine.capture_loop import CaptureConfig
from fastrec.engine.protocol import SegmentInfo, SegmentNaming, SegmentPolicy
from fastrec.engine.recorder import EncodingOptions, Recorder
from fastrec.logs import recording_error, recording_started, recording_stopped
from fastrec.settings import RecordingSettings, load_settings
from fastrec.storage import (
    INDEX_FILE,
    CaptureInfo,
    ChainInfo,
    CleanupScheduler,
    ConnectionInfo,
    FileInfo,
    FrameCounts,
    RecorderSettings,
    RecordingIndex,
    RotationManager,
    SegmentMetadata,
    claim_basename,
    ensure_private_dir,
    link_next,
    metadata_path,
    recording_basename,
    seal_segment,
    write_metadata,
)

__all__ = ["OBSERVER_EVENTS", "Observer", "RecordingManager"]

log = structlog.get_logger("fastrec.manager")

Observer = Callable[[str, str, dict[str, Any]], None]  # (event, session_id, details)
RecorderFactory = Callable[..., Any]  # (workers=..., observer=...) -> a Recorder

OBSERVER_EVENTS = ("started", "stopped", "rotated", "error")
_MB = 1024 * 1024
_CONNECTION_KEYS = ("con_codigo", "ip", "name", "user", "connection_type")
_LIVE_STATES = ("pending", "starting", "recording", "stopping")
KEEP_FINISHED = 100  # finished sessions whose status stays available


def _now() -> datetime:
    return datetime.now().astimezone()


@dataclass
class _Part:
    number: int
    video: Path
    meta_path: Path
    meta: SegmentMetadata
    sealed: bool = False
    bytes: int = 0


@dataclass
class _Session:
    session_id: str
    connection_info: dict[str, Any]
    mode: str
    directory: Path
    basename: str
    started_at: datetime
    settings: RecordingSettings
    state: str = "pending"  # pending, starting, recording, stopping, stopped, error
    parts: dict[int, _Part] = field(default_factory=dict)
    current: int | None = None
    last_sealed: SegmentMetadata | None = None
    errors: list[str] = field(default_factory=list)
    capture: dict[str, Any] = field(default_factory=dict)
    counted: dict[str, int] = field(default_factory=dict)  # capture counters already in a part
    stop_requested: bool = False
    output_size: tuple[int, int] | None = None
    ended_at: datetime | None = None
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def live(self) -> bool:
        return self.state in _LIVE_STATES

    def live_paths(self) -> set[str]:
        paths = {os.path.abspath(p.video) for p in self.parts.values() if not p.sealed}
        if not self.parts:  # claimed, the engine has not opened it yet
            paths.add(os.path.abspath(self.directory / f"{self.basename}.mp4"))
        return paths


class RecordingManager:
    """Record remote-desktop sessions: the reference's API, thread-safe, many sessions.

    ``settings``: the ``RECORDING_*`` settings (default: :func:`load_settings` from the
    environment and ``.env``).  ``recorder_factory(workers=..., observer=...)`` makes the
    engine (default :class:`~fastrec.engine.recorder.Recorder`).  ``mode``, ``display`` and
    ``source_options`` override, for every session, the capture mode (``"synthetic"`` too,
    which the settings do not accept), the X display (default ``$DISPLAY``) and the
    capture source's options; :meth:`start_session_recording` can override them per
    session.  ``segment_policy`` replaces the rotation limits that
    RECORDING_MAX_FILE_SIZE_MB / RECORDING_MAX_DURATION_MINUTES give (whole megabytes and
    minutes), e.g. ``SegmentPolicy(max_seconds=2)`` in tests.  ``cleanup_schedule``: run the retention cleanup every
    ``RECORDING_CLEANUP_INTERVAL_HOURS`` (the first run right after :meth:`initialize`).

    Observers (:meth:`add_observer`) are called as ``callback(event, session_id,
    details)`` from the manager's event thread, for ``"started"`` (details: width,
    height, mode), ``"rotated"`` (part, path), ``"error"`` (error) and ``"stopped"``
    (state, files, errors).  A failing observer is logged and ignored.
    """

    def __init__(self, settings: RecordingSettings | None = None,
                 recorder_factory: RecorderFactory = Recorder, *,
                 mode: str | None = None, display: str | None = None,
                 source_options: dict[str, Any] | None = None,
                 segment_policy: SegmentPolicy | None = None,
                 cleanup_schedule: bool = True) -> None:
        self.settings = settings if settings is not None else load_settings()
        self.recorder_factory = recorder_factory
        self.mode = mode
        self.display = display
        self.source_options = dict(source_options or {})
        self.segment_policy = segment_policy
        self.cleanup_schedule = cleanup_schedule
        self.output_dir = Path(self.settings.output_dir)
        # what the reference exposes: recording_manager.rotation_manager.force_cleanup_by_*
        self.rotation_manager = RotationManager.from_settings(
            self.settings, is_active=self._is_live_path, on_deleted=self._on_deleted)
        self.index: RecordingIndex | None = None
        self.scheduler: CleanupScheduler | None = None
        self.recorder: Any = None
        self._lock = threading.RLock()
        self._sessions: dict[str, _Session] = {}
        self._order: list[str] = []  # session ids, oldest start first
        self._observers: list[Observer] = []
        self._commands: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._events: queue.Queue[tuple[str, str, dict[str, Any]] | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._initialized = False
        self._closed = False

    # --- life cycle ---------------------------------------------------------------

    def initialize(self) -> bool:
        """Get ready to record; True when recording is possible.

        False (with the reason logged) when ``RECORDING_ENABLED`` is false, a setting is
        invalid, the output directory cannot be written or the engine cannot start.
        Creates the output directory (0700), opens the index
        (``recordings_index.sqlite3``), starts the engine's encoder workers and the
        cleanup schedule.  Idempotent; :meth:`start_session_recording` calls it when
        needed.  Storage calls (:meth:`get_storage_info`, :meth:`perform_cleanup`,
        ``rotation_manager``) work without it.
        """
        with self._lock:
            if self._initialized:
                return True
            if self._closed:
                log.error("Recording manager was shut down; create a new one")
                return False
            if not self.settings.enabled:
                log.warning("Recording is disabled (RECORDING_ENABLED=false): nothing will be recorded",
                            reason="disabled")
                return False
            if not self.settings.validate_recording_config():  # logs each problem
                return False
            try:
                ensure_private_dir(self.output_dir)
                self.index = RecordingIndex(self.output_dir / INDEX_FILE, self.output_dir)
                self.recorder = self.recorder_factory(workers=self.settings.encoder_workers,
                                                      observer=self._on_engine_event)
            except Exception as exc:  # noqa: BLE001 - any failure: reported, initialize() says False
                log.error(f"Recording could not be initialized: {exc}", error=str(exc))
                self._close_index()
                return False
            for target, name in ((self._command_loop, "fastrec-manager-commands"),
                                 (self._event_loop, "fastrec-manager-events")):
                thread = threading.Thread(target=target, name=name, daemon=True)
                thread.start()
                self._threads.append(thread)
            if self.cleanup_schedule:
                self.scheduler = CleanupScheduler(self.rotation_manager,
                                                  self.settings.cleanup_interval_hours).start()
            self._initialized = True
            log.info("Recording manager initialized", output_dir=str(self.output_dir),
                     mode=self.mode or self.settings.mode, fps=self.settings.fps,
                     quality=self.settings.quality, workers=self.settings.encoder_workers)
            return True

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop every session, wait (up to ``timeout`` s) until their files are sealed, then
        stop the cleanup schedule, the engine and the threads.  Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            initialized = self._initialized
            live = [s.session_id for s in self._sessions.values() if s.live]
        if initialized:
            for session_id in live:
                self.stop_session_recording(session_id)
            deadline = time.monotonic() + timeout
            for session_id in live:
                self.wait_for_session(session_id, max(0.0, deadline - time.monotonic()))
            if self.scheduler is not None:
                self.scheduler.stop(timeout=10)
            self._commands.put(None)
            self._threads[0].join(timeout=10)
            try:
                if self.recorder is not None:
                    self.recorder.close(timeout=max(1.0, deadline - time.monotonic()))
            except Exception as exc:  # noqa: BLE001 - shutting down: report and go on
                log.error(f"Recording engine did not close cleanly: {exc}", error=str(exc))
            self._events.put(None)
            self._threads[1].join(timeout=10)
        self._close_index()
        log.info("Recording manager shut down")

    def __enter__(self) -> Self:
        self.initialize()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    # --- observers ------------------------------------------------------------------

    def add_observer(self, callback: Observer) -> None:
        """Call ``callback(event, session_id, details)`` on started/stopped/rotated/error."""
        with self._lock:
            self._observers.append(callback)

    def remove_observer(self, callback: Observer) -> None:
        """Stop calling ``callback`` (no error when it was not added)."""
        with self._lock:
            if callback in self._observers:
                self._observers.remove(callback)

    # --- recording --------------------------------------------------------------------

    def start_session_recording(self, session_id: str, connection_info: dict[str, Any] | None = None, *,
                                mode: str | None = None, display: str | None = None,
                                source_options: dict[str, Any] | None = None) -> bool:
        """Start recording ``session_id``; returns at once.

        ``connection_info``: the reference's dict (con_codigo, ip, name, user,
        connection_type; other keys are kept in the metadata).  ``mode``, ``display``,
        ``source_options`` override the manager's for this session.  True when the
        recording was started (the engine then works in the background; a later failure
        is reported as an ``"error"`` event, a log line and in the status); False, with
        the reason logged, when recording is disabled or not possible, the session id is
        empty or that session is already recording.
        """
        if not isinstance(session_id, str) or not session_id.strip():
            log.error("Recording not started: session_id must be a non-empty string",
                      session_id=repr(session_id))
            return False
        if not self.settings.enabled:
            log.warning(f"Recording not started for session {session_id}: recording is disabled "
                        "(RECORDING_ENABLED=false)", session_id=session_id, reason="disabled")
            return False
        if not self.initialize():
            log.error(f"Recording not started for session {session_id}: the recorder is not available",
                      session_id=session_id, reason="not initialized")
            return False
        info = {k: (str(v) if k in _CONNECTION_KEYS[1:] and v is not None else v)
                for k, v in dict(connection_info or {}).items()}
        settings = self.settings.model_copy()
        mode = mode or self.mode or settings.mode
        try:
            started_at = _now()
            code = info.get("con_codigo")
            server = info.get("name") or info.get("ip") or "unknown"
            with self._lock:
                if self._closed:
                    return False
                old = self._sessions.get(session_id)
                if old is not None and old.live:
                    log.warning(f"Recording not started for session {session_id}: it is already recording",
                                session_id=session_id, reason="already recording")
                    return False
                directory = self.output_dir
                basename = claim_basename(directory, recording_basename(
                    code if code not in (None, "") else session_id, server, started_at))
                session = _Session(session_id, info, mode, directory, basename, started_at, settings)
                self._sessions[session_id] = session
                if session_id in self._order:
                    self._order.remove(session_id)
                self._order.append(session_id)
            config = self._capture_config(session_id, settings, mode,
                                          display if display is not None else self.display,
                                          source_options if source_options is not None else self.source_options)
            options = EncodingOptions(crf=settings.quality, preset=settings.preset)
            policy = self.segment_policy or SegmentPolicy(
                max_bytes=int(settings.max_file_size_mb * _MB),
                max_seconds=float(settings.max_duration_minutes) * 60.0)
            naming = SegmentNaming(directory, basename)
        except Exception as exc:  # noqa: BLE001 - the reference's contract: False, not a raise
            recording_error(log, session_id, f"cannot start: {exc}")
            with self._lock:
                self._sessions.pop(session_id, None)
                if session_id in self._order:
                    self._order.remove(session_id)
            return False
        self._commands.put(lambda: self._engine_start(session, config, options, policy, naming))
        log.debug("Recording requested", session_id=session_id, mode=mode, file=basename)
        return True

    def stop_session_recording(self, session_id: str | None = None) -> bool:
        """Stop recording ``session_id`` (None: the most recently started live session);
        returns at once.  True when a live session was asked to stop; False when there is
        none (or it is already stopping).  The files are sealed in the background:
        :meth:`wait_for_session` waits for that."""
        with self._lock:
            session = self._resolve(session_id, live_only=True)
            if session is None or session.stop_requested:
                return False
            session.stop_requested = True
            if session.state in ("starting", "recording"):
                session.state = "stopping"
            sid = session.session_id
        self._commands.put(lambda: self._engine_stop(sid))
        return True

    def wait_for_session(self, session_id: str | None = None, timeout: float | None = None) -> bool:
        """Block until ``session_id`` (None: the most recent) has finished and its metadata
        is sealed; False on timeout or when there is no such session."""
        with self._lock:
            session = self._resolve(session_id, live_only=False)
        return session is not None and session.finished.wait(timeout)

    def is_recording(self, session_id: str | None = None) -> bool:
        """Whether ``session_id`` is being recorded (None: whether any session is).

        A session counts from the moment it is started until its files are sealed."""
        with self._lock:
            if session_id is None:
                return any(s.live for s in self._sessions.values())
            session = self._sessions.get(session_id)
            return session is not None and session.live

    def get_recording_status(self, session_id: str | None = None) -> dict[str, Any]:
        """The state of one session, or of the manager with every session.

        With ``session_id``, that session's dict:

        - ``session_id``: str; ``known``: False for an id never started (then
          ``is_recording`` is False, ``state`` "unknown" and the other keys are absent)
        - ``state``: "pending" (queued to the engine), "starting" (looking for its
          window/screen), "recording", "stopping", "stopped" or "error"
        - ``is_recording``: bool (pending to stopping)
        - ``mode``: the capture mode; ``connection_info``: the dict given at start
        - ``start_time``: ISO 8601 local time of the start call; ``end_time``: when it
          finished, or None; ``elapsed_seconds``: seconds from start to now (or to end)
        - ``current_file``: path of the part being written, or None; ``current_part``:
          its number, or None
        - ``files``: paths of every part so far (oldest first); ``segments``: their count
        - ``bytes``: size of those files now; ``size_mb``: the same in MiB
        - ``frames``: {"captured", "encoded", "unchanged", "dropped"} -- capture loop
          counters (captured = every tick the loop ran; encoded = frames sent to the
          encoder; unchanged = identical frames skipped; dropped = frames lost because
          the encoder fell behind)
        - ``fps``: frames captured per second so far (the loop's achieved rate)
        - ``output_size``: [width, height] of the video, or None before the first frame
        - ``region``: [x, y, width, height] of the recorded screen area, or None
        - ``errors``: error messages, oldest first

        Without ``session_id`` (the reference's call), the manager's dict:

        - ``enabled``: RECORDING_ENABLED; ``initialized``: :meth:`initialize` succeeded
        - ``is_recording``: any session live; ``active_sessions``: their ids, oldest first
        - ``session_id``: the most recently started session's id, or None;
          ``current_session``: its dict (above), or None; ``current_file``: its
          ``current_file`` (None when nothing is being written)
        - ``mode``, ``output_dir``, ``fps``, ``quality``, ``resolution_scale``,
          ``max_file_size_mb``, ``max_duration_minutes``: the settings in use
        - ``sessions``: {session_id: session dict} for every live session and the last
          ``KEEP_FINISHED`` (100) finished ones, oldest first
        - ``cleanup``: {"runs", "last_result"} of the cleanup schedule (runs 0 and
          last_result None when it has not run or is off)
        """
        with self._lock:
            if session_id is not None:
                session = self._sessions.get(session_id)
                if session is None:
                    return {"session_id": session_id, "known": False, "state": "unknown",
                            "is_recording": False}
                return self._session_status(session)
            sessions = {sid: self._session_status(self._sessions[sid]) for sid in self._order}
            latest = self._order[-1] if self._order else None
            s = self.settings
            return {
                "enabled": s.enabled, "initialized": self._initialized,
                "is_recording": any(v["is_recording"] for v in sessions.values()),
                "active_sessions": [sid for sid, v in sessions.items() if v["is_recording"]],
                "session_id": latest, "current_session": sessions.get(latest) if latest else None,
                "current_file": sessions[latest]["current_file"] if latest else None,
                "mode": self.mode or s.mode, "output_dir": str(self.output_dir), "fps": s.fps,
                "quality": s.quality, "resolution_scale": s.resolution_scale,
                "max_file_size_mb": s.max_file_size_mb, "max_duration_minutes": s.max_duration_minutes,
                "sessions": sessions,
                "cleanup": {"runs": self.scheduler.runs if self.scheduler else 0,
                            "last_result": self.scheduler.last_result if self.scheduler else None},
            }

    # --- storage -------------------------------------------------------------------------

    def perform_cleanup(self, dry_run: bool = False) -> dict[str, Any]:
        """Delete recordings older than RECORDING_MAX_FILE_AGE_DAYS, then the oldest down
        to RECORDING_MAX_TOTAL_SIZE_GB; a part being recorded is never touched.

        Returns :meth:`RotationManager.perform_cleanup`'s dict: operation, dry_run,
        started_at, output_dir, max_file_age_days, target_size_gb, deleted_files,
        deleted_segments, deleted (file names), freed_bytes, freed_gb, skipped
        ([{segment, reason, detail, due_to}]), errors, total_size_bytes_before,
        total_size_bytes_after, target_reached.  Logs ``Cleanup completed: deleted N
        files, freed X GB``.
        """
        return self.rotation_manager.perform_cleanup(dry_run=dry_run)

    def get_storage_info(self) -> dict[str, Any]:
        """How much the recordings take, and how full the quota is.

        - ``output_dir``: the directory (str)
        - ``total_size_bytes``, ``total_size_gb``: size of every recording file (videos,
          metadata, leftover temp files); GB = 1024**3 bytes
        - ``max_total_size_gb``: RECORDING_MAX_TOTAL_SIZE_GB
        - ``size_usage_percent``: total / quota * 100 (the reference's key)
        - ``max_file_age_days``: RECORDING_MAX_FILE_AGE_DAYS
        - ``file_count``, ``video_count``, ``segment_count``, ``session_count``: files,
          videos, segments (video + metadata) and distinct sessions on disk
        - ``active_count``: segments being recorded now
        - ``oldest``, ``newest``: ISO 8601 start of the oldest/newest segment, or None
        - ``free_disk_bytes``: free space on the directory's filesystem, or None
        - ``active_sessions``: ids of the sessions this manager is recording
        """
        info = self.rotation_manager.get_storage_info()
        with self._lock:
            info["active_sessions"] = [sid for sid in self._order if self._sessions[sid].live]
        return info

    # --- internals: settings -> engine ---------------------------------------------------

    def _capture_config(self, session_id: str, settings: RecordingSettings, mode: str,
                        display: str | None, source_options: dict[str, Any]) -> CaptureConfig:
        options: dict[str, Any] = {"monitor": settings.monitor} if mode == "full_screen" else {}
        options.update(source_options)
        return CaptureConfig(
            session_id=session_id, mode=mode, display=display, source_options=options,
            fps=settings.fps, scale=settings.resolution_scale,
            keyframe_interval=settings.keyframe_interval_seconds, tile_size=settings.tile_size,
            ring_slots=settings.ring_slots, full_policy=settings.full_policy)

    def _resolve(self, session_id: str | None, *, live_only: bool) -> _Session | None:
        if session_id is not None:
            session = self._sessions.get(session_id)
            return session if session is not None and (session.live or not live_only) else None
        for sid in reversed(self._order):
            if self._sessions[sid].live or not live_only:
                return self._sessions[sid]
        return None

    def _is_live_path(self, path: Path) -> bool:
        key = os.path.abspath(path)
        with self._lock:
            return any(key in s.live_paths() for s in self._sessions.values() if s.live)

    def _on_deleted(self, path: Path) -> None:
        if self.index is not None:
            self.index.remove(path)

    def _close_index(self) -> None:
        if self.index is not None:
            try:
                self.index.close()
            except Exception as exc:  # noqa: BLE001 - closing is best effort
                log.debug("Recording index did not close cleanly", error=str(exc))

    # --- command thread ------------------------------------------------------------------

    def _command_loop(self) -> None:
        while (command := self._commands.get()) is not None:
            try:
                command()
            except Exception as exc:
                log.exception("Recording command failed", error=str(exc))

    def _engine_start(self, session: _Session, config: CaptureConfig, options: EncodingOptions,
                      policy: SegmentPolicy, naming: SegmentNaming) -> None:
        with self._lock:
            if session.stop_requested:  # stopped before the engine heard of it
                self._events.put(("_cancelled", session.session_id, {}))
                return
            session.state = "starting"
        try:
            self.recorder.start(config, options, policy, naming)
        except Exception as exc:  # noqa: BLE001 - reported as the session's error
            self._events.put(("error", session.session_id, {"error": f"{type(exc).__name__}: {exc}"}))
            self._events.put(("_cancelled", session.session_id, {}))

    def _engine_stop(self, session_id: str) -> None:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None or session.state == "pending" or session.finished.is_set():
                return  # never reached the engine: _engine_start cancels it
        try:
            self.recorder.stop(session_id)
        except KeyError:
            pass

    # --- event thread ------------------------------------------------------------------

    def _on_engine_event(self, event: str, session_id: str, details: dict[str, Any]) -> None:
        # called on the engine's supervisor thread: hand over, never block it
        self._events.put((event, session_id, details))

    def _event_loop(self) -> None:
        while (item := self._events.get()) is not None:
            event, session_id, details = item
            with self._lock:
                session = self._sessions.get(session_id)
            if session is None:
                continue
            try:
                handler = getattr(self, f"_handle_{event.lstrip('_')}", None)
                if handler is not None:
                    handler(session, details)
            except Exception as exc:
                log.exception("Recording event could not be handled", event=event,
                              session_id=session_id, error=str(exc))

    def _notify(self, event: str, session_id: str, details: dict[str, Any]) -> None:
        with self._lock:
            observers = list(self._observers)
        for callback in observers:
            try:
                callback(event, session_id, details)
            except Exception as exc:  # noqa: BLE001 - an observer's bug must not stop recording
                log.warning("Recording observer failed", observer=repr(callback), event=event,
                            error=f"{type(exc).__name__}: {exc}")

    def _handle_started(self, session: _Session, details: dict[str, Any]) -> None:
        with self._lock:
            if session.state == "starting":
                session.state = "recording"
            session.output_size = (details.get("width"), details.get("height"))  # type: ignore[assignment]
        recording_started(log, session.session_id, mode=session.mode, file=session.basename,
                          width=details.get("width"), height=details.get("height"),
                          output_dir=str(session.directory))
        self._notify("started", session.session_id, {"mode": session.mode, **details})

    def _base_metadata(self, session: _Session, part: int, video: Path) -> SegmentMetadata:
        s = session.settings
        info = {k: session.connection_info.get(k) for k in _CONNECTION_KEYS}
        extra = {k: v for k, v in session.connection_info.items() if k not in _CONNECTION_KEYS}
        return SegmentMetadata(
            session_id=session.session_id,
            connection_info=ConnectionInfo(**info, **extra),
            start_time=_now() if part > 1 else session.started_at,
            recorder_settings=RecorderSettings(
                fps=s.fps, quality=s.quality, resolution_scale=s.resolution_scale,
                max_file_size_mb=s.max_file_size_mb, max_duration_minutes=s.max_duration_minutes,
                preset=s.preset, keyframe_interval_seconds=s.keyframe_interval_seconds),
            capture=CaptureInfo(mode=session.mode, region=session.capture.get("region"),
                                output_size=session.output_size),
            file=FileInfo(name=video.name),
            chain=ChainInfo(part=part),
            status="recording",
        )

    def _handle_segment_opened(self, session: _Session, details: dict[str, Any]) -> None:
        part_no, video = int(details["part"]), Path(details["path"])
        meta = self._base_metadata(session, part_no, video)
        if part_no == 1:
            meta.start_time = _now()  # the first frame: what the video's time 0 shows
        meta_file = metadata_path(video.parent, video.name[: -len(".mp4")])
        previous = session.parts.get(part_no - 1)
        if previous is not None:
            if not previous.sealed and previous.video.is_file():
                # its encoder died: no close event will come for it
                self._seal(session, previous, None, status="interrupted")
            meta.chain.previous_file = previous.video.name
            meta.chain.previous_sha256 = previous.meta.file.sha256
        write_metadata(meta_file, meta)
        if previous is not None:
            previous.meta = link_next(previous.meta_path, video.name)
        with self._lock:
            session.parts[part_no] = _Part(part_no, video, meta_file, meta)
            session.current = part_no
        if self.index is not None:
            self.index.add(meta, video, meta_file)

    def _handle_rotated(self, session: _Session, details: dict[str, Any]) -> None:
        log.info("Recording rotated to a new file", session_id=session.session_id,
                 part=details.get("part"), file=str(details.get("path")))
        self._notify("rotated", session.session_id, dict(details))

    def _handle_segment_closed(self, session: _Session, details: dict[str, Any]) -> None:
        info: SegmentInfo = details["info"]
        with self._lock:
            session.capture = dict(details.get("capture") or session.capture)
            part = session.parts.get(info.part)
        if part is None:  # closed without an open event (should not happen): describe it anyway
            part = _Part(info.part, Path(info.path), metadata_path(Path(info.path).parent, Path(info.path).stem),
                         self._base_metadata(session, info.part, Path(info.path)))
            session.parts[info.part] = part
        status = "interrupted" if (session.errors and not info.finalized) else "complete"
        self._seal(session, part, info, status=status)

    def _seal(self, session: _Session, part: _Part, info: SegmentInfo | None, *, status: str) -> None:
        meta = part.meta.model_copy(deep=True)
        capture = session.capture
        meta.capture.region = capture.get("region") or meta.capture.region
        meta.capture.output_size = session.output_size or meta.capture.output_size
        # the capture counters are per session: this part gets what accrued since the last one
        totals = {"unchanged": int(capture.get("unchanged", 0)) + int(capture.get("damage_skips", 0)),
                  "dropped": int(capture.get("dropped", 0))}
        delta = {k: max(0, v - session.counted.get(k, 0)) for k, v in totals.items()}
        session.counted.update(totals)
        encoded = info.frames if info is not None else 0
        meta.frames = FrameCounts(captured=encoded + delta["unchanged"] + delta["dropped"],
                                  encoded=encoded, unchanged=delta["unchanged"], dropped=delta["dropped"],
                                  keyframes=info.keyframes if info is not None else None)
        if info is not None:
            end = meta.start_time + timedelta(seconds=max(0.0, info.duration))
        else:
            end = datetime.fromtimestamp(part.video.stat().st_mtime).astimezone()
        if session.errors:
            meta.errors = list(session.errors)
        sealed = seal_segment(meta, part.video, session.last_sealed, status=status, end_time=end)  # type: ignore[arg-type]
        if info is not None:
            sealed.file.finalized = info.finalized  # type: ignore[attr-defined]
        write_metadata(part.meta_path, sealed)
        with self._lock:
            part.meta, part.sealed, part.bytes = sealed, True, sealed.file.size_bytes or 0
            session.last_sealed = sealed
            if session.current == part.number:
                session.current = None
        if self.index is not None:
            self.index.add(sealed, part.video, part.meta_path)
        log.info("Recording segment sealed", session_id=session.session_id, part=part.number,
                 file=part.video.name, bytes=sealed.file.size_bytes, frames=encoded, status=status)

    def _handle_error(self, session: _Session, details: dict[str, Any]) -> None:
        error = str(details.get("error"))
        with self._lock:
            session.errors.append(error)
        recording_error(log, session.session_id, error)
        self._notify("error", session.session_id, {"error": error})

    def _handle_stopped(self, session: _Session, details: dict[str, Any]) -> None:
        with self._lock:
            unsealed = [p for p in session.parts.values() if not p.sealed]
        for part in sorted(unsealed, key=lambda p: p.number):
            if part.video.is_file():
                self._seal(session, part, None, status="interrupted")
        self._finish(session)

    def _handle_cancelled(self, session: _Session, details: dict[str, Any]) -> None:
        self._finish(session)

    def _finish(self, session: _Session) -> None:
        with self._lock:
            if session.finished.is_set():
                return
            if not session.parts:  # the engine never opened the claimed file: do not leave it
                claimed = session.directory / f"{session.basename}.mp4"
                try:
                    if claimed.is_file() and claimed.stat().st_size == 0:
                        claimed.unlink()
                except OSError:
                    pass
            session.state = "error" if session.errors else "stopped"
            session.ended_at = _now()
            session.current = None
            files = [str(session.parts[n].video) for n in sorted(session.parts)]
            finished = [sid for sid in self._order if not self._sessions[sid].live]
            for sid in finished[: max(0, len(finished) - KEEP_FINISHED)]:
                self._order.remove(sid)
                del self._sessions[sid]
        recording_stopped(log, session.session_id, state=session.state, files=len(files),
                          errors=len(session.errors))
        session.finished.set()
        self._notify("stopped", session.session_id,
                     {"state": session.state, "files": files, "errors": list(session.errors)})

    # --- status ---------------------------------------------------------------------------

    def _session_status(self, session: _Session) -> dict[str, Any]:
        capture = session.capture
        if session.live and self.recorder is not None and session.state != "pending":
            try:
                capture = self.recorder.status(session.session_id).get("capture") or capture
            except KeyError:
                pass
        files = [session.parts[n].video for n in sorted(session.parts)]
        size = 0
        for part in (session.parts[n] for n in sorted(session.parts)):
            if part.sealed:
                size += part.bytes
            else:
                try:
                    size += part.video.stat().st_size
                except OSError:
                    pass
        end = session.ended_at or _now()
        elapsed = float(capture.get("elapsed") or 0.0)
        ticks = int(capture.get("ticks", 0))
        region = capture.get("region")
        current = session.parts.get(session.current) if session.current is not None else None
        return {
            "session_id": session.session_id, "known": True, "state": session.state,
            "is_recording": session.live, "mode": session.mode,
            "connection_info": dict(session.connection_info),
            "start_time": session.started_at.isoformat(),
            "end_time": session.ended_at.isoformat() if session.ended_at else None,
            "elapsed_seconds": round((end - session.started_at).total_seconds(), 3),
            "current_file": str(current.video) if current else None,
            "current_part": current.number if current else None,
            "files": [str(f) for f in files], "segments": len(files),
            "bytes": size, "size_mb": round(size / _MB, 3),
            "frames": {"captured": ticks, "encoded": int(capture.get("published", 0)),
                       "unchanged": int(capture.get("unchanged", 0)) + int(capture.get("damage_skips", 0)),
                       "dropped": int(capture.get("dropped", 0))},
            "fps": round(ticks / elapsed, 2) if elapsed > 0 else 0.0,
            "output_size": list(session.output_size) if session.output_size else None,
            "region": list(region) if region else None,
            "errors": list(session.errors),
        }
