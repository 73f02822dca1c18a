"""The admin API end to end through the real app: sign-in, CSRF, roles, throttling,
recordings, reviews, bookmarks, deletion, share links and the audit trail they leave."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from storage_builders import write_session

from fastrec.server.auth import CSRF_HEADER, SESSION_COOKIE
from fastrec.server.config import ServerSettings
from fastrec.storage.deletions import read_deletions
from fastrec.storage.index import INDEX_FILE, RecordingIndex
from fastrec.storage.metadata import read_metadata

Client = Callable[[str | None], TestClient]


@pytest.fixture
def server_settings(recordings: Path, database_url: str | None) -> ServerSettings:
    """The whole API on each back-end: SQLite files (the default) and PostgreSQL."""
    return ServerSettings(recordings_dir=recordings, database_url=database_url)


@pytest.fixture
def session(recordings: Path, app) -> list:
    made = write_session(recordings, 3, session_id="rdp_42", server="Billing DB", user="carol", ip="10.1.2.3")
    app.state.ctx.catalogue.refresh()
    return made


def audit_actions(client_for: Client, **filters: str) -> list[dict]:
    return client_for("root").get("/api/audit", params=filters).json()["entries"]


def test_everything_needs_a_sign_in(client_for: Client) -> None:
    anonymous = client_for(None)
    for path in ("/api/recordings", "/api/recordings/x", "/api/audit", "/api/users", "/api/shares",
                 "/api/recordings/x/playlist.m3u8", "/api/recordings/x/parts/1/video.mp4"):
        response = anonymous.get(path)
        assert response.status_code == 401, path
        assert response.json()["detail"].startswith("sign in first")


def test_session_cookie_is_httponly_and_strict(client_for: Client) -> None:
    client = TestClient(client_for(None).app)
    response = client.post("/api/auth/login", json={"username": "alice", "password": "correct horse battery"})
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in session and "SameSite=strict" in session
    assert response.json()["user"]["role"] == "auditor"
    assert client.post("/api/auth/logout").status_code == 204
    assert client.get("/api/auth/me").status_code == 401


def test_state_changes_need_the_csrf_header(client_for: Client, session: list) -> None:
    alice = client_for("alice")
    token = alice.headers.pop(CSRF_HEADER)
    refused = alice.post("/api/recordings/rdp_42/reviews", json={"note": "ok"})
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
    alice.headers[CSRF_HEADER] = token
    assert alice.post("/api/recordings/rdp_42/reviews", json={"note": "ok"}).status_code == 201


def test_api_tokens_work_without_cookies_or_csrf(client_for: Client, session: list) -> None:
    created = client_for("alice").post("/api/tokens", json={"label": "script"}).json()
    script = TestClient(client_for(None).app, headers={"Authorization": f"Bearer {created['token']}"})
    assert script.get("/api/recordings").json()["total"] == 1
    assert script.post("/api/recordings/rdp_42/reviews", json={"note": "by script"}).status_code == 201
    client_for("alice").delete(f"/api/tokens/{created['id']}")
    assert script.get("/api/recordings").status_code == 401


def test_roles(client_for: Client, session: list) -> None:
    victor, alice = client_for("victor"), client_for("alice")
    assert victor.get("/api/recordings").status_code == 200
    assert victor.post("/api/recordings/rdp_42/reviews", json={}).status_code == 403
    assert victor.post("/admin/session-recordings/share/rdp_42", json={"expiresIn": "1h"}).status_code == 403
    assert alice.post("/api/recordings/delete", json={"session_ids": ["rdp_42"]}).status_code == 403
    assert alice.get("/api/audit").status_code == 403 and alice.get("/api/users").status_code == 403
    denied = victor.get("/api/users").json()["detail"]
    assert denied == "role viewer may not do this (needs admin)"


def test_failed_logins_are_throttled_and_audited(client_for: Client, app) -> None:
    client = client_for(None)
    for _ in range(5):
        assert client.post("/api/auth/login", json={"username": "root", "password": "guess"}).status_code == 401
    blocked = client.post("/api/auth/login", json={"username": "root", "password": "correct horse battery"})
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    # another address is not locked out of the account (nobody can lock an admin out)
    elsewhere = TestClient(app, client=("10.0.0.2", 5000))
    assert elsewhere.post("/api/auth/login", json={"username": "root", "password": "correct horse battery"}) \
        .status_code == 200
    failures, total = app.state.ctx.audit.query(action="login", status="failure")
    assert total == 5 and failures[0].actor == "root" and failures[0].address == "testclient"
    assert app.state.ctx.audit.query(action="login", status="denied")[1] == 1


def test_list_search_and_filter(client_for: Client, recordings: Path, session: list, app) -> None:
    write_session(recordings, 1, session_id="rdp_7", con_codigo=7, server="Web Front", user="dave", ip="10.9.9.9")
    app.state.ctx.catalogue.refresh()
    viewer = client_for("victor")
    everything = viewer.get("/api/recordings").json()
    assert everything["total"] == 2
    assert [s["session_id"] for s in viewer.get("/api/recordings", params={"user": "CAROL"}).json()["sessions"]] \
        == ["rdp_42"]
    assert viewer.get("/api/recordings", params={"ip": "10.9.9.9"}).json()["sessions"][0]["session_id"] == "rdp_7"
    assert viewer.get("/api/recordings", params={"q": "billing"}).json()["total"] == 1
    assert viewer.get("/api/recordings", params={"since": "2099-01-01T00:00:00Z"}).json()["total"] == 0
    bad = viewer.get("/api/recordings", params={"limit": 0})
    assert bad.status_code == 422 and "limit" in bad.text


def test_detail_shows_integrity_reviews_and_bookmarks(client_for: Client, session: list) -> None:
    alice = client_for("alice")
    alice.post("/api/recordings/rdp_42/reviews", json={"note": "PCI review Q4"})
    start = session[0][2].start_time.isoformat()
    assert alice.post("/api/recordings/rdp_42/bookmarks", json={"moment": start, "note": "login"}).status_code == 201
    detail = client_for("victor").get("/api/recordings/rdp_42").json()
    assert detail["integrity"]["ok"] is True and len(detail["segments"]) == 3
    assert detail["reviews"][0]["user"] == "alice" and detail["reviews"][0]["note"] == "PCI review Q4"
    assert detail["session"]["reviewed"]["user"] == "alice"
    assert detail["bookmarks"][0]["note"] == "login"
    # an id beyond SQLite's integers is a bad request, not a server error (found by schemathesis)
    huge = alice.delete(f"/api/recordings/rdp_42/bookmarks/{2**70}")
    assert huge.status_code == 422 and "bookmark_id" in huge.json()["detail"]
    # a part changed on disk is reported
    video = session[1][0]
    video.write_bytes(video.read_bytes() + b"x")
    detail = client_for("victor").get("/api/recordings/rdp_42").json()
    assert detail["integrity"]["ok"] is False
    assert [p["status"] for p in detail["integrity"]["parts"]][1] == "modified"
    assert client_for("victor").get("/api/recordings/nope").status_code == 404


def test_delete_is_admin_only_recorded_and_audited(client_for: Client, session: list, recordings: Path) -> None:
    root = client_for("root")
    result = root.post("/api/recordings/delete", json={"session_ids": ["rdp_42", "ghost"], "reason": "test"}).json()
    assert result == {"deleted": ["rdp_42"], "not_found": ["ghost"], "refused": {}}
    assert not any(p.exists() for made in session for p in made[:2])
    record = read_deletions(recordings)[0]
    assert record.by == "root" and [p.sha256 for p in record.parts] == [m.file.sha256 for _, _, m in session]
    assert root.get("/api/recordings").json()["total"] == 0
    assert audit_actions(client_for, action="delete")[0]["target"] == "rdp_42"


def test_video_is_served_with_ranges_and_never_outside_the_directory(
        client_for: Client, session: list, recordings: Path, tmp_path: Path) -> None:
    viewer = client_for("victor")
    whole = session[0][0].read_bytes()
    partial = viewer.get("/api/recordings/rdp_42/parts/1/video.mp4", headers={"Range": "bytes=10-19"})
    assert partial.status_code == 206 and partial.content == whole[10:20]
    assert viewer.get("/api/recordings/rdp_42/parts/9/video.mp4").status_code == 404
    # an index entry naming a file elsewhere (a tampered index) is never served
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"not a recording")
    meta = read_metadata(session[2][1])
    meta.session_id, meta.chain.part = "planted", 1
    with RecordingIndex(recordings / INDEX_FILE) as index:
        index.add(meta, secret)
    assert viewer.get("/api/recordings/planted/parts/1/video.mp4").status_code == 404
    # a link put in place of a part is not followed
    session[1][0].unlink()
    session[1][0].symlink_to(secret)
    assert viewer.get("/api/recordings/rdp_42/parts/2/video.mp4").status_code == 404


def test_share_link_life_cycle(client_for: Client, session: list, app) -> None:
    alice = client_for("alice")
    created = alice.post("/admin/session-recordings/share/rdp_42", json={"expiresIn": "7d"}).json()
    assert created["url"].endswith("/admin/session-recordings/shared/" + created["token"])
    stranger = TestClient(app, headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120"})
    page = stranger.get(f"/admin/session-recordings/shared/{created['token']}")
    assert page.status_code == 200 and 'data-mode="shared"' in page.text
    assert stranger.get(f"/api/shared/{created['token']}/recording").json()["session_id"] == "rdp_42"
    assert stranger.get(f"/api/shared/{created['token']}/parts/1/video.mp4").status_code == 200
    assert stranger.get("/api/recordings").status_code == 401  # the link opens one recording only
    listed = alice.get("/api/shares", params={"session_id": "rdp_42"}).json()
    assert listed[0]["id"] == created["id"] and listed[0]["state"] == "valid"
    alice.delete(f"/api/shares/{created['id']}")
    refused = stranger.get(f"/admin/session-recordings/shared/{created['token']}")
    assert refused.status_code == 410 and "revoked" in refused.text and "<video" not in refused.text
    assert stranger.get(f"/api/shared/{created['token']}/parts/1/video.mp4").status_code == 410
    unknown = stranger.get("/admin/session-recordings/shared/nonsense")
    assert unknown.status_code == 404 and "not valid" in unknown.text
    accesses = audit_actions(client_for, action="share.access")
    assert [a["status"] for a in accesses][:2] == ["denied", "denied"] and accesses[-1]["status"] == "success"
    assert accesses[-1]["device_type"] == "desktop" and accesses[-1]["target"] == "rdp_42"


def test_expired_share_link_is_refused(client_for: Client, session: list, app) -> None:
    created = client_for("alice").post("/admin/session-recordings/share/rdp_42", json={"expiresIn": "1h"}).json()
    with app.state.ctx.db.write() as conn:
        conn.execute("UPDATE share_links SET expires_at = 0")
    page = TestClient(app).get(f"/admin/session-recordings/shared/{created['token']}")
    assert page.status_code == 410 and "expired" in page.text


def test_bad_share_request_names_the_allowed_values(client_for: Client, session: list) -> None:
    response = client_for("alice").post("/admin/session-recordings/share/rdp_42", json={"expiresIn": "2h"})
    assert response.status_code == 422 and "1h" in response.text and "never" in response.text
    assert client_for("alice").post("/admin/session-recordings/share/ghost", json={}).status_code == 404


def test_users_are_managed_by_admins(client_for: Client) -> None:
    root = client_for("root")
    assert root.post("/api/users", json={"name": "newbie", "password": "longenough1"}).status_code == 201
    assert root.post("/api/users", json={"name": "newbie", "password": "longenough1"}).status_code == 409
    assert root.patch("/api/users/newbie", json={"role": "auditor"}).json()["role"] == "auditor"
    last = root.patch("/api/users/root", json={"role": "viewer"})
    assert last.status_code == 409 and "last enabled admin" in last.json()["detail"]
    assert root.delete("/api/users/newbie").status_code == 204
    assert [e["action"] for e in audit_actions(client_for, target="newbie")] == \
        ["user.delete", "user.update", "user.create"]


def test_audit_export(client_for: Client) -> None:
    root = client_for("root")
    csv_export = root.get("/api/audit/export", params={"format": "csv"})
    assert csv_export.headers["content-type"].startswith("text/csv")
    assert csv_export.text.splitlines()[0].startswith("id,at,actor,actor_type,action")
    assert root.get("/api/audit/export", params={"format": "json"}).json()[0]["action"] == "login"
