"""Deleting a session on purpose: only our files, never a live part, and a chained record."""

from __future__ import annotations

from pathlib import Path

import pytest
from datetime import timedelta

from storage_builders import NOW, write_segment, write_session

from fastrec.storage.deletions import DELETIONS_FILE, DeletionRefused, delete_session, read_deletions, verify_deletions
from fastrec.storage.metadata import RecorderProcess, read_metadata, write_metadata


def test_deletes_every_part_and_records_hashes(tmp_path: Path) -> None:
    parts = write_session(tmp_path, 2, session_id="rdp_1")
    other = write_segment(tmp_path, session_id="rdp_2", con_codigo=7, start=NOW + timedelta(hours=2))
    stranger = tmp_path / "notes.txt"
    stranger.write_text("not ours")
    record = delete_session(tmp_path, "rdp_1", by="root", reason="test data")
    assert record is not None and [p.part for p in record.parts] == [1, 2]
    for video, meta, _ in parts:
        assert not video.exists() and not meta.exists()
    assert other[0].exists() and other[1].exists() and stranger.exists()
    logged = read_deletions(tmp_path)
    assert logged[0].by == "root" and logged[0].parts[0].sha256 == record.parts[0].sha256
    assert delete_session(tmp_path, "rdp_1", by="root") is None  # nothing left
    assert verify_deletions(tmp_path) == []
    assert (tmp_path / DELETIONS_FILE).stat().st_mode & 0o777 == 0o600


def test_removing_a_deletion_record_breaks_the_chain(tmp_path: Path) -> None:
    for n, sid in enumerate(("a", "b", "c")):
        write_segment(tmp_path, session_id=sid, con_codigo=n)
        delete_session(tmp_path, sid, by="root")
    log = tmp_path / DELETIONS_FILE
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(lines[0] + lines[2])
    assert verify_deletions(tmp_path) == ["line 2: does not follow line 1 (a record was removed or edited)"]


def test_a_part_whose_recorder_runs_is_never_deleted(tmp_path: Path) -> None:
    video, meta_path, _ = write_segment(tmp_path, session_id="live", status="recording")
    meta = read_metadata(meta_path)
    meta.recorder = RecorderProcess.current()  # this very process: alive
    write_metadata(meta_path, meta)
    with pytest.raises(DeletionRefused, match="still being recorded"):
        delete_session(tmp_path, "live", by="root")
    assert video.exists() and not (tmp_path / DELETIONS_FILE).exists()
