"""Export jobs of the admin server: a session exported as JSON, MP4 or PDF in the background.

A request (``POST /api/recordings/{session}/exports``) becomes an :class:`ExportJob` run by
:func:`fastrec.export.run.export_session` on a small thread pool (``FASTREC_EXPORT_WORKERS``,
default 2): at most that many exports run at once, the others wait their turn; more than
:data:`MAX_PENDING` waiting or running are refused (the caller tries later).  A job's
progress (fraction and message) is updated by the export's callback and read by
``GET /api/exports/{id}``; the finished file is served by ``GET /api/exports/{id}/file``.

Invariants:

- Export files are written to a private (0700) temporary directory of this server, never
  into the recordings directory (retention, the index and storage totals never see them),
  named by the job id (no name from a client reaches the filesystem).  They are deleted
  when their job is evicted (the oldest finished jobs beyond :data:`KEEP_FINISHED`) and
  when the server stops: jobs live in memory only.
- An encrypted session's export is stored sealed (:class:`~fastrec.export.output.SealedOutput`:
  its own data key, wrapped by the session's key) and decrypted on the fly when downloaded
  (:meth:`ExportJobs.open_sealed`); nothing of it is plaintext on disk, not even while it
  is made.  Shredding the session makes its exports unreadable at once; :meth:`ExportJobs.sweep`
  then deletes them, with those of sessions deleted (by an admin or retention), and
  :meth:`ExportJobs.forget_session` deletes a session's exports when it is deleted here.
- A job is visible only to the user who requested it and to admins.
- State changes happen under one lock; the export itself runs outside it.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Literal

from fastrec.crypt.container import DecryptingReader
from fastrec.crypt.context import Encryption, encryption_for
from fastrec.export.output import open_sealed
from fastrec.export.run import ExportFormat, ExportRefused, default_name, export_session
from fastrec.export.timerange import TimeBound

__all__ = ["KEEP_FINISHED", "MAX_PENDING", "ExportBusy", "ExportJob", "ExportJobs", "JobState"]

MAX_PENDING = 16
KEEP_FINISHED = 50
JobState = Literal["queued", "running", "done", "failed"]


class ExportBusy(RuntimeError):
    """Too many exports waiting or running; the message says how many are allowed."""


@dataclass(frozen=True)
class ExportJob:
    """A snapshot of one export job."""

    id: str
    session_id: str
    format: ExportFormat
    requested_by: str
    created_at: float
    state: JobState = "queued"
    progress: float = 0.0
    message: str = "waiting for a free export worker"
    error: str | None = None
    error_reason: str | None = None  # ExportRefused.reason of a refused export
    file_name: str | None = None  # the name the download is offered under
    size_bytes: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    notes: tuple[str, ...] = field(default=())
    finished_at: float | None = None
    sealed: bool = False  # stored encrypted: served through ExportJobs.open_sealed


class ExportJobs:
    """The server's export jobs: submit, look up, the file of a finished one; :meth:`close`."""

    def __init__(self, recordings: Path | Callable[[str], Path], workers: int = 2) -> None:
        # a directory, or where each session is (the catalogue's: a fleet's sessions are mirrored)
        self.recordings = recordings
        self.directory = Path(tempfile.mkdtemp(prefix="fastrec-exports-"))  # 0700
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fastrec-export")
        self._lock = threading.Lock()
        self._jobs: dict[str, ExportJob] = {}
        self._keys: dict[str, Encryption] = {}  # a sealed job's keys (those of its session's directory)

    def submit(self, session_id: str, fmt: ExportFormat, requested_by: str, first: TimeBound | None = None,
               last: TimeBound | None = None) -> ExportJob:
        """Queue an export; :class:`ExportBusy` when :data:`MAX_PENDING` are waiting or running."""
        with self._lock:
            pending = sum(1 for job in self._jobs.values() if job.state in ("queued", "running"))
            if pending >= MAX_PENDING:
                raise ExportBusy(f"{pending} exports are waiting or running (at most {MAX_PENDING}); try again later")
            job = ExportJob(id=secrets.token_urlsafe(12), session_id=session_id, format=fmt,
                            requested_by=requested_by, created_at=time.time())
            self._jobs[job.id] = job
            self._evict()
        self._pool.submit(self._run, job.id, first, last)
        return job

    def get(self, job_id: str) -> ExportJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def file(self, job: ExportJob) -> Path:
        """Where a job's export is (or will be) written: named by the job id alone."""
        return self.directory / f"{job.id}.{job.format}"

    def open_sealed(self, job: ExportJob) -> DecryptingReader:
        """The plaintext of a sealed job's file; :class:`~fastrec.crypt.container.KeyUnavailable`
        once its session was shredded (the job is then forgotten, its file deleted)."""
        from fastrec.crypt.container import KeyUnavailable

        with self._lock:
            encryption = self._keys.get(job.id)
        if encryption is None:
            raise KeyUnavailable(f"export id={job.id!r}: its keys are gone")
        try:
            return open_sealed(self.file(job), encryption)
        except KeyUnavailable:
            self.forget_session(job.session_id)
            raise

    def sessions(self) -> set[str]:
        """The sessions that have jobs."""
        with self._lock:
            return {job.session_id for job in self._jobs.values()}

    def forget_session(self, session_id: str) -> int:
        """Delete the jobs of ``session_id`` and their files (a running one's file is deleted
        when it ends); returns how many."""
        with self._lock:
            gone = [job for job in self._jobs.values() if job.session_id == session_id]
            for job in gone:
                del self._jobs[job.id]
                self._keys.pop(job.id, None)
                self.file(job).unlink(missing_ok=True)
        return len(gone)

    def sweep(self, exists: Callable[[str], bool]) -> int:
        """Forget the exports of sessions that no longer ``exists`` or whose key was shredded."""
        from fastrec.crypt.keystore import Shredded

        dropped = 0
        for session_id in self.sessions():
            with self._lock:
                keys = {id(e): e for j, e in self._keys.items()
                        if j in self._jobs and self._jobs[j].session_id == session_id}
            shredded = False
            for encryption in keys.values():
                try:
                    encryption.keystore.get(session_id)
                except Shredded:
                    shredded = True
                except (ValueError, OSError):
                    pass
            if shredded or not exists(session_id):
                dropped += self.forget_session(session_id)
        return dropped

    def close(self) -> None:
        """Stop taking jobs, let the running ones end, delete every export file."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.directory, ignore_errors=True)

    # --- the worker side ---------------------------------------------------------------

    def _update(self, job_id: str, **changes: object) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                self._jobs[job_id] = replace(job, **changes)  # type: ignore[arg-type]

    def _run(self, job_id: str, first: TimeBound | None, last: TimeBound | None) -> None:
        job = self.get(job_id)
        if job is None:
            return
        self._update(job_id, state="running", message="starting")

        def progress(fraction: float, message: str) -> None:
            self._update(job_id, progress=round(min(1.0, max(0.0, fraction)), 4), message=message)

        try:
            folder = self.recordings(job.session_id) if callable(self.recordings) else self.recordings
            outcome = export_session(folder, job.session_id, job.format, output=self.file(job),
                                     first=first, last=last, seal=True, progress=progress)
            size = outcome.path.stat().st_size
            if outcome.sealed:
                encryption = encryption_for(folder)
                assert encryption is not None  # export_session sealed it with these
                with self._lock:
                    self._keys[job_id] = encryption
                with open_sealed(outcome.path, encryption) as plain:
                    size = plain.size
        except ExportRefused as exc:
            self._update(job_id, state="failed", error=str(exc), error_reason=exc.reason, message="refused",
                         finished_at=time.time())
            return
        except Exception as exc:  # a failure of one export never stops the pool or the server
            self._update(job_id, state="failed", error=f"{type(exc).__name__}: {exc}", message="failed",
                         finished_at=time.time())
            return
        from fastrec.export.timerange import TimeRange

        name = default_name(job.session_id, job.format, None if first is None and last is None
                            else TimeRange(outcome.start, outcome.end))
        with self._lock:
            if job_id not in self._jobs:  # its session was deleted or shredded meanwhile
                self.file(job).unlink(missing_ok=True)
                self._keys.pop(job_id, None)
                return
        self._update(job_id, state="done", progress=1.0, message="done", file_name=name,
                     size_bytes=size, start=outcome.start, end=outcome.end, notes=outcome.notes,
                     finished_at=time.time(), sealed=outcome.sealed)

    def _evict(self) -> None:
        finished = sorted((j for j in self._jobs.values() if j.finished_at is not None),
                          key=lambda j: j.finished_at or 0)
        for job in finished[:max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[job.id]
            self._keys.pop(job.id, None)
            self.file(job).unlink(missing_ok=True)
