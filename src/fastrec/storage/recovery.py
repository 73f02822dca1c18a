"""Seal the parts a killed recorder left in status ``recording``.

A recorder that dies without a chance to clean up (SIGKILL, power loss) leaves its open
part as it was: a fragmented MP4 that plays up to its last whole fragment, and metadata
that says ``recording`` forever (so ``status`` shows a session nobody records).
:func:`recover_interrupted` finds such parts and seals them as they are on disk:

1. **Orphaned?**  A part is left alone while ``is_live(video)`` says this process writes
   it.  Otherwise, when its metadata has a ``recorder`` section
   (:class:`~fastrec.storage.metadata.RecorderProcess`, written when the part opens) on
   this host, the part is orphaned when that process is gone: no such pid, or the pid now
   belongs to a process started at another time (pid reuse).  A part without that
   section (older writers), or written on another host, is orphaned only when neither
   its video nor its metadata changed for ``orphan_after_seconds``
   (:data:`ORPHAN_AFTER_SECONDS`, 15 minutes -- like retention's grace period; a live
   recorder writes a fragment at least every second).
2. **Cut back** a fragmented file to its last whole top-level box, never ending on a
   ``moof`` without its ``mdat``: the half-written fragment a crash leaves would not
   play.  An encrypted part is cut back to its last whole chunk (each one holds whole
   fragments), and probed decrypted.  A plain (remuxed, faststart) or any non-fragmented file is never cut.
3. **Seal** it ``interrupted`` (:func:`~fastrec.storage.integrity.seal_segment`): size,
   SHA-256, chained to the previous sealed part of its session, frames counted from the
   file (PyAV), and an error saying what recovery did.  A file with no playable frame is
   sealed too, with 0 frames and "holds no playable video".

Only segments the recorder's own metadata claims are considered
(:func:`~fastrec.storage.segments.scan`); nothing is deleted, and no link is followed.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import structlog

from fastrec.crypt.container import ChunkError, is_encrypted, read_header, scan_chunks
from fastrec.storage.files import fsync_dir
from fastrec.storage.integrity import NO_VIDEO, VideoProbe, probe_video, seal_segment
from fastrec.storage.metadata import (
    MetadataError,
    RecorderProcess,
    SegmentMetadata,
    read_metadata,
    write_metadata,
)
from fastrec.storage.naming import METADATA_SUFFIX
from fastrec.storage.segments import Segment, scan

__all__ = ["ORPHAN_AFTER_SECONDS", "RecoveredPart", "RecoveryReport", "recorder_alive", "recover_interrupted"]

ORPHAN_AFTER_SECONDS = 15 * 60.0
_START_TIME_TOLERANCE = 1.0  # psutil's create_time is derived from boot time and ticks

log = structlog.get_logger("fastrec.storage.recovery")

OnSealed = Callable[[SegmentMetadata, Path, Path], None]  # (sealed metadata, video, metadata file)


@dataclass(frozen=True, slots=True)
class RecoveredPart:
    """One part sealed (or, in a dry run, that would be sealed) by recovery."""

    session_id: str
    part: int
    video: Path
    metadata: Path
    frames: int
    cut_bytes: int  # bytes of an incomplete fragment cut off the end
    playable: bool
    reason: str  # why it was taken as orphaned


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What :func:`recover_interrupted` did: sealed parts, parts left alone (with why),
    and parts it could not seal (with the error)."""

    directory: Path
    dry_run: bool
    sealed: tuple[RecoveredPart, ...] = ()
    skipped: tuple[tuple[Path, str], ...] = ()
    errors: tuple[tuple[Path, str], ...] = ()

    @property
    def summary(self) -> str:
        """Human-readable lines: one per sealed, skipped and failed part."""
        verb = "would seal" if self.dry_run else "sealed"
        lines = [f"{verb} {len(self.sealed)} interrupted part(s) in {self.directory}"
                 if self.sealed else f"nothing to recover in {self.directory}"]
        for p in self.sealed:
            cut = f", cut {p.cut_bytes} bytes of an incomplete fragment" if p.cut_bytes else ""
            video = f"{p.frames} frames" if p.playable else NO_VIDEO
            lines.append(f"  {verb} {p.video.name}: session {p.session_id} part {p.part}, {video}{cut} ({p.reason})")
        lines.extend(f"  left {path.name}: {why}" for path, why in self.skipped)
        lines.extend(f"  error {path.name}: {why}" for path, why in self.errors)
        return "\n".join(lines)


def recorder_alive(recorder: RecorderProcess) -> bool | None:
    """True while the process ``recorder`` names runs, False once it is gone (a zombie is
    gone: it can write nothing more), None when that cannot be told here (another host,
    or no permission to look)."""
    if recorder.host is not None and recorder.host != socket.gethostname():
        return None
    import psutil  # only recovery needs it

    try:
        process = psutil.Process(recorder.pid)
        started = process.create_time()
        if process.status() == psutil.STATUS_ZOMBIE:  # dead, its parent has not reaped it yet
            return False
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return None
    return abs(started - recorder.start_time) <= _START_TIME_TOLERANCE


def recover_interrupted(
    directory: str | os.PathLike[str],
    is_live: Callable[[Path], bool] | None = None,
    *,
    dry_run: bool = False,
    orphan_after_seconds: float = ORPHAN_AFTER_SECONDS,
    on_sealed: OnSealed | None = None,
    clock: Callable[[], float] = time.time,
) -> RecoveryReport:
    """Seal every orphaned part in ``directory`` (status ``recording``, writer gone).

    ``is_live(video_path)`` says whether the caller itself is writing a part (such a part
    is never touched; a failing callback counts as live).  ``on_sealed`` is called after
    each part is sealed (e.g. an index's ``add``); its failure is reported, not raised.
    ``dry_run`` reports what would be done and changes nothing.  Never raises for one
    bad part: it goes to the report's ``errors``.
    """
    folder = Path(directory)
    segments = scan(folder).segments
    sealed_by_session: dict[str, list[SegmentMetadata]] = {}
    for segment in segments:
        if segment.meta is not None and segment.meta.file.sha256 is not None:
            sealed_by_session.setdefault(segment.meta.session_id, []).append(segment.meta)
    candidates = sorted((s for s in segments if s.meta is not None and s.meta.status == "recording"),
                        key=lambda s: (s.session_id or "", s.part, s.basename))
    sealed: list[RecoveredPart] = []
    skipped: list[tuple[Path, str]] = []
    errors: list[tuple[Path, str]] = []
    for segment in candidates:
        assert segment.meta is not None and segment.metadata is not None
        orphaned, reason = _orphaned(segment, is_live, orphan_after_seconds, clock())
        if not orphaned:
            skipped.append((segment.video_path, reason))
            continue
        if segment.video is None:
            errors.append((segment.video_path, "video file is gone; its metadata is left as it is"))
            continue
        try:
            part = _recover(segment, segment.meta, reason, sealed_by_session, dry_run, on_sealed, errors)
        except (OSError, MetadataError, ValueError) as exc:
            errors.append((segment.video, f"{type(exc).__name__}: {exc}"))
            log.error("Interrupted part could not be recovered", file=str(segment.video), error=str(exc))
            continue
        sealed.append(part)
    if sealed and not dry_run:
        fsync_dir(folder)
    return RecoveryReport(folder, dry_run, tuple(sealed), tuple(skipped), tuple(errors))


def _orphaned(segment: Segment, is_live: Callable[[Path], bool] | None, orphan_after: float,
              now: float) -> tuple[bool, str]:
    """(orphaned, why) for a part whose metadata says ``recording``."""
    assert segment.meta is not None
    if is_live is not None:
        try:
            if is_live(segment.video_path):
                return False, "being recorded by this process"
        except Exception as exc:  # noqa: BLE001 - cannot tell: never touch a possibly live part
            return False, f"is_live raised {type(exc).__name__}: {exc}"
    recorder = segment.meta.recorder
    if recorder is not None:
        alive = recorder_alive(recorder)
        if alive is True:
            return False, f"its recorder (pid {recorder.pid}) is running"
        if alive is False:
            return True, f"its recorder (pid {recorder.pid}) is gone"
    idle = now - segment.newest_mtime
    if idle < orphan_after:
        return False, (f"status recording, written {idle:.0f} s ago and its recorder cannot be checked "
                       f"(orphaned after {orphan_after:.0f} s)")
    return True, f"status recording, nothing written for {idle:.0f} s"


def _recover(segment: Segment, meta: SegmentMetadata, reason: str,
             sealed_by_session: dict[str, list[SegmentMetadata]], dry_run: bool,
             on_sealed: OnSealed | None, errors: list[tuple[Path, str]]) -> RecoveredPart:
    video = segment.video
    assert video is not None and segment.metadata is not None
    info = os.lstat(video)
    if not stat.S_ISREG(info.st_mode):
        raise OSError(f"{video}: not a regular file")
    last_written = datetime.fromtimestamp(info.st_mtime).astimezone()
    keep = _whole_fragments_end(video)
    cut = info.st_size - keep if keep is not None else 0
    # probed as it will be once cut, so that a dry run reports the same
    if info.st_size - cut:
        found = probe_video(video, end=keep if cut else None)
    else:
        found = VideoProbe(0, 0.0, False, "0 bytes")
    if cut and not dry_run:
        fd = os.open(video, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            os.ftruncate(fd, info.st_size - cut)
            os.fsync(fd)
        finally:
            os.close(fd)
    part = RecoveredPart(meta.session_id, meta.chain.part, video, segment.metadata,
                         found.frames if found.playable else 0, cut, found.playable, reason)
    if dry_run:
        return part
    earlier = [m for m in sealed_by_session.get(meta.session_id, []) if m.chain.part < meta.chain.part]
    previous = max(earlier, key=lambda m: m.chain.part, default=None)
    note = f"recovered after a crash: {reason}; sealed as found on disk"
    if cut:
        note += f", {cut} bytes of an incomplete fragment cut off"
    draft = meta.model_copy(deep=True)
    draft.errors.append(note)
    end = meta.start_time + timedelta(seconds=found.duration_seconds) if found.playable else last_written
    sealed = seal_segment(draft, video, previous, status="interrupted", end_time=max(end, meta.start_time),
                          probe=found)
    write_metadata(segment.metadata, sealed)
    sealed_by_session.setdefault(meta.session_id, []).append(sealed)
    if previous is not None and previous.chain.next_file is None:
        _link(segment.metadata.parent, previous, video.name)
    log.warning("Interrupted recording part sealed", file=video.name, session_id=meta.session_id,
                part=sealed.chain.part, frames=part.frames, cut_bytes=cut, reason=reason)
    if on_sealed is not None:
        try:
            on_sealed(sealed, video, segment.metadata)
        except Exception as exc:  # noqa: BLE001 - the metadata is sealed; the index can be rebuilt
            errors.append((video, f"sealed, but on_sealed failed: {type(exc).__name__}: {exc}"))
    return part


def _link(folder: Path, previous: SegmentMetadata, next_name: str) -> None:
    """Name ``next_name`` as the next part in ``previous``'s metadata (the writer died
    before it could)."""
    path = folder / (previous.file.name.removesuffix(".mp4") + METADATA_SUFFIX)
    current = read_metadata(path)
    if current.chain.next_file is None:
        current.chain.next_file = next_name
        write_metadata(path, current)
        previous.chain.next_file = next_name


_HEADER = struct.Struct(">I4s")
_LARGE = struct.Struct(">Q")


def _whole_fragments_end(video: Path) -> int | None:
    """Where a fragmented MP4 should end: after its last whole box, not on a ``moof``
    without its ``mdat``.  None for a file that is not fragmented (never cut)."""
    fd = os.open(video, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if is_encrypted(handle):
            return _whole_chunks_end(handle, size)
        position = good = 0
        fragmented = pending_moof = False
        while position + _HEADER.size <= size:
            handle.seek(position)
            box_size, kind = _HEADER.unpack(handle.read(_HEADER.size))
            header = _HEADER.size
            if box_size == 1:
                raw = handle.read(_LARGE.size)
                if len(raw) < _LARGE.size:
                    break
                box_size, header = _LARGE.unpack(raw)[0], header + _LARGE.size
            elif box_size == 0 and kind == b"mdat":
                box_size = size - position  # "to the end of the file"
            if box_size < header or position + box_size > size or not kind.isalnum():
                break  # cut short, or garbage (a crash can leave zeros at the end)
            end = position + box_size
            if kind == b"moov":
                fragmented = _has_child(handle, position + header, end, b"mvex")
            if kind == b"moof":
                pending_moof = True
            elif kind == b"mdat":
                good, pending_moof = end, False
            elif not pending_moof:
                good = end
            position = end
    return good if fragmented else None


def _whole_chunks_end(handle: BinaryIO, size: int) -> int | None:
    """Where an encrypted part should end: after its last whole chunk (each holds whole
    fragments, :mod:`fastrec.crypt.container`).  None when its header is damaged (never cut)."""
    try:
        _, first, _ = read_header(handle)
    except ChunkError:
        return None
    return scan_chunks(handle, first, size)[1]


def _has_child(handle: object, start: int, end: int, wanted: bytes) -> bool:
    position = start
    while position + _HEADER.size <= end:
        handle.seek(position)  # type: ignore[attr-defined]
        box_size, kind = _HEADER.unpack(handle.read(_HEADER.size))  # type: ignore[attr-defined]
        if kind == wanted:
            return True
        if box_size < _HEADER.size:
            return False
        position += box_size
    return False
