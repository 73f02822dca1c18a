"""The uploader on its own (fastrec.manager.uploads) against moto's S3 server: what it
does with files that are not what their seal says, and with a prefix shared with others."""

from __future__ import annotations

from pathlib import Path

from polling import wait_until
from s3_server import Bucket, s3_bucket, s3_server  # noqa: F401 - fixtures
from storage_builders import write_session

from fastrec.manager.uploads import Uploader
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
