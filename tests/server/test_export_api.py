"""Exports through the admin API on a real multi-part recording (media_recording): a job
started by an auditor, followed to 100 %, downloaded, audit-logged; refusals in the API's
one error shape."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from export_helpers import plays_through, probe
from media_recording import SESSION, Recorded, recorded  # noqa: F401
from polling import wait_for

from fastrec.export.document import SessionExport


@pytest.fixture
def recordings(tmp_path: Path, recorded: Recorded) -> Path:  # noqa: F811 - the server's directory: a copy
    folder = tmp_path / "recordings"
    shutil.copytree(recorded.directory, folder)
    return folder


def _finished(client, job_id: str) -> dict:
    def state() -> dict | None:
        body = client.get(f"/api/exports/{job_id}").json()
        return body if body["state"] in ("done", "failed") else None

    return wait_for(state, 120, "the export job to finish")


def test_an_auditor_exports_a_range_as_mp4_follows_it_to_100_and_downloads_it(app, client_for, tmp_path: Path):
    alice = client_for("alice")
    started = alice.post(f"/api/recordings/{SESSION}/exports", json={"format": "mp4", "from": "1", "to": "5"})
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["state"] in ("queued", "running", "done") and job["requested_by"] == "alice"
    done = _finished(alice, job["id"])
    assert done["state"] == "done", done
    assert done["progress"] == 100 and done["download"] == f"/api/exports/{job['id']}/file"
    fetched = alice.get(done["download"])
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "video/mp4"
    disposition = fetched.headers["content-disposition"]
    assert disposition.startswith("attachment;") and done["file_name"] in disposition and ".mp4" in disposition
    target = tmp_path / "download.mp4"
    target.write_bytes(fetched.content)
    assert plays_through(target) == ""
    assert float(probe(target)["format"]["duration"]) == pytest.approx(4.0, abs=0.1)
    audit = app.state.ctx.audit
    requested, _ = audit.query(action="export.requested", target=SESSION)
    downloaded, _ = audit.query(action="export.downloaded", target=SESSION)
    assert [(e.actor, e.details["format"], e.details["from"], e.details["to"]) for e in requested] == [
        ("alice", "mp4", "1", "5")]
    assert [(e.actor, e.details["job"], e.details["bytes"]) for e in downloaded] == [
        ("alice", job["id"], len(fetched.content))]


def test_a_json_export_through_the_api_is_the_documented_model(client_for):
    alice = client_for("alice")
    job = alice.post(f"/api/recordings/{SESSION}/exports", json={"format": "json"}).json()
    done = _finished(alice, job["id"])
    document = SessionExport.model_validate_json(alice.get(done["download"]).content)
    assert document.session_id == SESSION and all(s.sha256 for s in document.segments)


def test_refusals_name_the_field_and_the_value(app, client_for):
    alice, victor, root = client_for("alice"), client_for("victor"), client_for("root")
    assert victor.post(f"/api/recordings/{SESSION}/exports", json={"format": "mp4"}).status_code == 403
    bad = alice.post(f"/api/recordings/{SESSION}/exports", json={"format": "mp4", "from": "lunchtime"})
    assert bad.status_code == 422 and "from='lunchtime'" in bad.json()["detail"]
    ranged_json = alice.post(f"/api/recordings/{SESSION}/exports", json={"format": "json", "to": "3"})
    assert ranged_json.status_code == 422 and "JSON export is always the whole session" in ranged_json.json()["detail"]
    missing = alice.post("/api/recordings/nobody/exports", json={"format": "pdf"})
    assert missing.status_code == 404 and "nobody" in missing.json()["detail"]
    # a range after the session's end: the job fails and says why; there is no file
    job = alice.post(f"/api/recordings/{SESSION}/exports", json={"format": "mp4", "from": "86400"}).json()
    failed = _finished(alice, job["id"])
    assert failed["state"] == "failed" and "after the end of the session" in failed["error"]
    conflict = alice.get(f"/api/exports/{job['id']}/file")
    assert conflict.status_code == 409 and "failed" in conflict.json()["detail"]
    # a job is alice's (and the admins'): to another user it does not exist
    assert root.get(f"/api/exports/{job['id']}").status_code == 200
    app.state.ctx.accounts.create_user("bob", "another long password", "auditor")
    token = app.state.ctx.accounts.create_token("bob", "export test")[1]
    as_bob = client_for(None).get(f"/api/exports/{job['id']}", headers={"Authorization": f"Bearer {token}"})
    assert as_bob.status_code == 404
    assert alice.get("/api/exports/not-a-job").status_code == 404
