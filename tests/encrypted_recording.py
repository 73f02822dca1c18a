"""Shared by the encryption tests: a key file, a recorder that encrypts (synthetic desktop),
and admin-server clients signed in as an admin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_jobs import fastrec
from fastapi.testclient import TestClient
from polling import wait_until

from fastrec.manager import RecordingManager
from fastrec.server.app import create_app
from fastrec.server.auth import CSRF_COOKIE, CSRF_HEADER
from fastrec.server.config import ServerSettings
from fastrec.settings import load_settings
from fastrec.storage import iter_metadata
from fastrec.storage.metadata import SegmentMetadata

SMALL = {"width": 320, "height": 240, "fps": 10, "scenario": "video"}
CONNECTION = {"con_codigo": 3, "ip": "10.0.0.3", "name": "Vault", "user": "auditor", "connection_type": "RDP"}
FINISH = 90  # a hang guard for waits on a state, not a timing assertion
PASSWORD = "correct horse battery"


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    """A new key file (one KEK) made by ``keys init-encryption``."""
    path = tmp_path / "kek"
    done = fastrec("keys", "init-encryption", "--key-file", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return path


def encrypting_manager(out: Path, key_file: Path, database_url: str | None = None,
                       **extra: object) -> RecordingManager:
    """A recorder of the synthetic desktop that encrypts with ``key_file`` (its index and
    key store in ``database_url``'s PostgreSQL database when given)."""
    settings = load_settings(enabled=True, output_dir=str(out), encoder_workers=1, fps=10,
                             keyframe_interval_seconds=1.0, encryption_key_file=str(key_file),
                             **({"database_url": database_url} if database_url else {}))
    return RecordingManager(settings, mode="synthetic", source_options=SMALL, cleanup_schedule=False, **extra)


def record(manager: RecordingManager, session_id: str, parts: int = 1, frames: int = 20) -> None:
    """Record ``session_id`` until it has ``parts`` parts and ``frames`` frames, then stop."""
    assert manager.start_session_recording(session_id, CONNECTION)
    status = lambda: manager.get_recording_status(session_id)  # noqa: E731
    assert wait_until(lambda: status()["segments"] >= parts and status()["frames"]["encoded"] >= frames, FINISH)
    assert manager.stop_session_recording(session_id)
    assert manager.wait_for_session(session_id, FINISH)


def session_parts(out: Path, session_id: str) -> list[SegmentMetadata]:
    found = [m for _, m in iter_metadata(out) if isinstance(m, SegmentMetadata) and m.session_id == session_id]
    return sorted(found, key=lambda m: m.chain.part)


def key_env(key_file: Path) -> dict[str, str]:
    return {"FASTREC_ENCRYPTION_KEY_FILE": str(key_file)}


@pytest.fixture
def signed_in() -> Iterator[Callable[[ServerSettings], TestClient]]:
    """``signed_in(settings)``: a client of the admin server signed in as an admin."""
    opened: list[TestClient] = []

    def make(settings: ServerSettings) -> TestClient:
        app = create_app(settings)
        client = TestClient(app)
        client.__enter__()
        opened.append(client)
        app.state.ctx.accounts.create_user("root", PASSWORD, "admin")
        assert client.post("/api/auth/login", json={"username": "root", "password": PASSWORD}).status_code == 200
        client.headers[CSRF_HEADER] = client.cookies[CSRF_COOKIE]
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)
