"""Live sessions through a real redis-server: recorders on two gateways feed one admin
server; dead recorders are ended as gone, on this host (its process is gone) and on another
(it fell silent); Redis going down never stops recording, and both sides recover."""

from __future__ import annotations

import asyncio
import os
import threading
from datetime import datetime
from pathlib import Path

from conftest import EventLog, kinds
from x11_windows import wait_until

from fastrec.live.feed import LiveFeed
from fastrec.live.model import EndReason, LiveFrames, LiveSession, LiveSessionStarted, LiveSessionUpdated, session_key
from fastrec.live.redis_store import RedisLiveSource, RedisLiveWriter
from fastrec.live.store import this_host
from fastrec.manager import RecordingManager
from fastrec.settings import LIVE_PREFIX, load_settings

HOST = this_host()
WRITER = Path(__file__).with_name("_live_writer.py")


class OtherGateway:
    """A recorder on another machine: reports its session every half second until it dies
    (stops reporting without a word, as a gateway that loses power)."""

    def __init__(self, url: str, host: str, session_id: str) -> None:
        self.writer = RedisLiveWriter(url, prefix=LIVE_PREFIX)
        self.host, self.session_id = host, session_id
        self.dead = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        started = datetime.now().astimezone()
        n = 0
        while not self.dead.is_set():
            now = datetime.now().astimezone()
            self.writer.publish([LiveSession(
                host=self.host, session_id=self.session_id, pid=4242, state="recording", mode="rdp_window",
                name="srv-2", user="bob", connection_type="RDP", started_at=started, updated_at=now,
                frames=LiveFrames(captured=n, encoded=n))])
            n += 1
            self.dead.wait(0.5)  # its reporting beat, not a synchronisation

    def die(self) -> None:
        self.dead.set()
        self.thread.join(10)
        self.writer.close()


def test_recorders_on_two_gateways_feed_one_admin_server(redis_server, recorders, tmp_path: Path) -> None:
    env = {"FASTREC_REDIS_URL": redis_server.url}
    here = session_key(HOST, "shared")
    killed = session_key(HOST, "killed")
    there = session_key("gateway-2", "shared")  # the same session id on another gateway

    async def body() -> None:
        feed = LiveFeed(RedisLiveSource(redis_server.url, prefix=LIVE_PREFIX))
        log = EventLog(feed.events())
        gateway = None
        try:
            await log.wait_for(lambda ev: log.snapshots(), "the first snapshot")
            finishing = recorders(tmp_path / "rec-a", "shared", "--duration", "4", env=env)
            doomed = recorders(tmp_path / "rec-b", "killed", env=env)
            gateway = OtherGateway(redis_server.url, "gateway-2", "shared")
            for key in (here, killed, there):
                await log.wait_for(lambda ev, key=key: [e for e in log.of(key) if isinstance(e, LiveSessionUpdated)],
                                   f"{key} reporting")
            doomed.kill()
            gateway.die()
            for key in (here, killed, there):
                await log.wait_for(lambda ev, key=key: log.ended(key), f"{key} ended", timeout=60)
            assert finishing.wait() == 0, finishing.output()
            assert redis_server.PASSWORD not in finishing.output() + doomed.output()
            assert not (tmp_path / "rec-a" / "live_sessions.sqlite3").exists()  # Redis, not the local file
        finally:
            if gateway is not None:
                gateway.die()
            await log.aclose()
            await feed.aclose()
        for key in (here, killed, there):
            events = log.of(key)
            assert kinds(events)[0] == "session_started" and kinds(events)[-1] == "session_ended", kinds(events)
            assert set(kinds(events)[1:-1]) == {"session_updated"}, kinds(events)
        assert log.ended(here).reason == EndReason.STOPPED  # type: ignore[union-attr]
        assert log.ended(killed).reason == EndReason.GONE  # this host: its process is gone
        assert log.ended(there).reason == EndReason.GONE  # another host: it fell silent
        reports = [e.session for e in log.of(there)[:-1]]  # type: ignore[union-attr]
        assert {r.host for r in reports} == {"gateway-2"} and {r.name for r in reports} == {"srv-2"}

    asyncio.run(body())


def test_a_writer_process_per_gateway_and_a_late_reader(redis_server) -> None:
    # two store writers with different host names, in processes of their own
    import subprocess
    import sys

    for host in ("gw-a", "gw-b"):
        done = subprocess.run([sys.executable, str(WRITER), redis_server.url, host, "2", "50"],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr
    writer = RedisLiveWriter(redis_server.url, prefix=LIVE_PREFIX)
    now = datetime.now().astimezone()
    writer.publish([LiveSession(host="gw-c", session_id="s0", pid=os.getpid(), state="recording",
                                mode="synthetic", started_at=now, updated_at=now)])
    writer.close()

    async def body() -> None:
        feed = LiveFeed(RedisLiveSource(redis_server.url, prefix=LIVE_PREFIX), stale_after=3600)
        log = EventLog(feed.events())
        try:
            (snapshot,) = await log.wait_for(lambda ev: log.snapshots(), "the snapshot")
        finally:
            await log.aclose()
            await feed.aclose()
        assert [s.key for s in snapshot.sessions] == ["gw-c/s0"]  # ended sessions are not in it

    asyncio.run(body())


def test_redis_down_never_stops_recording_and_both_sides_recover(redis_server, tmp_path: Path, log_stream) -> None:
    out = tmp_path / "rec"
    settings = load_settings(enabled=True, output_dir=str(out), encoder_workers=1, fps=10,
                             redis_url=redis_server.url)
    key = session_key(HOST, "resilient")

    async def body() -> None:
        feed = LiveFeed(RedisLiveSource(redis_server.url, prefix=LIVE_PREFIX))
        log = EventLog(feed.events())
        manager = RecordingManager(settings, mode="synthetic", cleanup_schedule=False,
                                   source_options={"width": 320, "height": 240, "fps": 10, "scenario": "typing"})
        try:
            await log.wait_for(lambda ev: log.snapshots(), "the first snapshot")
            assert manager.start_session_recording("resilient", {"name": "srv", "user": "carol"})
            await log.wait_for(lambda ev: [e for e in log.of(key) if isinstance(e, LiveSessionUpdated)],
                               "the session reporting")
            redis_server.stop()
            assert manager.announcer is not None
            await asyncio.to_thread(wait_until, lambda: not manager.announcer.healthy, 30)
            assert not manager.announcer.healthy
            encoded = manager.get_recording_status("resilient")["frames"]["encoded"]
            assert await asyncio.to_thread(
                wait_until, lambda: manager.get_recording_status("resilient")["frames"]["encoded"] >= encoded + 10, 30)
            seen = len(log.events)
            redis_server.start()  # the same port, empty (no persistence)
            await log.wait_for(lambda ev: [e for e in ev[seen:] if isinstance(e, LiveSessionStarted | LiveSessionUpdated)
                                           and e.session.key == key], "the session again", timeout=60)
            assert manager.stop_session_recording("resilient")
            assert await asyncio.to_thread(manager.wait_for_session, "resilient", 60)
            ended = await log.wait_for(lambda ev: log.ended(key)
                                       if log.ended(key) and log.ended(key).reason == EndReason.STOPPED else None,
                                       "its end", timeout=60)
            status = manager.get_recording_status("resilient")
        finally:
            manager.shutdown()
            await log.aclose()
            await feed.aclose()
        assert ended.session is not None and ended.session.frames.encoded > encoded
        assert status["state"] == "stopped" and not status["errors"]
        warnings = [e["event"] for e in log_stream.events() if e.get("level") == "warning"]
        assert sum("cannot be announced" in w for w in warnings) == 1, warnings
        assert sum("store unavailable" in w for w in warnings) == 1, warnings
        assert redis_server.PASSWORD not in log_stream.getvalue()

    asyncio.run(body())
