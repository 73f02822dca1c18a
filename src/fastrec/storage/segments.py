"""What is on disk in an output directory: recording segments and the files that make them.

A segment is one base name's video (``.mp4``), its metadata (``_metadata.json``) and any
leftover temporary files of an atomic write aimed at either (``.{name}.{random}.tmp``).
Retention deletes and counts segments as a whole, so a video never loses its metadata
and no file of ours is ever left behind.  Only files named ``session_*`` (and their temp
files) are ours; anything else in the directory is never touched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from fastrec.storage.files import temp_target
from fastrec.storage.metadata import MetadataError, SegmentMetadata, read_metadata
from fastrec.storage.naming import METADATA_SUFFIX, NAME_PREFIX, VIDEO_SUFFIX, basename_of

__all__ = ["Segment", "scan_segments", "stray_temp_files"]


@dataclass(slots=True)
class Segment:
    """One recording segment as found on disk (sizes and mtimes as of the scan)."""

    basename: str
    directory: Path
    video: Path | None = None
    metadata: Path | None = None
    temps: list[Path] = field(default_factory=list)
    meta: SegmentMetadata | None = None
    meta_error: str | None = None
    size_bytes: int = 0
    oldest_mtime: float = float("inf")
    newest_mtime: float = float("-inf")

    @property
    def video_path(self) -> Path:
        """Where the video is or would be (the path ``is_active`` callbacks are asked about)."""
        return self.video or self.directory / f"{self.basename}{VIDEO_SUFFIX}"

    @property
    def files(self) -> list[Path]:
        """The segment's files in deletion order: video, temp files, metadata last.

        Metadata goes last so that a failure part-way leaves a video with its metadata,
        or metadata that the next run finds again, never a video without its metadata.
        """
        return [p for p in (self.video, *self.temps, self.metadata) if p is not None]

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
        self.oldest_mtime = min(self.oldest_mtime, stat.st_mtime)
        self.newest_mtime = max(self.newest_mtime, stat.st_mtime)


def scan_segments(directory: str | os.PathLike[str], *, read_meta: bool = True) -> list[Segment]:
    """Every segment in ``directory`` (not recursive), sorted by start time, part, name."""
    folder = Path(directory)
    segments: dict[str, Segment] = {}
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    for entry in entries:
        name = entry.name
        target = temp_target(name)
        owner = target if target is not None else name
        if not owner.startswith(NAME_PREFIX):
            continue
        base = basename_of(owner)
        if base is None:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            stat = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue  # deleted while we looked
        segment = segments.setdefault(base, Segment(base, folder))
        path = Path(entry.path)
        if target is not None:
            segment.temps.append(path)
        elif name.endswith(METADATA_SUFFIX):
            segment.metadata = path
        else:
            segment.video = path
        segment._add(path, stat)
    for segment in segments.values():
        segment.temps.sort()
        if read_meta and segment.metadata is not None:
            try:
                segment.meta = read_metadata(segment.metadata)
            except MetadataError as exc:
                segment.meta_error = exc.problem
    return sorted(segments.values(), key=lambda s: (s.started, s.part, s.basename))


def stray_temp_files(directory: str | os.PathLike[str], target_name: str) -> list[Path]:
    """Leftover temporary files of atomic writes to ``target_name`` (e.g. cleanup_stats.json)."""
    folder = Path(directory)
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return sorted(folder / n for n in names if temp_target(n) == target_name)
