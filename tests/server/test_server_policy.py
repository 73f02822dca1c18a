"""The recording policy through the API: read (auditor), validate, save and roll back
(admin), the diff, the errors (422 with the line, 404, 409), and the audit log."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from fastrec.policy.document import DEFAULT_POLICY_TEXT
from fastrec.policy.store import PolicyStore

Client = Callable[[str | None], TestClient]

INTERNAL = """\
connections:
  default: skip
  rules:
    - name: internal
      action: record
      ip: 10.0.0.0/8
"""
WITH_LAB = INTERNAL + "    - name: lab\n      action: record\n      server: lab-*\n"


def test_policy_round_trip_through_the_api(client_for: Client, app) -> None:
    admin, auditor = client_for("root"), client_for("alice")
    active = auditor.get("/api/policy").json()
    assert (active["version"], active["active"], active["text"], active["created_at"]) == (0, True, DEFAULT_POLICY_TEXT,
                                                                                        None)
    assert auditor.get("/api/policy/versions").json() == []

    first = admin.post("/api/policy", json={"text": INTERNAL, "comment": "only internal", "base_version": 0})
    assert first.status_code == 201, first.text
    assert {k: first.json()[k] for k in ("version", "author", "comment", "active", "rolled_back_from")} == {
        "version": 1, "author": "root", "comment": "only internal", "active": True, "rolled_back_from": None}
    second = admin.post("/api/policy", json={"text": WITH_LAB, "comment": "and the lab", "base_version": 1})
    assert second.status_code == 201 and second.json()["version"] == 2

    versions = auditor.get("/api/policy/versions").json()
    assert [(v["version"], v["active"]) for v in versions] == [(1, False), (2, True)] and "text" not in versions[0]
    assert auditor.get("/api/policy/versions/1").json()["text"] == INTERNAL
    diff = auditor.get("/api/policy/diff", params={"from": 1, "to": 2}).json()
    assert (diff["from_version"], diff["to_version"], diff["additions"], diff["deletions"]) == (1, 2, 3, 0)
    assert [line["text"] for line in diff["lines"] if line["kind"] == "add"] == [
        "    - name: lab", "      action: record", "      server: lab-*"]
    assert diff["lines"][0] == {"kind": "equal", "text": "connections:", "old": 1, "new": 1}

    rolled = admin.post("/api/policy/rollback", json={"version": 1, "comment": "no lab", "base_version": 2})
    assert rolled.status_code == 201, rolled.text
    assert (rolled.json()["version"], rolled.json()["rolled_back_from"], rolled.json()["text"]) == (3, 1, INTERNAL)
    assert auditor.get("/api/policy").json()["version"] == 3

    # every change is in the audit log, with who, the comment and the lines changed
    entries = admin.get("/api/audit", params={"action": "policy.save"}).json()["entries"]
    assert [(e["actor"], e["target"], e["details"]["comment"]) for e in entries] == [
        ("root", "policy:v2", "and the lab"), ("root", "policy:v1", "only internal")]
    assert entries[0]["details"]["additions"] == 3 and entries[0]["details"]["replaced"] == 1
    (rollback,) = admin.get("/api/audit", params={"action": "policy.rollback"}).json()["entries"]
    assert rollback["details"]["rolled_back_from"] == 1 and rollback["target"] == "policy:v3"

    # the recorders read the same store
    with PolicyStore(app.state.ctx.settings.recordings_dir) as store:
        assert store.active().text == INTERNAL and store.active().version == 3


def test_an_invalid_document_is_a_422_with_the_line_and_never_saved(client_for: Client) -> None:
    admin = client_for("root")
    bad = "connections:\n  default: skip\n  rules:\n    - action: record\n      ip: 10.0.0.300/8\n"
    for path in ("/api/policy/validate", "/api/policy"):
        response = admin.post(path, json={"text": bad, "comment": "typo"} if path == "/api/policy" else {"text": bad})
        assert response.status_code == 422
        body = response.json()
        assert (body["line"], body["column"]) == (5, 7)
        assert body["detail"].startswith("line 5: connections.rules[0].ip[0]: '10.0.0.300/8' is not an IP address")
    assert admin.get("/api/policy/versions").json() == []
    (refused,) = admin.get("/api/audit", params={"action": "policy.save"}).json()["entries"]
    assert refused["status"] == "failure" and refused["details"]["reason"].startswith("line 5:")
    ok = admin.post("/api/policy/validate", json={"text": INTERNAL}).json()
    assert ok == {"valid": True, "default_action": "skip", "connection_rules": 1, "privacy_rules": 0, "presets": []}


def test_conflicts_and_unknown_versions(client_for: Client) -> None:
    admin = client_for("root")
    assert admin.post("/api/policy", json={"text": INTERNAL, "comment": "v1"}).status_code == 201
    stale = admin.post("/api/policy", json={"text": WITH_LAB, "comment": "on v0", "base_version": 0})
    assert stale.status_code == 409 and "version 1 was saved since version 0" in stale.json()["detail"]
    same = admin.post("/api/policy", json={"text": INTERNAL, "comment": "again"})
    assert same.status_code == 409 and "active policy already (version 1)" in same.json()["detail"]
    assert admin.get("/api/policy/versions/5").status_code == 404
    missing = admin.get("/api/policy/diff", params={"from": 1, "to": 9})
    assert missing.status_code == 404 and "version=9: no such policy version" in missing.json()["detail"]
    assert admin.post("/api/policy/rollback", json={"version": 9, "comment": "x"}).status_code == 404
    blank = admin.post("/api/policy", json={"text": WITH_LAB, "comment": "   "})
    assert blank.status_code == 422 and "comment must not be empty" in blank.json()["detail"]
    # version 0 is the default policy: it can be compared and rolled back to
    assert admin.get("/api/policy/versions/0").json()["text"] == DEFAULT_POLICY_TEXT
    reset = admin.post("/api/policy/rollback", json={"version": 0, "comment": "record everything"})
    assert reset.status_code == 201 and reset.json()["text"] == DEFAULT_POLICY_TEXT


def test_admins_change_auditors_read_viewers_do_not_see(client_for: Client) -> None:
    auditor, viewer, anonymous = client_for("alice"), client_for("victor"), client_for(None)
    assert auditor.get("/api/policy").status_code == 200
    assert auditor.post("/api/policy/validate", json={"text": INTERNAL}).status_code == 200
    assert auditor.post("/api/policy", json={"text": INTERNAL, "comment": "mine"}).status_code == 403
    assert auditor.post("/api/policy/rollback", json={"version": 0, "comment": "mine"}).status_code == 403
    assert viewer.get("/api/policy").status_code == 403
    assert viewer.get("/api/policy/versions").status_code == 403
    assert anonymous.get("/api/policy").status_code == 401
    # a browser session must send the CSRF header to change anything
    admin = client_for("root")
    del admin.headers["X-CSRF-Token"]
    assert admin.post("/api/policy", json={"text": INTERNAL, "comment": "no csrf"}).status_code == 403


def test_the_policy_permissions_decide_who_views_exports_and_shares(client_for: Client, app) -> None:
    admin, auditor, viewer = client_for("root"), client_for("alice"), client_for("victor")
    # the defaults: everyone views, auditors and admins export and share
    assert viewer.get("/api/ui-config").json()["permissions"] == ["view"]
    assert auditor.get("/api/ui-config").json()["permissions"] == ["view", "export", "share"]
    assert viewer.get("/api/recordings").status_code == 200
    assert auditor.post("/api/recordings/nope/exports", json={"format": "json"}).status_code == 404

    narrow = "permissions:\n  view: [auditor, admin]\n  export: [admin]\n  share: [admin]\n"
    saved = admin.post("/api/policy", json={"text": narrow, "comment": "audit only", "base_version": 0})
    assert saved.status_code == 201, saved.text
    refused = viewer.get("/api/recordings")
    assert refused.status_code == 403
    assert refused.json()["detail"] == ("role viewer may not view recordings: the recording policy (version 1) "
                                        "allows auditor, admin")
    assert viewer.get("/api/recordings/nope/timeline").status_code == 403
    assert auditor.get("/api/recordings").status_code == 200
    export = auditor.post("/api/recordings/nope/exports", json={"format": "json"})
    assert export.status_code == 403 and "may not export" in export.json()["detail"]
    share = auditor.post("/admin/session-recordings/share/nope", json={"expiresIn": "1h"})
    assert share.status_code == 403 and "may not share" in share.json()["detail"]
    assert admin.post("/api/recordings/nope/exports", json={"format": "json"}).status_code == 404  # allowed: no such
    assert auditor.get("/api/ui-config").json()["permissions"] == ["view"]
    assert viewer.get("/api/ui-config").json()["permissions"] == []
