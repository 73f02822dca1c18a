"""What the web UI reads besides the resources: its configuration (from the server's
settings, FASTREC_WS_RECONNECT_* included) and a recording's summary for the replay page."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from storage_builders import write_session

from fastrec.server.accounts import Accounts, Role
from fastrec.server.app import create_app
from fastrec.server.config import ServerSettings
from fastrec.server.db import ADMIN_DB_FILE, AdminDatabase


def _token(directory: Path, name: str, role: Role) -> dict[str, str]:
    db = AdminDatabase(directory / ADMIN_DB_FILE)
    try:
        accounts = Accounts(db)
        accounts.create_user(name, "a long enough password", role)
        _, secret = accounts.create_token(name, "tests")
    finally:
        db.close()
    return {"Authorization": f"Bearer {secret}"}


def test_ui_config_comes_from_the_server_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FASTREC_WS_RECONNECT_BASE_DELAY", "250")
    monkeypatch.setenv("FASTREC_WS_RECONNECT_MAX_DELAY", "4000")
    monkeypatch.setenv("FASTREC_WS_RECONNECT_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("FASTREC_IDLE_SECONDS", "7.5")
    monkeypatch.setenv("RECORDING_OUTPUT_DIR", str(tmp_path))
    headers = _token(tmp_path, "vera", Role.VIEWER)
    with TestClient(create_app(ServerSettings())) as client:
        assert client.get("/api/ui-config").status_code == 401
        config = client.get("/api/ui-config", headers=headers).json()
    assert config["ws_reconnect_base_delay"] == 250
    assert config["ws_reconnect_max_delay"] == 4000
    assert config["ws_reconnect_max_attempts"] == 3
    assert config["idle_seconds"] == 7.5
    assert config["share_expiry_choices"] == ["1h", "24h", "7d", "30d", "never"]
    assert "share.access" in config["audit_actions"] and config["roles"] == ["viewer", "auditor", "admin"]


def test_summary_is_the_list_row_with_its_review_and_logs_no_view(tmp_path: Path):
    write_session(tmp_path, 2, session_id="rdp_7", server="srv-a", user="ann")
    viewer = _token(tmp_path, "vera", Role.VIEWER)
    auditor = _token(tmp_path, "otto", Role.AUDITOR)
    with TestClient(create_app(ServerSettings(RECORDING_OUTPUT_DIR=str(tmp_path)))) as client:
        missing = client.get("/api/recordings/nope/summary", headers=viewer)
        assert missing.status_code == 404 and "session_id='nope'" in missing.json()["detail"]
        summary = client.get("/api/recordings/rdp_7/summary", headers=viewer).json()
        assert summary["session_id"] == "rdp_7" and summary["parts"] == 2 and summary["server"] == "srv-a"
        assert summary["reviewed"] is None
        assert client.post("/api/recordings/rdp_7/reviews", json={"note": "fine"}, headers=auditor).status_code == 201
        summary = client.get("/api/recordings/rdp_7/summary", headers=viewer).json()
        assert summary["reviewed"]["user"] == "otto" and summary["reviewed"]["note"] == "fine"
        ctx = client.app.state.ctx
        entries, _ = ctx.audit.query(action="view")
    assert entries == []  # the replay's timeline logs the view, the heading does not
