"""Private directories, atomic writes and the metadata file."""

from __future__ import annotations

import errno
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fastrec.storage import (
    MetadataError,
    SegmentMetadata,
    atomic_writer,
    ensure_private_dir,
    iter_metadata,
    read_metadata,
    write_metadata,
    write_private,
)
from fastrec.storage import files as files_module
from fastrec.storage.files import temp_target

REFERENCE_METADATA = {
    "session_id": "rdp_123_1729950022",
    "connection_info": {"con_codigo": 123, "ip": "192.168.1.100", "name": "Production Server",
                        "user": "administrator", "connection_type": "RDP"},
    "start_time": "2025-10-26T14:30:22.123456",
    "recorder_settings": {"fps": 10, "quality": 23, "resolution_scale": 1.0, "max_file_size_mb": 100,
                          "max_duration_minutes": 30},
}


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_ensure_private_dir_creates_0700_whatever_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "recordings"
    old = os.umask(0o022)
    try:
        assert ensure_private_dir(target) == target
    finally:
        os.umask(old)
    assert [mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", target)] == [0o700] * 3
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="exists and is not a directory"):
        ensure_private_dir(tmp_path / "file")
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    with pytest.raises(NotADirectoryError, match="symbolic link to nowhere"):
        ensure_private_dir(tmp_path / "dangling" / "recordings")
    assert not (tmp_path / "nowhere").exists()


def test_existing_private_enough_dir_is_left_as_it_is(tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.mkdir()
    os.chmod(loose, 0o755)  # readable by others: the files in it are 0600, the mode is the owner's
    ensure_private_dir(loose)
    assert mode(loose) == 0o755


@pytest.mark.parametrize("through_link", [False, True])
def test_shared_dir_is_refused_not_chmodded(tmp_path: Path, through_link: bool) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp: everybody may plant files and links in it
    path = shared
    if through_link:
        path = tmp_path / "recordings"
        path.symlink_to(shared)
    with pytest.raises(files_module.UnsafeDirectory) as caught:
        ensure_private_dir(path)
    assert shared.stat().st_mode & 0o7777 == 0o1777  # never re-permissioned
    message = str(caught.value)
    assert f"{path}: mode 1777: group or others may write in it" in message
    assert f"allowed: a directory owned by uid {os.geteuid()}" in message


def test_dir_of_another_user_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 4321, 4321)  # we are root in the test environment
    with pytest.raises(files_module.UnsafeDirectory, match=f"{theirs}: owned by uid 4321, not uid 0 \\(mode 0700\\)"):
        ensure_private_dir(theirs)
    assert theirs.stat().st_uid == 4321 and mode(theirs) == 0o700


def test_write_private_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = write_private(tmp_path / "x.json", "héllo")
    finally:
        os.umask(old)
    assert path.read_text(encoding="utf-8") == "héllo"
    assert mode(path) == 0o600
    write_private(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01" and mode(path) == 0o600
    assert os.listdir(tmp_path) == ["x.json"]


def test_failure_mid_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "meta.json"
    write_private(path, "old")
    with pytest.raises(RuntimeError, match="disk gone"), atomic_writer(path, "w") as handle:
        handle.write("half of the new conte")
        raise RuntimeError("disk gone")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["meta.json"]  # no temp file left behind


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failure_at_fsync_or_rename_keeps_the_old_metadata(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           failing: str) -> None:
    path = tmp_path / "session_1_S_20251026_143022_metadata.json"
    old = SegmentMetadata.model_validate(REFERENCE_METADATA)
    write_metadata(path, old)
    before = path.read_bytes()

    def no_space(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files_module.os, failing, no_space)
    new = old.model_copy(update={"status": "complete"})
    with pytest.raises(OSError, match="No space left"):
        write_metadata(path, new)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert read_metadata(path).status == "recording"
    assert os.listdir(tmp_path) == [path.name]


def test_atomic_writer_rejects_other_modes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode='a': must be 'wb' or 'w'"), atomic_writer(tmp_path / "x", "a"):
        pass


def test_temp_target() -> None:
    assert temp_target(".session_1_metadata.json.k3j_9x.tmp") == "session_1_metadata.json"
    assert temp_target("session_1_metadata.json") is None
    assert temp_target(".tmp") is None


def test_metadata_round_trip(tmp_path: Path) -> None:
    meta = SegmentMetadata.model_validate(REFERENCE_METADATA)
    meta.end_time = datetime(2025, 10, 26, 15, 0, 22).astimezone()
    meta.frames.captured, meta.frames.encoded, meta.frames.unchanged = 100, 60, 40
    meta.capture.mode, meta.capture.region, meta.capture.output_size = "rdp_window", (0, 0, 1280, 720), (640, 360)
    meta.errors.append("window lost for 2 s")
    meta.file.name = "session_123_Production_Server_20251026_143022.mp4"
    path = tmp_path / "session_123_Production_Server_20251026_143022_metadata.json"
    write_metadata(path, meta)
    assert mode(path) == 0o600
    data = json.loads(path.read_text())
    # ISO 8601 as the reference wrote it, now with its offset: the reference's naive time is local
    assert data["start_time"].startswith("2025-10-26T14:30:22.123456")
    assert datetime.fromisoformat(data["start_time"]) == datetime(2025, 10, 26, 14, 30, 22, 123456).astimezone()
    assert data["connection_info"]["con_codigo"] == 123
    assert data["capture"]["region"] == [0, 0, 1280, 720]
    assert set(data) >= {"session_id", "connection_info", "start_time", "recorder_settings", "end_time",
                         "duration_seconds", "frames", "capture", "file", "chain", "status", "errors"}
    assert read_metadata(path) == meta


def test_reference_metadata_loads_and_names_its_video(tmp_path: Path) -> None:
    path = tmp_path / "session_123_ServerName_20251026_143022_metadata.json"
    path.write_text(json.dumps(REFERENCE_METADATA))
    meta = read_metadata(path)
    assert meta.recorder_settings.fps == 10 and meta.status == "recording"
    assert meta.file.name == "session_123_ServerName_20251026_143022.mp4"
    assert meta.chain.part == 1


def test_unknown_keys_survive_a_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "m_metadata.json"
    data = dict(REFERENCE_METADATA, future_key={"a": 1},
                connection_info=dict(REFERENCE_METADATA["connection_info"], domain="CORP"))
    path.write_text(json.dumps(data))
    meta = read_metadata(path)
    meta.status = "complete"
    write_metadata(path, meta)
    again = json.loads(path.read_text())
    assert again["future_key"] == {"a": 1} and again["connection_info"]["domain"] == "CORP"
    assert again["status"] == "complete"


@pytest.mark.parametrize(("content", "problem"), [
    (b"", "empty file"),
    (b'{"session_id": "x", ', "not valid JSON (Expecting property name enclosed in double quotes at line 1"),
    (b"[1, 2]", "expected a JSON object, found list"),
    (b'{"session_id": "x"}', "not valid metadata (start_time: Field required)"),
    (b'{"session_id": "x", "start_time": "yesterday"}', "not valid metadata (start_time: Input should be"),
    (b"\xff\xfe{", "not UTF-8 text"),
])
def test_corrupt_metadata_names_file_and_problem(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "session_9_S_20251026_143022_metadata.json"
    path.write_bytes(content)
    with pytest.raises(MetadataError) as caught:
        read_metadata(path)
    assert str(caught.value).startswith(f"{path}: {problem}")
    assert caught.value.path == path


def test_missing_metadata_file(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="cannot be read"):
        read_metadata(tmp_path / "nope_metadata.json")


def test_iter_metadata_reports_bad_files_without_hiding_good_ones(tmp_path: Path) -> None:
    write_metadata(tmp_path / "a_metadata.json", SegmentMetadata.model_validate(REFERENCE_METADATA))
    (tmp_path / "b_metadata.json").write_text("{broken")
    (tmp_path / ".a_metadata.json.x1.tmp").write_text("{}")  # an atomic write in flight
    (tmp_path / "notes.json").write_text("{}")
    found = list(iter_metadata(tmp_path))
    assert [p.name for p, _ in found] == ["a_metadata.json", "b_metadata.json"]
    assert isinstance(found[0][1], SegmentMetadata) and isinstance(found[1][1], MetadataError)
    assert list(iter_metadata(tmp_path / "missing")) == []


def test_metadata_is_never_read_through_a_link_or_from_a_fifo(tmp_path: Path) -> None:
    good = tmp_path / "a_metadata.json"
    write_metadata(good, SegmentMetadata.model_validate(REFERENCE_METADATA))
    (tmp_path / "b_metadata.json").symlink_to(good)
    os.mkfifo(tmp_path / "c_metadata.json")  # reading it would block forever
    assert [p.name for p, _ in iter_metadata(tmp_path)] == ["a_metadata.json"]
    with pytest.raises(MetadataError, match="cannot be read"):
        read_metadata(tmp_path / "b_metadata.json")
    with pytest.raises(MetadataError, match="not a regular file"):
        read_metadata(tmp_path / "c_metadata.json")


@pytest.mark.parametrize(("change", "problem"), [
    ({"chain": {"part": 10_000_000}}, "chain.part: Input should be less than or equal to 1000000"),
    ({"start_time": "0001-01-01T00:00:00"}, "start_time: Value error, 0001-01-01T00:00:00 is not between"),
    ({"file": {"sha256": "é" * 64}}, "file.sha256: String should match pattern"),
    ({"frames": {"encoded": -1}}, "frames.encoded: Input should be greater than or equal to 0"),
])
def test_out_of_bounds_metadata_is_reported(tmp_path: Path, change: dict, problem: str) -> None:
    path = tmp_path / "session_9_S_20251026_143022_metadata.json"
    path.write_text(json.dumps(dict(REFERENCE_METADATA, **change)))
    with pytest.raises(MetadataError, match=f"not valid metadata \\({problem}"):
        read_metadata(path)


def test_naive_times_are_local_and_compare_with_aware_ones(tmp_path: Path) -> None:
    path = tmp_path / "m_metadata.json"
    path.write_text(json.dumps(dict(REFERENCE_METADATA, end_time="2025-10-26T15:00:22+00:00")))
    meta = read_metadata(path)
    assert meta.start_time == datetime(2025, 10, 26, 14, 30, 22, 123456).astimezone()
    assert meta.end_time is not None
    expected = datetime(2025, 10, 26, 15, 0, 22, tzinfo=UTC) - datetime(2025, 10, 26, 14, 30, 22, 123456).astimezone()
    assert meta.end_time - meta.start_time == expected


def test_an_integer_of_thousands_of_digits_is_a_bad_file_not_a_crash(tmp_path: Path) -> None:
    # found in review: json's int conversion limit raised a plain ValueError that escaped
    # every scan: list, storage, cleanup, recover and verify all failed on one edited file
    path = tmp_path / "session_1_x_20250101_000000_metadata.json"
    path.write_text('{"session_id": "s", "start_time": "2025-01-01T00:00:00+00:00", "x": ' + "9" * 5000 + "}")
    with pytest.raises(MetadataError, match="not valid JSON"):
        read_metadata(path)
    assert [type(item) for _, item in iter_metadata(tmp_path)] == [MetadataError]

