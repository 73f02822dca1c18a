"""Events files in the object store (issue 13): a real recorded window session
(tests/clicks_session.py) moved to moto's S3 server by the uploader has each part's
``_events.jsonl`` uploaded with its video, verified against the SHA-256 sealed in its
metadata and removed from the disk with the video; the JSON export, heatmaps, search,
``verify`` and the admin server's events and heatmap routes then read it from the store;
a stored events file that was altered is reported by ``verify``; retention deletes it from
the store with its segment.  An admin server over the fleet (PostgreSQL index, the
gateway's prefix in FASTREC_S3_FLEET_URLS, the gateway's directory gone) serves the
session's events, heatmap and search from the mirror and the store."""

from __future__ import annotations

import shutil
from pathlib import Path

from clicks_session import CONNECTION, TITLE_AFTER, ClickSession
from polling import wait_until
from s3_server import Bucket, s3_bucket, s3_server  # noqa: F401 - fixtures
from x11_windows import needs_x

from fastrec.events.file import read_session_events, session_event_files
from fastrec.events.model import EventKind
from fastrec.manager.uploads import Uploader
from fastrec.storage import iter_metadata, verify_session
from fastrec.storage.index import INDEX_FILE, RecordingIndex
from fastrec.storage.metadata import SegmentMetadata
from fastrec.storage.objectstore import ObjectStore
from fastrec.storage.retention import RotationManager
from fastrec.storage.videos import use_store

pytestmark = needs_x
PASSWORD = "correct horse battery"


def _parts(out: Path, session: str) -> list[SegmentMetadata]:
    found = [m for _, m in iter_metadata(out) if isinstance(m, SegmentMetadata) and m.session_id == session]
    return sorted(found, key=lambda m: m.chain.part)


def test_events_files_go_to_the_store_with_their_video_and_are_read_back_from_it(
        click_session: ClickSession, s3_bucket: Bucket, tmp_path: Path) -> None:
    out = tmp_path / "rec"
    shutil.copytree(click_session.directory, out)
    session = click_session.session_id
    expected, _ = read_session_events(out, session)
    parts = [m for m in _parts(out, session) if m.events is not None]
    names = [m.events.name for m in parts]  # type: ignore[union-attr]
    assert parts and all((out / name).is_file() for name in names)

    store = ObjectStore(s3_bucket.url, s3_bucket.server.endpoint)
    uploader = Uploader(out, store).start()
    try:
        assert wait_until(lambda: uploader.status().backlog_segments == 0
                          and not any((out / name).exists() for name in names), 60), uploader.status()
    finally:
        uploader.stop()
    for meta in parts:  # in the store with the sealed hash; gone from the disk with the video
        assert meta.events is not None and meta.events.sha256
        assert s3_bucket.sha256(meta.events.name) == meta.events.sha256
        assert not (out / meta.file.name).exists() and not (out / meta.events.name).exists()

    use_store(out, store)
    try:
        events, problems = read_session_events(out, session)
        assert problems == [] and events == expected
        assert [p.name for _, p in session_event_files(out, session)] == names
        _readers_see_the_stored_events(out, session, tmp_path)
        _admin_server_reads_them(out, s3_bucket, session)
        use_store(out, store)  # the server, closing, unregistered the directory's store
        report = verify_session(out, session)
        assert report.ok, report.summary

        # an events object altered in the store: verify says which, and where
        meta = parts[0]
        name = meta.events.name  # type: ignore[union-attr]
        original = s3_bucket.read(name)
        s3_bucket.put(s3_bucket.prefix + name, original.replace(b'"x":75.0', b'"x":76.0', 1))
        report = verify_session(out, session)
        assert not report.ok and report.segments[0].status == "modified"
        assert name in report.summary and "in the object store" in report.summary
        s3_bucket.put(s3_bucket.prefix + name, original)

        # retention: the events objects go with their segments
        recorded = len(_parts(out, session))
        with RecordingIndex(out / INDEX_FILE, out) as index:
            retention = RotationManager(out, float("inf"), 1e-9, recording_grace_seconds=0, store=store,
                                        on_deleted=index.remove)
            assert retention.perform_cleanup()["deleted_segments"] == recorded
        assert not [k for k in s3_bucket.keys() if k.endswith("_events.jsonl")]
        assert s3_bucket.keys() == []
    finally:
        use_store(out, None)


def _readers_see_the_stored_events(out: Path, session: str, tmp_path: Path) -> None:
    """The JSON export, the heatmap numbers and search, with no events file on disk."""
    import json

    from fastrec.export.heatmaps import heatmap_stats
    from fastrec.export.run import export_session
    from fastrec.export.source import SessionSource
    from fastrec.search.finder import SearchQuery, search_recordings

    document = json.loads(export_session(out, session, "json", output_dir=tmp_path).path.read_text())
    assert document["events_files"] and any(e["kind"] == "rage_click" for e in document["events"])
    stats = heatmap_stats(SessionSource.load(out, session))
    assert (stats.clicks.total, stats.clicks.max_per_point) == (6, 5) and stats.scroll.notches == 3
    with RecordingIndex(out / INDEX_FILE, out) as index:
        index.rebuild(out)
        [rage] = search_recordings(index, SearchQuery(event=EventKind.RAGE_CLICK)).hits
    assert rage.title == TITLE_AFTER and rage.server == CONNECTION["name"]


def _admin_server_reads_them(out: Path, bucket: Bucket, session: str) -> None:
    """The admin server over the same directory and store: its events, heatmap and search routes."""
    from fastapi.testclient import TestClient

    from fastrec.server.app import create_app
    from fastrec.server.config import ServerSettings

    app = create_app(ServerSettings(recordings_dir=out, s3_url=bucket.url, s3_endpoint_url=bucket.server.endpoint))
    with TestClient(app) as client:
        app.state.ctx.accounts.create_user("vera", PASSWORD, "viewer")
        assert client.post("/api/auth/login", json={"username": "vera", "password": PASSWORD}).status_code == 200
        base = f"/api/recordings/{session}"
        listed = client.get(f"{base}/events", params={"kind": "rage_click"}).json()
        assert listed["problems"] == [] and [e["kind"] for e in listed["events"]] == ["rage_click"]
        assert client.get(f"{base}/heatmap").json()["clicks"]["total"] == 6
        hits = client.get("/api/search", params={"event": "rage_click"}).json()["hits"]
        assert [h["session_id"] for h in hits] == [session]


def test_an_admin_server_over_the_fleet_reads_another_gateways_events_from_the_store(
        click_session: ClickSession, s3_bucket: Bucket, postgres_url: str, tmp_path: Path) -> None:
    """The gateway's directory is not the server's: its events, heatmap and search come
    from the fleet mirror's metadata and the stored events files."""
    from fastapi.testclient import TestClient

    from fastrec.server.app import create_app
    from fastrec.server.config import ServerSettings

    out = tmp_path / "gateway"
    shutil.copytree(click_session.directory, out)
    session = click_session.session_id
    store = ObjectStore(s3_bucket.url, s3_bucket.server.endpoint)
    uploader = Uploader(out, store).start()
    try:
        assert wait_until(lambda: uploader.status().backlog_segments == 0 and not list(out.glob("*_events.jsonl")),
                          60), uploader.status()
    finally:
        uploader.stop()
    with RecordingIndex(out / INDEX_FILE, out, database_url=postgres_url) as index:
        index.rebuild(out)  # the gateway's rows in the fleet's index
    shutil.rmtree(out)  # another machine, as far as the server can tell

    app = create_app(ServerSettings(recordings_dir=tmp_path / "admin", database_url=postgres_url,
                                    s3_endpoint_url=s3_bucket.server.endpoint, s3_fleet_urls=s3_bucket.url))
    with TestClient(app) as client:
        app.state.ctx.accounts.create_user("vera", PASSWORD, "viewer")
        assert client.post("/api/auth/login", json={"username": "vera", "password": PASSWORD}).status_code == 200
        base = f"/api/recordings/{session}"
        listed = client.get(f"{base}/events").json()
        assert listed["problems"] == [] and sum(e["kind"] == "click" for e in listed["events"]) == 6
        assert client.get(f"{base}/heatmap").json()["clicks"]["total"] == 6
        png = client.get(f"{base}/heatmap.png", params={"kind": "clicks"})
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        hits = client.get("/api/search", params={"event": "rage_click", "title": "invoice"}).json()
        assert [h["session_id"] for h in hits["hits"]] == [session] and hits["hits"][0]["title"] == TITLE_AFTER
