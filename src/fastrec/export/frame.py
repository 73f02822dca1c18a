"""The picture on screen at one moment of a session: a representative frame for heatmaps.

:func:`frame_at` finds the part showing ``moment`` (or, in a gap or outside the session,
the playable part nearest to it), seeks to the keyframe at or before it (PyAV) and decodes
up to the moment: the frame returned is the last one captured at or before ``moment``
(the first of the part when the moment is before it), as the replay would show it.  The
part is read wherever it is (disk or object store, :meth:`PartSource.demux`).

Invariant: the picture is what the recorder stored (masked regions stay masked), at the
size it was encoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import av

from fastrec.export.source import PartSource, SessionSource

__all__ = ["Frame", "frame_at"]


@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded picture (a PIL RGB image) and the wall-clock time it was captured."""

    image: Any
    at: datetime
    part: int


def _nearest(source: SessionSource, moment: datetime) -> PartSource | None:
    playable = source.playable()
    for part in playable:
        if part.first_frame <= moment <= part.end:
            return part
    if not playable:
        return None
    return min(playable, key=lambda p: min(abs((p.first_frame - moment).total_seconds()),
                                           abs((p.end - moment).total_seconds())))


def frame_at(source: SessionSource, moment: datetime) -> Frame | None:
    """The frame shown at ``moment`` (see the module docstring); None when no part of the
    session has a readable frame."""
    part = _nearest(source, moment)
    if part is None:
        return None
    target = (moment - part.start).total_seconds()
    try:
        return _decode(part, target)
    except (OSError, ValueError, av.error.FFmpegError):  # gone, or not decodable: no picture
        return None


def _decode(part: PartSource, target: float) -> Frame | None:
    with part.demux() as container:
        stream = container.streams.video[0]
        if stream.time_base is not None and target > 0:
            try:  # to the keyframe at or before the target: a long part is not decoded from its start
                container.seek(max(0, int(target / stream.time_base)), stream=stream, backward=True)
            except av.error.FFmpegError:
                container.seek(0, stream=stream)
        chosen: Any = None
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            if chosen is not None and float(frame.time) > target:
                break
            chosen = frame
            if float(frame.time) >= target:
                break
        if chosen is None:
            return None
        return Frame(chosen.to_image(), part.start + timedelta(seconds=float(chosen.time)), part.part)
