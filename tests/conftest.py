"""Shared fixtures: real parts only (private Xvfb screens, never the machine's display, and
real X11 windows from named processes).  Every process started here is stopped in the
fixture's ``finally``; every wait is bounded."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import io
import json

import pytest
import structlog
from x11_windows import WAIT, WINDOW_SCRIPT, Window

from fastrec.demo.display import VirtualDisplay
from fastrec.logs import configure_logging

# the Windows suite runs in the Windows CPython under Wine: scripts/test-windows.sh
collect_ignore = ["windows"]


@pytest.fixture(autouse=True)
def _no_real_display(monkeypatch: pytest.MonkeyPatch) -> None:
    # a test that forgets its private display must fail, not record the developer's screen
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    # logging configuration is process-wide: a test that configures it must not change
    # what the next test's capture_logs() sees
    yield
    structlog.reset_defaults()


@pytest.fixture
def shm_entries() -> Iterator[set[str]]:
    """/dev/shm before the test; the test compares against it after."""
    yield set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()


@pytest.fixture(scope="module")
def wm_display() -> Iterator[VirtualDisplay]:
    """A private 1280x720 Xvfb with the openbox window manager, shared by a module."""
    with VirtualDisplay(1280, 720, window_manager=True) as display:
        yield display


@pytest.fixture
def bare_display() -> Iterator[VirtualDisplay]:
    """A private 1280x720 Xvfb without a window manager: windows sit where they ask."""
    with VirtualDisplay(1280, 720) as display:
        yield display


@pytest.fixture
def spawn_window(tmp_path: Path) -> Iterator[Callable[..., Window]]:
    """``spawn_window(display, geometry, colour, process_name=None, class_name="Tk",
    popup=False, title_prefix="")`` starts a Tk window and waits until it is shown.  With
    ``process_name`` the Python interpreter runs through a symlink of that name, so
    /proc/PID/comm is that name; ``popup`` makes it override-redirect (a menu, as far as X
    is concerned); ``title_prefix`` goes before the window's unique title."""
    started: list[Window] = []

    def spawn(display: VirtualDisplay, geometry: str, colour: str,
              process_name: str | None = None, class_name: str = "Tk",
              popup: bool = False, title_prefix: str = "") -> Window:
        exe = os.path.realpath(sys.executable)
        if process_name is not None:
            link = tmp_path / process_name
            if not link.exists():
                link.symlink_to(exe)
            exe = str(link)
        unique = f"win-{uuid.uuid4().hex[:10]}"
        title = title_prefix + unique
        proc = subprocess.Popen([exe, "-c", WINDOW_SCRIPT, title, geometry, colour, class_name,
                                 "popup" if popup else "window"],
                                env=display.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        window = Window(proc, 0, title, display.env)
        started.append(window)
        found = subprocess.run(
            ["xdotool", "search", "--sync", "--onlyvisible", "--name",
             f"{unique}$" if title_prefix else f"^{title}$"],
            env=display.env, capture_output=True, text=True, timeout=WAIT, check=False)
        ids = found.stdout.split()
        assert found.returncode == 0 and ids, f"window {title} did not appear: {found.stderr}"
        window.id = int(ids[0])
        return window

    try:
        yield spawn
    finally:
        for window in started:
            window.stop()


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """``tmpfs("300k")`` mounts a private tmpfs of that size (0700) and returns it: a real
    "no space left on device" when it fills.  Unmounted after the test (we run as root)."""
    mounts: list[Path] = []

    def mount(size: str) -> Path:
        path = tmp_path / f"tmpfs{len(mounts)}"
        path.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
                       check=True)
        mounts.append(path)
        return path

    try:
        yield mount
    finally:
        for path in mounts:
            subprocess.run(["umount", "-l", str(path)], check=False)


class LogLines(io.StringIO):
    """Log output in JSON lines; :meth:`events` parses them."""

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.getvalue().splitlines() if line.startswith("{")]


@pytest.fixture
def log_stream() -> Iterator[LogLines]:
    """Every log line of the test as JSON, debug level and up."""
    stream = LogLines()
    configure_logging("json", "debug", stream=stream)
    yield stream
    configure_logging("console", "warning")



@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server (Debian's, installed by scripts/setup.sh) on a loopback port
    of its own, without persistence; yields its URL.  Stopped at the end of the run."""
    import shutil
    import socket

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run scripts/setup.sh")
    folder = tmp_path_factory.mktemp("redis")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(folder)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        import redis

        client = redis.Redis.from_url(url)
        for _ in range(200):  # up to 10 s for it to accept connections
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None:
                    pytest.fail(f"redis-server exited with {process.returncode}")
                import time

                time.sleep(0.05)
        else:
            pytest.fail("redis-server did not answer within 10 s")
        client.close()
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """The private redis-server's URL, emptied before each test."""
    import redis

    with redis.Redis.from_url(redis_server) as client:
        client.flushall()
    yield redis_server


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[object]:
    """Debian's chromium (installed by scripts/setup.sh; never a downloaded browser), driven
    by Playwright: one per test run, shared by every browser test (Playwright's sync API
    allows one driver per thread)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[object]:
    """A private PostgreSQL cluster (Debian's postgresql package, see tests/postgres.py) for
    the whole run; stopped at the end."""
    from postgres import start_cluster

    try:
        cluster = start_cluster()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database of this test's own (dropped after)."""
    url = postgres_cluster.new_database()
    try:
        yield url
    finally:
        postgres_cluster.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """FASTREC_DATABASE_URL for each back-end: None (SQLite files, the default) and a new
    PostgreSQL database.  Tests taking it run once against each."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def click_session(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A window session with clicks, notches, a title change and a rage click (recorded
    once a run; see tests/clicks_session.py).  Tests that change it work on a copy."""
    from clicks_session import record_click_session

    return record_click_session(tmp_path_factory.mktemp("clicks") / "rec")
