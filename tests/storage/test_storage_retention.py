"""Retention by age and by size over files of known sizes and mtimes; the scheduler."""

from __future__ import annotations

import json
import os
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from storage_builders import DAY, NOW, NOW_TS, set_mtime, write_segment, write_session

from fastrec.storage import GB, STATS_FILE, CleanupScheduler, RecorderProcess, RotationManager, write_metadata
from fastrec.storage.deletion_log import DELETIONS_FILE


def manager(directory: Path, **kwargs: Any) -> RotationManager:
    kwargs.setdefault("clock", lambda: NOW_TS)
    return RotationManager(directory, kwargs.pop("max_total_size_gb", 10.0), kwargs.pop("max_file_age_days", 30),
                           **kwargs)


def aged(directory: Path, days: float, **kwargs: Any) -> tuple[Path, Path]:
    """A finished segment that started ``days`` ago (its files last written 30 min later)."""
    start = NOW - timedelta(days=days)
    video, meta, _ = write_segment(directory, start=start, mtime=start.timestamp() + 1800,
                                   session_id=f"s{days}", **kwargs)
    return video, meta


def names(directory: Path) -> set[str]:
    return set(os.listdir(directory))


def test_age_cleanup_deletes_video_and_metadata_together(recordings: Path) -> None:
    old_video, old_meta = aged(recordings, 40)
    mid_video, mid_meta = aged(recordings, 20, con_codigo=2)
    new_video, new_meta = aged(recordings, 1, con_codigo=3)
    leftover = recordings / f".{old_meta.name}.a1b2c3.tmp"  # a crashed atomic write of ours
    leftover.write_text("{")
    set_mtime(leftover, NOW_TS - 40 * DAY)
    (recordings / "notes.txt").write_text("not ours")
    set_mtime(recordings / "notes.txt", NOW_TS - 400 * DAY)
    freed = sum(p.stat().st_size for p in (old_video, old_meta, leftover))

    with structlog.testing.capture_logs() as logs:
        result = manager(recordings).perform_cleanup()

    assert names(recordings) == {mid_video.name, mid_meta.name, new_video.name, new_meta.name, "notes.txt",
                                 STATS_FILE, DELETIONS_FILE}
    assert result["deleted_files"] == 3 and result["deleted_segments"] == 1
    assert sorted(result["deleted"]) == sorted([old_video.name, old_meta.name, leftover.name])
    assert result["deleted"][-1] == old_meta.name  # metadata goes last
    assert result["freed_bytes"] == freed and result["freed_gb"] == freed / GB
    assert result["skipped"] == [] and result["errors"] == []
    [line] = [e for e in logs if e["event"].startswith("Cleanup completed")]
    assert line["event"] == "Cleanup completed: deleted 3 files, freed 0.00 GB"
    assert line["log_level"] == "info"
    assert (line["deleted_files"], line["freed_bytes"]) == (3, freed)


def test_force_cleanup_by_age(recordings: Path) -> None:
    aged(recordings, 40)
    mid = aged(recordings, 20, con_codigo=2)
    new = aged(recordings, 1, con_codigo=3)
    result = manager(recordings).force_cleanup_by_age(days=7)
    assert result["deleted_segments"] == 2
    assert names(recordings) == {new[0].name, new[1].name, STATS_FILE, DELETIONS_FILE}
    assert mid[0].name in result["deleted"]
    with pytest.raises(ValueError, match="days=-1: must be a number >= 0"):
        manager(recordings).force_cleanup_by_age(days=-1)


def test_rotated_parts_are_all_deleted(recordings: Path) -> None:
    old_start = NOW - timedelta(days=40)
    write_session(recordings, 3, start=old_start, mtime=old_start.timestamp() + 3 * 1800)
    assert len(names(recordings)) == 6
    result = manager(recordings).perform_cleanup()
    assert result["deleted_segments"] == 3 and result["deleted_files"] == 6
    assert names(recordings) == {STATS_FILE, DELETIONS_FILE}


def test_active_segment_is_never_touched(recordings: Path) -> None:
    active_video, active_meta = aged(recordings, 40)
    other_video, _ = aged(recordings, 50, con_codigo=2)
    seen: list[Path] = []

    def is_active(path: Path) -> bool:
        seen.append(path)
        return path == active_video

    result = manager(recordings, is_active=is_active).perform_cleanup()
    assert active_video.exists() and active_meta.exists() and not other_video.exists()
    assert result["skipped"] == [{"segment": active_video.name[:-4], "reason": "active",
                                  "detail": "being recorded", "due_to": "age"}]
    assert active_video in seen
    # nor by size, even when it alone is over the quota
    result = manager(recordings, is_active=is_active).force_cleanup_by_size(0)
    assert active_video.exists() and result["target_reached"] is False
    assert result["skipped"][0]["reason"] == "active"


def test_failing_is_active_counts_as_active(recordings: Path) -> None:
    video, _ = aged(recordings, 40)

    def broken(path: Path) -> bool:
        raise RuntimeError("manager gone")

    result = manager(recordings, is_active=broken).perform_cleanup()
    assert video.exists()
    assert result["skipped"][0]["reason"] == "error" and "manager gone" in result["skipped"][0]["detail"]


def test_recording_status_protects_recent_files_only(recordings: Path) -> None:
    # status "recording", written 5 minutes ago: another process may be recording it
    live_video, live_meta, _ = write_segment(recordings, start=NOW - timedelta(days=40), status="recording",
                                             mtime=NOW_TS - 300, session_id="live")
    # status "recording" but untouched for days: a crashed recorder's file, fair game
    dead_video, dead_meta, _ = write_segment(recordings, start=NOW - timedelta(days=41), status="recording",
                                             mtime=NOW_TS - 40 * DAY, session_id="dead", con_codigo=9)
    result = manager(recordings).force_cleanup_by_age(days=0)
    assert live_video.exists() and live_meta.exists()
    assert not dead_video.exists() and not dead_meta.exists()
    assert [(s["segment"], s["reason"]) for s in result["skipped"]] == [(live_video.name[:-4], "recording")]


def test_a_part_whose_recorder_still_runs_is_kept_however_long_it_was_idle(recordings: Path) -> None:
    # found in review: a live recording paused for over 15 minutes (a minimised window
    # writes nothing) was deleted by any other process's cleanup or size quota
    video, meta_path, meta = write_segment(recordings, start=NOW - timedelta(days=40), status="recording",
                                           mtime=NOW_TS - 40 * DAY, session_id="paused")
    meta.recorder = RecorderProcess.current()  # this very process: alive
    write_metadata(meta_path, meta)
    set_mtime(meta_path, NOW_TS - 40 * DAY)
    result = manager(recordings).force_cleanup_by_size(target_size_gb=0)
    assert video.exists() and meta_path.exists()
    assert [s["reason"] for s in result["skipped"]] == ["recording"]
    assert "is running" in result["skipped"][0]["detail"]


def test_video_without_metadata_is_never_deleted(recordings: Path) -> None:
    # just claimed (metadata not yet written) or not ours at all: either way not deleted
    fresh = recordings / "session_5_S_20251026_143000.mp4"
    fresh.write_bytes(b"x" * 10)
    set_mtime(fresh, NOW_TS - 10)
    stale = recordings / "session_6_S_20250101_000000.mp4"
    stale.write_bytes(b"x" * 10)
    set_mtime(stale, NOW_TS - 60 * DAY)
    result = manager(recordings).force_cleanup_by_age(days=0)
    assert fresh.exists() and stale.exists()
    assert result["deleted"] == [] and result["skipped"] == []
    assert result["ignored"] == [{"file": n, "reason": "no metadata of the recorder names it"}
                                 for n in (fresh.name, stale.name)]


def test_segment_with_unreadable_metadata_is_never_deleted(recordings: Path) -> None:
    video, meta = aged(recordings, 40)
    meta.write_text("{torn")
    set_mtime(meta, NOW_TS - 40 * DAY)
    result = manager(recordings).force_cleanup_by_size(0)
    assert video.exists() and meta.exists()
    assert {i["file"] for i in result["ignored"]} == {video.name, meta.name}
    assert result["ignored"][0]["reason"].startswith("its metadata is not the recorder's (not valid JSON")


def test_cleanup_deletes_only_what_the_recorders_metadata_names(recordings: Path, tmp_path: Path) -> None:
    """Bug 12: files named like recordings, but not written by the recorder, stay."""
    ours_video, ours_meta = aged(recordings, 40)
    ancient = NOW_TS - 400 * DAY
    foreign = {
        "session_holiday.mp4": b"family video",
        "session_.mp4": b"x",
        # valid-looking metadata of somebody else's: not a name the recorder gives
        "session_config_metadata.json": json.dumps({"session_id": "x", "start_time": "2020-01-01T00:00:00",
                                                    "file": {"name": "session_holiday.mp4"}}).encode(),
        ".session_holiday.mp4.abc123.tmp": b"tmp",
        ".notes.txt.k3j9x2.tmp": b"tmp",
        ".session_9_X_20250101_000000.mp4.zz9zz9.tmp": b"tmp",  # its target has no metadata
    }
    for name, data in foreign.items():
        (recordings / name).write_bytes(data)
        set_mtime(recordings / name, ancient)
    # a metadata file of the recorder's shape that names another file is not a claim on it
    claims_other = recordings / "session_7_Y_20250101_000000_metadata.json"
    claims_other.write_text(json.dumps({"session_id": "s7", "start_time": "2025-01-01T00:00:00",
                                        "status": "complete", "file": {"name": "session_holiday.mp4"}}))
    (recordings / "session_7_Y_20250101_000000.mp4").write_bytes(b"video")
    for name in ("session_7_Y_20250101_000000_metadata.json", "session_7_Y_20250101_000000.mp4"):
        set_mtime(recordings / name, ancient)
    ours_temp = recordings / f".{ours_video.name}.a1b2c3d4.tmp"  # a remux of ours cut short
    ours_temp.write_bytes(b"half")
    set_mtime(ours_temp, ancient)

    result = manager(recordings).force_cleanup_by_age(days=0)

    assert sorted(result["deleted"]) == sorted([ours_video.name, ours_meta.name, ours_temp.name])
    left = names(recordings)
    assert set(foreign) <= left and (recordings / "session_holiday.mp4").read_bytes() == b"family video"
    assert {"session_7_Y_20250101_000000_metadata.json", "session_7_Y_20250101_000000.mp4"} <= left
    ignored = {i["file"]: i["reason"] for i in result["ignored"]}
    assert ignored["session_holiday.mp4"] == "not a name the recorder gives"
    assert ignored["session_7_Y_20250101_000000.mp4"] == (
        "its metadata names 'session_holiday.mp4', not 'session_7_Y_20250101_000000.mp4'")
    assert ignored[".session_9_X_20250101_000000.mp4.zz9zz9.tmp"] == "no metadata of the recorder names it"
    assert ".notes.txt.k3j9x2.tmp" not in ignored  # not even named like ours
    info = manager(recordings).get_storage_info()
    assert info["segment_count"] == 0 and info["ignored_files"] == len(ignored)


def test_link_at_the_stats_file_is_replaced_not_followed(recordings: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    os.chmod(victim, 0o644)
    (recordings / STATS_FILE).symlink_to(victim)
    manager(recordings).perform_cleanup()
    assert victim.read_text() == "precious" and victim.stat().st_mode & 0o777 == 0o644
    assert not (recordings / STATS_FILE).is_symlink()
    assert len(json.loads((recordings / STATS_FILE).read_text())["runs"]) == 1


def test_orphan_metadata_is_cleaned_with_age(recordings: Path) -> None:
    video, meta = aged(recordings, 40)
    video.unlink()
    manager(recordings).perform_cleanup()
    assert not meta.exists()


def test_size_cleanup_deletes_oldest_first_down_to_the_quota(recordings: Path) -> None:
    segments = [aged(recordings, days, con_codigo=days, size=10_000) for days in (4, 3, 2, 1)]
    sizes = [sum(p.stat().st_size for p in files) for files in segments]
    total = sum(sizes)
    target_bytes = total - sizes[0] - 1  # just over what deleting the oldest would reach
    result = manager(recordings).force_cleanup_by_size(target_size_gb=target_bytes / GB)
    assert result["deleted_segments"] == 2 and result["target_reached"] is True
    assert result["freed_bytes"] == sizes[0] + sizes[1]
    assert result["total_size_bytes_before"] == total
    assert result["total_size_bytes_after"] == total - sizes[0] - sizes[1]
    for files, gone in zip(segments, (True, True, False, False), strict=True):
        assert all(p.exists() != gone for p in files)


def test_perform_cleanup_applies_age_then_quota(recordings: Path) -> None:
    old = aged(recordings, 40, size=5000)
    rest = [aged(recordings, days, con_codigo=days, size=5000) for days in (3, 2, 1)]
    sizes = [sum(p.stat().st_size for p in files) for files in rest]
    quota_gb = (sum(sizes) - 1) / GB  # the age pass alone is not enough
    result = manager(recordings, max_total_size_gb=quota_gb).perform_cleanup()
    assert not old[0].exists() and not rest[0][0].exists() and rest[1][0].exists() and rest[2][0].exists()
    assert result["deleted_segments"] == 2 and result["target_reached"]


def test_dry_run_changes_nothing(recordings: Path) -> None:
    aged(recordings, 40)
    before = names(recordings)
    with structlog.testing.capture_logs() as logs:
        result = manager(recordings).perform_cleanup(dry_run=True)
    assert result["dry_run"] and result["deleted_segments"] == 1 and result["freed_bytes"] > 0
    assert names(recordings) == before  # no deletion, no stats file
    assert logs[-1]["event"].startswith("Cleanup dry run: would delete 2 files")


def test_cleanup_stats_are_appended_and_bounded(recordings: Path) -> None:
    rm = manager(recordings, stats_keep=2)
    aged(recordings, 40)
    first = rm.perform_cleanup()
    rm.force_cleanup_by_age(days=10)
    rm.force_cleanup_by_size(target_size_gb=1)
    runs = json.loads((recordings / STATS_FILE).read_text())["runs"]
    assert [r["operation"] for r in runs] == ["age", "size"]  # the last 2 kept
    assert rm.read_stats() == runs
    assert first["deleted_files"] == 2
    assert (recordings / STATS_FILE).stat().st_mode & 0o777 == 0o600
    assert all({"deleted_files", "freed_bytes", "freed_gb", "skipped"} <= set(r) for r in runs)
    # what an operator sees of it: the last run in the storage info
    last = rm.get_storage_info()["last_cleanup"]
    assert last["operation"] == "size" and last["started_at"] == runs[-1]["started_at"]
    assert last["deleted_files"] == runs[-1]["deleted_files"] and last["errors"] == 0


def test_reference_style_stats_file_is_kept(recordings: Path) -> None:
    (recordings / STATS_FILE).write_text(json.dumps({"deleted_files": 5, "freed_gb": 1.2}))
    manager(recordings).perform_cleanup()
    runs = manager(recordings).read_stats()
    assert runs[0] == {"deleted_files": 5, "freed_gb": 1.2} and len(runs) == 2


def test_corrupt_stats_file_is_set_aside_not_lost(recordings: Path) -> None:
    (recordings / STATS_FILE).write_text("{truncated")
    stale_temp = recordings / f".{STATS_FILE}.zz9.tmp"
    stale_temp.write_text("{")
    set_mtime(stale_temp, NOW_TS - DAY)
    result = manager(recordings).perform_cleanup()
    aside = [n for n in names(recordings) if n.startswith(f"{STATS_FILE}.corrupt-")]
    assert len(aside) == 1 and (recordings / aside[0]).read_text() == "{truncated"
    assert len(json.loads((recordings / STATS_FILE).read_text())["runs"]) == 1
    assert not stale_temp.exists() and stale_temp.name in result["deleted"]


def test_undeletable_video_keeps_its_metadata(recordings: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    video, meta = aged(recordings, 40)
    real_unlink = Path.unlink

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if self == video:
            raise PermissionError(13, "Permission denied")  # e.g. a player holds it on Windows
        real_unlink(self, missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    result = manager(recordings).perform_cleanup()
    assert video.exists() and meta.exists()
    assert result["deleted_files"] == 0 and "Permission denied" in result["errors"][0]
    assert result["skipped"][0]["reason"] == "error"


def test_on_deleted_is_told_about_each_segment(recordings: Path) -> None:
    video, _ = aged(recordings, 40)
    told: list[Path] = []
    manager(recordings, on_deleted=told.append).perform_cleanup()
    assert told == [video]


def test_get_storage_info(recordings: Path) -> None:
    parts = write_session(recordings, 2, start=NOW - timedelta(days=2))
    other = aged(recordings, 1, con_codigo=2)
    files = [p for v, m, _ in parts for p in (v, m)] + list(other)
    total = sum(p.stat().st_size for p in files)
    info = manager(recordings, max_total_size_gb=1.0).get_storage_info()
    assert info["total_size_bytes"] == total and info["total_size_gb"] == total / GB
    assert info["max_total_size_gb"] == 1.0
    assert info["size_usage_percent"] == round(total / GB * 100, 2)
    assert (info["file_count"], info["video_count"], info["segment_count"], info["session_count"]) == (6, 3, 3, 2)
    assert info["oldest"].startswith((NOW - timedelta(days=2)).isoformat())
    assert info["newest"].startswith((NOW - timedelta(days=1)).isoformat())
    assert info["free_disk_bytes"] > 0 and info["output_dir"] == str(recordings)
    assert info["active_count"] == 0
    empty = manager(recordings / "none").get_storage_info()
    assert empty["total_size_bytes"] == 0 and empty["oldest"] is None and empty["size_usage_percent"] == 0


def test_missing_directory_is_not_created(tmp_path: Path) -> None:
    result = manager(tmp_path / "none").perform_cleanup()
    assert result["deleted_files"] == 0 and not (tmp_path / "none").exists()


def test_bad_limits_are_named() -> None:
    with pytest.raises(ValueError, match="max_total_size_gb=0: must be a number > 0"):
        RotationManager("x", 0, 30)
    with pytest.raises(ValueError, match="max_file_age_days=nan: must be a number > 0"):
        RotationManager("x", 1, float("nan"))


class _Counting(RotationManager):
    def __init__(self, *args: Any, fail_first: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls = 0
        self.fail_first = fail_first

    def perform_cleanup(self, dry_run: bool = False) -> dict[str, Any]:
        self.calls += 1
        if self.fail_first and self.calls == 1:
            raise OSError("disk hiccup")
        return super().perform_cleanup(dry_run)


def test_scheduler_runs_at_start_on_trigger_and_stops(recordings: Path) -> None:
    rm = _Counting(recordings, 10, 30, clock=lambda: NOW_TS)
    aged(recordings, 40)
    with CleanupScheduler(rm, interval_hours=24) as scheduler:
        assert scheduler.wait_for_runs(1, timeout=10)
        assert scheduler.last_result is not None and scheduler.last_result["deleted_segments"] == 1
        scheduler.trigger()
        assert scheduler.wait_for_runs(2, timeout=10)
        assert scheduler.running
        thread = next(t for t in threading.enumerate() if t.name == "fastrec-cleanup")
        assert thread.daemon
    assert not scheduler.running
    assert rm.calls == 2  # nothing ran after stop, and the 24 h wait did not hold stop up


def test_scheduler_survives_a_failing_run(recordings: Path) -> None:
    rm = _Counting(recordings, 10, 30, clock=lambda: NOW_TS, fail_first=True)
    with structlog.testing.capture_logs() as logs, CleanupScheduler(rm, interval_hours=24) as scheduler:
        assert scheduler.wait_for_runs(1, timeout=10)
        assert isinstance(scheduler.last_error, OSError)
        scheduler.trigger()
        assert scheduler.wait_for_runs(2, timeout=10)
        assert scheduler.last_error is None and scheduler.last_result is not None
    assert any(e["event"] == "Scheduled cleanup failed" for e in logs)


def test_scheduler_on_demand_without_thread(recordings: Path) -> None:
    rm = manager(recordings)
    aged(recordings, 40)
    scheduler = CleanupScheduler(rm, interval_hours=6, run_at_start=False)
    assert scheduler.run_now()["deleted_segments"] == 1
    assert scheduler.runs == 1 and not scheduler.running
    with pytest.raises(ValueError, match="interval_hours=0: must be a number > 0"):
        CleanupScheduler(rm, 0)


class _ScriptedWake:
    """Stands in for the scheduler's wake-up event: records each wait, returns at once as
    if the interval had passed, and stops the scheduler at the ``stop_at``-th wait."""

    def __init__(self, scheduler: CleanupScheduler, stop_at: int) -> None:
        self.scheduler, self.stop_at, self.timeouts = scheduler, stop_at, []

    def wait(self, timeout: float | None = None) -> bool:
        self.timeouts.append(timeout)
        if len(self.timeouts) >= self.stop_at:
            self.scheduler._stopping.set()
        return False

    def set(self) -> None:
        pass

    def clear(self) -> None:
        pass


@pytest.mark.parametrize(("hours", "expected_wait"), [(1e-9, 60.0), (3e6, 30 * DAY), (6, 6 * 3600.0)])
def test_scheduler_interval_is_clamped_to_sane_bounds(recordings: Path, hours: float,
                                                      expected_wait: float) -> None:
    """Bug 15: 1e-9 h ran retention in a busy loop; 3e6 h overflowed Event.wait."""
    rm = _Counting(recordings, 10, 30, clock=lambda: NOW_TS)
    scheduler = CleanupScheduler(rm, interval_hours=hours)
    wake = _ScriptedWake(scheduler, stop_at=3)
    scheduler._wake = wake  # type: ignore[assignment]
    with scheduler:
        assert scheduler.wait_for_runs(3, timeout=60)
    assert not scheduler.running
    assert wake.timeouts == [expected_wait] * 3  # every wait a sane one: no busy loop, no overflow
    assert rm.calls == 3 and scheduler.last_error is None  # at start, then after 2 waits


def test_scheduler_with_a_huge_interval_keeps_running(recordings: Path) -> None:
    rm = _Counting(recordings, 10, 30, clock=lambda: NOW_TS)
    with CleanupScheduler(rm, interval_hours=3e6) as scheduler:
        assert scheduler.wait_for_runs(1, timeout=60)
        scheduler.trigger()
        assert scheduler.wait_for_runs(2, timeout=60)  # the thread is alive and wakes up
        assert scheduler.running
    assert rm.calls == 2
