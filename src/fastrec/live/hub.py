"""LiveHub: one live feed fanned out to many subscribers (the admin server's WebSockets).

Usage (an ASGI app's lifespan and WebSocket route)::

    hub = LiveHub.from_settings(settings)
    await hub.start()                        # at start-up; ``await hub.aclose()`` at shutdown
    ...
    try:
        async with hub.subscribe() as subscription:
            async for message in subscription:
                await websocket.send_text(message.text)
    except SubscriberDropped as exc:         # too slow: say why and close
        await websocket.close(code=1013, reason=exc.reason)

Invariants, and why:

- **One feed, one task.**  The hub owns a single :class:`~fastrec.live.feed.LiveFeed` (one
  SQLite poller or one Redis subscription) however many clients watch, keeps the current
  sessions, and encodes each event to JSON once for everybody.
- **Every subscription starts with a snapshot**, then gets every later event in order,
  with nothing missed or repeated between the two: the snapshot is taken and the
  subscription registered in one step of the event loop.  Before the feed has read the
  store for the first time there is nothing true to show, so the first message is then
  the feed's own snapshot, as soon as it comes.
- **A slow client never holds up the others.**  Each subscription has a bounded queue
  (``queue_size`` messages, default 1000); publishing never waits.  A subscription whose
  queue is full is dropped: its iterator raises :class:`SubscriberDropped` with the reason
  at its next step, and it takes no more memory.
- **Cheap for hundreds of subscribers**: publishing one event is one ``put_nowait`` per
  subscription; a subscription costs its queue of shared message objects.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from datetime import datetime
from typing import NamedTuple, Self

import structlog

from fastrec.live.feed import LiveFeed
from fastrec.live.model import (
    LiveEvent,
    LiveSession,
    LiveSessionEnded,
    LiveSessionStarted,
    LiveSessionUpdated,
    SessionsSnapshot,
    dump_event,
)
from fastrec.live.store import describe_store, open_source
from fastrec.settings import RecordingSettings

__all__ = ["QUEUE_SIZE", "LiveHub", "LiveMessage", "SubscriberDropped", "Subscription"]

QUEUE_SIZE = 1000
SLOW_CLOSE_CODE = 1013  # WebSocket "try again later": what a dropped subscriber's socket may close with

log = structlog.get_logger("fastrec.live")


class LiveMessage(NamedTuple):
    """One event for a subscriber: the typed ``event`` and its JSON ``text`` (encoded once)."""

    event: LiveEvent
    text: str


class SubscriberDropped(Exception):
    """The subscription was dropped: ``reason`` says why (short enough for a WebSocket close)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class _End:
    pass


_END = _End()


class Subscription:
    """An async iterator of :class:`LiveMessage`; see :meth:`LiveHub.subscribe`.

    Iteration ends when the subscription or the hub is closed, and raises
    :class:`SubscriberDropped` when the hub dropped it.  Use it as an async context
    manager (or call :meth:`close`) so that it is unregistered when the client goes.
    """

    def __init__(self, hub: LiveHub, queue_size: int) -> None:
        self._hub = hub
        self._queue: asyncio.Queue[LiveMessage | _End] = asyncio.Queue(queue_size)
        self._dropped: str | None = None
        self._closed = False

    @property
    def dropped(self) -> str | None:
        """Why the hub dropped it, or None."""
        return self._dropped

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> LiveMessage:
        if self._dropped is not None:
            raise SubscriberDropped(self._dropped)
        if self._closed:
            raise StopAsyncIteration
        item = await self._queue.get()
        if self._dropped is not None:
            raise SubscriberDropped(self._dropped)
        if isinstance(item, _End):
            raise StopAsyncIteration
        return item

    def close(self) -> None:
        """Stop receiving (idempotent); a pending ``__anext__`` ends."""
        if not self._closed:
            self._closed = True
            self._hub._unsubscribe(self)
            self._offer_end()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    # --- the hub's side ---

    def _offer(self, message: LiveMessage) -> bool:
        try:
            self._queue.put_nowait(message)
            return True
        except asyncio.QueueFull:
            return False

    def _drop(self, reason: str) -> None:
        self._dropped = reason
        self.close()

    def _offer_end(self) -> None:
        try:
            self._queue.put_nowait(_END)
        except asyncio.QueueFull:
            pass  # not waiting (its queue is full): it sees the flag at its next step


class LiveHub:
    """The live sessions for the admin server: one feed, many subscribers.

    ``queue_size``: messages a subscriber may fall behind before it is dropped.
    """

    def __init__(self, feed: LiveFeed, *, queue_size: int = QUEUE_SIZE, where: str = "") -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        self.feed = feed
        self.queue_size = queue_size
        self.where = where
        self._sessions: dict[str, LiveSession] = {}
        self._subscribers: set[Subscription] = set()
        self._synced = asyncio.Event()
        self._snapshot: LiveMessage | None = None  # cached until the sessions change
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.events_seen = 0
        self.dropped_subscribers = 0

    @classmethod
    def from_settings(cls, settings: RecordingSettings, *, queue_size: int = QUEUE_SIZE) -> LiveHub:
        """The hub over the store the settings name: Redis when FASTREC_REDIS_URL is set
        (FASTREC_LIVE_PREFIX), else the SQLite file in RECORDING_OUTPUT_DIR."""
        return cls(LiveFeed(open_source(settings)), queue_size=queue_size, where=describe_store(settings))

    # --- life cycle ---

    async def start(self) -> None:
        """Start reading the feed (in a task of the running loop); idempotent."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="fastrec-live-hub")
            log.info("Live hub started", store=self.where)

    async def aclose(self) -> None:
        """Stop reading, end every subscription, close the store connection."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        for subscription in list(self._subscribers):
            subscription.close()
        await self.feed.aclose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- what the server asks ---

    @property
    def synced(self) -> bool:
        """True once the store has been read (before that, the sessions are not known)."""
        return self._synced.is_set()

    async def wait_synced(self, timeout: float | None = None) -> bool:
        """Wait until the store has been read; False on timeout."""
        try:
            await asyncio.wait_for(self._synced.wait(), timeout)
            return True
        except TimeoutError:
            return False

    @property
    def sessions(self) -> list[LiveSession]:
        """The live sessions now, oldest start first."""
        return sorted(self._sessions.values(), key=lambda s: s.started_at)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def snapshot(self) -> SessionsSnapshot:
        """Every live session now, as the ``sessions_snapshot`` event."""
        return self._snapshot_message().event  # type: ignore[return-value]

    def subscribe(self) -> Subscription:
        """A new subscription: the snapshot first (once the store has been read), then
        every event.  Registered at once; close it when the client goes.  On a closed hub
        its iteration ends at once."""
        subscription = Subscription(self, self.queue_size)
        if self._closed:  # nothing will ever come: the iteration ends at once
            subscription.close()
            return subscription
        if self.synced:
            subscription._offer(self._snapshot_message())
        self._subscribers.add(subscription)
        return subscription

    # --- internals ---

    def _snapshot_message(self) -> LiveMessage:
        if self._snapshot is None:
            event = SessionsSnapshot(sessions=self.sessions, at=datetime.now().astimezone())
            self._snapshot = LiveMessage(event, dump_event(event))
        return self._snapshot

    def _unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    async def _run(self) -> None:
        while True:
            try:
                async with aclosing(self.feed.events()) as events:
                    async for event in events:
                        self._publish(event)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a bug: say so, keep serving what is known
                log.exception("Live hub failed reading its feed; it restarts")
            await asyncio.sleep(1.0)

    def _publish(self, event: LiveEvent) -> None:
        self.events_seen += 1
        match event:
            case SessionsSnapshot(sessions=sessions):
                self._sessions = {s.key: s for s in sessions}
            case LiveSessionStarted(session=s) | LiveSessionUpdated(session=s):
                self._sessions[s.key] = s
            case LiveSessionEnded(key=key):
                self._sessions.pop(key, None)
        self._snapshot = None
        message = LiveMessage(event, dump_event(event))
        if isinstance(event, SessionsSnapshot):
            self._synced.set()
        slow = [s for s in self._subscribers if not s._offer(message)]
        for subscription in slow:
            self.dropped_subscribers += 1
            subscription._drop(f"too slow: {self.queue_size} live events waiting unsent")
        if slow:
            log.warning("Slow live subscribers dropped", count=len(slow), queue_size=self.queue_size)

