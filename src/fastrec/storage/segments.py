"""What is on disk in an output directory: recording segments and the files that make them.

A segment is one base name's video (``.mp4``), its metadata (``_metadata.json``), its
input-events file (``_events.jsonl``, :mod:`fastrec.events`) and any leftover temporary
files of an atomic write aimed at one of them (``.{name}.{random}.tmp``).
Retention deletes and counts segments as a whole, so a video never loses its metadata
and no file of ours is ever left behind.

Only what the recorder's own records say it wrote is a segment (retention deletes
segments, so this is what keeps it off everybody else's files):

- a metadata file is ours when its base name has the shape the recorder gives
  (:func:`~fastrec.storage.naming.is_recording_basename`) and it is valid metadata whose
  ``file.name`` is that base name's video;
- a video is ours only when such a metadata file names it -- ``session_holiday.mp4``,
  ``session_.mp4`` or a video whose metadata is unreadable are not;
- an events file is ours only when such a metadata file names it (``events.name``, set
  when the part opens, before the first event is written);
- a temporary file is ours only when its target is one of those files.

Everything else that merely looks like a recording (a regular file named ``session_*``
or a temp file) is listed in :attr:`Scan.foreign` with the reason, and never touched.
Links and other non-regular files are not even listed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from fastrec.storage.files import temp_target
from fastrec.storage.metadata import MetadataError, SegmentMetadata, read_metadata
from fastrec.storage.naming import (
    EVENTS_SUFFIX,
    METADATA_SUFFIX,
    NAME_PREFIX,
    VIDEO_SUFFIX,
    basename_of,
    is_recording_basename,
)

__all__ = ["Scan", "Segment", "scan", "scan_segments", "stray_temp_files"]


@dataclass(slots=True)
class Segment:
    """One recording segment as found on disk (sizes and mtimes as of the scan)."""

    basename: str
    directory: Path
    video: Path | None = None
    metadata: Path | None = None
    events: Path | None = None
    temps: list[Path] = field(default_factory=list)
    meta: SegmentMetadata | None = None
    meta_error: str | None = None
    size_bytes: int = 0
    sizes: dict[Path, int] = field(default_factory=dict)  # each file's size, as scanned
    oldest_mtime: float = float("inf")
    newest_mtime: float = float("-inf")

    @property
    def video_path(self) -> Path:
        """Where the video is or would be (the path ``is_active`` callbacks are asked about)."""
        return self.video or self.directory / f"{self.basename}{VIDEO_SUFFIX}"

    @property
    def files(self) -> list[Path]:
        """The segment's files in deletion order: video, temp files, events, metadata last.

        Metadata goes last so that a failure part-way leaves a video with its metadata,
        or metadata that the next run finds again, never a video without its metadata.
        """
        return [p for p in (self.video, *self.temps, self.events, self.metadata) if p is not None]

    @property
    def session_id(self) -> str | None:
        return self.meta.session_id if self.meta is not None else None

    @property
    def part(self) -> int:
        return self.meta.chain.part if self.meta is not None else 1

    @property
    def started(self) -> float:
        """Start time (epoch seconds): the metadata's start_time, else the oldest file mtime."""
        if self.meta is not None:
            return self.meta.start_time.timestamp()
        return self.oldest_mtime

    @property
    def last_activity(self) -> float:
        """The latest evidence of the segment being written: newest mtime or end/start time.

        Age is measured from here; taking the latest of the two means a copied file (new
        mtime) or a doctored mtime can only delay deletion, never bring it forward.
        """
        recorded = self.started
        if self.meta is not None and self.meta.end_time is not None:
            recorded = self.meta.end_time.timestamp()
        return max(self.newest_mtime, recorded)

    def _add(self, path: Path, stat: os.stat_result) -> None:
        self.size_bytes += stat.st_size
        self.sizes[path] = stat.st_size
        self.oldest_mtime = min(self.oldest_mtime, stat.st_mtime)
        self.newest_mtime = max(self.newest_mtime, stat.st_mtime)


@dataclass(slots=True)
class Scan:
    """An output directory as found: our segments (oldest first) and look-alikes that are not ours."""

    segments: list[Segment]
    foreign: list[tuple[Path, str]]  # (file, why it is not ours), by name


def scan(directory: str | os.PathLike[str]) -> Scan:
    """Every segment of ours in ``directory`` (not recursive), sorted by start time, part,
    name; and the files that look like recordings but that no metadata of ours claims."""
    folder = Path(directory)
    candidates: dict[str, Segment] = {}
    foreign: list[tuple[Path, str]] = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return Scan([], [])
    for entry in entries:
        name = entry.name
        target = temp_target(name)
        owner = target if target is not None else name
        if not owner.startswith(NAME_PREFIX):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            stat = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue  # deleted while we looked
        path = Path(entry.path)
        base = basename_of(owner)
        if base is None or not is_recording_basename(base):
            foreign.append((path, "not a name the recorder gives"))
            continue
        segment = candidates.setdefault(base, Segment(base, folder))
        if target is not None:
            segment.temps.append(path)
        elif name.endswith(METADATA_SUFFIX):
            segment.metadata = path
        elif name.endswith(EVENTS_SUFFIX):
            segment.events = path
        else:
            segment.video = path
        segment._add(path, stat)
    segments = []
    for segment in candidates.values():
        reason = _claim(segment)
        if reason is None:
            events_reason = _claim_events(segment)
            if events_reason is not None and segment.events is not None:
                foreign.append((segment.events, events_reason))
                segment.size_bytes -= segment.sizes.get(segment.events, 0)
                segment.events = None
            segment.temps.sort()
            segments.append(segment)
        else:
            foreign.extend((p, reason) for p in segment.files)
    segments.sort(key=lambda s: (s.started, s.part, s.basename))
    foreign.sort()
    return Scan(segments, foreign)


def _claim(segment: Segment) -> str | None:
    """None when ``segment``'s metadata says the recorder wrote it, else why not."""
    if segment.metadata is None:
        return "no metadata of the recorder names it"
    try:
        segment.meta = read_metadata(segment.metadata)
    except MetadataError as exc:
        segment.meta_error = exc.problem
        return f"its metadata is not the recorder's ({exc.problem})"
    video_name = f"{segment.basename}{VIDEO_SUFFIX}"
    if segment.meta.file.name != video_name:
        return f"its metadata names {segment.meta.file.name!r}, not {video_name!r}"
    return None


def _claim_events(segment: Segment) -> str | None:
    """None when the segment has no events file or its metadata names it, else why not."""
    if segment.events is None or segment.meta is None:
        return None
    named = segment.meta.events.name if segment.meta.events is not None else None
    if named != segment.events.name:
        return "its segment's metadata does not name it"
    return None


def scan_segments(directory: str | os.PathLike[str]) -> list[Segment]:
    """Every segment of ours in ``directory`` (see :func:`scan`)."""
    return scan(directory).segments


def stray_temp_files(directory: str | os.PathLike[str], target_name: str) -> list[Path]:
    """Leftover temporary files of atomic writes to ``target_name`` (e.g. cleanup_stats.json)."""
    folder = Path(directory)
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return sorted(folder / n for n in names if temp_target(n) == target_name)
