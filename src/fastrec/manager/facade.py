"""RecordingManager: the reference recorder's API over the engine and the storage layer.

The embedding app calls the reference's methods (``initialize``,
``start_session_recording``, ``stop_session_recording``, ``is_recording``,
``get_recording_status``, ``perform_cleanup``, ``get_storage_info``, ``shutdown`` and
``rotation_manager.force_cleanup_by_*``); several sessions record at once, by session id,
and the single-session calls of the reference (no id) act on the most recent session.

This is a facade: the engine (:class:`~fastrec.engine.recorder.Recorder`) owns each
session's life-cycle and reports it with typed events; :mod:`.sealing` turns those into
metadata files, the hash chain and index entries on the manager's one event thread
(:mod:`.dispatch`), in the order they happened; :mod:`.session` renders the status.
``start``/``stop`` only change the engine's state and return within milliseconds.

Before a session starts, the active recording policy of the output directory decides
whether its connection is recorded (:mod:`fastrec.policy`; read from disk at every start,
so a policy saved from the command line or the admin server applies to the next
connection); the decision and the rule that made it are logged.

Unless RECORDING_LIVE_ANNOUNCE is false, an initialized manager announces its live
sessions to the admin server (:class:`~fastrec.live.announcer.Announcer`, on a thread of
its own: a store that is down never delays or stops recording).

Unless RECORDING_INPUT_EVENTS is false, each session's input events (clicks, scrolls, key
counts, titles, focus, pauses, rage clicks) are recorded beside its video parts by a
:class:`~fastrec.events.session.SessionInput` in this process (X11 RECORD or Windows
hooks for the screen modes; titles and pauses only for the others); a rage click also
raises a live ``rage_click`` alert.  No input source (no RECORD extension ...) is logged
and never a reason not to record.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import structlog

from fastrec.core.mask_region import MaskRegion
from fastrec.crypt.context import Encryption, encryption_from_settings, use_encryption
from fastrec.engine.capture_config import CaptureConfig
from fastrec.engine.capture_config import OcrOptions
from fastrec.engine.events import (
    EngineEvent,
    SegmentFinished,
    SegmentOpened,
    SegmentSkipped,
    SessionError,
    SessionFinished,
    SessionStarted,
    SessionState,
)
from fastrec.engine.protocol import RECORDING_MODES, CaptureMode, SegmentNaming, SegmentPolicy
from fastrec.engine.recorder import EncodingOptions, Recorder
from fastrec.events.model import RageClick
from fastrec.events.session import SessionInput
from fastrec.events.source import InputSource, InputUnavailable, open_input_source
from fastrec.live.announcer import Announcer
from fastrec.live.model import AlertKind
from fastrec.logs import policy_decision, recording_error, recording_started, recording_stopped
from fastrec.manager.dispatch import EventThread
from fastrec.manager.sealing import SessionFiles, now
from fastrec.manager.uploads import UploadStatus, Uploader
from fastrec.manager.rules_watch import RulesWatcher
from fastrec.manager.session import ManagedSession
from fastrec.policy.active import ActivePolicyReader
from fastrec.policy.decision import Decision
from fastrec.privacy.connection import ConnectionDetails, clean_connection_info
from fastrec.privacy.screen_rules import ScreenRules
from fastrec.settings import RecordingSettings, load_settings
from fastrec.storage import (
    INDEX_FILE,
    CaptureInfo,
    CleanupScheduler,
    ConnectionInfo,
    RecorderProcess,
    RecorderSettings,
    RecordingIndex,
    RotationManager,
    SegmentMetadata,
    claim_basename,
    ensure_private_dir,
    iter_metadata,
    read_metadata,
    recording_basename,
    recover_interrupted,
    video_path,
)
from fastrec.storage.objectstore import ObjectStore, store_from_settings
from fastrec.storage.signing import SigningKeyError, keyring_from_env
from fastrec.storage.videos import use_store

__all__ = ["OBSERVER_EVENTS", "Observer", "RecordingManager"]

log = structlog.get_logger("fastrec.manager")

Observer = Callable[[str, str, dict[str, Any]], None]  # (event, session_id, details): the reference's
RecorderFactory = Callable[..., Recorder]  # (workers=..., on_event=...) -> a Recorder

OBSERVER_EVENTS = ("started", "stopped", "rotated", "error")
_MB = 1024 * 1024
KEEP_FINISHED = 100  # finished sessions whose status stays available


class RecordingManager:
    """Record remote-desktop sessions: the reference's API, thread-safe, many sessions.

    ``settings``: the ``RECORDING_*`` settings (default: :func:`load_settings` from the
    environment and ``.env``).  ``recorder_factory(workers=..., on_event=...)`` makes the
    engine (default :class:`~fastrec.engine.recorder.Recorder`).  ``mode``, ``display`` and
    ``source_options`` override, for every session, the capture mode (``"synthetic"`` too,
    which the settings do not accept), the X display (default ``$DISPLAY``) and the
    capture source's options; :meth:`start_session_recording` can override them per
    session.  ``segment_policy`` replaces the rotation limits that
    RECORDING_MAX_FILE_SIZE_MB / RECORDING_MAX_DURATION_MINUTES give (whole megabytes and
    minutes), e.g. ``SegmentPolicy(max_seconds=2)`` in tests.  ``cleanup_schedule``: run
    the retention cleanup every ``RECORDING_CLEANUP_INTERVAL_HOURS`` (the first run right
    after :meth:`initialize`).  ``masks``: regions hidden in every session's frames
    (:class:`~fastrec.core.masks.MaskRegion`, screen coordinates), composited in the
    capture process so no unmasked pixel of them leaves it; a session can add its own
    (:meth:`start_session_recording`), never remove these.  ``encryption``
    (:class:`~fastrec.crypt.context.Encryption`): the keys that encrypt every segment and
    events file, e.g. over a KMS's :class:`~fastrec.crypt.keys.KeyEncryptionKey`; default:
    FASTREC_ENCRYPTION_KEY_FILE / FASTREC_ENCRYPTION_KEY, or none.

    ``policy`` (:class:`~fastrec.policy.active.ActivePolicyReader`) reads the recording
    policy of the output directory before each session starts (:meth:`policy_decision`);
    its privacy rules are masked in every session's frames, in addition to ``masks``, and
    follow the active policy while sessions record (``rules_watch``, a thread started by
    :meth:`initialize`).

    Observers (:meth:`add_observer`) are called as ``callback(event, session_id,
    details)`` from the manager's event thread, for ``"started"`` (details: width,
    height, mode), ``"rotated"`` (part, path), ``"error"`` (error) and ``"stopped"``
    (state, files, errors).  A failing observer is logged with its traceback and ignored.
    """

    def __init__(self, settings: RecordingSettings | None = None,
                 recorder_factory: RecorderFactory = Recorder, *,
                 mode: str | None = None, display: str | None = None,
                 source_options: dict[str, Any] | None = None,
                 segment_policy: SegmentPolicy | None = None,
                 cleanup_schedule: bool = True,
                 masks: Sequence[MaskRegion] = (),
                 encryption: Encryption | None = None) -> None:
        self.settings = settings if settings is not None else load_settings()
        self.masks = _check_masks(masks)
        self.recorder_factory = recorder_factory
        self.mode = mode
        self.display = display
        self.source_options = dict(source_options or {})
        self.segment_policy = segment_policy
        self.cleanup_schedule = cleanup_schedule
        self.output_dir = Path(self.settings.output_dir)
        # the recording policy, read at every start
        self.policy = ActivePolicyReader(self.output_dir, database_url=self.settings.database_url)
        self.rules_watch = RulesWatcher(self.policy, self._apply_rules)  # its privacy rules, live
        # FASTREC_S3_URL: sealed segments move to the object store (fastrec.manager.uploads)
        self.store: ObjectStore | None = store_from_settings(self.settings)
        # encryption at rest: given (a KMS-backed key ring, say), else FASTREC_ENCRYPTION_KEY[_FILE]
        # read in initialize()
        self.encryption: Encryption | None = encryption
        self.uploader: Uploader | None = None
        # what the reference exposes: recording_manager.rotation_manager.force_cleanup_by_*
        # (the active policy's retention section, where it sets a limit, over the settings')
        self.rotation_manager = RotationManager.from_settings(
            self.settings, is_active=self._is_live_path, on_deleted=self._on_deleted, store=self.store,
            limits=self.policy.retention_limits)
        self.index: RecordingIndex | None = None
        self.announcer: Announcer | None = None  # live sessions for the admin server
        self.scheduler: CleanupScheduler | None = None
        self.recorder: Recorder | None = None
        self._lock = threading.RLock()
        self._sessions: dict[str, ManagedSession] = {}
        self._order: list[str] = []  # session ids, oldest start first
        self._observers: list[Observer] = []
        self._events = EventThread(self._handle, name="fastrec-manager-events")
        self._initialized = False
        self._closed = False

    # --- life cycle ---------------------------------------------------------------

    def initialize(self) -> bool:
        """Get ready to record; True when recording is possible.

        False (with the reason logged) when ``RECORDING_ENABLED`` is false, a setting is
        invalid (the signing key of FASTREC_SIGNING_KEY_FILE / FASTREC_SIGNING_KEY
        included), the output directory cannot be used, the engine cannot start or the
        manager was shut down.  Creates the output directory (0700), opens the index
        (``recordings_index.sqlite3``; recording goes on without it when it is damaged),
        seals the parts an earlier recorder left ``recording`` when it was killed, starts
        the engine's encoder workers, the cleanup schedule and the live-session
        announcer (RECORDING_LIVE_ANNOUNCE; never a reason to return False).  Idempotent;
        :meth:`start_session_recording` calls it when needed.  Storage calls
        (:meth:`get_storage_info`, :meth:`perform_cleanup`, ``rotation_manager``) work
        without it.
        """
        with self._lock:
            if self._closed:
                log.error("Recording manager was shut down; create a new one")
                return False
            if self._initialized:
                return True
            if not self.settings.enabled:
                log.warning("Recording is disabled (RECORDING_ENABLED=false): nothing will be recorded",
                            reason="disabled")
                return False
            if not self.settings.validate_recording_config():  # logs each problem
                return False
            if self.settings.ocr_pii:
                from fastrec.privacy.ocr import OcrUnavailable, check_ocr  # numpy: only when OCR is on

                try:
                    check_ocr()
                except OcrUnavailable as exc:  # fail closed: not recorded unread
                    log.error(f"Recording could not be initialized: RECORDING_OCR_PII=true but {exc}",
                              error=str(exc))
                    return False
            try:
                keyring_from_env()  # every metadata write signs with it: an unusable key stops here
            except SigningKeyError as exc:
                log.error(f"Recording could not be initialized: {exc}", error=str(exc))
                return False
            try:
                ensure_private_dir(self.output_dir)
            except OSError as exc:
                log.error(f"Recording could not be initialized: {exc}", error=str(exc))
                return False
            try:  # before recovery: an encrypted part left by a killed recorder is probed decrypted
                if self.encryption is None:
                    self.encryption = encryption_from_settings(self.settings, self.output_dir)
            except (ValueError, OSError) as exc:
                log.error(f"Recording could not be initialized: {exc}", error=str(exc))
                return False
            if self.encryption is not None:
                use_encryption(self.output_dir, self.encryption)
            self.index = self._open_index()
            self._recover()
            if self.store is not None:  # replay and export read uploaded parts from the store
                use_store(self.output_dir, self.store)
            try:
                self.recorder = self.recorder_factory(workers=self.settings.encoder_workers,
                                                      on_event=self._events.put)
            except Exception as exc:  # noqa: BLE001 - any failure: reported, initialize() says False
                log.exception(f"Recording could not be initialized: {exc}", error=str(exc))
                self._close_index()
                return False
            self._events.start()
            if self.store is not None:  # after recovery: the parts it sealed are uploaded too
                self.uploader = Uploader(self.output_dir, self.store,
                                         cache_bytes=int(self.settings.s3_cache_gb * 1024 ** 3),
                                         is_live=self._is_live_path, on_failing=self._upload_failing).start()
            self.rules_watch.start()
            self.announcer = self._start_announcer()
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
        stop the cleanup schedule, the engine and the event thread.  Idempotent."""
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
            self.rules_watch.close()
            try:
                assert self.recorder is not None
                self.recorder.close(timeout=max(1.0, deadline - time.monotonic()))
            except Exception as exc:  # noqa: BLE001 - shutting down: report and go on
                log.exception(f"Recording engine did not close cleanly: {exc}", error=str(exc))
            self._events.close(timeout=10)
            if self.uploader is not None:  # what is not uploaded yet waits on disk for the next start
                self.uploader.stop()
            if self.store is not None:
                use_store(self.output_dir, None)
            if self.encryption is not None:
                use_encryption(self.output_dir, None)
                self.encryption.keystore.close()  # a database key store's connection (opens again on use)
            if self.announcer is not None:
                self.announcer.close()  # after the last session is sealed: its end is told
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

    def start_session_recording(self, session_id: str, connection_info: Mapping[str, Any] | None = None, *,
                                mode: str | None = None, display: str | None = None,
                                source_options: dict[str, Any] | None = None,
                                masks: Sequence[MaskRegion] = ()) -> bool:
        """Start recording ``session_id``; returns at once.

        ``connection_info``: the reference's dict (con_codigo, ip, name, user,
        connection_type, and the documented extras of
        :func:`fastrec.privacy.connection.clean_connection_info`); credentials and
        secret-looking or unknown keys are dropped (and named in the log), never stored;
        personal data in the values (e-mail addresses, card numbers ..., and
        RECORDING_PII_PATTERNS) is replaced by markers such as ``[email]``.
        ``mode``, ``display``, ``source_options`` override the manager's for this session;
        ``masks`` (:class:`~fastrec.core.masks.MaskRegion`, screen coordinates) are hidden
        in this session's frames in addition to the manager's and the recording policy's privacy rules
        (which follow the active policy while the session records).  True when the recording was started (the engine then works in the background; a
        later failure is reported as an ``"error"`` event, a log line and in the status);
        False, with the reason logged, when recording is disabled or not possible, the
        session id is empty, ``connection_info`` is not a mapping, ``masks`` holds
        something other than MaskRegion, that session is already recording, or the
        recording policy excludes the connection (not an error: the log line
        ``Recording not started for session {id}: excluded by rule ...`` names the rule;
        :meth:`policy_decision` tells the same before the call).  A session id used before
        continues that session's chain.
        """
        if not isinstance(session_id, str) or not session_id.strip():
            log.error("Recording not started: session_id must be a non-empty string",
                      session_id=repr(session_id))
            return False
        if connection_info is not None and not isinstance(connection_info, Mapping):
            log.error(f"Recording not started for session {session_id}: connection_info must be "
                      f"a dict or None, got {type(connection_info).__name__}",
                      session_id=session_id, reason="bad connection_info")
            return False
        try:
            session_masks = self.masks + _check_masks(masks)
        except TypeError as exc:
            log.error(f"Recording not started for session {session_id}: {exc}",
                      session_id=session_id, reason="bad masks")
            return False
        if not self.settings.enabled:
            log.warning(f"Recording not started for session {session_id}: recording is disabled "
                        "(RECORDING_ENABLED=false)", session_id=session_id, reason="disabled")
            return False
        if not self.initialize():
            log.error(f"Recording not started for session {session_id}: the recorder is not available",
                      session_id=session_id, reason="not initialized")
            return False
        assert self.recorder is not None
        details = self._connection(session_id, connection_info or {})
        active = self.policy.current()
        decision = active.decide(details)
        if not decision.record:
            policy_decision(log, session_id, decision)
            return False
        info = details.as_dict()
        settings = self.settings
        mode = mode or self.mode or settings.mode
        rules = self.rules_watch.rules_of(active)
        with self._lock:
            if self._closed:
                return False
            old = self._sessions.get(session_id)
            if old is not None and old.live:
                log.warning(f"Recording not started for session {session_id}: it is already recording",
                            session_id=session_id, reason="already recording")
                return False
            try:
                session = self._new_session(session_id, info, mode)
                session.rules = rules
                config = self._capture_config(
                    session_id, settings, mode, display if display is not None else self.display,
                    source_options if source_options is not None else self.source_options,
                    session_masks, rules)
                policy = self.segment_policy or SegmentPolicy(
                    max_bytes=int(settings.max_file_size_mb * _MB),
                    max_seconds=float(settings.max_duration_minutes) * 60.0)
                self.recorder.forget(session_id)
                options = EncodingOptions(crf=settings.quality, preset=settings.preset,
                                          keyframe_interval=settings.keyframe_interval_seconds)
                session.files.input = self._session_input(session, config.display)
                # the session's key (created on its first part, wrapped by the active KEK)
                encryption = None if self.encryption is None else self.encryption.for_session(session_id)
                self.recorder.start(config, options, policy,
                                    SegmentNaming(session.files.directory, session.files.basename),
                                    encryption=encryption)
            except Exception as exc:  # noqa: BLE001 - the reference's contract: False, not a raise
                log.exception(f"Recording not started for session {session_id}: {exc}",
                              session_id=session_id, error=str(exc))
                if session.files.input is not None:
                    session.files.input.close()
                return False
            if session.files.input is not None:
                session.files.input.start()
            self._sessions[session_id] = session
            if session_id in self._order:
                self._order.remove(session_id)
            self._order.append(session_id)
        policy_decision(log, session_id, decision)
        self._rules_pending_ocr(session)
        self._live_wake()
        log.debug("Recording requested", session_id=session_id, mode=mode, file=session.files.basename)
        return True

    def policy_decision(self, connection_info: Mapping[str, Any] | None = None) -> Decision:
        """What the active recording policy decides for this connection now: ``record``
        (bool) and the ``rule`` that decided (:class:`fastrec.policy.decision.Decision`).
        Logs nothing and starts nothing; :meth:`start_session_recording` decides again.
        Raises TypeError when ``connection_info`` is not a mapping."""
        return self.policy.current().decide(clean_connection_info(
            connection_info or {}, pii_patterns=self.settings.custom_pii_patterns()))

    def stop_session_recording(self, session_id: str | None = None) -> bool:
        """Stop recording ``session_id`` (None: the most recently started live session);
        returns at once.  True when a live session was asked to stop; False when there is
        none (or it is already stopping).  The files are sealed in the background:
        :meth:`wait_for_session` waits for that."""
        with self._lock:
            session = self._resolve(session_id, live_only=True)
            if session is None or self.recorder is None:
                return False
            try:
                return self.recorder.stop(session.session_id)
            except KeyError:
                return False

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
        - ``state``: "starting" (looking for its window/screen), "recording",
          "stopping" (until its files are sealed), "stopped" or "error"
        - ``is_recording``: bool (starting to stopping)
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
        - ``paused``: nothing is being recorded right now (the window is minimised, fully
          covered or gone, or has just appeared); ``pause_reason``: why, when known, else
          None; ``occluded``: other windows cover part of it (blanked in the video) --
          as of the capture process's last report (every second); False once finished
        - ``privacy_rules_version``: the recording policy version whose privacy rules the
          capture process applies (0: the default policy), as of its last report
        - ``privacy_blocked``: capture ticks not recorded because a window privacy rule's
          match was uncertain (the window list failed, or a matching window moved during
          the grab): fail closed, see README "Recording policy"
        - ``ocr``: None unless RECORDING_OCR_PII is on; then the OCR stage's counters as of
          the last report: ``frames`` in, ``reads`` (strips read), ``blocks_read`` (blocks
          of text Tesseract read), ``blocks_reused`` (blocks known by their pixels, not read again),
          ``read_seconds``, ``found`` (personal-data boxes), ``blocked_frames`` (frames that
          left at RECORDING_OCR_MAX_DELAY with an unread region blocked), ``partial_records``
          (verdicts on a strip's top rows while the rest was read), ``max_wait``
          (seconds, the longest a frame waited), ``dropped``, ``cpu_seconds``
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
        - ``uploads``: None without FASTREC_S3_URL (or before :meth:`initialize`), else
          {"store", "backlog_segments", "backlog_bytes" (sealed videos on disk not yet
          verified in the store), "uploaded_segments", "uploaded_bytes" (since start),
          "cached_bytes", "last_error" (None once an upload succeeds again),
          "retry_in_seconds"} (:class:`fastrec.manager.uploads.UploadStatus`)
        """
        with self._lock:
            if session_id is not None:
                session = self._sessions.get(session_id)
                if session is None:
                    return {"session_id": session_id, "known": False, "state": "unknown",
                            "is_recording": False}
                return session.status(self._engine_status(session))
            sessions = {sid: self._sessions[sid].status(self._engine_status(self._sessions[sid]))
                        for sid in self._order}
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
                "uploads": self.uploader.status().as_dict() if self.uploader is not None else None,
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
        - ``ignored_files``: look-alike files no metadata of the recorder names (never
          deleted); ``last_cleanup``: the last retention run ({operation, started_at,
          deleted_files, freed_bytes, errors}) or None
        - ``active_sessions``: ids of the sessions this manager is recording
        """
        info = self.rotation_manager.get_storage_info()
        with self._lock:
            info["active_sessions"] = [sid for sid in self._order if self._sessions[sid].live]
        return info

    # --- internals: sessions ------------------------------------------------------------

    def _connection(self, session_id: str, given: Mapping[str, Any]) -> ConnectionDetails:
        cleaned = clean_connection_info(given, pii_patterns=self.settings.custom_pii_patterns())
        if cleaned.dropped or cleaned.changed:
            log.warning(f"Connection details cleaned before they are stored: {cleaned.summary()}",
                        session_id=session_id)
        return cleaned

    def _new_session(self, session_id: str, info: dict[str, Any], mode: str) -> ManagedSession:
        s = self.settings
        started_at = now()
        code = info.get("con_codigo")
        server = info.get("name") or info.get("ip") or "unknown"
        template = SegmentMetadata(
            session_id=session_id,
            connection_info=ConnectionInfo(**info),
            start_time=started_at,
            recorder_settings=RecorderSettings(
                fps=s.fps, quality=s.quality, resolution_scale=s.resolution_scale,
                max_file_size_mb=s.max_file_size_mb, max_duration_minutes=s.max_duration_minutes,
                preset=s.preset, keyframe_interval_seconds=s.keyframe_interval_seconds),
            capture=CaptureInfo(mode=mode),
            status="recording",
            recorder=RecorderProcess.current(),  # recovery tells a killed recorder's parts by it
        )
        def claim(name: str) -> bytes:  # the part-1 metadata, published exclusively, claims a name
            first = template.model_copy(deep=True)
            first.file.name = video_path(self.output_dir, name).name
            return (first.to_json() + "\n").encode("utf-8")

        basename = claim_basename(self.output_dir, recording_basename(
            code if code not in (None, "") else session_id, server, started_at), claim)
        files = SessionFiles(self.output_dir, basename, template, index=self.index,
                             previous=self._last_sealed(session_id),
                             on_sealed=self.uploader.submit if self.uploader is not None else None)
        return ManagedSession(session_id, info, mode, started_at, files)

    def _last_sealed(self, session_id: str) -> SegmentMetadata | None:
        """The last sealed part of an earlier recording of this session id, if any: from
        the index, or - only when there is none - from every metadata file."""
        if self.index is not None:
            try:
                entries = [e for e in self.index.search(session_id=session_id)
                           if e.metadata_path is not None and e.status != "recording"]
                candidates = [read_metadata(e.metadata_path) for e in entries]  # type: ignore[arg-type]
                return max(candidates, key=lambda m: m.chain.part, default=None)
            except Exception as exc:  # noqa: BLE001 - derived data: fall back to the files
                log.warning("Recording index could not be searched", error=f"{type(exc).__name__}: {exc}")
        candidates = [m for _, m in iter_metadata(self.output_dir)
                      if isinstance(m, SegmentMetadata) and m.session_id == session_id
                      and m.status != "recording" and m.file.sha256]
        return max(candidates, key=lambda m: m.chain.part, default=None)

    def _capture_config(self, session_id: str, settings: RecordingSettings, mode: str,
                        display: str | None, source_options: dict[str, Any],
                        masks: tuple[MaskRegion, ...], rules: ScreenRules) -> CaptureConfig:
        options: dict[str, Any] = {"monitor": settings.monitor} if mode == CaptureMode.FULL_SCREEN else {}
        options.update(source_options)
        return CaptureConfig(
            session_id=session_id, mode=mode, display=display, source_options=options,
            fps=settings.fps, scale=settings.resolution_scale,
            tile_size=settings.tile_size, partial_grabs=settings.partial_grabs,
            ring_slots=settings.ring_slots, full_policy=settings.full_policy, masks=masks,
            pii_patterns=settings.custom_pii_patterns(), rules=rules,
            ocr=(OcrOptions(max_delay=settings.ocr_max_delay, threads=settings.ocr_threads)
                 if settings.ocr_pii else None))

    def _session_input(self, session: ManagedSession, display: str | None) -> SessionInput | None:
        """The session's input events (RECORDING_INPUT_EVENTS), not started yet: with the
        platform's input source for a real screen, else titles and pauses only."""
        if not self.settings.input_events:
            return None
        source: InputSource | None = None
        if session.mode in RECORDING_MODES:
            try:
                source = open_input_source(display)
            except InputUnavailable as exc:
                log.warning(f"Input events of session {session.session_id} are not recorded: {exc}",
                            session_id=session.session_id, reason=str(exc))
        session_id = session.session_id
        return SessionInput(session_id, session.started_at, lambda: self._capture_now(session),
                            source=source, rage_rule=self.settings.rage_rule(),
                            on_rage=lambda event: self._on_rage(session_id, event),
                            encryption=None if self.encryption is None else self.encryption.for_session(session_id))

    def _on_rage(self, session_id: str, event: RageClick) -> None:
        """A rage click: logged, and a live ``rage_click`` alert for the admin server."""
        message = (f"rage click in session {session_id}: {event.clicks} {event.button} clicks "
                   f"within {event.radius_px:g} px at {event.x:.0f}% x {event.y:.0f}% of the screen")
        log.warning(message, session_id=session_id, clicks=event.clicks, x=event.x, y=event.y)
        if self.announcer is not None:
            self.announcer.alert(AlertKind.RAGE_CLICK, message, session_id, clicks=event.clicks,
                                 button=str(event.button), x_percent=event.x, y_percent=event.y,
                                 at_seconds=event.t)

    def _apply_rules(self, rules: ScreenRules) -> None:
        """Send ``rules`` to every live session that has other ones (the watcher's tick)."""
        with self._lock:
            stale = [s for s in self._sessions.values() if s.live and s.rules != rules]
            recorder = self.recorder
        if recorder is None:
            return
        for session in stale:
            try:
                if not recorder.update_rules(session.session_id, rules):
                    continue
            except KeyError:
                continue
            old = session.rules.version
            session.rules = rules
            log.info(f"Privacy rules of session {session.session_id} changed: {rules.describe()}",
                     session_id=session.session_id, policy_version=rules.version, previous_version=old)
            self._rules_pending_ocr(session)

    def _rules_pending_ocr(self, session: ManagedSession) -> None:
        """Say once per session that its on-screen PII rules are not applied to frames
        because OCR is off."""
        if session.rules.pii and not session.told_pii and not self.settings.ocr_pii:
            session.told_pii = True
            log.warning("On-screen PII rules need RECORDING_OCR_PII=true: "
                        f"{', '.join(session.rules.pii_names)} not applied to the video",
                        session_id=session.session_id, rules=session.rules.pii_names,
                        policy_version=session.rules.version)

    def _resolve(self, session_id: str | None, *, live_only: bool) -> ManagedSession | None:
        if session_id is not None:
            session = self._sessions.get(session_id)
            return session if session is not None and (session.live or not live_only) else None
        for sid in reversed(self._order):
            if self._sessions[sid].live or not live_only:
                return self._sessions[sid]
        return None

    def _engine_status(self, session: ManagedSession) -> dict[str, Any] | None:
        if session.final is not None or self.recorder is None:
            return None
        try:
            return self.recorder.status(session.session_id)
        except KeyError:
            return None

    # --- internals: storage --------------------------------------------------------------

    def _open_index(self) -> RecordingIndex | None:
        try:
            return RecordingIndex(self.output_dir / INDEX_FILE, self.output_dir,
                                  database_url=self.settings.database_url)
        except Exception as exc:  # noqa: BLE001 - derived data: recording never depends on it
            log.error(f"Recording index unavailable; recording goes on without it: {exc}",
                      error=f"{type(exc).__name__}: {exc}")
            return None

    def _recover(self) -> None:
        """Seal the parts a killed recorder left ``recording`` (cut back to their last whole
        fragment, hashed, chained, ``interrupted``)."""
        try:
            report = recover_interrupted(self.output_dir, is_live=self._is_live_path,
                                         on_sealed=self.index.add if self.index is not None else None)
        except Exception as exc:  # noqa: BLE001 - recovery is best effort; recording comes first
            log.exception(f"Interrupted recordings could not be recovered: {exc}")
            return
        for part in report.sealed:
            log.warning("Recording left by a killed recorder sealed as interrupted", file=str(part.video))

    def _is_live_path(self, path: Path) -> bool:
        key = os.path.abspath(path)
        with self._lock:
            return any(key in s.files.live_paths() for s in self._sessions.values() if s.live)

    def _on_deleted(self, path: Path) -> None:
        if self.index is not None:
            self.index.remove(path)

    def _close_index(self) -> None:
        if self.index is not None:
            try:
                self.index.close()
            except Exception as exc:  # noqa: BLE001 - closing is best effort
                log.debug("Recording index did not close cleanly", error=str(exc))

    # --- the event thread: engine events -> files, logs, observers ----------------------

    def _handle(self, event: EngineEvent) -> None:
        with self._lock:
            session = self._sessions.get(event.session_id)
        if session is None or session.finished.is_set():
            return
        files = session.files
        match event:
            case SessionStarted(width=width, height=height):
                session.output_size = files.output_size = (width, height)
                recording_started(log, session.session_id, mode=session.mode, file=files.basename,
                                  width=width, height=height, output_dir=str(files.directory))
                self._notify("started", session.session_id,
                             {"mode": session.mode, "width": width, "height": height})
                self._live_wake()
            case SegmentOpened(part=part, path=path, first_timestamp=first):
                files.opened(part, Path(path), self._capture_now(session), first_timestamp=first)
                if part > 1:
                    log.info("Recording rotated to a new file", session_id=session.session_id,
                             part=part, file=str(path))
                    self._notify("rotated", session.session_id, {"part": part, "path": str(path)})
            case SegmentSkipped(part=part, path=path):
                files.skipped(part, Path(path), self._capture_now(session))
            case SegmentFinished(info=info, capture=capture):
                failed = self._engine_state(session) == SessionState.ERROR
                files.closed(info, capture, failed=failed)
            case SessionError(message=message, traceback=tb):
                recording_error(log, session.session_id, message, **({"exception": tb} if tb else {}))
                self._notify("error", session.session_id, {"error": message})
                if self.announcer is not None:
                    self.announcer.alert(AlertKind.RECORDING_ERROR, message, session.session_id,
                                         fatal=event.fatal)
            case SessionFinished():
                self._finish(session, event)

    def _capture_now(self, session: ManagedSession) -> dict[str, Any]:
        engine = self._engine_status(session)
        return dict(engine["capture"]) if engine else {}

    def _engine_state(self, session: ManagedSession) -> SessionState | None:
        engine = self._engine_status(session)
        return SessionState(engine["state"]) if engine else None

    def _finish(self, session: ManagedSession, final: SessionFinished) -> None:
        files = session.files
        files.finish(final.capture)
        if files.input is not None:
            files.input.close()
        if not files.parts:  # the engine never opened a file: the claim holds nothing
            _remove_claim(files)
        with self._lock:
            session.final = final
            session.ended_at = now()
            session.finished.set()
            done = [sid for sid in self._order if not self._sessions[sid].live]
            for sid in done[: max(0, len(done) - KEEP_FINISHED)]:
                self._order.remove(sid)
                del self._sessions[sid]
                if self.recorder is not None:
                    self.recorder.forget(sid)
        state = session.state(None)
        errors = session.errors(None)
        paths = [str(p) for p in files.files()]
        recording_stopped(log, session.session_id, state=state, files=len(paths), errors=len(errors))
        self._live_wake()
        self._notify("stopped", session.session_id, {"state": state, "files": paths, "errors": errors})

    # --- live sessions ---------------------------------------------------------------------

    def _start_announcer(self) -> Announcer | None:
        if not self.settings.live_announce:
            log.debug("Live sessions are not announced (RECORDING_LIVE_ANNOUNCE=false)")
            return None
        try:
            announcer = Announcer.for_settings(self.settings, self.get_recording_status).start()
        except Exception as exc:  # noqa: BLE001 - live monitoring is never a reason not to record
            log.exception(f"Live sessions will not be announced: {exc}", error=str(exc))
            return None
        log.debug("Live sessions announced", store=announcer.where)
        return announcer

    def _upload_failing(self, status: UploadStatus) -> None:
        """Uploads started failing: the admin server's live page shows it as an alert."""
        if self.announcer is not None:
            self.announcer.alert(AlertKind.UPLOAD_FAILING,
                                 f"uploads to {status.store} are failing; {status.backlog_segments} segment(s) "
                                 f"wait on disk: {status.last_error}",
                                 backlog_segments=status.backlog_segments, backlog_bytes=status.backlog_bytes)

    def _live_wake(self) -> None:
        if self.announcer is not None:
            self.announcer.wake()

    def _notify(self, event: str, session_id: str, details: dict[str, Any]) -> None:
        with self._lock:
            observers = list(self._observers)
        for callback in observers:
            try:
                callback(event, session_id, details)
            except Exception:  # noqa: BLE001 - an observer's bug must not stop recording
                log.exception("Recording observer failed", observer=repr(callback),
                              observed=event, session_id=session_id)


def _check_masks(masks: Sequence[MaskRegion]) -> tuple[MaskRegion, ...]:
    """``masks`` as a tuple; TypeError naming the first item that is not a MaskRegion."""
    if isinstance(masks, MaskRegion) or not isinstance(masks, Sequence):
        raise TypeError(f"masks must be a sequence of MaskRegion, got {type(masks).__name__}")
    for i, mask in enumerate(masks):
        if not isinstance(mask, MaskRegion):
            raise TypeError(f"masks[{i}] must be a MaskRegion, got {type(mask).__name__}")
    return tuple(masks)


def _remove_claim(files: SessionFiles) -> None:
    from fastrec.storage.naming import metadata_path
    try:
        metadata_path(files.directory, files.basename).unlink(missing_ok=True)
    except OSError:
        pass
