"""Real parts for the web UI's browser tests and scripts/screenshots.py: recordings made by
the recorder, users made through the accounts store, the admin server in a thread on a
free loopback port, and Debian's chromium driven by Playwright (never a downloaded browser).

Everything started here is stopped by its context manager; every wait is bounded.
"""

from __future__ import annotations

import base64
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import uvicorn
from x11_windows import wait_until

from fastrec.capture.synthetic import decode_clock
from fastrec.engine.protocol import SegmentPolicy
from fastrec.manager import RecordingManager
from fastrec.server.accounts import Accounts, Role
from fastrec.server.app import create_app
from fastrec.server.config import ServerSettings
from fastrec.server.context import ServerContext
from fastrec.server.db import ADMIN_DB_FILE, AdminDatabase
from fastrec.settings import load_settings
from fastrec.storage.files import ensure_private_dir

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1366, "height": 768}
PASSWORD = "correct horse battery"
USERS = {"admin": Role.ADMIN, "aud": Role.AUDITOR, "viewer": Role.VIEWER}
WAIT = 30.0

# the recordings every browser test sees
CLOCK = "clock_session"  # several parts (2 s each) of the "clock" scenario
TYPING = "typing_session"  # one part of the "typing" scenario, another server and user
CLOCK_CONNECTION = {"con_codigo": 7, "ip": "10.1.2.3", "name": "srv-finance", "user": "alice", "connection_type": "RDP"}
TYPING_CONNECTION = {"con_codigo": 8, "ip": "10.9.9.9", "name": "srv-hr <b>bold</b>", "user": "bob",
                     "connection_type": "SSH"}
CLOCK_PARTS = 4  # about; rotation follows the frames' capture times
SEGMENT_SECONDS = 2.0
TYPING_SECONDS = 8.5
IDLE_SECONDS = 2.0  # the server's FASTREC_IDLE_SECONDS: the typist's pauses are idle stretches


def record_fixtures(directory: Path, **extra: Any) -> None:
    """Record the two test sessions at once into ``directory`` (about 8 s); ``extra``
    settings by field name (``encryption_key_file=...``)."""
    settings = load_settings(enabled=True, output_dir=str(directory), encoder_workers=2, fps=10, **extra)
    manager = RecordingManager(settings, mode="synthetic", cleanup_schedule=False,
                               segment_policy=SegmentPolicy(max_seconds=SEGMENT_SECONDS))
    size = {"width": 320, "height": 240, "fps": 10}
    try:
        assert manager.initialize()
        assert manager.start_session_recording(CLOCK, CLOCK_CONNECTION, source_options={**size, "scenario": "clock"})
        assert manager.start_session_recording(TYPING, TYPING_CONNECTION, source_options={**size, "scenario": "typing"})
        # the clock session rotates every 2 s (at its first frame after 2 s: the clock changes
        # once a second); it stops 1.5 s into its fourth part.  The typing session holds the
        # typist's first pauses (2.7 s without a key at 3.5 s).
        fourth_part: list[float] = []

        def clock_done() -> bool:
            if not fourth_part and manager.get_recording_status(CLOCK)["segments"] >= CLOCK_PARTS:
                fourth_part.append(time.monotonic())
            return bool(fourth_part) and time.monotonic() - fourth_part[0] >= 1.5

        def typing_done() -> bool:
            return float(manager.get_recording_status(TYPING)["elapsed_seconds"]) >= TYPING_SECONDS

        due = {CLOCK: clock_done, TYPING: typing_done}
        while due:
            assert wait_until(lambda: any(done() for done in due.values())), list(due)
            for session_id, done in list(due.items()):
                if done():
                    manager.stop_session_recording(session_id)
                    del due[session_id]
        for session_id in (CLOCK, TYPING):
            assert manager.wait_for_session(session_id, WAIT)
            status = manager.get_recording_status(session_id)
            assert status["state"] == "stopped" and not status["errors"], status
    finally:
        manager.shutdown()


def create_users(directory: Path) -> None:
    """The users of USERS (password PASSWORD) in the admin database of ``directory``."""
    db = AdminDatabase(ensure_private_dir(directory) / ADMIN_DB_FILE)
    try:
        accounts = Accounts(db)
        for name, role in USERS.items():
            if accounts.get_user(name) is None:
                accounts.create_user(name, PASSWORD, role)
    finally:
        db.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    url: str
    settings: ServerSettings
    app: Any

    @property
    def ctx(self) -> ServerContext:
        """The server's context (its stores), for set-ups the UI cannot make (an expired link)."""
        ctx: ServerContext = self.app.state.ctx
        return ctx


@contextmanager
def run_server(directory: Path, port: int | None = None, **settings: Any) -> Iterator[RunningServer]:
    """The admin server over ``directory`` in a thread on ``port`` (default: a free one),
    until the block ends; ``settings`` by their variable names (FASTREC_...)."""
    port = port or free_port()
    server_settings = ServerSettings(RECORDING_OUTPUT_DIR=str(directory), FASTREC_SERVER_PORT=port, **settings)
    app = create_app(server_settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on", ws="websockets-sansio", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, name="admin-server", daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: server.started or not thread.is_alive()), "the admin server did not start"
        assert server.started, "the admin server stopped during start-up (see the log above)"
        yield RunningServer(f"http://127.0.0.1:{port}", server_settings, app)
    finally:
        server.should_exit = True
        thread.join(WAIT)


def launch_chromium(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])


def sign_in(page: Any, url: str, user: str, next_path: str = "/live") -> None:
    """Sign in through the login form; returns on the page it leads to."""
    page.goto(f"{url}/login?next={next_path}")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{url}{next_path}")


# what the <video> shows now, as a PNG (drawn into a canvas: the decoded frame itself)
_GRAB = """() => {
  const video = document.getElementById('video');
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  return canvas.toDataURL('image/png');
}"""


def shown_clock(page: Any) -> int | None:
    """The wall-clock second the "clock" frame in the page's video shows (None: no clock)."""
    data = page.evaluate(_GRAB)
    png = base64.b64decode(data.split(",", 1)[1])
    picture = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    return None if picture is None else decode_clock(picture)


def recorder_command(directory: Path, session_id: str, seconds: float, *, server: str = "srv-live",
                     user: str = "carol", ip: str = "10.7.7.7", connection_type: str = "RDP") -> list[str]:
    """``python -m fastrec record`` of the synthetic desktop for ``seconds`` (another process)."""
    return [sys.executable, "-m", "fastrec", "record", "--mode", "synthetic", "--duration", str(seconds),
            "--session-id", session_id, "--server", server, "--user", user, "--ip", ip,
            "--connection-type", connection_type, "--output-dir", str(directory)]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    return env


def sign_and_delete_first_part(directory: Path, session_id: str, reason: str = "older than 30 days") -> None:
    """With FASTREC_SIGNING_KEY set: sign every metadata file of ``session_id`` and delete
    its part 1 on record, as retention does (a signed deletion record, then its files)."""
    import time

    from fastrec.storage import iter_metadata
    from fastrec.storage.deletion_log import DeletedPart, DeletionRecord, append_deletion
    from fastrec.storage.index import INDEX_FILE, RecordingIndex
    from fastrec.storage.metadata import SegmentMetadata, write_metadata

    metas = [(path, meta) for path, meta in iter_metadata(directory)
             if isinstance(meta, SegmentMetadata) and meta.session_id == session_id]
    for path, meta in metas:
        write_metadata(path, meta)  # signs it with the configured key
    path, first = next((p, m) for p, m in metas if m.chain.part == 1)
    append_deletion(directory, DeletionRecord(at=time.time(), session_id=session_id, by="retention", reason=reason,
                                              parts=[DeletedPart(part=1, file=first.file.name, sha256=first.file.sha256,
                                                                 chain_hash=first.chain.chain_hash,
                                                                 size_bytes=first.file.size_bytes)]))
    (directory / first.file.name).unlink()
    path.unlink()  # its metadata
    with RecordingIndex(directory / INDEX_FILE, directory) as index:  # as retention keeps it
        index.remove(directory / first.file.name)
