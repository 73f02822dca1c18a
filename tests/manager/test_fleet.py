"""A fleet (issue 13): two gateways, each a RecordingManager with its own recordings
directory and its own prefix in one S3-compatible bucket (moto's server on loopback), one
PostgreSQL database (a private cluster) for the index, one Redis for live events, one
signing key ring; and one admin server over the same database and Redis.

What it proves: both gateways' sessions are announced live to the admin server, listed by
it from the shared index, moved to the store with their hashes; the admin server (its own
directory, FASTREC_S3_FLEET_URLS naming both prefixes) replays them (playlist, HTTP range
reads of the stored parts), exports them as MP4 and verifies them (signatures checked)
from the store; retention on each gateway removes them from the store with a signed
tombstone that ``verify`` reports, and the admin server no longer lists them.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from s3_server import Bucket, s3_bucket, s3_server  # noqa: F401 - fixtures
from x11_windows import wait_until

from fastrec.engine.protocol import SegmentPolicy
from fastrec.manager import RecordingManager
from fastrec.server.app import create_app
from fastrec.server.config import ServerSettings
from fastrec.settings import load_settings
from fastrec.storage import iter_metadata, verify_session
from fastrec.storage.index import INDEX_FILE, RecordingIndex
from fastrec.storage.metadata import SegmentMetadata
from fastrec.storage.objectstore import ObjectStore
from fastrec.storage.retention import RotationManager
from fastrec.storage.signing import KEY_ENV, KEY_FILE_ENV
from fastrec.storage.videos import use_store

PASSWORD = "correct horse battery"
SYNTHETIC = {"width": 320, "height": 240, "fps": 10, "scenario": "typing"}
GATEWAYS = {"gateway-1/": ("fleet_a", 41), "gateway-2/": ("fleet_b", 42)}


def _parts(out: Path, session: str) -> list[SegmentMetadata]:
    found = [m for _, m in iter_metadata(out) if isinstance(m, SegmentMetadata) and m.session_id == session]
    return sorted(found, key=lambda m: m.chain.part)


def _gateway(out: Path, bucket: Bucket, postgres_url: str, redis_url: str) -> RecordingManager:
    settings = load_settings(enabled=True, output_dir=str(out), encoder_workers=1, fps=10,
                             s3_url=bucket.url, s3_endpoint_url=bucket.server.endpoint,
                             database_url=postgres_url, redis_url=redis_url)
    return RecordingManager(settings, mode="synthetic", source_options=SYNTHETIC,
                            segment_policy=SegmentPolicy(max_seconds=1.0), cleanup_schedule=False)


def _uploaded(manager: RecordingManager, parts: int) -> bool:
    uploads = manager.get_recording_status()["uploads"]
    return uploads["uploaded_segments"] >= parts and uploads["backlog_segments"] == 0


def test_two_gateways_one_admin_server(s3_bucket: Bucket, postgres_url: str, redis_url: str, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch):
    ring = tmp_path / "keys" / "signing.json"
    ring.parent.mkdir(mode=0o700)
    made = subprocess.run([sys.executable, "-m", "fastrec", "keys", "init", "--file", str(ring)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0, made.stderr
    monkeypatch.setenv(KEY_FILE_ENV, str(ring))  # every gateway and the admin server share the ring
    monkeypatch.delenv(KEY_ENV, raising=False)

    buckets = {prefix: dataclasses.replace(s3_bucket, prefix=prefix) for prefix in GATEWAYS}
    outs = {prefix: tmp_path / prefix.strip("/") for prefix in GATEWAYS}
    app = create_app(ServerSettings(recordings_dir=tmp_path / "admin", database_url=postgres_url,
                                    redis_url=redis_url, s3_endpoint_url=s3_bucket.server.endpoint,
                                    s3_fleet_urls=",".join(b.url for b in buckets.values())))
    managers: dict[str, RecordingManager] = {}
    started: set[str] = set()
    with TestClient(app) as client:
        app.state.ctx.accounts.create_user("alice", PASSWORD, "admin")
        assert client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD}).status_code == 200
        try:
            with client.websocket_connect("/admin/sessions/live") as socket:
                assert socket.receive_json()["type"] == "sessions_snapshot"
                for prefix, (session, code) in GATEWAYS.items():
                    managers[prefix] = _gateway(outs[prefix], buckets[prefix], postgres_url, redis_url)
                    assert managers[prefix].start_session_recording(
                        session, {"con_codigo": code, "name": f"srv-{code}", "user": "bob", "ip": f"10.0.0.{code}"})
                while started != {s for s, _ in GATEWAYS.values()}:  # the test's timeout guards a hang
                    message = socket.receive_json()
                    if message["type"] in ("session_started", "session_updated"):
                        started.add(message["session"]["session_id"])
            for prefix, (session, _) in GATEWAYS.items():
                manager = managers[prefix]
                assert wait_until(lambda m=manager, s=session: m.get_recording_status(s).get("segments", 0) >= 3, 90)
                assert manager.stop_session_recording(session)
                assert manager.wait_for_session(session, 60)
                assert wait_until(lambda m=manager, p=prefix, s=session: _uploaded(m, len(_parts(outs[p], s))), 90), \
                    manager.get_recording_status()["uploads"]
        finally:
            for manager in managers.values():
                manager.shutdown()

        # the admin server lists both gateways' sessions from the shared index
        listed = client.get("/api/recordings").json()
        by_id = {row["session_id"]: row for row in listed["sessions"]}
        for prefix, (session, code) in GATEWAYS.items():
            assert by_id[session]["server"] == f"srv-{code}"
            assert by_id[session]["parts"] == len(_parts(outs[prefix], session))
        for prefix, (session, _) in GATEWAYS.items():
            _replay_export_verify(client, session, _parts(outs[prefix], session), buckets[prefix], tmp_path)

        for prefix, (session, _) in GATEWAYS.items():
            out, bucket = outs[prefix], buckets[prefix]
            parts = _parts(out, session)
            for meta in parts:  # in the gateway's own prefix, with the sealed hash; not left on disk
                assert bucket.sha256(meta.file.name) == meta.file.sha256
                assert not (out / meta.file.name).exists()
            store = ObjectStore(bucket.url, bucket.server.endpoint)
            use_store(out, store)
            try:
                report = verify_session(out, session)
                assert report.ok and report.signatures_checked, report.summary
                # retention, ten days on: the objects go, a signed tombstone stays
                index = RecordingIndex(out / INDEX_FILE, out, database_url=postgres_url)
                try:
                    retention = RotationManager(out, 10.0, 1.0, clock=lambda: time.time() + 10 * 86400,
                                                recording_grace_seconds=0, store=store, on_deleted=index.remove)
                    assert retention.perform_cleanup()["deleted_segments"] == len(parts)
                finally:
                    index.close()
                assert not [k for k in s3_bucket.keys() if k.startswith(prefix)]
                after = verify_session(out, session)
                assert after.ok and {c.status for c in after.segments} == {"deleted"}, after.summary
                assert all(c.notes[0].startswith("deleted by retention on ") for c in after.segments)
            finally:
                use_store(out, None)
        # the admin server sees what retention did on the gateways
        assert client.get("/api/recordings").json()["sessions"] == []
        for session, _ in GATEWAYS.values():
            assert client.get(f"/api/recordings/{session}/playlist.m3u8").status_code == 404
        fleet = app.state.ctx.catalogue.fleet
        fleet.sync(force=True)  # its mirror follows the store: nothing of the deleted sessions is left
        assert not [p for folder in fleet.folders for p in folder.iterdir()]


def _replay_export_verify(client: TestClient, session: str, parts: list[SegmentMetadata], bucket: Bucket,
                          tmp_path: Path) -> None:
    """What an auditor does with another gateway's session on the admin server."""
    playlist = client.get(f"/api/recordings/{session}/playlist.m3u8")
    assert playlist.status_code == 200 and "#EXT-X-ENDLIST" in playlist.text
    assert f"/api/recordings/{session}/parts/{len(parts)}/video.mp4" in playlist.text
    for meta in parts:
        url = f"/api/recordings/{session}/parts/{meta.chain.part}/video.mp4"
        whole = bucket.read(meta.file.name)
        assert client.get(url).content == whole
        ranged = client.get(url, headers={"Range": "bytes=100-1099"})
        assert ranged.status_code == 206 and ranged.content == whole[100:1100]
    detail = client.get(f"/api/recordings/{session}").json()
    assert [s["part"] for s in detail["segments"]] == [m.chain.part for m in parts]
    integrity = detail["integrity"]
    assert integrity["ok"] and integrity["signatures_checked"], integrity["summary"]
    job = client.post(f"/api/recordings/{session}/exports", json={"format": "mp4"},
                      headers={"X-CSRF-Token": client.cookies.get("fastrec_csrf") or ""})
    assert job.status_code == 202, job.text
    status_url = f"/api/exports/{job.json()['id']}"
    assert wait_until(lambda: client.get(status_url).json()["state"] in ("done", "failed"), 120)
    assert client.get(status_url).json()["state"] == "done", client.get(status_url).json()
    exported = tmp_path / f"{session}.mp4"
    exported.write_bytes(client.get(f"{status_url}/file").content)
    frames = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0",
                             "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", str(exported)],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert int(frames) >= sum(m.frames.encoded for m in parts) - len(parts)


def test_a_bad_fleet_url_names_the_variable_and_what_is_allowed(tmp_path: Path):
    from fastrec.settings import SettingsError

    with pytest.raises(SettingsError) as caught:
        ServerSettings(recordings_dir=tmp_path, s3_fleet_urls="s3://fleet/gateway-1, http://minio/gateway-2")
    text = "\n".join(caught.value.messages)
    assert "FASTREC_S3_FLEET_URLS" in text and "http://minio/gateway-2" in text
    assert "allowed: s3://bucket/prefix, comma-separated" in text
