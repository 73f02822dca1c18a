"""The admin server's feed: typed live events derived from what the store says.

:class:`LiveFeed` reads a :class:`~fastrec.live.store.LiveSource` and yields
:data:`~fastrec.live.model.LiveEvent`: first one :class:`SessionsSnapshot`, then
``session_started`` / ``session_updated`` / ``session_ended`` / ``alert``.

Invariants, and why:

- **Started, updated and ended come from state changes, in that order per session.**  A
  report of a session the feed does not know starts it; later reports update it; an end
  ends it, once.  A report older than the one known (a pub/sub message that raced the
  snapshot) changes nothing, and neither does a report no newer than the last one of a
  session that has ended - so an end is never followed by a ghost start.  A session that
  started and ended between two looks at the store is still shown starting, then ending.
- **A recorder that dies is noticed.**  A session not heard of for :data:`STALE_AFTER`
  seconds is ended with reason ``recorder gone`` and removed from the store for every
  reader - at once when its recorder ran on this host and its process is gone; when it ran
  elsewhere (its process cannot be checked from here); and after :data:`SILENT_AFTER`
  seconds even when its process still runs here but has stopped reporting.  Reports come
  every second, so :data:`STALE_AFTER` is several missed reports, not a hiccup.
  "Not heard of" counts from the report's own time for the snapshot (gateways' clocks are
  expected to agree within a few seconds: NTP) and from its arrival afterwards.
- **The store may go away.**  An error in the source is logged once per outage, the source
  is re-opened with backoff (0.5 s doubling to 10 s), and its new snapshot is compared
  with what the feed knew: sessions that vanished meanwhile end (``ended unseen``), new
  ones start, the rest update.  The feed's consumer never sees the outage as an exception.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing
from datetime import datetime

import structlog

from fastrec.live.model import (
    AlertRaised,
    EndReason,
    LiveEvent,
    LiveSession,
    LiveSessionEnded,
    LiveSessionStarted,
    LiveSessionUpdated,
    SessionsSnapshot,
)
from fastrec.live.store import LiveSource, this_host

__all__ = ["SILENT_AFTER", "STALE_AFTER", "LiveFeed", "recorder_state"]

STALE_AFTER = 6.0
SILENT_AFTER = 60.0
SWEEP_EVERY = 0.5
REMEMBER_ENDS = 300.0  # seconds an ended session's last report time is kept (ghost starts)
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 10.0

log = structlog.get_logger("fastrec.live")


def recorder_state(session: LiveSession) -> bool | None:
    """Whether the recorder of ``session`` still runs: None when it cannot be told here."""
    if session.host != this_host() or session.process_started is None:
        return None
    from fastrec.storage.metadata import RecorderProcess
    from fastrec.storage.recovery import recorder_alive

    return recorder_alive(RecorderProcess(pid=session.pid, start_time=session.process_started,
                                          host=session.host))


def _now() -> datetime:
    return datetime.now().astimezone()


class LiveFeed:
    """Typed live events from ``source`` (see the module docstring).

    ``stale_after``/``silent_after``: seconds of silence before a session is ended as
    gone (see :data:`STALE_AFTER`, :data:`SILENT_AFTER`); ``alive(session)`` says whether
    its recorder runs (default :func:`recorder_state`).
    """

    def __init__(self, source: LiveSource, *, stale_after: float = STALE_AFTER,
                 silent_after: float = SILENT_AFTER,
                 alive: Callable[[LiveSession], bool | None] = recorder_state) -> None:
        self.source = source
        self.stale_after = stale_after
        self.silent_after = max(silent_after, stale_after)
        self._alive = alive
        self._sessions: dict[str, LiveSession] = {}
        self._heard: dict[str, float] = {}  # key -> time.monotonic() of its last report
        self._ended: dict[str, tuple[datetime, float]] = {}  # key -> (its last report's time, when)
        self._synced = False
        self._last_sweep = 0.0

    @property
    def sessions(self) -> dict[str, LiveSession]:
        """The live sessions as the feed knows them, by key (a copy)."""
        return dict(self._sessions)

    async def events(self) -> AsyncIterator[LiveEvent]:
        """The events, for ever (until the consumer stops iterating or :meth:`aclose`)."""
        failures = 0
        while True:
            try:
                async with aclosing(self.source.observe()) as observations:
                    async for observation in observations:
                        if failures:
                            log.info("Live-session store is reachable again", failures=failures)
                            failures = 0
                        for event in self._apply(observation):
                            yield event
                        if time.monotonic() - self._last_sweep >= SWEEP_EVERY:
                            for ended in self._sweep():
                                await self._remove(ended)  # first: a consumer may stop at the event
                                yield ended
                raise RuntimeError("the live-session source stopped")
            except Exception as exc:  # noqa: BLE001 - any store failure: retried, never the consumer's
                failures += 1
                describe = f"{type(exc).__name__}: {exc}"
                if failures == 1:
                    log.warning(f"Live-session store unavailable; retrying: {describe}", error=describe)
                else:
                    log.debug("Live-session store still unavailable", error=describe, failures=failures)
            await asyncio.sleep(min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (failures - 1)))

    async def aclose(self) -> None:
        await self.source.aclose()

    # --- deriving events -------------------------------------------------------------

    def _apply(self, observation: LiveEvent | None) -> list[LiveEvent]:
        now = time.monotonic()
        match observation:
            case SessionsSnapshot(sessions=sessions):
                return self._resync(sessions, now)
            case LiveSessionUpdated(session=session) | LiveSessionStarted(session=session):
                return self._report(session, now)
            case LiveSessionEnded():
                return self._end(observation, now)
            case AlertRaised():
                return [observation]
        return []

    def _report(self, session: LiveSession, now: float) -> list[LiveEvent]:
        key = session.key
        ended = self._ended.get(key)
        if ended is not None and session.updated_at <= ended[0]:
            return []  # an old report of a session that has ended
        known = self._sessions.get(key)
        if known is not None and session.updated_at < known.updated_at:
            return []  # older than what is known
        self._sessions[key] = session
        self._heard[key] = now
        self._ended.pop(key, None)
        return [LiveSessionUpdated(session=session) if known is not None else LiveSessionStarted(session=session)]

    def _end(self, event: LiveSessionEnded, now: float) -> list[LiveEvent]:
        key = event.key
        known = self._sessions.pop(key, None)
        self._heard.pop(key, None)
        last = event.session or known
        if known is None:
            if key in self._ended or last is None:
                return []
            self._remember_end(key, last, now)  # started and ended between two looks
            return [LiveSessionStarted(session=last), event]
        self._remember_end(key, last or known, now)
        return [event if event.session is not None else event.model_copy(update={"session": known})]

    def _remember_end(self, key: str, last: LiveSession, now: float) -> None:
        self._ended[key] = (last.updated_at, now)
        if len(self._ended) > 1000:  # forget the old ones, now and then
            for k in [k for k, (_, when) in self._ended.items() if now - when > REMEMBER_ENDS]:
                del self._ended[k]

    def _resync(self, sessions: list[LiveSession], now: float) -> list[LiveEvent]:
        wall = time.time()
        fresh = {}
        for s in sessions:  # the snapshot's reports count from their own time
            fresh[s.key] = s
        if not self._synced:
            self._synced = True
            self._sessions = fresh
            self._heard = {k: now - max(0.0, wall - s.updated_at.timestamp()) for k, s in fresh.items()}
            return [SessionsSnapshot(sessions=sorted(fresh.values(), key=lambda s: s.started_at), at=_now())]
        events: list[LiveEvent] = []
        for key in [k for k in self._sessions if k not in fresh]:
            gone = self._sessions.pop(key)
            self._heard.pop(key, None)
            self._remember_end(key, gone, now)
            events.append(LiveSessionEnded.of(gone, EndReason.UNSEEN, _now()))
        for s in fresh.values():
            events.extend(self._report(s, now - max(0.0, wall - s.updated_at.timestamp())))
        return events

    def _sweep(self) -> Iterator[LiveSessionEnded]:
        now = time.monotonic()
        self._last_sweep = now
        for key, heard in list(self._heard.items()):
            silent = now - heard
            if silent <= self.stale_after:
                continue
            session = self._sessions[key]
            if silent <= self.silent_after and self._alive(session) is True:
                continue
            del self._sessions[key], self._heard[key]
            self._remember_end(key, session, now)
            yield LiveSessionEnded.of(session, EndReason.GONE, _now())

    async def _remove(self, ended: LiveSessionEnded) -> None:
        assert ended.session is not None
        try:
            await self.source.remove(ended.session, ended.reason)
        except Exception as exc:  # noqa: BLE001 - the store's copy expires or is swept again
            log.debug("Gone session could not be removed from the store", key=ended.key, error=str(exc))
