"""Recordings on S3-compatible object storage (FASTREC_S3_URL), end to end: a real
recording of a scripted desktop on a private Xvfb, uploaded to moto's S3 server on
loopback; the store stopped and restarted mid-recording; a recorder restarted with a
backlog; replay and export of an uploaded session; retention deleting the objects."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from s3_server import Bucket, s3_bucket, s3_server  # noqa: F401 - fixtures
from x11_windows import wait_until

from fastrec.demo.display import VirtualDisplay
from fastrec.engine.protocol import SegmentPolicy
from fastrec.export.run import export_session
from fastrec.live.sqlite_store import LIVE_FILE
from fastrec.manager import RecordingManager
from fastrec.server.app import create_app
from fastrec.server.config import ServerSettings
from fastrec.settings import load_settings
from fastrec.storage import iter_metadata, verify_session
from fastrec.storage.metadata import SegmentMetadata
from fastrec.storage.objectstore import ObjectStore
from fastrec.storage.retention import RotationManager
from fastrec.storage.videos import use_store

pytestmark = pytest.mark.xvfb

SESSION = "s3_session"
CONNECTION = {"con_codigo": 31, "ip": "10.0.0.31", "name": "objects", "user": "auditor",
              "connection_type": "RDP"}
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def desktop() -> Iterator[VirtualDisplay]:
    """A private Xvfb with the demo's scripted editor typing on it: the screen keeps changing."""
    with VirtualDisplay(640, 480) as display:
        workload = subprocess.Popen([sys.executable, "-m", "fastrec.demo.workload", "--seconds", "900"],
                                    env=display.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            yield display
        finally:
            workload.terminate()
            workload.wait(10)


def _manager(out: Path, bucket: Bucket | None, display: VirtualDisplay, **settings: object) -> RecordingManager:
    values: dict[str, object] = {"enabled": True, "output_dir": str(out), "encoder_workers": 1, "fps": 5,
                                 "resolution_scale": 0.5, "keyframe_interval_seconds": 1.0}
    if bucket is not None:
        values.update(s3_url=bucket.url, s3_endpoint_url=bucket.server.endpoint)
    values.update(settings)
    return RecordingManager(load_settings(**values), mode="full_screen", display=display.display,
                            segment_policy=SegmentPolicy(max_seconds=1.5), cleanup_schedule=False)


def _parts(out: Path) -> list[SegmentMetadata]:
    found = [m for _, m in iter_metadata(out) if isinstance(m, SegmentMetadata) and m.session_id == SESSION]
    return sorted(found, key=lambda m: m.chain.part)


def _sealed(manager: RecordingManager) -> int:
    status = manager.get_recording_status(SESSION)
    return max(0, status.get("segments", 0) - (1 if status.get("is_recording") else 0))


def _uploads(manager: RecordingManager) -> dict:
    return manager.get_recording_status()["uploads"]


def _drained(manager: RecordingManager) -> bool:
    uploads = _uploads(manager)
    return uploads["backlog_segments"] == 0 and uploads["last_error"] is None


@contextmanager
def _reading_from(out: Path, bucket: Bucket) -> Iterator[None]:
    """Parts of ``out`` not on disk are read from ``bucket`` (as the CLI tools do)."""
    use_store(out, ObjectStore(bucket.url, bucket.server.endpoint))
    try:
        yield
    finally:
        use_store(out, None)


def _alerts(out: Path) -> list[dict]:
    """The alerts the recorder announced to the admin server (the live SQLite store)."""
    with closing(sqlite3.connect(out / LIVE_FILE)) as conn:
        return [json.loads(row[0]) for row in conn.execute("SELECT data FROM alerts ORDER BY seq")]


def _record(manager: RecordingManager, parts: int) -> None:
    assert manager.start_session_recording(SESSION, CONNECTION)
    assert wait_until(lambda: _sealed(manager) >= parts, 90)
    assert manager.stop_session_recording(SESSION)
    assert manager.wait_for_session(SESSION, 60)


def _assert_all_in_store(out: Path, bucket: Bucket) -> list[SegmentMetadata]:
    """Every sealed part's video and metadata are in the bucket with the sealed hashes,
    and no video is left on the local disk."""
    parts = _parts(out)
    assert parts and all(m.status == "complete" for m in parts), [(m.file.name, m.status) for m in parts]
    for meta in parts:
        assert bucket.sha256(meta.file.name) == meta.file.sha256, meta.file.name
        metadata_name = meta.file.name[: -len(".mp4")] + "_metadata.json"
        assert bucket.read(metadata_name) == (out / metadata_name).read_bytes()
        assert not (out / meta.file.name).exists(), f"{meta.file.name} still on disk"
    return parts


def test_sealed_segments_move_to_the_store_with_their_hashes(desktop: VirtualDisplay, s3_bucket: Bucket,
                                                            tmp_path: Path):
    out = tmp_path / "rec"
    manager = _manager(out, s3_bucket, desktop)
    try:
        assert manager.initialize()
        _record(manager, 3)
        assert wait_until(lambda: _drained(manager), 60), _uploads(manager)
        uploads = _uploads(manager)
    finally:
        manager.shutdown()
    parts = _assert_all_in_store(out, s3_bucket)
    assert uploads["uploaded_segments"] == len(parts)
    assert uploads["uploaded_bytes"] == sum(m.file.size_bytes for m in parts)
    assert uploads["store"] == s3_bucket.url
    assert all(key.startswith(s3_bucket.prefix) for key in s3_bucket.keys())
    # verify reads the uploaded parts back from the store: the chain holds
    with _reading_from(out, s3_bucket):
        report = verify_session(out, SESSION)
    assert report.ok, report.summary


def test_a_store_that_goes_down_loses_nothing_and_the_backlog_drains(desktop: VirtualDisplay,
                                                                     s3_bucket: Bucket, tmp_path: Path):
    out = tmp_path / "rec"
    manager = _manager(out, s3_bucket, desktop)
    server = s3_bucket.server
    try:
        assert manager.initialize()
        assert manager.start_session_recording(SESSION, CONNECTION)
        assert wait_until(lambda: _uploads(manager)["uploaded_segments"] >= 1, 90), _uploads(manager)
        server.stop()
        # parts sealed while the store is down wait on the disk; the status says so
        assert wait_until(lambda: _uploads(manager)["backlog_segments"] >= 2, 90), _uploads(manager)
        uploads = _uploads(manager)
        assert uploads["last_error"] and "gateway-1/" in uploads["last_error"]
        assert uploads["backlog_bytes"] > 0
        waiting = [m for m in _parts(out) if m.status == "complete" and (out / m.file.name).exists()]
        assert len(waiting) >= 2
        assert manager.is_recording(SESSION)  # recording never waits for the store
        # the admin server's live page is told once, as an alert from this recorder
        assert wait_until(lambda: [a for a in _alerts(out) if a["kind"] == "upload_failing"], 30)
        failing = [a for a in _alerts(out) if a["kind"] == "upload_failing"]
        assert len(failing) == 1 and failing[0]["session_id"] is None
        assert s3_bucket.url in failing[0]["message"] and "backlog_bytes" in failing[0]["details"]
        server.start()
        assert manager.stop_session_recording(SESSION)
        assert manager.wait_for_session(SESSION, 60)
        assert wait_until(lambda: _drained(manager), 120), _uploads(manager)
    finally:
        if not server.running:
            server.start()
        manager.shutdown()
    _assert_all_in_store(out, s3_bucket)
    with _reading_from(out, s3_bucket):
        assert verify_session(out, SESSION).ok


def test_a_local_cache_keeps_uploaded_videos_on_disk(desktop: VirtualDisplay, s3_bucket: Bucket, tmp_path: Path):
    out = tmp_path / "rec"
    manager = _manager(out, s3_bucket, desktop, s3_cache_gb=1.0)
    try:
        assert manager.initialize()
        _record(manager, 2)
        assert wait_until(lambda: _drained(manager), 60), _uploads(manager)
        uploads = _uploads(manager)
    finally:
        manager.shutdown()
    parts = _parts(out)
    for meta in parts:  # in the store, and still on disk: replay reads the local copy
        assert s3_bucket.sha256(meta.file.name) == meta.file.sha256
        assert hashlib.sha256((out / meta.file.name).read_bytes()).hexdigest() == meta.file.sha256
    assert uploads["cached_bytes"] == sum(m.file.size_bytes for m in parts)


def test_a_restarted_recorder_uploads_the_backlog_it_finds_on_disk(desktop: VirtualDisplay,
                                                                   s3_bucket: Bucket, tmp_path: Path):
    out = tmp_path / "rec"
    local = _manager(out, None, desktop)  # an earlier run whose uploads never happened
    try:
        assert local.initialize()
        _record(local, 2)
    finally:
        local.shutdown()
    assert all((out / m.file.name).exists() for m in _parts(out))
    manager = _manager(out, s3_bucket, desktop)
    try:
        assert manager.initialize()
        assert wait_until(lambda: _uploads(manager)["uploaded_segments"] == len(_parts(out)) and _drained(manager),
                          60), _uploads(manager)
    finally:
        manager.shutdown()
    _assert_all_in_store(out, s3_bucket)


def test_an_uploaded_session_is_replayed_exported_and_deleted_by_retention(desktop: VirtualDisplay,
                                                                           s3_bucket: Bucket, tmp_path: Path):
    out = tmp_path / "rec"
    manager = _manager(out, s3_bucket, desktop)
    try:
        assert manager.initialize()
        _record(manager, 2)
        assert wait_until(lambda: _drained(manager), 60), _uploads(manager)
    finally:
        manager.shutdown()
    parts = _assert_all_in_store(out, s3_bucket)
    foreign = s3_bucket.prefix + "notes_from_someone_else.txt"
    s3_bucket.put(foreign, b"not ours")

    settings = ServerSettings(recordings_dir=out, s3_url=s3_bucket.url, s3_endpoint_url=s3_bucket.server.endpoint)
    app = create_app(settings)
    with TestClient(app) as client:
        app.state.ctx.accounts.create_user("alice", PASSWORD, "auditor")
        assert client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD}).status_code == 200
        playlist = client.get(f"/api/recordings/{SESSION}/playlist.m3u8")
        assert playlist.status_code == 200
        assert "#EXT-X-ENDLIST" in playlist.text
        assert f"/api/recordings/{SESSION}/parts/{len(parts)}/video.mp4" in playlist.text
        timeline = client.get(f"/api/recordings/{SESSION}/timeline").json()
        assert [p["part"] for p in timeline["parts"]] == [m.chain.part for m in parts]
        assert not [m for m in timeline["markers"] if m["kind"] == "error"]
        first = parts[0]
        whole = s3_bucket.read(first.file.name)
        url = f"/api/recordings/{SESSION}/parts/1/video.mp4"
        full = client.get(url)
        assert full.status_code == 200 and full.content == whole
        ranged = client.get(url, headers={"Range": "bytes=100-1099"})
        assert ranged.status_code == 206 and ranged.content == whole[100:1100]
        assert ranged.headers["content-range"] == f"bytes 100-1099/{len(whole)}"
        tail = client.get(url, headers={"Range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == whole[-10:]
        assert client.get(url, headers={"Range": f"bytes={len(whole)}-"}).status_code == 416

        # the server registered the store for its recordings directory while it runs
        exported = export_session(out, SESSION, "mp4", output=tmp_path / "session.mp4")
        assert exported.path.stat().st_size > 0
        frames = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0",
                                 "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", str(exported.path)],
                                capture_output=True, text=True, check=True).stdout.strip()
        assert int(frames) >= sum(m.frames.encoded for m in parts) - len(parts)

    # retention: everything is older than the age limit ten days from now
    retention = RotationManager(out, 10.0, 1.0, clock=lambda: time.time() + 10 * 86400,
                                recording_grace_seconds=0, store=manager.store)
    result = retention.perform_cleanup()
    assert result["deleted_segments"] == len(parts), result
    assert s3_bucket.keys() == [foreign]  # only the object fastrec did not write is left
    assert not _parts(out)


def test_the_stored_hash_is_what_was_sealed(s3_bucket: Bucket, tmp_path: Path):
    """The client refuses names it did not give and records each object's SHA-256."""
    store = ObjectStore(s3_bucket.url, s3_bucket.server.endpoint)
    video = tmp_path / "session_1_srv_20260101_120000.mp4"
    video.write_bytes(b"\x00" * 5000)
    digest = hashlib.sha256(video.read_bytes()).hexdigest()
    with open(video, "rb") as body:
        store.put_file(video.name, body, digest)
    assert store.verify(video.name, 5000, digest) is None
    assert store.verify(video.name, 5000, "0" * 64) is not None
    assert store.head(video.name).sha256 == digest
    with pytest.raises(ValueError, match="not a recording file name"):
        store.key("../etc/passwd")
    with pytest.raises(ValueError, match="not a recording file name"):
        store.key("notes.txt")
