"""The uploader on its own (fastrec.manager.uploads) against moto's S3 server: what it
does with files (videos, events files) that are not what their seal says, and with a
prefix shared with others."""

from __future__ import annotations

from pathlib import Path

from polling import wait_until
from s3_server import Bucket, s3_bucket, s3_server  # noqa: F401 - fixtures
from storage_builders import write_segment, write_session

from fastrec.manager.uploads import Uploader
from fastrec.storage import seal_segment, write_metadata
from fastrec.storage.metadata import EventsFileInfo, SegmentMetadata, read_metadata
from fastrec.storage.objectstore import ObjectStore


def test_a_video_changed_after_its_seal_is_never_replaced_by_its_upload(s3_bucket: Bucket, tmp_path: Path):
    made = write_session(tmp_path, parts=3)
    damaged = made[0][0]
    damaged.write_bytes(b"X" + damaged.read_bytes()[1:])  # one byte flipped after sealing
    seen: list[str] = []
    uploader = Uploader(tmp_path, ObjectStore(s3_bucket.url, s3_bucket.server.endpoint),
                        on_failing=lambda status: seen.append(status.last_error or ""),
                        backoff=0.05, max_backoff=0.2).start()
    try:
        # the other parts go; the damaged one stays on disk, named in the error
        assert wait_until(lambda: uploader.status().uploaded_segments == 2, 30), uploader.status()
        assert wait_until(lambda: uploader.status().last_error is not None, 30), uploader.status()
        status = uploader.status()
    finally:
        uploader.stop()
    assert damaged.exists() and status.backlog_segments == 1 and status.backlog_bytes == damaged.stat().st_size
    assert damaged.name in (status.last_error or "") and "changed since it was sealed" in (status.last_error or "")
    assert len(seen) == 1  # told once, not at every retry
    assert s3_bucket.prefix + damaged.name not in s3_bucket.keys()  # the damaged bytes never went up
    for video, _, meta in made[1:]:
        assert not video.exists()
        assert s3_bucket.sha256(video.name) == meta.file.sha256


def test_retention_style_deletion_of_the_store_leaves_others_objects(s3_bucket: Bucket, tmp_path: Path):
    made = write_session(tmp_path, parts=1)
    store = ObjectStore(s3_bucket.url, s3_bucket.server.endpoint)
    s3_bucket.put(s3_bucket.prefix + "session_holiday.mp4", b"someone else's")
    uploader = Uploader(tmp_path, store).start()
    try:
        assert wait_until(lambda: uploader.status().uploaded_segments == 1, 30), uploader.status()
    finally:
        uploader.stop()
    basename = made[0][0].name[: -len(".mp4")]
    assert store.names() == sorted([f"{basename}.mp4", f"{basename}_metadata.json"])
    store.delete_segment(basename)
    assert s3_bucket.keys() == [s3_bucket.prefix + "session_holiday.mp4"]


def _with_events(directory: Path, video: Path, meta_file: Path, text: str) -> SegmentMetadata:
    """Give the sealed part an events file, sealed into its metadata as the recorder does."""
    events = directory / video.name.replace(".mp4", "_events.jsonl")
    events.write_text(text)
    meta = read_metadata(meta_file)
    meta.events = EventsFileInfo(name=events.name)
    sealed = seal_segment(meta, video, None, status="complete", end_time=meta.end_time)
    write_metadata(meta_file, sealed)
    return sealed


def test_an_events_file_goes_with_its_video_and_one_changed_after_its_seal_stays(s3_bucket: Bucket, tmp_path: Path):
    (kept_video, kept_meta, _), (changed_video, changed_meta, _) = (write_segment(tmp_path, con_codigo=c)
                                                                   for c in (1, 2))
    kept = _with_events(tmp_path, kept_video, kept_meta, '{"format": "fastrec-events"}\n')
    changed = _with_events(tmp_path, changed_video, changed_meta, '{"format": "fastrec-events"}\n')
    assert kept.events is not None and changed.events is not None
    (tmp_path / changed.events.name).write_text('{"format": "fastrec-events"}\n{"kind": "planted"}\n')
    uploader = Uploader(tmp_path, ObjectStore(s3_bucket.url, s3_bucket.server.endpoint),
                        backoff=0.05, max_backoff=0.2).start()
    try:
        assert wait_until(lambda: not (tmp_path / kept.events.name).exists()  # type: ignore[union-attr]
                          and uploader.status().last_error is not None, 30), uploader.status()
        status = uploader.status()
    finally:
        uploader.stop()
    # the intact part: video and events file in the store with their sealed hashes, gone from the disk
    assert s3_bucket.sha256(kept.events.name) == kept.events.sha256
    assert s3_bucket.sha256(kept_video.name) == kept.file.sha256 and not kept_video.exists()
    # the changed events file never went up, and its video stays on disk with it (reported)
    assert s3_bucket.prefix + changed.events.name not in s3_bucket.keys()
    assert changed_video.exists() and (tmp_path / changed.events.name).exists()
    error = status.last_error or ""
    assert changed.events.name in error and "changed since it was sealed" in error
