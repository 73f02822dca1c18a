"""Fixtures for the admin server: the app over a temporary recordings directory, its users,
and signed-in clients (FastAPI's TestClient runs the app's real start-up and shut-down)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fastrec.server.app import create_app
from fastrec.server.auth import CSRF_COOKIE, CSRF_HEADER
from fastrec.server.config import ServerSettings

PASSWORD = "correct horse battery"


@pytest.fixture
def recordings(tmp_path: Path) -> Path:
    folder = tmp_path / "recordings"
    folder.mkdir(mode=0o700)
    return folder


@pytest.fixture
def server_settings(recordings: Path) -> ServerSettings:
    return ServerSettings(recordings_dir=recordings)


@pytest.fixture
def app(server_settings: ServerSettings) -> Iterator[FastAPI]:
    application = create_app(server_settings)
    with TestClient(application):  # runs the lifespan: the context opens
        ctx = application.state.ctx
        for name, role in (("root", "admin"), ("alice", "auditor"), ("victor", "viewer")):
            ctx.accounts.create_user(name, PASSWORD, role)
        yield application


@pytest.fixture
def client_for(app: FastAPI) -> Iterator[Callable[[str | None], TestClient]]:
    """``client_for("alice")``: a client signed in as alice (None: anonymous), sending the
    CSRF header like the web UI does."""
    made: list[TestClient] = []

    def make(user: str | None) -> TestClient:
        client = TestClient(app)
        made.append(client)
        if user is not None:
            response = client.post("/api/auth/login", json={"username": user, "password": PASSWORD})
            assert response.status_code == 200, response.text
            client.headers[CSRF_HEADER] = client.cookies[CSRF_COOKIE]
        return client

    yield make
    for client in made:
        client.close()
