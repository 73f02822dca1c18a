"""A recorder's announcer: its live sessions, reported to the live-state store every second.

:class:`RecordingManager` starts one when it initializes (unless RECORDING_LIVE_ANNOUNCE
is false), so ``record``, ``watch`` and every embedding application announce their
sessions with no set-up of their own.

Invariants, and why:

- **Recording never waits for it or fails because of it.**  The manager only calls
  :meth:`Announcer.wake` and :meth:`Announcer.alert` (they set a flag or append to a
  bounded queue and return); the store is written on the announcer's own daemon thread.
  A store that cannot be opened or written (a damaged file, Redis down) is logged once
  per outage, then retried with backoff (1 s doubling to :data:`MAX_BACKOFF`) while
  recording goes on; alerts raised meanwhile wait in a queue of :data:`MAX_PENDING_ALERTS`
  (the oldest go first when it overflows).
- **Every live session is reported at least every** :data:`TICK_SECONDS` (1 s) - its
  counters, size, current file name, paused and occluded state, from
  ``get_recording_status`` - and at once when a session starts, starts recording or
  ends.  The steady beat is also the heartbeat by which the admin server tells a dead
  recorder (no report for several seconds) from a quiet one.
- **Every announced session is ended exactly once in the store**, with ``stopped`` or
  ``error`` as its status says; one that ended during an outage is ended when the store
  is back.  A session that was never announced is never ended.
- **An alert for each recording error and one per "disk nearly full" crossing**
  (:mod:`fastrec.live.disk`).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Self

import structlog

from fastrec.live.disk import DiskLow, DiskWatch
from fastrec.live.model import (
    MAX_TEXT,
    AlertKind,
    EndReason,
    LiveAlert,
    LiveFrames,
    LiveSession,
    LiveSessionEnded,
)
from fastrec.live.store import LiveWriter, describe_store, open_writer, this_host
from fastrec.process_start import this_process_started
from fastrec.settings import RecordingSettings

__all__ = ["MAX_BACKOFF", "TICK_SECONDS", "Announcer", "live_report"]

TICK_SECONDS = 1.0
MAX_BACKOFF = 30.0
MAX_PENDING_ALERTS = 100
_LIVE_STATES = ("starting", "recording", "stopping")

log = structlog.get_logger("fastrec.live")

StatusSource = Callable[[], Mapping[str, Any]]  # RecordingManager.get_recording_status


def _cut(text: str | None) -> str | None:
    return None if text is None else text[:MAX_TEXT]


def live_report(status: Mapping[str, Any], *, host: str, pid: int, process_started: float | None,
                now: datetime) -> LiveSession:
    """A session's report from its ``get_recording_status(session_id)`` dict.

    Raises pydantic's ValidationError (naming the field) for a value the model refuses."""
    info = status.get("connection_info") or {}
    current = status.get("current_file")
    errors = list(status.get("errors") or [])
    size = status.get("output_size")
    state = str(status.get("state"))
    return LiveSession(
        host=host, session_id=status["session_id"], pid=pid, process_started=process_started,
        state=state if state in _LIVE_STATES else "stopping", mode=str(status.get("mode")),
        con_codigo=info.get("con_codigo"), ip=info.get("ip"), name=info.get("name"), user=info.get("user"),
        connection_type=info.get("connection_type"),
        started_at=datetime.fromisoformat(status["start_time"]), updated_at=now,
        elapsed_seconds=max(0.0, float(status.get("elapsed_seconds") or 0.0)),
        fps=float(status.get("fps") or 0.0), frames=LiveFrames(**(status.get("frames") or {})),
        bytes=int(status.get("bytes") or 0), segments=int(status.get("segments") or 0),
        current_file=Path(current).name if current else None, current_part=status.get("current_part"),
        paused=bool(status.get("paused")), pause_reason=_cut(status.get("pause_reason")),
        occluded=bool(status.get("occluded")),
        output_size=tuple(size) if size else None,
        errors=len(errors), last_error=_cut(str(errors[-1])) if errors else None,
    )


class Announcer:
    """Reports the sessions ``status()`` lists to the store ``open_writer()`` opens.

    ``status``: RecordingManager.get_recording_status (the manager's dict); ``where``:
    the store, for log lines (no password); ``disk``: the watch of the recordings'
    filesystem (None: none).  :meth:`start` starts its thread; :meth:`close` ends the
    sessions it announced and stops it.
    """

    def __init__(self, status: StatusSource, open_writer: Callable[[], LiveWriter], *, where: str,
                 disk: DiskWatch | None = None, host: str | None = None,
                 interval: float = TICK_SECONDS) -> None:
        self._status = status
        self._open_writer = open_writer
        self.where = where
        self.disk = disk
        self.host = host or this_host()
        self.pid = os.getpid()
        self.process_started = _process_started()
        self.interval = interval
        self._writer: LiveWriter | None = None
        self._announced: dict[str, LiveSession] = {}  # session id -> its last report in the store
        self._alerts: deque[LiveAlert] = deque(maxlen=MAX_PENDING_ALERTS)
        self._wake = threading.Event()
        self._closing = False
        self._failures = 0
        self._retry_at = 0.0
        self._thread = threading.Thread(target=self._run, name="fastrec-live", daemon=True)

    @classmethod
    def for_settings(cls, settings: RecordingSettings, status: StatusSource) -> Announcer:
        """The announcer the settings call for: Redis (FASTREC_REDIS_URL) or the SQLite file
        in RECORDING_OUTPUT_DIR, and a watch of that directory's disk."""
        return cls(status, lambda: open_writer(settings), where=describe_store(settings),
                   disk=DiskWatch(settings.output_dir))

    @property
    def healthy(self) -> bool:
        """False while the store cannot be written (reports are being retried)."""
        return self._failures == 0

    def start(self) -> Self:
        self._thread.start()
        return self

    def wake(self) -> None:
        """Report now (a session started or ended); returns at once."""
        self._wake.set()

    def alert(self, kind: AlertKind, message: str, session_id: str | None = None,
              **details: str | int | float | bool | None) -> None:
        """Raise an alert (sent with the next report); returns at once."""
        try:
            self._alerts.append(LiveAlert(kind=kind, host=self.host, pid=self.pid, session_id=session_id,
                                          message=message[:MAX_TEXT], at=datetime.now().astimezone(),
                                          details=details))
        except Exception:  # noqa: BLE001 - an alert must never break the caller (the event thread)
            log.exception("Live alert could not be made", kind=str(kind), session_id=session_id)
        self._wake.set()

    def close(self, timeout: float = 5.0) -> None:
        """End the announced sessions in the store and stop (waits at most ``timeout`` s)."""
        self._closing = True
        self._wake.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)

    # --- the announcer's thread ---------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            closing = self._closing
            try:
                self._cycle(closing)
            except Exception:  # noqa: BLE001 - a bug here must not end the announcements
                log.exception("Live announcer failed; it goes on")
            if closing:
                break
        self._drop_writer()

    def _cycle(self, closing: bool) -> None:
        now = datetime.now().astimezone()
        try:
            sessions: Mapping[str, Mapping[str, Any]] = self._status().get("sessions") or {}
        except Exception as exc:  # noqa: BLE001 - no status, no report this time
            log.debug("Recording status unavailable for the live report", error=str(exc))
            return
        reports: dict[str, LiveSession] = {}
        if not closing:
            for session_id, status in sessions.items():
                if status.get("is_recording"):
                    try:
                        reports[session_id] = live_report(status, host=self.host, pid=self.pid,
                                                          process_started=self.process_started, now=now)
                    except Exception as exc:  # noqa: BLE001 - one odd session must not hide the others
                        log.warning("Live report of a session could not be made", session_id=session_id,
                                    error=str(exc)[:500])
        ended = [LiveSessionEnded.of(last, _end_reason(sessions.get(sid)), now)
                 for sid, last in self._announced.items() if sid not in reports]
        if self.disk is not None and (low := self.disk.check()) is not None:
            self._disk_alert(low)
        if time.monotonic() < self._retry_at and not closing:
            return
        try:
            writer = self._writer or self._open()
            while self._alerts:
                writer.alert(self._alerts[0])
                self._alerts.popleft()
            writer.publish(list(reports.values()))
            writer.end(ended)
        except Exception as exc:  # noqa: BLE001 - any store failure: recording goes on
            self._failed(exc)
            return
        self._announced = reports
        if self._failures:
            log.info(f"Live sessions are announced again to {self.where}", failures=self._failures)
            self._failures = 0

    def _open(self) -> LiveWriter:
        self._writer = self._open_writer()
        return self._writer

    def _failed(self, exc: Exception) -> None:
        self._failures += 1
        self._drop_writer()
        delay = min(MAX_BACKOFF, 2.0 ** (self._failures - 1))
        self._retry_at = time.monotonic() + delay
        describe = f"{type(exc).__name__}: {exc}"
        if self._failures == 1:
            log.warning(f"Live sessions cannot be announced to {self.where}; recording goes on, "
                        f"retrying: {describe}", error=describe)
        else:
            log.debug("Live sessions still cannot be announced", error=describe, failures=self._failures,
                      retry_in=delay)

    def _drop_writer(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            try:
                writer.close()
            except Exception as exc:  # noqa: BLE001 - it is being dropped anyway
                log.debug("Live-session store did not close cleanly", error=str(exc))

    def _disk_alert(self, low: DiskLow) -> None:
        log.warning(low.message, free_bytes=low.free_bytes, total_bytes=low.total_bytes)
        self.alert(AlertKind.DISK_NEARLY_FULL, low.message, free_bytes=low.free_bytes,
                   total_bytes=low.total_bytes, threshold_bytes=low.threshold_bytes, directory=low.directory)


def _end_reason(status: Mapping[str, Any] | None) -> EndReason:
    return EndReason.ERROR if status is not None and status.get("state") == "error" else EndReason.STOPPED


def _process_started() -> float | None:
    try:
        return this_process_started()
    except Exception:  # noqa: BLE001 - without it, pid reuse cannot be told: still announced
        return None
