"""Retention: delete old recordings, keep the directory under its size quota, on a schedule.

``RotationManager`` is the reference's ``recording_manager.rotation_manager``: the same
method names and result keys, with the reference's defects fixed.  A segment (video,
metadata, leftover temp files) is deleted as a whole, so metadata is never orphaned and
none of our files is skipped; a segment that is being recorded is never touched.  Every
run is appended to ``cleanup_stats.json`` and logged as
``Cleanup completed: deleted N files, freed X GB``.

Retention deletes only what the recorder's own metadata says it wrote (see
:mod:`fastrec.storage.segments`): a ``session_holiday.mp4``, a foreign
``session_config_metadata.json`` or a stray temp file is reported under ``ignored`` and
left alone, whatever its age.  ``cleanup_stats.json`` is read without following a link
and replaced atomically (a link there is replaced, never written through).  With an
object store (FASTREC_S3_URL) a deleted segment's objects are deleted there first; the
local metadata stays until they are, so a store that is down only delays the deletion.
Before anything of a session's part is deleted, a tombstone goes to the deletion log
(:mod:`fastrec.storage.deletion_log`, signed when a key is configured), so ``verify``
reports the part as "deleted by retention on DATE", not as missing.

:class:`CleanupScheduler` never busy-loops and never dies: the interval is clamped to
:data:`MIN_INTERVAL_SECONDS` .. :data:`MAX_INTERVAL_SECONDS` (a wait longer than that
would overflow ``Event.wait`` on some platforms, and retention counts in days anyway),
and whatever a run or a wait raises is logged and the schedule goes on.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Self

import structlog

from fastrec.storage.deletion_log import RETENTION, DeletedPart, DeletionRecord, append_deletion
from fastrec.storage.files import read_private, write_private
from fastrec.storage.objectstore import ObjectStore, StoreUnavailable, store_from_settings
from fastrec.storage.recovery import recorder_alive
from fastrec.storage.segments import Segment, scan, stray_temp_files

__all__ = ["GB", "MAX_INTERVAL_SECONDS", "MIN_INTERVAL_SECONDS", "STATS_FILE", "CleanupScheduler",
           "RotationManager"]

GB = 1024**3  # the reference's "GB" is 1024**3 bytes
STATS_FILE = "cleanup_stats.json"
DAY = 86400.0
MIN_INTERVAL_SECONDS = 60.0
MAX_INTERVAL_SECONDS = 30 * DAY  # < threading.TIMEOUT_MAX everywhere (49.7 days on Windows)
_MAX_STATS_BYTES = 64 * 1024 * 1024

log = structlog.get_logger("fastrec.storage.retention")

Clock = Callable[[], float]


def _positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value) \
            or value < 0 or (value == 0 and not allow_zero):
        allowed = "a number >= 0" if allow_zero else "a number > 0"
        raise ValueError(f"{name}={value!r}: must be {allowed}")
    return float(value)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).astimezone().isoformat()


@dataclass(frozen=True, slots=True)
class RetentionLimits:
    """Limits that replace the settings' for a run (None: the setting's), and where they
    come from (``policy version 3``), for the run's result and log."""

    max_file_age_days: float | None = None
    max_total_size_gb: float | None = None
    source: str = "settings"


class RotationManager:
    """Age- and size-based cleanup of one output directory.

    ``is_active(video_path)`` tells whether the recorder is writing that segment right
    now; such a segment is never deleted.  Independently of it, a segment whose metadata
    says ``recording`` (or a video without metadata) that was modified within
    ``recording_grace_seconds`` is left alone too: it may belong to another process.
    ``clock`` returns the current time in epoch seconds (injectable for tests).
    ``on_deleted(video_path)`` is called after each segment is deleted (e.g. to drop it
    from the index).  ``stats_keep`` runs are kept in ``cleanup_stats.json``.
    ``store``: the object store the segments are uploaded to (FASTREC_S3_URL); a segment
    deleted here is deleted there first (its video and metadata objects, named by the
    segment's own base name: never another key), and kept whole on disk when the store
    cannot be reached, so the next run tries again.
    ``limits``: asked at every run and by :meth:`get_storage_info` for limits that replace
    ``max_file_age_days`` / ``max_total_size_gb`` (the recording policy's retention
    section); when it fails, the settings' limits apply and the failure is logged.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike[str],
        max_total_size_gb: float,
        max_file_age_days: float,
        is_active: Callable[[Path], bool] = lambda p: False,
        clock: Clock = time.time,
        *,
        recording_grace_seconds: float = 900.0,
        stats_keep: int = 100,
        on_deleted: Callable[[Path], None] | None = None,
        store: ObjectStore | None = None,
        limits: Callable[[], RetentionLimits] | None = None,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.max_total_size_gb = _positive("max_total_size_gb", max_total_size_gb)
        self.max_file_age_days = _positive("max_file_age_days", max_file_age_days)
        self.recording_grace_seconds = _positive("recording_grace_seconds", recording_grace_seconds,
                                                 allow_zero=True)
        if stats_keep < 1:
            raise ValueError(f"stats_keep={stats_keep!r}: must be 1 or greater")
        self.stats_keep = stats_keep
        self.is_active = is_active
        self.clock = clock
        self.on_deleted = on_deleted
        self.store = store
        self.limits = limits
        self._lock = threading.RLock()  # one cleanup at a time: scheduler vs manual calls

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> RotationManager:
        """A manager for ``RecordingSettings`` (output_dir, max_total_size_gb, max_file_age_days,
        and the object store of FASTREC_S3_URL unless ``store`` is given)."""
        if "store" not in kwargs:
            kwargs["store"] = store_from_settings(settings)
        return cls(settings.output_dir, settings.max_total_size_gb, settings.max_file_age_days, **kwargs)

    # --- public operations (the reference's names) ---

    def force_cleanup_by_age(self, days: float) -> dict[str, Any]:
        """Delete every finished segment older than ``days`` (0 = all finished segments).

        Returns the run's result (see :meth:`perform_cleanup`).
        """
        days = _positive("days", days, allow_zero=True)
        return self._run("age", dry_run=False, age_days=days, target_gb=None)

    def force_cleanup_by_size(self, target_size_gb: float) -> dict[str, Any]:
        """Delete the oldest finished segments until the total is at most ``target_size_gb``."""
        target = _positive("target_size_gb", target_size_gb, allow_zero=True)
        return self._run("size", dry_run=False, age_days=None, target_gb=target)

    def perform_cleanup(self, dry_run: bool = False) -> dict[str, Any]:
        """Delete segments older than ``max_file_age_days``, then the oldest down to the quota.

        ``dry_run`` reports what would be deleted and changes nothing (no stats written).
        The result dict:

        - ``operation``: "cleanup", "age" or "size"; ``dry_run``: bool
        - ``started_at``: ISO 8601 local time of the run
        - ``max_file_age_days`` / ``target_size_gb``: the limits applied (None if not);
          ``limits_from``: "settings", or the policy version whose retention set them
        - ``deleted_files``: number of files removed (videos, metadata, temp files)
        - ``deleted_segments``: number of segments removed
        - ``deleted``: names of the removed files
        - ``freed_bytes``, ``freed_gb``: space freed (GB = 1024**3 bytes)
        - ``skipped``: [{"segment", "reason", "detail"}] segments that were due but kept;
          reasons: "active" (is_active said so), "recording" (status recording and
          recently modified), "error" (is_active failed, or a file could not be deleted)
        - ``ignored``: [{"file", "reason"}] files that look like recordings but that no
          metadata of the recorder names: never deleted, whatever their age
        - ``errors``: messages of files that could not be deleted
        - ``total_size_bytes_before`` / ``total_size_bytes_after``: recordings' size
        - ``target_reached``: whether the size target was met (True when not applied)
        """
        limits = self.effective_limits()
        result = self._run("cleanup", dry_run=dry_run, age_days=limits.max_file_age_days,
                           target_gb=limits.max_total_size_gb)
        result["limits_from"] = limits.source
        return result

    def effective_limits(self) -> RetentionLimits:
        """The age and size limits in force: ``limits()``'s where it sets them, else the
        settings' (``source`` says which: "settings", or e.g. "policy version 3")."""
        given = RetentionLimits()
        if self.limits is not None:
            try:
                given = self.limits()
            except Exception as exc:  # noqa: BLE001 - the settings' limits still apply
                log.error(f"Retention limits of the recording policy unavailable; the settings' apply: {exc}",
                          error=str(exc))
        age, size = given.max_file_age_days, given.max_total_size_gb
        return RetentionLimits(self.max_file_age_days if age is None else age,
                               self.max_total_size_gb if size is None else size,
                               given.source if (age, size) != (None, None) else "settings")

    def get_storage_info(self) -> dict[str, Any]:
        """How much the recordings take and how full the quota is.

        - ``output_dir``: the directory (str)
        - ``total_size_bytes``, ``total_size_gb``: size of all recording files (videos,
          metadata, leftover temp files), GB = 1024**3 bytes
        - ``max_total_size_gb``: the quota; ``size_usage_percent``: total / quota * 100
        - ``max_file_age_days``: the age limit; ``limits_from``: "settings", or the policy
          version whose retention section set either limit
        - ``file_count``: number of recording files; ``video_count``: number of videos
        - ``segment_count``: number of segments; ``session_count``: distinct sessions
          (a segment without readable metadata counts as its own session)
        - ``active_count``: segments is_active reports as being recorded
        - ``oldest``, ``newest``: ISO 8601 start of the oldest/newest segment, or None
        - ``free_disk_bytes``: free space on the directory's filesystem, or None
        - ``ignored_files``: files that look like recordings but that no metadata of the
          recorder names (not counted above, never deleted)
        - ``last_cleanup``: the last run in ``cleanup_stats.json`` ({operation,
          started_at, deleted_files, freed_bytes, errors}), or None; an unreadable stats
          file gives None (it is derived data)
        """
        found = scan(self.output_dir)
        segments = found.segments
        total = sum(s.size_bytes for s in segments)
        sessions = {s.session_id or f"file:{s.basename}" for s in segments}
        limits = self.effective_limits()
        try:
            free: int | None = shutil.disk_usage(self.output_dir).free
        except OSError:
            free = None
        return {
            "output_dir": str(self.output_dir),
            "total_size_bytes": total,
            "total_size_gb": total / GB,
            "max_total_size_gb": limits.max_total_size_gb,
            "size_usage_percent": round(total / ((limits.max_total_size_gb or math.inf) * GB) * 100, 2),
            "max_file_age_days": limits.max_file_age_days,
            "limits_from": limits.source,
            "file_count": sum(len(s.files) for s in segments),
            "video_count": sum(1 for s in segments if s.video is not None),
            "segment_count": len(segments),
            "session_count": len(sessions),
            "active_count": sum(1 for s in segments if self._safe_is_active(s)[0]),
            "oldest": _iso(segments[0].started) if segments else None,
            "newest": _iso(max(s.started for s in segments)) if segments else None,
            "free_disk_bytes": free,
            "ignored_files": len(found.foreign),
            "last_cleanup": self._last_cleanup(),
        }

    def _last_cleanup(self) -> dict[str, Any] | None:
        try:
            runs = self.read_stats()
        except ValueError:
            return None
        if not runs:
            return None
        last = runs[-1]
        errors = last.get("errors")
        return {"operation": last.get("operation"), "started_at": last.get("started_at"),
                "deleted_files": last.get("deleted_files"), "freed_bytes": last.get("freed_bytes"),
                "errors": len(errors) if isinstance(errors, list) else errors}

    def read_stats(self) -> list[dict[str, Any]]:
        """The runs recorded in ``cleanup_stats.json``, oldest first ([] if none)."""
        return _load_runs(self.output_dir / STATS_FILE)

    # --- the run ---

    def _run(self, operation: str, *, dry_run: bool, age_days: float | None,
             target_gb: float | None) -> dict[str, Any]:
        with self._lock:
            now = self.clock()
            found = scan(self.output_dir)
            segments = found.segments
            total_before = sum(s.size_bytes for s in segments)
            result: dict[str, Any] = {
                "operation": operation, "dry_run": dry_run, "started_at": _iso(now),
                "output_dir": str(self.output_dir),
                "max_file_age_days": age_days, "target_size_gb": target_gb,
                "deleted_files": 0, "deleted_segments": 0, "deleted": [],
                "freed_bytes": 0, "freed_gb": 0.0, "skipped": [], "errors": [],
                "total_size_bytes_before": total_before, "target_reached": True,
                "ignored": [{"file": p.name, "reason": why} for p, why in found.foreign],
            }
            remaining = list(segments)
            kept: set[str] = set()  # protected or undeletable: reported once, not retried
            if age_days is not None:
                cutoff = now - age_days * DAY
                for segment in [s for s in remaining if s.last_activity < cutoff]:
                    if self._delete(segment, now, dry_run, result, reason="age"):
                        remaining.remove(segment)
                    else:
                        kept.add(segment.basename)
            if target_gb is not None:
                total = sum(s.size_bytes for s in remaining)
                target_bytes = target_gb * GB
                for segment in list(remaining):  # oldest first
                    if total <= target_bytes:
                        break
                    if segment.basename in kept:
                        continue
                    if self._delete(segment, now, dry_run, result, reason="size"):
                        remaining.remove(segment)
                        total -= segment.size_bytes
                result["target_reached"] = total <= target_bytes
            self._remove_stray_stats_temps(now, dry_run, result)
            result["freed_gb"] = result["freed_bytes"] / GB
            result["total_size_bytes_after"] = total_before - result["freed_bytes"]
            self._report(result)
            return result

    def _safe_is_active(self, segment: Segment) -> tuple[bool, str]:
        try:
            return bool(self.is_active(segment.video_path)), ""
        except Exception as exc:  # noqa: BLE001 - a broken callback must not get a live recording deleted
            return True, f"is_active raised {type(exc).__name__}: {exc}"

    def _protection(self, segment: Segment, now: float) -> tuple[str, str] | None:
        """Why ``segment`` must be kept, as (reason, detail), or None when it may go."""
        active, problem = self._safe_is_active(segment)
        if active:
            return ("error", problem) if problem else ("active", "being recorded")
        meta = segment.meta
        if meta is not None and meta.status == "recording" and meta.recorder is not None:
            # a recorder that is still running may write nothing for hours (a paused window)
            if recorder_alive(meta.recorder) is True:
                return "recording", f"status recording, its recorder (pid {meta.recorder.pid}) is running"
        if now - segment.newest_mtime >= self.recording_grace_seconds:
            return None
        if segment.meta is not None and segment.meta.status == "recording":
            return "recording", f"status recording, modified {now - segment.newest_mtime:.0f} s ago"
        return None

    def _delete(self, segment: Segment, now: float, dry_run: bool, result: dict[str, Any],
                *, reason: str) -> bool:
        """Delete one segment's files (video first, metadata last); True if all are gone."""
        protection = self._protection(segment, now)
        if protection is not None:
            result["skipped"].append({"segment": segment.basename, "reason": protection[0],
                                      "detail": protection[1], "due_to": reason})
            return False
        if not dry_run:
            problem = _record_deletion(self.output_dir, segment, now, result, reason)
            if problem is not None:
                result["errors"].append(problem)
                result["skipped"].append({"segment": segment.basename, "reason": "error",
                                          "detail": problem, "due_to": reason})
                return False
        if self.store is not None and not dry_run:
            problem = _delete_objects(self.store, segment)
            if problem is not None:
                result["errors"].append(problem)
                result["skipped"].append({"segment": segment.basename, "reason": "error",
                                          "detail": problem, "due_to": reason})
                return False
        deleted = _unlink_all(segment.files, dry_run, result)
        if deleted:
            result["deleted_segments"] += 1
            if not dry_run and self.on_deleted is not None:
                try:
                    self.on_deleted(segment.video_path)
                except Exception as exc:  # noqa: BLE001 - the files are gone; a stale index entry is recoverable
                    result["errors"].append(f"on_deleted({segment.video_path}) failed: {exc}")
        else:
            result["skipped"].append({"segment": segment.basename, "reason": "error",
                                      "detail": "could not delete every file", "due_to": reason})
        return deleted

    def _remove_stray_stats_temps(self, now: float, dry_run: bool, result: dict[str, Any]) -> None:
        # a crash while rewriting cleanup_stats.json leaves a temp file only we can clean up
        stale = []
        for path in stray_temp_files(self.output_dir, STATS_FILE):
            try:
                if now - path.stat().st_mtime >= self.recording_grace_seconds:
                    stale.append(path)
            except FileNotFoundError:
                continue
        _unlink_all(stale, dry_run, result)

    def _report(self, result: dict[str, Any]) -> None:
        count, gigabytes = result["deleted_files"], result["freed_gb"]
        fields = {k: result[k] for k in ("operation", "deleted_files", "deleted_segments",
                                         "freed_bytes", "freed_gb", "target_reached")}
        fields.update(skipped=len(result["skipped"]), errors=len(result["errors"]),
                      output_dir=result["output_dir"])
        for error in result["errors"]:
            log.warning("Cleanup could not delete a file", error=error)
        if result["dry_run"]:
            log.info(f"Cleanup dry run: would delete {count} files, free {gigabytes:.2f} GB", **fields)
            return
        try:
            self._append_stats(result)
        except OSError as exc:
            result["errors"].append(f"{STATS_FILE} could not be written: {exc}")
            log.error("Cleanup statistics could not be written", error=str(exc))
        log.info(f"Cleanup completed: deleted {count} files, freed {gigabytes:.2f} GB", **fields)

    def _append_stats(self, result: dict[str, Any]) -> None:
        if not self.output_dir.is_dir():
            return  # nothing was there to clean; do not create the directory for a log
        path = self.output_dir / STATS_FILE
        try:
            runs = _load_runs(path)
        except ValueError as exc:
            # keep the unreadable file for whoever wants to look at it, start a new one
            aside = path.with_name(f"{STATS_FILE}.corrupt-{int(self.clock())}")
            os.replace(path, aside)
            log.warning("Cleanup statistics were unreadable and were set aside",
                        path=str(aside), error=str(exc))
            runs = []
        runs.append(result)
        payload = {"runs": runs[-self.stats_keep:]}
        write_private(path, json.dumps(payload, indent=2, default=str) + "\n")


def _record_deletion(directory: Path, segment: Segment, now: float, result: dict[str, Any],
                     reason: str) -> str | None:
    """The segment's tombstone in the deletion log, written before any of its files goes
    (so ``verify`` says "deleted by retention" instead of "missing"); the problem, or None."""
    meta = segment.meta
    if meta is None:  # not a part of a session (a video without metadata): nothing to chain
        return None
    why = (f"older than {result['max_file_age_days']:g} days" if reason == "age"
           else f"over the size quota of {result['target_size_gb']:g} GB")
    part = DeletedPart(part=meta.chain.part, file=segment.video_path.name, sha256=meta.file.sha256,
                       chain_hash=meta.chain.chain_hash, size_bytes=meta.file.size_bytes)
    try:
        append_deletion(directory, DeletionRecord(at=now, session_id=meta.session_id, by=RETENTION,
                                                  reason=why, parts=[part]))
    except (OSError, ValueError) as exc:  # a full disk, an unusable signing key: delete nothing
        return f"{segment.basename} not deleted: its deletion record could not be written ({exc})"
    return None


def _delete_objects(store: ObjectStore, segment: Segment) -> str | None:
    """Delete the segment's objects from the store; None, or what failed."""
    try:
        store.delete_segment(segment.basename)
    except (StoreUnavailable, ValueError) as exc:
        return f"{segment.basename} not deleted from the object store: {exc}"
    return None


def _unlink_all(paths: Iterable[Path], dry_run: bool, result: dict[str, Any]) -> bool:
    """Remove ``paths`` in order, stopping at the first failure; True if none failed."""
    for path in paths:
        try:
            size = path.lstat().st_size  # the file itself: a link put there since is not followed
            if not dry_run:
                path.unlink()
        except FileNotFoundError:
            continue  # already gone: nothing to free, nothing lost
        except OSError as exc:
            # stop here: the files after this one (metadata last) still describe it
            result["errors"].append(f"{path}: {exc.strerror or exc}")
            return False
        result["deleted_files"] += 1
        result["deleted"].append(path.name)
        result["freed_bytes"] += size
    return True


def _load_runs(path: Path) -> list[dict[str, Any]]:
    """Runs from a stats file; also accepts a bare list or one run (older formats).

    Raises ValueError when the file exists but is not readable JSON of that shape.
    """
    try:
        text = read_private(path, _MAX_STATS_BYTES).decode("utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:  # a link, a FIFO, something huge: not ours to read
        raise ValueError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg})") from exc
    except RecursionError as exc:
        raise ValueError(f"{path}: JSON nested too deeply") from exc
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if isinstance(data, dict) and isinstance(data.get("runs"), list):
        return [r for r in data["runs"] if isinstance(r, dict)]
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)]
    if isinstance(data, dict):
        return [data]  # a single result, as the reference wrote it
    raise ValueError(f"{path}: expected an object or a list, found {type(data).__name__}")


class CleanupScheduler:
    """Runs ``manager.perform_cleanup()`` every ``interval_hours`` on a daemon thread.

    Use as a context manager (``with CleanupScheduler(m, 6): ...``) or call
    :meth:`start` / :meth:`stop`.  :meth:`run_now` runs a cleanup in the calling thread;
    :meth:`trigger` asks the thread to run one soon.  An exception in a run is logged and
    the schedule goes on.  ``interval_hours`` is clamped to :data:`MIN_INTERVAL_SECONDS`
    .. :data:`MAX_INTERVAL_SECONDS` (logged when it is), so the thread never busy-loops
    and its wait never overflows; :attr:`interval_seconds` is the interval applied.
    """

    def __init__(self, manager: RotationManager, interval_hours: float, *, run_at_start: bool = True,
                 name: str = "fastrec-cleanup") -> None:
        self.manager = manager
        asked = _positive("interval_hours", interval_hours) * 3600.0
        self.interval_seconds = min(max(asked, MIN_INTERVAL_SECONDS), MAX_INTERVAL_SECONDS)
        if self.interval_seconds != asked:
            log.warning(f"Cleanup interval_hours={interval_hours!r} is outside "
                        f"{MIN_INTERVAL_SECONDS / 3600:g}..{MAX_INTERVAL_SECONDS / 3600:g} hours; "
                        f"cleanup runs every {self.interval_seconds / 3600:g} hours",
                        interval_hours=interval_hours, applied_seconds=self.interval_seconds)
        self.run_at_start = run_at_start
        self.last_result: dict[str, Any] | None = None
        self.last_error: BaseException | None = None
        self.runs = 0
        self._name = name
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._done = threading.Condition()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True while the scheduler thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> CleanupScheduler:
        """Start the thread (a no-op when it already runs); returns self."""
        if self.running:
            return self
        self._stopping.clear()
        self._wake.clear()
        self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop the thread, waiting up to ``timeout`` seconds for a running cleanup to end."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if not self._thread.is_alive():
                self._thread = None

    def trigger(self) -> None:
        """Ask the thread to run a cleanup now instead of at the next interval."""
        self._wake.set()

    def run_now(self) -> dict[str, Any]:
        """Run a cleanup in the calling thread and return its result."""
        return self._run_once(raise_errors=True)  # type: ignore[return-value]

    def wait_for_runs(self, count: int, timeout: float) -> bool:
        """Block until at least ``count`` runs have finished; False on timeout."""
        with self._done:
            return self._done.wait_for(lambda: self.runs >= count, timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _loop(self) -> None:
        if self.run_at_start:
            self._run_once(raise_errors=False)
        while not self._stopping.is_set():
            try:
                self._wake.wait(self.interval_seconds)
                self._wake.clear()
            except Exception as exc:
                log.exception("Cleanup schedule could not wait; retrying", error=str(exc))
                self._stopping.wait(MIN_INTERVAL_SECONDS)
                continue
            if self._stopping.is_set():
                break
            self._run_once(raise_errors=False)

    def _run_once(self, *, raise_errors: bool) -> dict[str, Any] | None:
        result: dict[str, Any] | None = None
        try:
            result = self.manager.perform_cleanup()
            self.last_result, self.last_error = result, None
        except Exception as exc:
            self.last_error = exc
            log.exception("Scheduled cleanup failed", error=str(exc))
            if raise_errors:
                raise
        finally:
            with self._done:
                self.runs += 1
                self._done.notify_all()
        return result
