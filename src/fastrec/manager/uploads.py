"""Moving sealed segments to the object store: upload, verify, then free the local disk.

One :class:`Uploader` thread per RecordingManager (never inside the capture or encoder
processes).  It is told about a segment when the segment is sealed and whenever its
metadata changes afterwards (linked to the next part); on start it looks at every sealed
segment in the directory, so the backlog of an earlier run (killed, or the store down) is
derived from the disk and the store, with no state file of its own.

Invariants:

- Only the bytes that were sealed are uploaded (a video or events file changed since its
  seal stays on disk, reported), and a local video is removed only after the store holds
  them: same size and the sealed SHA-256 (:meth:`ObjectStore.verify`: the store's
  checksum, or a read-back).  The part's events file (``_events.jsonl``, sealed with its
  own SHA-256 in the metadata) goes the same way, before the metadata, and leaves the disk
  with its video.  The metadata JSON is uploaded last (and again whenever it changes) but
  the local copy stays: it is the record the index, ``verify`` and retention read, and
  what says that the video and events file are in the store.
- Up to ``cache_bytes`` of uploaded videos are kept on disk (the newest); older ones go.
- A store that is down (:class:`StoreUnavailable`) stops nothing: the segment stays on
  disk, the error is shown in :meth:`Uploader.status` (and told to ``on_failing`` once
  when uploads go from working to failing: the live alert), and the uploader retries with
  exponential backoff (``backoff`` .. ``max_backoff`` seconds).  A segment whose upload
  does not verify is retried the same way, after the others: one bad file never holds
  up the rest.
- Parts still being written (``is_live``) and unsealed parts are never uploaded.
- A segment whose metadata vanished while it was uploaded (retention deleted it) has its
  fresh objects deleted again: nothing is left in the store without a local record.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from fastrec.storage.integrity import sha256_stream
from fastrec.storage.metadata import MetadataError, SegmentMetadata, read_metadata
from fastrec.storage.naming import metadata_path, video_path
from fastrec.storage.objectstore import ObjectStore, StoreUnavailable
from fastrec.storage.segments import scan_segments
from fastrec.storage.videos import LocalVideos

__all__ = ["UploadStatus", "Uploader"]

log = structlog.get_logger("fastrec.uploads")

_LOCAL = LocalVideos()
BACKOFF = 1.0
MAX_BACKOFF = 60.0


@dataclass(frozen=True, slots=True)
class UploadStatus:
    """What :meth:`Uploader.status` reports (``as_dict`` for the recording status)."""

    store: str
    backlog_segments: int  # sealed videos on disk not yet verified in the store
    backlog_bytes: int
    uploaded_segments: int  # verified uploads since start
    uploaded_bytes: int
    cached_bytes: int  # uploaded videos still kept on disk
    last_error: str | None
    retry_in_seconds: float | None  # None when not waiting after an error

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]


class _Retry(Exception):
    """Try this segment again after the backoff."""


class Uploader:
    """Uploads the sealed segments of ``directory`` to ``store`` on its own thread."""

    def __init__(self, directory: Path, store: ObjectStore, *, cache_bytes: int = 0,
                 is_live: Callable[[Path], bool] = lambda path: False,
                 on_failing: Callable[[UploadStatus], None] | None = None,
                 backoff: float = BACKOFF, max_backoff: float = MAX_BACKOFF) -> None:
        if cache_bytes < 0:
            raise ValueError(f"cache_bytes={cache_bytes}: must be 0 or greater")
        if not 0 < backoff <= max_backoff:
            raise ValueError(f"backoff={backoff}, max_backoff={max_backoff}: need 0 < backoff <= max_backoff")
        self.directory = Path(directory)
        self.store = store
        self.cache_bytes = cache_bytes
        self.is_live = is_live
        self.on_failing = on_failing  # told once each time uploads start failing (the live alert)
        self.backoff, self.max_backoff = backoff, max_backoff
        # basename -> (video bytes on disk, submission number): a segment submitted again
        # while it is being uploaded (its metadata linked meanwhile) stays pending
        self._pending: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._submissions = 0
        self._cached: OrderedDict[str, int] = OrderedDict()  # uploaded videos kept, oldest first
        self._cached_events: dict[str, Path] = {}  # their events files, verified in the store too
        self._uploaded = [0, 0]  # segments, bytes
        self._last_error: str | None = None
        self._failing: set[str] = set()  # segments whose last attempt failed
        self._retry_at: float | None = None
        self._delay = backoff
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    # --- control ---------------------------------------------------------------------------

    def start(self) -> Uploader:
        """Queue every sealed segment on disk (the backlog of earlier runs) and start."""
        for segment in scan_segments(self.directory):
            meta = segment.meta
            if meta is not None and meta.status != "recording" and meta.file.sha256 is not None:
                self.submit(segment.basename)
        self._thread = threading.Thread(target=self._run, name="fastrec-uploader", daemon=True)
        self._thread.start()
        log.info("Object store uploads started", store=str(self.store.location), backlog=len(self._pending))
        return self

    def submit(self, basename: str) -> None:
        """Segment ``basename`` was sealed, or its sealed metadata changed: upload it."""
        size = _size(video_path(self.directory, basename))
        with self._cond:
            self._submissions += 1
            self._pending[basename] = (size if basename not in self._cached else 0, self._submissions)
            self._cond.notify_all()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the upload under way (what is left stays on disk for the next start)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def status(self) -> UploadStatus:
        with self._cond:
            waiting = [size for size, _ in self._pending.values() if size > 0]
            retry = None
            if self._retry_at is not None:
                retry = max(0.0, self._retry_at - time.monotonic())
            return UploadStatus(str(self.store.location), len(waiting), sum(waiting), self._uploaded[0],
                                self._uploaded[1], sum(self._cached.values()), self._last_error, retry)

    # --- the thread --------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (not self._pending or (
                        self._retry_at is not None and time.monotonic() < self._retry_at)):
                    wait = None if self._retry_at is None else max(0.0, self._retry_at - time.monotonic())
                    self._cond.wait(wait)
                if self._stopping:
                    return
                basename, (_, submission) = next(iter(self._pending.items()))
            try:
                self._sync(basename)
            except (_Retry, StoreUnavailable) as exc:
                with self._cond:
                    if basename in self._pending:  # the others get their turn before it comes again
                        self._pending.move_to_end(basename)
                    started_failing = not self._failing
                    self._failing.add(basename)
                    self._last_error = str(exc)
                    self._retry_at = time.monotonic() + self._delay
                    log.warning("Upload to the object store failed; the segment stays on disk",
                                segment=basename, error=str(exc), retry_in=self._delay)
                    self._delay = min(self.max_backoff, self._delay * 2)
                if started_failing:
                    self._tell_failing()
                continue
            except Exception as exc:  # noqa: BLE001 - one bad segment must not stop the others
                log.exception("Segment not uploaded", segment=basename, error=str(exc))
                with self._cond:
                    self._pending.pop(basename, None)  # dropped until it is submitted again
                    self._last_error = f"{basename}: {type(exc).__name__}: {exc}"
                continue
            with self._cond:
                self._failing.discard(basename)
                if not self._failing:
                    self._last_error = None
                if self._pending.get(basename, (0, submission))[1] == submission:
                    self._pending.pop(basename, None)
                else:  # submitted again meanwhile: once more, after the others
                    again = self._pending.pop(basename)[1]
                    waiting = 0 if basename in self._cached else _size(video_path(self.directory, basename))
                    self._pending[basename] = (waiting, again)
                self._retry_at = None
                self._delay = self.backoff

    def _sync(self, basename: str) -> None:
        meta_file = metadata_path(self.directory, basename)
        video = video_path(self.directory, basename)
        try:
            raw = meta_file.read_bytes()
            meta = read_metadata(meta_file)
        except FileNotFoundError:
            return  # deleted (retention) before it was uploaded
        except (MetadataError, OSError) as exc:
            raise _Retry(f"{meta_file.name}: cannot be read ({exc})") from None
        if meta.status == "recording" or meta.file.sha256 is None or self.is_live(video):
            return  # not sealed: it is submitted again when it is
        uploaded_video = 0
        if os.path.lexists(video) and basename not in self._cached:
            size = meta.file.size_bytes if meta.file.size_bytes is not None else _size(video)
            uploaded_video = self._put_sealed(video, size, meta.file.sha256)
            if uploaded_video is None:
                return  # deleted (retention) meanwhile
        events = self._sealed_events(meta)
        events_stored = False  # the store holds the sealed events file, checked just now
        if events is not None and os.path.lexists(events[0]) and basename not in self._cached:
            if self._put_sealed(*events) is None:
                return
            events_stored = True
        meta_sha = hashlib.sha256(raw).hexdigest()
        info = self.store.head(meta_file.name)
        if info is None or info.sha256 != meta_sha:
            self.store.put_bytes(meta_file.name, raw, meta_sha)  # exactly the bytes hashed
            problem = self.store.verify(meta_file.name, len(raw), meta_sha)
            if problem is not None:
                raise _Retry(f"{meta_file.name}: upload did not verify ({problem})")
        if not meta_file.exists():  # retention deleted the segment meanwhile: so does the store
            self.store.delete_segment(basename)
            return
        with self._cond:
            if uploaded_video:
                self._uploaded[0] += 1
                self._uploaded[1] += uploaded_video
                log.info("Recording segment uploaded", file=video.name, bytes=uploaded_video,
                         store=str(self.store.location))
            if os.path.lexists(video) and basename not in self._cached:
                self._cached[basename] = _size(video) + (_size(events[0]) if events_stored else 0)
                if events_stored:
                    self._cached_events[basename] = events[0]
        if events_stored and not os.path.lexists(video):
            _remove(events[0])  # its video left the disk in an earlier run: the events file follows
        self._evict()

    def _sealed_events(self, meta: SegmentMetadata) -> tuple[Path, int, str] | None:
        """The part's sealed events file (path, size, SHA-256), or None when it has none."""
        info = meta.events
        if info is None or info.sha256 is None or not info.name or Path(info.name).name != info.name:
            return None
        path = self.directory / info.name
        return path, info.size_bytes if info.size_bytes is not None else _size(path), info.sha256

    def _put_sealed(self, path: Path, size: int, sha256: str) -> int | None:
        """Make the store hold the sealed bytes of ``path`` (a video or an events file):
        bytes uploaded (0: already there), None when the file was deleted meanwhile."""
        problem = self.store.verify(path.name, size, sha256)
        if problem is None:
            return 0
        try:  # not there yet (or not whole): upload it
            local = _LOCAL.open(path)  # the sealed file itself: no link followed
        except FileNotFoundError:
            return None  # deleted (retention) meanwhile
        except OSError as exc:
            raise _Retry(f"{path.name}: cannot be read ({exc})") from None
        with local:
            # never put bytes in the store that are not what was sealed
            actual = sha256_stream(local.handle)
            if actual != sha256:
                raise _Retry(f"{path.name}: changed since it was sealed (SHA-256 {actual} on "
                             f"disk, {sha256} sealed); kept on disk, not uploaded")
            self.store.put_file(path.name, local.handle, sha256)
        problem = self.store.verify(path.name, size, sha256)
        if problem is not None:
            raise _Retry(f"{path.name}: upload did not verify ({problem})")
        return size

    def _tell_failing(self) -> None:
        if self.on_failing is None:
            return
        try:
            self.on_failing(self.status())
        except Exception as exc:  # noqa: BLE001 - an alert must never stop the uploads
            log.warning("Upload failure not reported", error=f"{type(exc).__name__}: {exc}")

    def _evict(self) -> None:
        """Remove uploaded videos from the disk, oldest first, down to the cache size."""
        while True:
            with self._cond:
                total = sum(self._cached.values())
                if total <= self.cache_bytes or not self._cached:
                    return
                basename, _ = self._cached.popitem(last=False)
                events = self._cached_events.pop(basename, None)
            _remove(video_path(self.directory, basename))
            if events is not None:  # verified in the store with its video: it leaves with it
                _remove(events)


def _remove(path: Path) -> None:
    """Remove an uploaded file from the disk (a warning, never an error, when it cannot)."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("Uploaded file not removed from the disk", file=path.name, error=str(exc))


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0


