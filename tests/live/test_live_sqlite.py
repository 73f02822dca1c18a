"""The SQLite live store: several recorder processes writing at once, one reader that misses
nothing and sees every session start, update and end in that order; a private file that
is never opened through a link."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from conftest import EventLog, kinds

from fastrec.live.feed import LiveFeed
from fastrec.live.model import (
    EndReason,
    LiveFrames,
    LiveSession,
    LiveSessionEnded,
    LiveSessionStarted,
    LiveSessionUpdated,
    session_key,
)
from fastrec.live.sqlite_store import LIVE_FILE, LiveStoreUnavailable, SqliteLiveSource, SqliteLiveStore

WRITER = Path(__file__).with_name("_live_writer.py")
SESSIONS, REPORTS = 3, 300


def _session(host: str, session_id: str, n: int = 0, **kw: object) -> LiveSession:
    now = datetime.now().astimezone()
    return LiveSession(host=host, session_id=session_id, pid=os.getpid(), state="recording", mode="synthetic",
                       started_at=now, updated_at=now, frames=LiveFrames(captured=n), **kw)


def test_two_writer_processes_at_once_and_one_reader_that_misses_no_session(tmp_path: Path) -> None:
    out = tmp_path / "rec"

    async def body() -> None:
        feed = LiveFeed(SqliteLiveSource(out, poll=0.05))
        log = EventLog(feed.events())
        try:
            await log.wait_for(lambda ev: ev and ev[0].type == "sessions_snapshot", "the first snapshot")
            writers = [subprocess.Popen([sys.executable, str(WRITER), str(out), host, str(SESSIONS), str(REPORTS)],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                       for host in ("gw-a", "gw-b")]
            results = [await asyncio.to_thread(w.communicate, timeout=120) for w in writers]
            for writer, (stdout, stderr) in zip(writers, results, strict=True):
                assert writer.returncode == 0 and stdout.strip() == "done", stderr  # never "database is locked"
            keys = [session_key(h, f"s{i}") for h in ("gw-a", "gw-b") for i in range(SESSIONS)]
            await log.wait_for(lambda ev: all(log.ended(k) for k in keys), "every session ended")
        finally:
            await log.aclose()
            await feed.aclose()
        # the same session id on two hosts: two sessions, each started -> updated... -> ended once
        for key in keys:
            events = log.of(key)
            assert isinstance(events[0], LiveSessionStarted), kinds(events)
            assert all(isinstance(e, LiveSessionUpdated) for e in events[1:-1]), kinds(events)
            last = events[-1]
            assert isinstance(last, LiveSessionEnded) and last.reason == EndReason.STOPPED
            captured = [e.session.frames.captured for e in events[:-1]]  # type: ignore[union-attr]
            assert captured == sorted(captured)  # never an older report after a newer one
            assert last.session is not None and last.session.frames.captured == REPORTS - 1
        mode = stat.S_IMODE(os.stat(out / LIVE_FILE).st_mode)
        assert mode == 0o600 and stat.S_IMODE(os.stat(out).st_mode) == 0o700

    asyncio.run(body())


def test_a_reader_started_late_gets_the_live_sessions_in_its_snapshot_and_no_ended_ones(tmp_path: Path) -> None:
    store = SqliteLiveStore(tmp_path)
    live, done = _session("gw", "live"), _session("gw", "done")
    store.publish([live, done])
    store.end([LiveSessionEnded.of(done, EndReason.ERROR, datetime.now().astimezone())])

    async def body() -> None:
        feed = LiveFeed(SqliteLiveSource(tmp_path, poll=0.05), stale_after=3600)
        log = EventLog(feed.events())
        try:
            (snapshot,) = await log.wait_for(lambda ev: log.snapshots(), "the snapshot")
            assert [s.key for s in snapshot.sessions] == ["gw/live"]
            store.publish([live.model_copy(update={"updated_at": datetime.now().astimezone(), "fps": 9.5})])
            updated = await log.wait_for(lambda ev: [e for e in ev if isinstance(e, LiveSessionUpdated)], "an update")
            assert updated[0].session.fps == 9.5  # a session of the snapshot is updated, not started again
            store.publish([_session("gw", "new")])
            await log.wait_for(lambda ev: [e for e in ev if isinstance(e, LiveSessionStarted)], "a start")
        finally:
            await log.aclose()
            await feed.aclose()
            store.close()

    asyncio.run(body())


def test_a_session_that_started_and_ended_between_two_polls_is_still_shown_starting_then_ending(
        tmp_path: Path) -> None:
    store = SqliteLiveStore(tmp_path)

    async def body() -> None:
        feed = LiveFeed(SqliteLiveSource(tmp_path, poll=0.5))
        log = EventLog(feed.events())
        try:
            await log.wait_for(lambda ev: log.snapshots(), "the snapshot")
            brief = _session("gw", "brief")
            store.publish([brief])
            store.end([LiveSessionEnded.of(brief, EndReason.STOPPED, datetime.now().astimezone())])
            await log.wait_for(lambda ev: log.ended("gw/brief"), "its end")
            assert kinds(log.of("gw/brief")) == ["session_started", "session_ended"]
        finally:
            await log.aclose()
            await feed.aclose()
            store.close()

    asyncio.run(body())


def test_a_link_planted_at_the_live_file_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "rec"
    out.mkdir(mode=0o700)
    (out / LIVE_FILE).symlink_to(victim)
    with pytest.raises(LiveStoreUnavailable, match="is a symbolic link"):
        SqliteLiveStore(out)
    (out / LIVE_FILE).unlink()
    (out / f"{LIVE_FILE}-wal").symlink_to(victim)
    with pytest.raises(LiveStoreUnavailable, match=f"{LIVE_FILE}-wal is a symbolic link"):
        SqliteLiveStore(out)
    assert victim.read_text() == "precious"


def test_a_database_of_another_program_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    import sqlite3

    other = tmp_path / LIVE_FILE
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    before = other.read_bytes()
    with pytest.raises(LiveStoreUnavailable, match="another program"):
        SqliteLiveStore(tmp_path)
    assert other.read_bytes() == before
