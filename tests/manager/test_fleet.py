"""A fleet (issue 13) as it is deployed: two gateways, each its own process (a host
application embedding the RecordingManager, tests/manager/_gateway_host.py) configured by
the environment alone, with its own recordings directory and its own prefix in one
S3-compatible bucket (moto's server on loopback); one PostgreSQL database (a private
cluster) for the index and the admin database; one Redis for live events; one signing key
ring; and one admin server, a real ``python -m fastrec serve`` process on 127.0.0.1 over
the same database, Redis and store (FASTREC_S3_FLEET_URLS naming both prefixes).

What it proves: both gateways' sessions are announced live on the admin server's
WebSocket, listed by it from the shared index, moved to the store with their hashes
(nothing left on the gateways' disks); the admin server replays them (playlist, HTTP range
reads of the stored parts), exports them as MP4 and verifies them (signatures checked)
from the store; ``python -m fastrec cleanup`` on each gateway removes them from the store
with a signed tombstone that ``python -m fastrec verify`` reports, and the admin server no
longer lists them nor keeps their mirrored metadata.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_jobs import Job, environment, fastrec, free_port
from polling import wait_until
from s3_server import Bucket, s3_bucket, s3_server  # noqa: F401 - fixtures

from fastrec.server.config import ServerSettings
from fastrec.storage import iter_metadata
from fastrec.storage.metadata import SegmentMetadata

PASSWORD = "correct horse battery"
GATEWAYS = {"gateway-1/": ("fleet_a", 41), "gateway-2/": ("fleet_b", 42)}
HOST = Path(__file__).with_name("_gateway_host.py")
WAIT = 120.0  # a hang guard for a loaded machine, not a timing assertion
AWS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")


def _parts(out: Path, session: str) -> list[SegmentMetadata]:
    found = [m for _, m in iter_metadata(out) if isinstance(m, SegmentMetadata) and m.session_id == session]
    return sorted(found, key=lambda m: m.chain.part)


class Gateway:
    """One gateway process; :meth:`ask` sends a command and returns its JSON answer."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.log = log  # its log lines (warnings and up), shown when it fails
        with open(log, "w") as errors:
            self.proc = subprocess.Popen([sys.executable, str(HOST)], cwd=cwd, env=environment(env), text=True,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                                         start_new_session=True)
        assert self._answer() == {"ready": True}, self.log.read_text()

    def _answer(self) -> Any:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"the gateway exited with {self.proc.wait(WAIT)}: {self.log.read_text()[-2000:]}"
        return json.loads(line)

    def ask(self, op: str, **fields: Any) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **fields}) + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def shutdown(self) -> int:
        assert self.ask("shutdown") == {"ok": True}
        return self.proc.wait(WAIT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(WAIT)


@pytest.fixture
def fleet_env(s3_bucket: Bucket, postgres_url: str, redis_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """What every part of the fleet shares: the database, Redis, the store's endpoint and
    credentials, the signing key ring."""
    ring = tmp_path / "keys" / "signing.json"
    ring.parent.mkdir(mode=0o700)
    made = fastrec("keys", "init", "--file", str(ring), cwd=tmp_path, timeout=WAIT)
    assert made.returncode == 0, made.stderr
    yield {"FASTREC_DATABASE_URL": postgres_url, "FASTREC_REDIS_URL": redis_url,
           "FASTREC_S3_ENDPOINT_URL": s3_bucket.server.endpoint, "FASTREC_SIGNING_KEY_FILE": str(ring),
           **{name: os.environ[name] for name in AWS}}


def test_two_gateway_processes_and_one_admin_server_process(s3_bucket: Bucket, fleet_env: dict[str, str],
                                                            tmp_path: Path):
    from websockets.sync.client import connect

    buckets = {prefix: dataclasses.replace(s3_bucket, prefix=prefix) for prefix in GATEWAYS}
    outs = {prefix: tmp_path / prefix.strip("/") for prefix in GATEWAYS}
    gateway_env = {prefix: {**fleet_env, "RECORDING_ENABLED": "true", "RECORDING_OUTPUT_DIR": str(outs[prefix]),
                            "RECORDING_ENCODER_WORKERS": "1", "RECORDING_FPS": "10",
                            "FASTREC_S3_URL": buckets[prefix].url} for prefix in GATEWAYS}
    admin_env = {**fleet_env, "RECORDING_OUTPUT_DIR": str(tmp_path / "admin"),
                 "FASTREC_S3_FLEET_URLS": ",".join(b.url for b in buckets.values())}
    # the first admin and an API token (the WebSocket client's credential), from the command line
    added = fastrec("users", "add", "alice", "--role", "admin", "--password-stdin", cwd=tmp_path, env=admin_env,
                    input=PASSWORD + "\n", timeout=WAIT)
    assert added.returncode == 0, added.stderr
    token = fastrec("users", "token", "alice", "--label", "fleet test", cwd=tmp_path, env=admin_env, timeout=WAIT)
    assert token.returncode == 0, token.stderr
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = Job("serve", "--host", "127.0.0.1", "--port", str(port), cwd=tmp_path, env=admin_env)
    gateways: dict[str, Gateway] = {}
    try:
        server.wait_for_stdout(r"^fastrec admin server: ", WAIT)
        with connect(f"ws://127.0.0.1:{port}/admin/sessions/live", open_timeout=WAIT,
                     additional_headers={"Authorization": f"Bearer {token.stdout.strip()}"}) as socket:
            assert json.loads(socket.recv(WAIT))["type"] == "sessions_snapshot"
            for prefix, (session, code) in GATEWAYS.items():
                gateways[prefix] = Gateway(gateway_env[prefix], tmp_path, tmp_path / f"{prefix.strip('/')}.log")
                connection = {"con_codigo": code, "name": f"srv-{code}", "user": "bob", "ip": f"10.0.0.{code}"}
                assert gateways[prefix].ask("start", session=session, connection=connection) == {"ok": True}
            started: set[str] = set()
            while started != {s for s, _ in GATEWAYS.values()}:  # WAIT guards a hang
                message = json.loads(socket.recv(WAIT))
                if message["type"] in ("session_started", "session_updated"):
                    started.add(message["session"]["session_id"])
        for prefix, (session, _) in GATEWAYS.items():
            gateway = gateways[prefix]
            assert wait_until(lambda g=gateway, s=session: g.ask("status", session=s).get("segments", 0) >= 3, WAIT)
            assert gateway.ask("stop", session=session) == {"ok": True}
            parts = len(_parts(outs[prefix], session))
            assert wait_until(lambda g=gateway, n=parts: _uploaded(g.ask("uploads"), n), WAIT), gateway.ask("uploads")
            assert gateway.shutdown() == 0

        for prefix, (session, _) in GATEWAYS.items():  # in each gateway's prefix, with the sealed hash; not on disk
            for meta in _parts(outs[prefix], session):
                assert buckets[prefix].sha256(meta.file.name) == meta.file.sha256
                assert not (outs[prefix] / meta.file.name).exists()
        with httpx.Client(base_url=base, timeout=WAIT) as client:
            assert client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD}).status_code == 200
            # the admin server lists both gateways' sessions from the shared index
            by_id = {row["session_id"]: row for row in client.get("/api/recordings").json()["sessions"]}
            for prefix, (session, code) in GATEWAYS.items():
                assert by_id[session]["server"] == f"srv-{code}"
                assert by_id[session]["parts"] == len(_parts(outs[prefix], session))
                _replay_export_verify(client, session, _parts(outs[prefix], session), buckets[prefix], tmp_path)

            for prefix, (session, _) in GATEWAYS.items():  # retention on each gateway, from its command line
                parts = _parts(outs[prefix], session)
                before = _verify(session, gateway_env[prefix], tmp_path)
                assert before["ok"] and before["signatures_checked"], before
                cleaned = fastrec("cleanup", "--older-than", "0", "--json", cwd=tmp_path, env=gateway_env[prefix],
                                  timeout=WAIT)
                assert cleaned.returncode == 0, cleaned.stderr
                assert json.loads(cleaned.stdout)["deleted_segments"] == len(parts)
                assert not [k for k in s3_bucket.keys() if k.startswith(prefix)]  # the objects went
                after = _verify(session, gateway_env[prefix], tmp_path)  # a signed tombstone stays
                assert after["ok"] and {s["status"] for s in after["segments"]} == {"deleted"}, after
                assert all(s["notes"][0].startswith("deleted by retention on ") for s in after["segments"])

            # the admin server sees what retention did on the gateways, and its mirror follows the store
            mirror = tmp_path / "admin" / "fleet"
            assert wait_until(lambda: client.get("/api/recordings").json()["sessions"] == []
                              and not [p for p in mirror.rglob("*") if p.is_file()], WAIT)
            for session, _ in GATEWAYS.values():
                assert client.get(f"/api/recordings/{session}/playlist.m3u8").status_code == 404
        server.interrupt()
        code, _, stderr = server.finish(WAIT)
        assert code == 0 and "Traceback" not in stderr, stderr
    finally:
        for gateway in gateways.values():
            gateway.kill()
        server.kill()


def _uploaded(uploads: dict[str, Any], parts: int) -> bool:
    return uploads["uploaded_segments"] >= parts and uploads["backlog_segments"] == 0


def _verify(session: str, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """``python -m fastrec verify SESSION --json`` on a gateway (its parts read from the store)."""
    done = fastrec("verify", session, "--json", cwd=cwd, env=env, timeout=WAIT)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def _replay_export_verify(client: httpx.Client, session: str, parts: list[SegmentMetadata], bucket: Bucket,
                          tmp_path: Path) -> None:
    """What an auditor does with a gateway's session on the admin server."""
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
    assert wait_until(lambda: client.get(status_url).json()["state"] in ("done", "failed"), WAIT)
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


def test_an_encrypted_gateway_session_replays_on_the_fleet_admin_server(s3_bucket: Bucket, postgres_url: str,
                                                                      tmp_path: Path):
    """The session keys in the fleet's PostgreSQL, the KEK on both machines: the admin
    server decrypts another gateway's parts read from the store through its mirror."""
    from fastapi.testclient import TestClient

    from fastrec.engine.protocol import SegmentPolicy
    from fastrec.manager import RecordingManager
    from fastrec.server.app import create_app
    from fastrec.settings import load_settings

    kek = tmp_path / "kek"
    assert fastrec("keys", "init-encryption", "--key-file", str(kek), cwd=tmp_path, timeout=WAIT).returncode == 0
    out = tmp_path / "gateway"
    manager = RecordingManager(
        load_settings(enabled=True, output_dir=str(out), encoder_workers=1, fps=10, encryption_key_file=str(kek),
                      database_url=postgres_url, s3_url=s3_bucket.url, s3_endpoint_url=s3_bucket.server.endpoint,
                      live_announce=False),
        mode="synthetic", source_options={"width": 320, "height": 240, "fps": 10, "scenario": "typing"},
        segment_policy=SegmentPolicy(max_seconds=1.0), cleanup_schedule=False)
    try:
        assert manager.initialize() and manager.start_session_recording("sealed", {"name": "srv-enc"})
        assert wait_until(lambda: manager.get_recording_status("sealed").get("segments", 0) >= 2, WAIT)
        assert manager.stop_session_recording("sealed") and manager.wait_for_session("sealed", WAIT)
        parts = _parts(out, "sealed")
        assert wait_until(lambda: _uploaded(manager.get_recording_status()["uploads"], len(parts)), WAIT)
    finally:
        manager.shutdown()
    assert b"ftyp" not in s3_bucket.read(parts[0].file.name)  # ciphertext in the store
    app = create_app(ServerSettings(recordings_dir=tmp_path / "admin", database_url=postgres_url,
                                    encryption_key_file=kek, s3_endpoint_url=s3_bucket.server.endpoint,
                                    s3_fleet_urls=s3_bucket.url))
    with TestClient(app) as client:
        app.state.ctx.accounts.create_user("alice", PASSWORD, "admin")
        assert client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD}).status_code == 200
        for meta in parts:
            video = client.get(f"/api/recordings/sealed/parts/{meta.chain.part}/video.mp4")
            assert video.status_code == 200 and video.content[4:8] == b"ftyp", video.text[:200]
        playlist = client.get("/api/recordings/sealed/playlist.m3u8")
        assert playlist.status_code == 200 and "#EXT-X-ENDLIST" in playlist.text
