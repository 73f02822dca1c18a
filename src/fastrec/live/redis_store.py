"""Live state in Redis/Valkey: recorders on several gateways feed one admin server.

Layout under the prefix ``P`` (FASTREC_LIVE_PREFIX, default ``fastrec:live:``):

- ``P session:{host}/{session_id}`` - the session's last report (LiveSession JSON), with a
  TTL of :data:`SESSION_TTL` seconds renewed by every report: a gateway that dies leaves
  nothing behind for long.
- ``P sessions`` - a sorted set of those keys (score: the report's time), so a reader
  lists the live sessions without SCAN over a shared keyspace.
- ``P events`` - a pub/sub channel; every report, end and alert is published there as a
  live event (``session_updated``, ``session_ended``, ``alert``) in the same MULTI/EXEC
  as the keys it changes.

Invariants, and why:

- **A reader never misses a change between its snapshot and its subscription**: it
  subscribes first, then reads the snapshot; what was published in between arrives
  after the snapshot and is older or equal to it, which the feed recognises by the
  report's ``updated_at`` (:class:`~fastrec.live.feed.LiveFeed`).
- **Pub/sub is lossy across reconnections**, so a reader that lost its connection starts
  over with a new snapshot and the feed derives what changed meanwhile.
- **The URL's password is never logged** (callers log :func:`describe_store`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import redis
import redis.asyncio as aioredis
import structlog
from pydantic import ValidationError

from fastrec.live.model import (
    AlertRaised,
    EndReason,
    LiveAlert,
    LiveEvent,
    LiveSession,
    LiveSessionEnded,
    LiveSessionUpdated,
    SessionsSnapshot,
    dump_event,
    parse_event,
)

__all__ = ["SESSION_TTL", "RedisLiveSource", "RedisLiveWriter", "RedisNames"]

SESSION_TTL = 60  # seconds a report outlives its recorder's silence (the feed ends it after ~6 s)
CONNECT_TIMEOUT = 2.0
COMMAND_TIMEOUT = 5.0
IDLE_SECONDS = 0.5  # a reader says "nothing new" (None) this often when the channel is quiet
_FORGET_INDEX_AFTER = 3600.0  # index members whose report expired long ago are dropped by writers

log = structlog.get_logger("fastrec.live")


class RedisNames:
    """The keys and channel under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.index = f"{prefix}sessions"
        self.channel = f"{prefix}events"

    def session(self, key: str) -> str:
        return f"{self.prefix}session:{key}"


def _options() -> dict[str, Any]:
    return {"socket_connect_timeout": CONNECT_TIMEOUT, "socket_timeout": COMMAND_TIMEOUT}


class RedisLiveWriter:
    """A recorder's writer (see :class:`~fastrec.live.store.LiveWriter`); connects on first use."""

    def __init__(self, url: str, *, prefix: str, ttl: int = SESSION_TTL) -> None:
        self.names = RedisNames(prefix)
        self.ttl = ttl
        self._client = redis.Redis.from_url(url, **_options())

    def publish(self, sessions: Sequence[LiveSession]) -> None:
        if not sessions:
            return
        pipe = self._client.pipeline(transaction=True)
        for s in sessions:
            pipe.set(self.names.session(s.key), s.model_dump_json(), ex=self.ttl)
            pipe.zadd(self.names.index, {s.key: s.updated_at.timestamp()})
            pipe.publish(self.names.channel, dump_event(LiveSessionUpdated(session=s)))
        pipe.execute()

    def end(self, ended: Sequence[LiveSessionEnded]) -> None:
        if not ended:
            return
        pipe = self._client.pipeline(transaction=True)
        for e in ended:
            pipe.delete(self.names.session(e.key))
            pipe.zrem(self.names.index, e.key)
            pipe.publish(self.names.channel, dump_event(e))
        pipe.zremrangebyscore(self.names.index, "-inf", time.time() - _FORGET_INDEX_AFTER)
        pipe.execute()

    def alert(self, alert: LiveAlert) -> None:
        self._client.publish(self.names.channel, dump_event(AlertRaised(alert=alert)))

    def close(self) -> None:
        self._client.close()


class RedisLiveSource:
    """The admin server's reader (see :class:`~fastrec.live.store.LiveSource`): one
    subscription to the events channel, a snapshot of the index after it."""

    def __init__(self, url: str, *, prefix: str) -> None:
        self.names = RedisNames(prefix)
        # a ping on an idle subscription every few seconds: a dead server is noticed
        self._client = aioredis.Redis.from_url(url, health_check_interval=5, **_options())

    async def observe(self) -> AsyncIterator[LiveEvent | None]:
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.names.channel)
            yield SessionsSnapshot(sessions=await self._snapshot(), at=datetime.now().astimezone())
            while True:
                message = await pubsub.get_message(timeout=IDLE_SECONDS)
                if message is None:
                    yield None
                    continue
                if message.get("type") != "message":
                    continue
                try:
                    event = parse_event(message["data"])
                except ValidationError as exc:
                    log.warning("Live event from Redis unreadable; skipped", error=str(exc)[:500])
                    continue
                if not isinstance(event, SessionsSnapshot):  # only readers make snapshots
                    yield event
        finally:
            try:
                await pubsub.aclose()
            except Exception as exc:  # noqa: BLE001 - the connection is going anyway
                log.debug("Redis subscription did not close cleanly", error=str(exc))

    async def _snapshot(self) -> list[LiveSession]:
        keys = [k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k)
                for k in await self._client.zrange(self.names.index, 0, -1)]
        if not keys:
            return []
        values = await self._client.mget([self.names.session(k) for k in keys])
        sessions, expired = [], []
        for key, value in zip(keys, values, strict=True):
            if value is None:
                expired.append(key)
                continue
            try:
                sessions.append(LiveSession.model_validate_json(value))
            except ValidationError as exc:
                log.warning("Live session in Redis unreadable; skipped", key=key, error=str(exc)[:500])
        if expired:
            await self._client.zrem(self.names.index, *expired)
        return sessions

    async def remove(self, session: LiveSession, reason: EndReason) -> None:
        ended = LiveSessionEnded.of(session, reason, datetime.now().astimezone())
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.delete(self.names.session(session.key))
            pipe.zrem(self.names.index, session.key)
            pipe.publish(self.names.channel, dump_event(ended))
            await pipe.execute()

    async def aclose(self) -> None:
        await self._client.aclose()
