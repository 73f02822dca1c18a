"""Builders for small, real recording directories: files of known size, mtime and metadata.

Imported by the tests as ``storage_builders`` (tests/ is on sys.path, as for x11_windows).
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
    part_basename,
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
    base = part_basename(recording_basename(con_codigo, server, name_start or start), part)
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


def write_fragmented_mp4(path: Path, frames: int = 30, fps: int = 10) -> list[tuple[int, bytes]]:
    """A real H.264 fragmented MP4 as the recorder writes it (a keyframe, so a fragment,
    every ``fps`` frames); returns its top-level boxes as (offset, type)."""
    import struct
    from fractions import Fraction

    import av
    import numpy as np

    from fastrec.engine.encoder.writer import FRAGMENTED_MP4

    with av.open(str(path), "w", format="mp4", options=FRAGMENTED_MP4) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"preset": "ultrafast", "x264-params": f"keyint={fps}:bframes=0:scenecut=0"}
        for i in range(frames):
            image = np.full((48, 64, 3), (i * 8) % 256, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i * 1000 // fps, Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    data = path.read_bytes()
    boxes, position = [], 0
    while position < len(data):
        size, kind = struct.unpack(">I4s", data[position:position + 8])
        boxes.append((position, kind))
        position += size
    return boxes
