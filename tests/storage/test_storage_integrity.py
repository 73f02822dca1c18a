"""The hash chain: intact sessions pass; modified, missing and re-ordered parts are caught."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from storage_builders import write_segment, write_session

from fastrec.storage import chain_hash, read_metadata, sha256_file, verify_session, write_metadata
from fastrec.storage.integrity import NO_KEY

SESSION = "rdp_123_1729950022"


def states(directory: Path, session: str = SESSION) -> list[tuple[int, str]]:
    return [(c.part, c.status) for c in verify_session(directory, session).segments]


def test_sha256_file_streams_big_files(tmp_path: Path) -> None:
    data = bytes(range(256)) * (10 * 1024 + 7)  # ~2.5 MiB: several chunks
    path = tmp_path / "f"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_sealed_session_is_chained(recordings: Path) -> None:
    (v1, _, m1), (v2, _, m2), (_, m3_path, m3) = write_session(recordings, 3)
    assert m1.file.sha256 == sha256_file(v1) and m1.file.size_bytes == v1.stat().st_size
    assert m1.chain.chain_hash == hashlib.sha256(m1.file.sha256.encode()).hexdigest()
    assert (m2.chain.part, m2.chain.previous_sha256, m2.chain.previous_file) == (2, m1.file.sha256, v1.name)
    assert m2.chain.chain_hash == chain_hash(m1.chain.chain_hash, m2.file.sha256)
    assert m3.chain.chain_hash == chain_hash(m2.chain.chain_hash, m3.file.sha256)
    assert v2.name == "session_123_Production_Server_20251026_143022_part2.mp4"
    # the previous part names the next one as soon as it starts
    assert read_metadata(recordings / v1.name.replace(".mp4", "_metadata.json")).chain.next_file == v2.name
    assert read_metadata(m3_path).chain.next_file is None


def test_intact_session(recordings: Path) -> None:
    write_session(recordings, 3)
    write_session(recordings, 2, session_id="other", con_codigo=7)  # another session alongside
    report = verify_session(recordings, SESSION)
    assert report.ok
    assert states(recordings) == [(1, "ok"), (2, "ok"), (3, "ok")]
    assert report.summary.splitlines() == [f"session {SESSION}: 3 segment(s), chain intact",
                                           f"  signatures not checked: {NO_KEY}"]


def test_modified_segment(recordings: Path) -> None:
    parts = write_session(recordings, 3)
    video = parts[1][0]
    data = bytearray(video.read_bytes())
    data[10] ^= 0xFF  # same size, different content
    video.write_bytes(bytes(data))
    report = verify_session(recordings, SESSION)
    assert not report.ok
    assert states(recordings) == [(1, "ok"), (2, "modified"), (3, "ok")]
    assert "SHA-256" in report.segments[1].problems[0]
    assert f"part 2 ({video.name}): modified" in report.summary


def test_truncated_segment_is_modified(recordings: Path) -> None:
    parts = write_session(recordings, 3)
    parts[2][0].write_bytes(b"short")
    assert states(recordings) == [(1, "ok"), (2, "ok"), (3, "modified")]
    assert "size 5 bytes" in verify_session(recordings, SESSION).segments[2].problems[0]


def test_missing_middle_segment(recordings: Path) -> None:
    parts = write_session(recordings, 3)
    video, meta_file, _ = parts[1]
    video.unlink()
    meta_file.unlink()
    report = verify_session(recordings, SESSION)
    assert not report.ok
    assert states(recordings) == [(1, "ok"), (2, "missing"), (3, "ok")]
    assert report.segments[1].file == video.name  # named by its neighbours' links


def test_missing_video_only(recordings: Path) -> None:
    parts = write_session(recordings, 3)
    parts[0][0].unlink()
    assert states(recordings) == [(1, "missing"), (2, "ok"), (3, "ok")]


def test_missing_last_segment(recordings: Path) -> None:
    parts = write_session(recordings, 3)
    parts[2][0].unlink()
    parts[2][1].unlink()
    report = verify_session(recordings, SESSION)
    assert not report.ok
    assert states(recordings) == [(1, "ok"), (2, "ok"), (3, "missing")]
    assert report.segments[2].file == parts[2][0].name


def test_missing_first_segment_metadata_and_video(recordings: Path) -> None:
    parts = write_session(recordings, 3)
    parts[0][0].unlink()
    parts[0][1].unlink()
    assert states(recordings) == [(1, "missing"), (2, "ok"), (3, "ok")]


def test_reordered_part_numbers(recordings: Path) -> None:
    parts = write_session(recordings, 3)
    # swap the part numbers of parts 2 and 3 (their files and hashes stay genuine)
    for (_, meta_file, _), new_part in ((parts[1], 3), (parts[2], 2)):
        meta = read_metadata(meta_file)
        meta.chain.part = new_part
        write_metadata(meta_file, meta)
    report = verify_session(recordings, SESSION)
    assert not report.ok
    assert [c.file for c in report.segments] == [parts[0][0].name, parts[2][0].name, parts[1][0].name]
    assert states(recordings) == [(1, "ok"), (2, "reordered"), (3, "reordered")]
    assert any("previous SHA-256 does not match part 1" in p for p in report.segments[1].problems)


def test_swapped_previous_hash_is_reordered(recordings: Path) -> None:
    parts = write_session(recordings, 3)
    meta = read_metadata(parts[2][1])
    meta.chain.previous_sha256 = parts[0][2].file.sha256  # points past part 2
    write_metadata(parts[2][1], meta)
    assert states(recordings) == [(1, "ok"), (2, "ok"), (3, "reordered")]


def test_rehashed_tampered_segment_still_breaks_the_chain(recordings: Path) -> None:
    # an editor who also fixes the modified part's own hash breaks the links after it
    parts = write_session(recordings, 3)
    video, meta_file, _ = parts[1]
    video.write_bytes(b"X" * video.stat().st_size)
    meta = read_metadata(meta_file)
    meta.file.sha256 = sha256_file(video)
    write_metadata(meta_file, meta)
    assert states(recordings) == [(1, "ok"), (2, "reordered"), (3, "reordered")]


def test_unsealed_part_and_unknown_session(recordings: Path) -> None:
    parts = write_session(recordings, 2)
    write_segment(recordings, part=3, status="recording", previous=parts[-1][2], name_start=parts[0][2].start_time)
    report = verify_session(recordings, SESSION)
    assert states(recordings) == [(1, "ok"), (2, "ok"), (3, "unsealed")]
    assert not report.ok and "no SHA-256 recorded (status recording)" in report.summary
    empty = verify_session(recordings, "nobody")
    assert not empty.ok and empty.segments == () and "no segments found" in empty.summary


def test_corrupt_metadata_of_the_session_is_reported(recordings: Path) -> None:
    parts = write_session(recordings, 3)
    parts[2][1].write_text("{not json")
    report = verify_session(recordings, SESSION)
    assert not report.ok
    assert report.unreadable == (parts[2][1].name,)
    assert states(recordings) == [(1, "ok"), (2, "ok"), (3, "missing")]
    assert "metadata cannot be read" in report.summary


@pytest.mark.parametrize("field", ["previous_file", "next_file"])
def test_wrong_links_are_reordered(recordings: Path, field: str) -> None:
    parts = write_session(recordings, 3)
    meta = read_metadata(parts[1][1])
    setattr(meta.chain, field, "session_elsewhere.mp4")
    write_metadata(parts[1][1], meta)
    result = dict(states(recordings))
    assert "reordered" in result.values()
    assert json.loads(parts[1][1].read_text())["chain"][field] == "session_elsewhere.mp4"


def test_a_gap_in_part_numbers_is_one_check(recordings: Path) -> None:
    parts = write_session(recordings, 3)
    meta = read_metadata(parts[2][1])
    meta.chain.part = 999_999  # valid, but 999 996 numbers are missing in between
    write_metadata(parts[2][1], meta)
    report = verify_session(recordings, SESSION)
    assert [(c.part, c.status) for c in report.segments] == [(1, "ok"), (2, "ok"), (3, "missing"),
                                                             (999_999, "ok")]
    assert report.segments[2].problems == ("no metadata for parts 3 to 999998 (999996 parts)",)
    assert report.segments[2].file == parts[2][0].name  # part 2 names its successor
    assert len(report.summary.splitlines()) == 3  # the verdict, the gap, the signatures


def test_metadata_that_fails_validation_is_unreadable_not_fatal(recordings: Path) -> None:
    parts = write_session(recordings, 2)
    data = json.loads(parts[1][1].read_text())
    data["file"]["size_bytes"] = -5
    data["frames"]["encoded"] = 10**30
    parts[1][1].write_text(json.dumps(data))
    report = verify_session(recordings, SESSION)
    assert report.unreadable == (parts[1][1].name,) and not report.ok
