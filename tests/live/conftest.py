"""Live-session fixtures: a real redis-server on loopback, real recorder processes, and a
collector that waits for live events with a deadline (never a fixed sleep)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from fastrec.live.model import (
    AlertRaised,
    LiveEvent,
    LiveSessionEnded,
    LiveSessionStarted,
    LiveSessionUpdated,
    SessionsSnapshot,
)

T = TypeVar("T")
WAIT = 30.0  # a hang guard for waits on an event, not a timing assertion


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A private redis-server on 127.0.0.1 (no persistence, its own temp dir) that wants
    :attr:`PASSWORD`, so that tests can check it never shows."""

    PASSWORD = "S3cret-pw"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.PASSWORD}@127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.directory.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory), "--daemonize", "no",
             "--requirepass", self.PASSWORD],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + WAIT
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    assert self.proc.poll() is None, f"redis-server exited with {self.proc.returncode}"
                    assert time.monotonic() < deadline, "redis-server did not answer"
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (scripts/setup.sh installs it)")
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


class EventLog:
    """Collects a feed's (or a subscription's) events in a task; :meth:`wait_for` polls them."""

    def __init__(self, events: AsyncIterator[Any]) -> None:
        self.events: list[LiveEvent] = []
        self.arrived: list[float] = []  # time.time() of each event's arrival
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._collect(events))

    async def _collect(self, events: AsyncIterator[Any]) -> None:
        async for item in events:
            self.events.append(getattr(item, "event", item))  # a hub's LiveMessage or an event
            self.arrived.append(time.time())
            self._changed.set()

    async def wait_for(self, predicate: Callable[[list[LiveEvent]], T], what: str, timeout: float = WAIT) -> T:
        """``predicate(events)`` once it is truthy; fails after ``timeout`` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate(self.events)
            if value:
                return value
            assert not self._task.done() or self._task.exception() is None, self._task.exception()
            remaining = deadline - loop.time()
            assert remaining > 0, f"{what}: not seen within {timeout} s; events: {self.summary()}"
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass

    def of(self, key: str) -> list[LiveEvent]:
        """The started/updated/ended events of one session, in order."""
        return [e for e in self.events
                if (isinstance(e, LiveSessionStarted | LiveSessionUpdated) and e.session.key == key)
                or (isinstance(e, LiveSessionEnded) and e.key == key)]

    def ended(self, key: str) -> LiveSessionEnded | None:
        return next((e for e in self.of(key) if isinstance(e, LiveSessionEnded)), None)

    def alerts(self) -> list[AlertRaised]:
        return [e for e in self.events if isinstance(e, AlertRaised)]

    def snapshots(self) -> list[SessionsSnapshot]:
        return [e for e in self.events if isinstance(e, SessionsSnapshot)]

    def summary(self) -> str:
        return ", ".join(f"{e.type}:{getattr(e, 'key', None) or getattr(getattr(e, 'session', None), 'key', '')}"
                         for e in self.events[-30:])

    async def aclose(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing
            pass


def kinds(events: list[LiveEvent]) -> list[str]:
    return [e.type for e in events]


class Recorder:
    """``python -m fastrec record --mode synthetic`` in a process of its own (the host of
    its engine processes, as an operator runs it); output in files."""

    def __init__(self, tmp: Path, out: Path, session_id: str, *args: str, env: dict[str, str] | None = None) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDING_", "FASTREC_"))}
        environment.update(env or {})
        self.session_id = session_id
        self.log = tmp / f"{session_id}.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "fastrec", "record", "--mode", "synthetic", "--output-dir", str(out),
                 "--session-id", session_id, "--server", "srv-1", "--user", "auditor", "--ip", "10.0.0.9",
                 "--log-level", "info", *args],
                env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the recorder (its engine processes are in groups of their own and end
        by themselves when it is gone)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def wait(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout)


@pytest.fixture
def recorders(tmp_path: Path) -> Iterator[Callable[..., Recorder]]:
    started: list[Recorder] = []

    def start(out: Path, session_id: str, *args: str, env: dict[str, str] | None = None) -> Recorder:
        recorder = Recorder(tmp_path, out, session_id, *args, env=env)
        started.append(recorder)
        return recorder

    try:
        yield start
    finally:
        for recorder in started:
            recorder.kill()
