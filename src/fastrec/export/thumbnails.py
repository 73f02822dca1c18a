"""Thumbnails at scene changes: the frames where the picture changed a lot.

Every frame of the range is decoded (PyAV) and reduced to a small grey picture
(:data:`PROBE_WIDTH` wide); a frame is a scene change when its mean absolute difference
from the last scene change's picture exceeds :data:`THRESHOLD` (of 255).  The first frame
of the range is always one.  When there are more than ``limit``, the first and the
``limit - 1`` largest changes are kept, in time order.  A few candidates at a time are
held as small RGB images (:data:`THUMB_WIDTH` wide), never the decoded frames: memory
stays bounded whatever the session's length.

Invariant: only pixels the recorder stored are shown (what it masked stays masked).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from fastrec.export.progress import Progress, no_progress
from fastrec.export.source import SessionSource
from fastrec.export.timerange import TimeRange

__all__ = ["PROBE_WIDTH", "THRESHOLD", "THUMB_WIDTH", "Thumbnail", "scene_changes"]

PROBE_WIDTH = 64
THUMB_WIDTH = 320
THRESHOLD = 8.0  # mean absolute grey difference (0-255) from the last scene change
DEFAULT_LIMIT = 12


@dataclass(order=True)
class Thumbnail:
    """A picture at a scene change: wall-clock time, part and how much it changed."""

    score: float
    at: datetime = field(compare=False)
    part: int = field(compare=False)
    image: Any = field(compare=False, repr=False)  # PIL.Image.Image, THUMB_WIDTH wide


def _probe(frame: Any) -> np.ndarray:
    height = max(2, round(frame.height * PROBE_WIDTH / frame.width / 2) * 2)
    return frame.reformat(width=PROBE_WIDTH, height=height, format="gray").to_ndarray().astype(np.int16)


def _thumbnail(frame: Any) -> Any:
    height = max(2, round(frame.height * THUMB_WIDTH / frame.width / 2) * 2)
    return frame.reformat(width=min(THUMB_WIDTH, frame.width), height=min(height, frame.height),
                          format="rgb24").to_image()


def scene_changes(source: SessionSource, time_range: TimeRange | None = None, *, limit: int = DEFAULT_LIMIT,
                  threshold: float = THRESHOLD, progress: Progress = no_progress) -> list[Thumbnail]:
    """Up to ``limit`` thumbnails at the scene changes of ``time_range`` (default: the session)."""
    span = time_range or TimeRange(source.start, source.end)
    parts = source.overlapping(span.start, span.end)
    total = max(1e-9, span.seconds)
    first: Thumbnail | None = None
    kept: list[Thumbnail] = []  # a min-heap of the largest changes after the first
    last: np.ndarray | None = None

    def consider(frame: Any, at: datetime, part: int) -> None:
        nonlocal first, last
        picture = _probe(frame)
        if first is None or last is None:
            first, last = Thumbnail(255.0, at, part, _thumbnail(frame)), picture
            return
        change = float(np.abs(picture - last).mean()) if picture.shape == last.shape else 255.0
        if change <= threshold or limit < 2:
            return
        last = picture
        candidate = Thumbnail(change, at, part, _thumbnail(frame))
        if len(kept) < limit - 1:
            heapq.heappush(kept, candidate)
        else:
            heapq.heappushpop(kept, candidate)

    for part in parts:
        assert part.video is not None
        with part.demux() as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            on_screen: Any = None  # the last frame before the range: on screen when it starts
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                at = part.start + timedelta(seconds=float(frame.time))
                if at >= span.end:
                    break
                if at < span.start:
                    on_screen = frame
                    continue
                if on_screen is not None and first is None:
                    consider(on_screen, span.start, part.part)
                on_screen = None
                consider(frame, at, part.part)
                progress(min(1.0, (at - span.start).total_seconds() / total), f"thumbnails: part {part.part}")
            if on_screen is not None and first is None:  # no frame of this part inside the range
                consider(on_screen, span.start, part.part)
    chosen = ([first] if first is not None else []) + sorted(kept, key=lambda t: t.at)
    return chosen[:limit]
