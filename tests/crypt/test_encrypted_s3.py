"""Encrypted recordings in S3-compatible object storage (moto's server on loopback): the
bucket holds ciphertext only, and the admin server replays and exports the parts from the
bucket, decrypting in memory."""

from __future__ import annotations

import io
from pathlib import Path

import av
from cli_jobs import fastrec
from fastapi.testclient import TestClient
from polling import wait_until
from s3_server import Bucket, s3_bucket, s3_server  # noqa: F401 - fixtures

from fastrec.engine.protocol import SegmentPolicy
from fastrec.manager import RecordingManager
from fastrec.server.app import create_app
from fastrec.server.auth import CSRF_COOKIE, CSRF_HEADER
from fastrec.server.config import ServerSettings
from fastrec.settings import load_settings
from fastrec.storage import iter_metadata
from fastrec.storage.metadata import SegmentMetadata

SMALL = {"width": 320, "height": 240, "fps": 10, "scenario": "video"}
CONNECTION = {"con_codigo": 4, "ip": "10.0.0.4", "name": "Cloud", "user": "auditor", "connection_type": "RDP"}
FINISH = 90  # a hang guard for waits on a state, not a timing assertion
PASSWORD = "correct horse battery"


def test_an_encrypted_session_uploaded_to_the_store_is_ciphertext_there_and_replays(
        tmp_path: Path, s3_bucket: Bucket) -> None:  # noqa: F811
    key_file = tmp_path / "kek"
    assert fastrec("keys", "init-encryption", "--key-file", str(key_file), cwd=tmp_path).returncode == 0
    out = tmp_path / "rec"
    settings = load_settings(enabled=True, output_dir=str(out), encoder_workers=1, fps=10,
                             keyframe_interval_seconds=1.0, encryption_key_file=str(key_file),
                             s3_url=s3_bucket.url, s3_endpoint_url=s3_bucket.server.endpoint)
    manager = RecordingManager(settings, mode="synthetic", source_options=SMALL, cleanup_schedule=False,
                               segment_policy=SegmentPolicy(max_seconds=2.0))
    try:
        assert manager.initialize()
        assert manager.start_session_recording("cloud", CONNECTION)
        assert wait_until(lambda: manager.get_recording_status("cloud")["segments"] >= 2, FINISH)
        assert manager.stop_session_recording("cloud")
        assert manager.wait_for_session("cloud", FINISH)
        parts = sorted((m for _, m in iter_metadata(out) if isinstance(m, SegmentMetadata)),
                       key=lambda m: m.chain.part)
        uploads = lambda: manager.get_recording_status()["uploads"]  # noqa: E731
        assert wait_until(lambda: uploads()["uploaded_segments"] == len(parts) and uploads()["backlog_segments"] == 0,
                          FINISH), uploads()
    finally:
        manager.shutdown()
    assert not list(out.glob("*.mp4"))  # moved to the bucket
    for meta in parts:
        stored = s3_bucket.read(meta.file.name)
        assert b"ftyp" not in stored and b"moof" not in stored
    app = create_app(ServerSettings(recordings_dir=out, encryption_key_file=key_file, s3_url=s3_bucket.url,
                                    s3_endpoint_url=s3_bucket.server.endpoint))
    with TestClient(app) as client:
        app.state.ctx.accounts.create_user("root", PASSWORD, "admin")
        assert client.post("/api/auth/login", json={"username": "root", "password": PASSWORD}).status_code == 200
        client.headers[CSRF_HEADER] = client.cookies[CSRF_COOKIE]
        assert client.get("/api/recordings/cloud/playlist.m3u8").status_code == 200
        for meta in parts:
            whole = client.get(f"/api/recordings/cloud/parts/{meta.chain.part}/video.mp4")
            assert whole.status_code == 200 and whole.content[4:8] == b"ftyp"
            with av.open(io.BytesIO(whole.content), format="mp4") as container:
                assert sum(1 for _ in container.decode(video=0)) == meta.frames.encoded
            piece = client.get(f"/api/recordings/cloud/parts/{meta.chain.part}/video.mp4",
                               headers={"Range": "bytes=0-99"})
            assert piece.status_code == 206 and piece.content == whole.content[:100]
    verified = fastrec("verify", "cloud", "--output-dir", str(out), cwd=tmp_path,
                       env={"FASTREC_ENCRYPTION_KEY_FILE": str(key_file), "FASTREC_S3_URL": s3_bucket.url,
                            "FASTREC_S3_ENDPOINT_URL": s3_bucket.server.endpoint})  # AWS_* from the fixture
    assert verified.returncode == 0, verified.stdout + verified.stderr
