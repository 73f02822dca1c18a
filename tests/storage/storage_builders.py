"""Builders for small, real recording directories: files of known size, mtime and metadata.

Imported by the storage tests as ``storage_builders`` (tests/storage is on sys.path).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from fastrec.storage import (
    ConnectionInfo,
    RecorderSettings,
    SegmentMetadata,
    link_next,
    metadata_path,
    recording_basename,
    seal_segment,
    video_path,
    write_metadata,
)

# a fixed "now" for every test: 2025-10-26 14:30:22 local time
NOW = datetime(2025, 10, 26, 14, 30, 22)
NOW_TS = NOW.timestamp()
DAY = 86400.0


def set_mtime(path: Path, epoch: float) -> None:
    os.utime(path, (epoch, epoch))


def write_segment(
    directory: Path,
    *,
    session_id: str = "rdp_123_1729950022",
    con_codigo: int = 123,
    server: str = "Production Server",
    user: str = "administrator",
    ip: str = "192.168.1.100",
    connection_type: str = "RDP",
    start: datetime = NOW,
    name_start: datetime | None = None,
    part: int = 1,
    size: int = 1000,
    mtime: float | None = None,
    status: str = "complete",
    previous: SegmentMetadata | None = None,
) -> tuple[Path, Path, SegmentMetadata]:
    """One segment: a video of ``size`` bytes and its metadata, sealed unless still recording.

    ``name_start`` is the session's first start (parts share the first part's base name);
    ``mtime`` sets both files' modification time; ``previous`` chains this part to it.
    """
    base = recording_basename(con_codigo, server, name_start or start, part)
    video = video_path(directory, base)
    video.write_bytes(bytes([part % 256]) * size)
    meta = SegmentMetadata(
        session_id=session_id,
        connection_info=ConnectionInfo(con_codigo=con_codigo, ip=ip, name=server, user=user,
                                       connection_type=connection_type),
        start_time=start,
        recorder_settings=RecorderSettings(fps=10, quality=23, resolution_scale=1.0,
                                           max_file_size_mb=100, max_duration_minutes=30),
    )
    meta.chain.part = part
    meta.file.name = video.name
    if status != "recording":
        meta = seal_segment(meta, video, previous, status=status,  # type: ignore[arg-type]
                            end_time=start + timedelta(minutes=30))
    meta_file = metadata_path(directory, base)
    write_metadata(meta_file, meta)
    if previous is not None:
        # the writer links the previous part to the next as soon as the next one starts
        link_next(directory / (previous.file.name.removesuffix(".mp4") + "_metadata.json"), video.name)
    if mtime is not None:
        set_mtime(video, mtime)
        set_mtime(meta_file, mtime)
    return video, meta_file, meta


def write_session(directory: Path, parts: int = 3, *, start: datetime = NOW, size: int = 1000,
                  mtime: float | None = None, **kwargs: object) -> list[tuple[Path, Path, SegmentMetadata]]:
    """A sealed, chained session of ``parts`` 30-minute segments (sizes size+1, size+2, ...)."""
    made: list[tuple[Path, Path, SegmentMetadata]] = []
    previous = None
    for number in range(1, parts + 1):
        made.append(write_segment(directory, part=number, start=start + timedelta(minutes=30 * (number - 1)),
                                  name_start=start, size=size + number, previous=previous,
                                  **kwargs))  # type: ignore[arg-type]
        previous = made[-1][2]
    if mtime is not None:  # link_next rewrote earlier metadata: set every mtime at the end
        for video, meta_file, _ in made:
            set_mtime(video, mtime)
            set_mtime(meta_file, mtime)
    return made
