"""LiveHub: one feed to 200 subscribers - each starts with a snapshot and gets every event in
the same order; a subscriber that does not read is dropped with a reason and holds nobody
up; the JSON each subscriber is sent is the documented event shape."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import datetime
from pathlib import Path

import pytest
from conftest import EventLog

from fastrec.live.feed import LiveFeed
from fastrec.live.hub import LiveHub, SubscriberDropped
from fastrec.live.model import (
    AlertKind,
    EndReason,
    LiveAlert,
    LiveFrames,
    LiveSession,
    LiveSessionEnded,
    SessionsSnapshot,
    parse_event,
)
from fastrec.live.sqlite_store import SqliteLiveSource, SqliteLiveStore
from fastrec.settings import load_settings

SUBSCRIBERS = 200
SESSIONS = 20
ROUNDS = 8


def _reports(n: int) -> list[LiveSession]:
    now = datetime.now().astimezone()
    return [LiveSession(host="gw", session_id=f"s{i}", pid=os.getpid(), state="recording", mode="synthetic",
                        started_at=now, updated_at=now, frames=LiveFrames(captured=n)) for i in range(SESSIONS)]


def test_two_hundred_subscribers_get_the_same_events_and_a_slow_one_is_dropped(tmp_path: Path) -> None:
    store = SqliteLiveStore(tmp_path)

    async def body() -> None:
        hub = LiveHub(LiveFeed(SqliteLiveSource(tmp_path, poll=0.02), stale_after=3600), queue_size=64)
        await hub.start()
        try:
            assert await hub.wait_synced(30)
            slow = hub.subscribe()  # never read
            subscriptions = [hub.subscribe() for _ in range(SUBSCRIBERS)]
            logs = [EventLog(s) for s in subscriptions]
            for n in range(ROUNDS):  # each round seen by the hub before the next: distinct events
                await asyncio.to_thread(store.publish, _reports(n))
                await logs[0].wait_for(lambda ev, n=n: sum(getattr(e, "session", None) is not None
                                                           and e.session.frames.captured == n for e in ev) == SESSIONS,
                                       f"round {n}")
            last = _reports(ROUNDS)
            await asyncio.to_thread(store.end, [LiveSessionEnded.of(s, EndReason.STOPPED, s.updated_at) for s in last])
            await asyncio.to_thread(store.alert, LiveAlert(kind=AlertKind.DISK_NEARLY_FULL, host="gw", message="low",
                                                           at=datetime.now().astimezone()))
            for log in logs:
                await log.wait_for(lambda ev: any(e.type == "alert" for e in ev), "the alert")
            assert slow.dropped is not None and "too slow" in slow.dropped
            with pytest.raises(SubscriberDropped, match="too slow"):
                await anext(slow)
            assert hub.subscriber_count == SUBSCRIBERS and hub.dropped_subscribers == 1
            assert hub.sessions == []  # every session ended
            # a newcomer's first message is the snapshot of now
            late = hub.subscribe()
            first = await anext(late)
            assert isinstance(first.event, SessionsSnapshot) and first.event.sessions == []
            late.close()
        finally:
            await hub.aclose()
            store.close()
        reference = logs[0].events
        assert reference[0].type == "sessions_snapshot"
        assert [e.type for e in reference[1:SESSIONS + 1]] == ["session_started"] * SESSIONS
        assert sum(e.type == "session_updated" for e in reference) == SESSIONS * (ROUNDS - 1)
        assert sum(e.type == "session_ended" for e in reference) == SESSIONS
        for log in logs[1:]:
            assert log.events == reference  # the same events, in the same order, for everybody
        for log in logs:  # the hub's close ended every iteration normally
            await log.aclose()

    asyncio.run(body())


def test_messages_are_the_documented_json_and_parse_back(tmp_path: Path) -> None:
    store = SqliteLiveStore(tmp_path)
    settings = load_settings(output_dir=str(tmp_path))

    async def body() -> list[dict]:
        hub = LiveHub.from_settings(settings)
        async with hub, asyncio.timeout(60):  # a hang guard, not a timing assertion
            assert await hub.wait_synced(30)
            texts: list[str] = []
            async with hub.subscribe() as subscription:
                await asyncio.to_thread(store.publish, _reports(1)[:1])
                async for message in subscription:
                    texts.append(message.text)
                    assert parse_event(message.text) == message.event
                    if message.event.type == "session_started":
                        break
        return [json.loads(t) for t in texts]

    try:
        snapshot, started = asyncio.run(body())
    finally:
        store.close()
    assert snapshot["type"] == "sessions_snapshot" and snapshot["sessions"] == []
    assert started["type"] == "session_started"
    session = started["session"]
    assert session["key"] == "gw/s0" and session["host"] == "gw" and session["session_id"] == "s0"
    assert session["frames"] == {"captured": 1, "encoded": 0, "unchanged": 0, "dropped": 0}
    assert {"state", "fps", "bytes", "current_file", "paused", "occluded", "started_at", "updated_at",
            "con_codigo", "ip", "name", "user", "connection_type"} <= set(session)
    datetime.fromisoformat(session["updated_at"])  # ISO 8601 with its offset


def test_a_subscriber_who_comes_before_the_store_is_read_gets_the_true_snapshot_first(tmp_path: Path) -> None:
    store = SqliteLiveStore(tmp_path)
    store.publish(_reports(3)[:2])

    async def body() -> None:
        hub = LiveHub(LiveFeed(SqliteLiveSource(tmp_path), stale_after=3600))
        subscription = hub.subscribe()  # before the hub has read anything
        async with hub, asyncio.timeout(60):
            first = await anext(subscription)
            assert isinstance(first.event, SessionsSnapshot)
            assert sorted(s.key for s in first.event.sessions) == ["gw/s0", "gw/s1"]
        # closing the hub ends the subscriptions, and any made afterwards
        with pytest.raises(StopAsyncIteration):
            await anext(subscription)
        with pytest.raises(StopAsyncIteration):
            await anext(hub.subscribe())

    try:
        asyncio.run(body())
    finally:
        store.close()
