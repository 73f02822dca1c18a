"""One recording session's input events: raw input + capture reports -> events files.

:class:`SessionInput` lives in the host process (the RecordingManager's side), never in
the capture process.  It takes

- raw input from an :class:`~fastrec.events.source.InputSource` (its own thread), kept
  only while the capture process records and only inside the captured region it last
  reported (``region`` of its stats, at most a second old): clicks and wheel notches
  become ``click``/``scroll`` with their position as % of that region, key presses become
  one ``key_activity`` count per second of session time (only while the recorded window
  has the focus, as far as that is known), and clicks go through the rage-click rule;
- the capture process's reports (``capture()``: its stats dict, polled by a ticker thread
  every :data:`TICK_SECONDS`): new entries of its title log and pause log become
  ``title_change`` and ``pause`` events at their own times (already PII-redacted there),
  the end of a pause a ``resume``; the ticker also follows the focus
  (``focus_change``) and fsyncs the files at least every second.

Files follow the video parts: :meth:`open_part` names the part's events file (the
manager writes that name into the part's metadata, so the file is the recorder's before
it exists); the file is created at the first event of the part, so a part without
events has no file.  Events always go to the newest open part; while none is open (the
session starting, or between one part's close and the next one's open) they wait in
memory (at most :data:`MAX_PENDING`) and go into the next part.  :meth:`close_part`
closes the part's file for good before the part is sealed (hashed).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from fastrec.crypt.context import SegmentEncryption
from fastrec.events.file import EventsWriter
from fastrec.events.model import (
    MAX_TEXT,
    Click,
    Event,
    EventsHeader,
    FocusChange,
    KeyActivity,
    Pause,
    RageClick,
    Resume,
    Scroll,
    TitleChange,
)
from fastrec.events.rage import DEFAULT_RAGE_RULE, RageDetector, RageRule
from fastrec.events.source import InputSource, RawClick, RawInput, RawKey, RawScroll

__all__ = ["MAX_PENDING", "TICK_SECONDS", "SessionInput"]

log = structlog.get_logger("fastrec.events")

TICK_SECONDS = 0.25
MAX_PENDING = 10_000
KEY_GRACE_SECONDS = 0.5  # a key second is written this long after it ends (late deliveries)

OnRage = Callable[[RageClick], None]


class SessionInput:
    """The events of one session; thread-safe (source thread, ticker, manager thread).

    ``capture()`` returns the capture process's latest stats (``{}`` when unknown);
    ``on_rage(event)`` is called (outside the lock) for every rage click, e.g. to raise a
    live alert; ``source`` may be None (a synthetic screen: titles and pauses only).
    """

    def __init__(self, session_id: str, started_at: datetime, capture: Callable[[], Mapping[str, Any]], *,
                 source: InputSource | None = None, rage_rule: RageRule = DEFAULT_RAGE_RULE,
                 on_rage: OnRage | None = None, encryption: SegmentEncryption | None = None) -> None:
        self.session_id = session_id
        self._encryption = encryption  # the session's key: its events files are encrypted too
        self.started_at = started_at if started_at.tzinfo is not None else started_at.astimezone()
        # the wall clock of a monotonic stamp, fixed once: events never jump with clock changes
        self._mono0 = time.monotonic() - (datetime.now().astimezone() - self.started_at).total_seconds()
        self.capture = capture
        self.source = source
        self.on_rage = on_rage
        self.rage = RageDetector(rage_rule)
        self._lock = threading.RLock()
        self._parts: dict[int, tuple[Path, EventsWriter | None]] = {}  # open parts: path, writer once made
        self._written: set[int] = set()  # parts whose file was created
        self._failed: set[int] = set()  # parts whose file could not be created or written
        self._pending: list[Event] = []
        self._dropped = 0
        self._region: tuple[int, int, int, int] | None = None
        self._recording = False  # the capture process records now (not paused)
        self._paused_told = False  # a pause event was written, so a resume is due
        self._titles_until = -math.inf
        self._pauses_until = -math.inf
        self._focused: bool | None = None
        self._key_second: int | None = None
        self._key_count = 0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self.counts: dict[str, int] = {}  # events written, by kind (for logs and tests)

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> SessionInput:
        self._ticker = threading.Thread(target=self._tick_loop, name=f"fastrec-events-{self.session_id}",
                                        daemon=True)
        self._ticker.start()
        if self.source is not None:
            try:
                self.source.start(self._on_raw)
            except Exception as exc:  # noqa: BLE001 - no input: titles and pauses still recorded
                log.warning("Input events are not recorded for this session", session_id=self.session_id,
                            source=self.source.name, error=str(exc))
                self.source = None
        return self

    def close(self) -> None:
        """Stop the source and the ticker, write what is due, close every file.  Idempotent."""
        if self.source is not None:
            self.source.close()
        self._stop.set()
        if self._ticker is not None and self._ticker is not threading.current_thread():
            self._ticker.join(5)
        with self._lock:
            self._flush_keys(force=True)
            for number in list(self._parts):
                self.close_part(number)
            if self._pending:
                log.debug("Input events after the last part were not recorded", session_id=self.session_id,
                          events=len(self._pending))
                self._pending.clear()

    # --- parts ------------------------------------------------------------------------------

    def open_part(self, number: int, path: Path) -> str:
        """Part ``number``'s events go to ``path`` from now on (created at its first event);
        returns the file name for the part's metadata."""
        with self._lock:
            self._parts[number] = (path, None)
            if self._pending and number == max(self._parts):
                pending, self._pending = self._pending, []
                for event in pending:
                    self._write(event)
        return path.name

    def close_part(self, number: int) -> bool:
        """Close part ``number``'s file for good (it is about to be sealed); True when the
        part has an events file."""
        with self._lock:
            if number == self._newest():
                self._flush_keys(force=True)
            entry = self._parts.pop(number, None)
            if entry is not None and entry[1] is not None:
                try:
                    entry[1].close()
                except OSError as exc:  # a disk gone read-only: the part is still sealed as it is
                    log.error("Input events file could not be closed cleanly", session_id=self.session_id,
                              file=entry[0].name, error=str(exc))
            return number in self._written

    def _newest(self) -> int | None:
        return max(self._parts) if self._parts else None

    def _write(self, event: Event) -> None:
        number = self._newest()
        if number is None:
            if len(self._pending) >= MAX_PENDING:
                self._pending.pop(0)
                self._dropped += 1
            self._pending.append(event)
            return
        path, writer = self._parts[number]
        if number in self._failed:
            return  # said once; the video matters more than its events
        try:
            if writer is None:
                writer = EventsWriter(path, EventsHeader(session_id=self.session_id, part=number,
                                                         session_start=self.started_at),
                                      encryption=self._encryption)
                self._parts[number] = (path, writer)
                self._written.add(number)
            writer.write(event)
        except OSError as exc:  # a full disk, a name taken: say so once, drop this part's events
            log.error("Input events of this part could not be written; they are dropped",
                      session_id=self.session_id, file=path.name, error=str(exc))
            self._failed.add(number)
            return
        self.counts[event.kind] = self.counts.get(event.kind, 0) + 1

    # --- time -------------------------------------------------------------------------------

    def _at(self, stamp: float) -> tuple[datetime, float]:
        offset = max(0.0, stamp - self._mono0)
        return self.started_at + timedelta(seconds=offset), round(offset, 3)

    # --- raw input (the source's thread) ---------------------------------------------------

    def _on_raw(self, raw: RawInput) -> None:
        rage: RageClick | None = None
        if not self._recording:  # the ticker may not have seen the capture's latest report yet
            self._refresh()
        with self._lock:
            if isinstance(raw, RawKey):
                self._on_key(raw.stamp)
                return
            where = self._inside(raw.x, raw.y)
            if where is None:
                return
            at, t = self._at(raw.stamp)
            if isinstance(raw, RawScroll):
                self._write(Scroll(at=at, t=t, direction=raw.direction, amount=raw.amount, x=where[0], y=where[1]))
                return
            assert isinstance(raw, RawClick)
            self._write(Click(at=at, t=t, button=raw.button, x=where[0], y=where[1]))
            burst = self.rage.click(raw.x, raw.y, raw.stamp, raw.button)
            if burst is not None:
                rage = RageClick(at=at, t=t, button=raw.button, clicks=burst.clicks,
                                 span_seconds=round(max(0.0, burst.last - burst.first), 3),
                                 radius_px=self.rage.rule.radius_px, x=where[0], y=where[1])
                self._write(rage)
        if rage is not None and self.on_rage is not None:
            try:
                self.on_rage(rage)
            except Exception:  # noqa: BLE001 - an alert must never stop the events
                log.exception("Rage-click alert failed", session_id=self.session_id)

    def _inside(self, x: int, y: int) -> tuple[float, float] | None:
        """(x %, y %) of the region, or None when the point is outside it or nothing is recorded."""
        region = self._region
        if region is None or not self._recording:
            return None
        rx, ry, width, height = region
        if width <= 0 or height <= 0 or not (rx <= x < rx + width and ry <= y < ry + height):
            return None
        return round((x - rx) * 100.0 / width, 2), round((y - ry) * 100.0 / height, 2)

    def _on_key(self, stamp: float) -> None:
        if self._region is None or not self._recording or self._focused is False:
            return
        second = int(max(0.0, stamp - self._mono0))
        if self._key_second is not None and second != self._key_second:
            self._flush_keys(force=True)
        self._key_second = second
        self._key_count += 1

    def _flush_keys(self, *, force: bool) -> None:
        if self._key_second is None or not self._key_count:
            return
        if not force and time.monotonic() - self._mono0 < self._key_second + 1 + KEY_GRACE_SECONDS:
            return
        at, t = self._at(self._mono0 + self._key_second)
        self._write(KeyActivity(at=at, t=t, count=self._key_count))
        self._key_second, self._key_count = None, 0

    # --- the ticker: capture reports, focus, fsync -------------------------------------

    def _tick_loop(self) -> None:
        last_sync = time.monotonic()
        while not self._stop.wait(TICK_SECONDS):
            try:
                self.tick()
                if time.monotonic() - last_sync >= 1.0:
                    self.sync()
                    last_sync = time.monotonic()
            except Exception:  # noqa: BLE001 - a bug here must not end the session's events
                log.exception("Input events tick failed", session_id=self.session_id)

    def _refresh(self) -> None:
        capture = dict(self.capture() or {})
        with self._lock:
            self._take_capture(capture)

    def tick(self) -> None:
        """Take in the capture process's latest report and the focus; write due key counts."""
        capture = dict(self.capture() or {})
        focus = self._focus(capture.get("region"))
        with self._lock:
            self._take_capture(capture)
            if focus is not None and focus != self._focused:
                at, t = self._at(time.monotonic())
                self._write(FocusChange(at=at, t=t, focused=focus))
                self._focused = focus
            self._flush_keys(force=False)

    def _focus(self, region: Any) -> bool | None:
        """Whether the focused window is the recorded one - its centre inside the region
        (any window, when the whole screen is recorded) - or None when unknown."""
        if self.source is None or not region:
            return None
        active = self.source.active_window()
        if active is None:
            return None
        ax, ay, aw, ah = active
        cx, cy = ax + aw / 2.0, ay + ah / 2.0
        rx, ry, rw, rh = region
        return rx <= cx < rx + rw and ry <= cy < ry + rh

    def _take_capture(self, capture: Mapping[str, Any]) -> None:
        region = capture.get("region")
        if region:
            self._region = tuple(int(v) for v in region)  # type: ignore[assignment]
        for stamp, text in _entries(capture.get("pauses"), self._pauses_until):
            at, t = self._at(stamp)
            self._write(Pause(at=at, t=t, reason=text[:MAX_TEXT]))
            self._pauses_until = stamp
            self._paused_told = True
        for stamp, text in _entries(capture.get("titles"), self._titles_until):
            at, t = self._at(stamp)
            self._write(TitleChange(at=at, t=t, title=text[:MAX_TEXT]))
            self._titles_until = stamp
        if "paused" in capture:
            recording = not capture["paused"]
            if recording and not self._recording and self._paused_told:
                at, t = self._at(time.monotonic())
                self._write(Resume(at=at, t=t))
                self._paused_told = False
            self._recording = recording

    def sync(self) -> None:
        """fsync the open files (the ticker does it every second)."""
        with self._lock:
            writers = [w for _, w in self._parts.values() if w is not None]
        for writer in writers:
            try:
                writer.sync()
            except OSError as exc:
                log.warning("Input events file could not be synced", file=writer.path.name, error=str(exc))


def _entries(entries: Any, after: float) -> list[tuple[float, str]]:
    """The ``(stamp, text)`` entries of a capture log newer than ``after``."""
    return [(float(stamp), str(text)) for stamp, text in (entries or ()) if float(stamp) > after]
