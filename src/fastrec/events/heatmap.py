"""Heatmaps of a session's input events: where the clicks were, how deep the scrolling went.

Pure computation over typed events (:mod:`fastrec.events.model`); drawing is in
:mod:`fastrec.events.heatmap_image`, reading a session in :mod:`fastrec.export.heatmaps`.

Clicks: each click adds a radial gradient (1 at the click, 0 at :data:`RADIUS_PERCENT` %
of the picture's shorter side - at least :data:`MIN_RADIUS` pixels -, ``(1 - d/r)^1.5``
for a soft edge) to an
intensity grid the size of the picture; the grid is normalised by its maximum (the hottest
pixel is 1.0 whatever the number of clicks).  Positions are the events' percentages of the
recorded region, so the grid matches any picture of the region, at any output scale.

Click statistics (:class:`ClickStats`): a *point* is a 1 % x 1 % cell of the region (clicks
at the same spot, give or take a pixel or two, are one point): ``total`` clicks,
``points`` with a click, ``max_per_point`` and ``average_per_point`` (total / points).

Scroll depth (:class:`ScrollDepth`): a desktop window has no "page height" we could know,
so the depth of a wheel notch is *where in the recorded region it was turned*: the
pointer's ``y`` (0 % top, 100 % bottom).  Only vertical notches (up/down) count, each
notch once (an event of ``amount`` 3 weighs 3).  :data:`BUCKETS` buckets of 5 % each
(bucket *i* holds depths ``[5i, 5i+5)``, 100 % in the last) and the notch-weighted
``average_depth``.

Invariant: every function takes the events as given (already filtered to a time range by
the caller) and never reads a file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from fastrec.events.model import Click, Scroll, ScrollDirection

__all__ = ["BUCKETS", "MIN_RADIUS", "RADIUS_PERCENT", "ClickStats", "ScrollDepth", "click_intensity", "click_stats",
           "scroll_depth"]

RADIUS_PERCENT = 6.0  # of the picture's shorter side: ~65 px on a 1080p screen, visible in a thumbnail
MIN_RADIUS = 10.0  # pixels: a click on a small picture still shows
BUCKETS = 20


@dataclass(frozen=True, slots=True)
class ClickStats:
    """Clicks counted per 1 % x 1 % point of the recorded region."""

    total: int
    points: int
    max_per_point: int
    average_per_point: float  # total / points (0.0 without clicks)
    hottest: tuple[float, float] | None  # the (x, y) percent centre of the busiest point


@dataclass(frozen=True, slots=True)
class ScrollDepth:
    """Vertical wheel notches by where they were turned (see the module docstring)."""

    notches: int
    buckets: tuple[int, ...]  # BUCKETS counts of notches, top (0-5 %) to bottom (95-100 %)
    average_depth: float | None  # percent; None without vertical notches


def _cell(value: float) -> int:
    return min(99, int(value))  # 100 % (the last pixel) belongs to the last cell


def click_stats(clicks: Iterable[Click]) -> ClickStats:
    cells = Counter((_cell(c.x), _cell(c.y)) for c in clicks)
    total = sum(cells.values())
    if not total:
        return ClickStats(0, 0, 0, 0.0, None)
    (x, y), most = cells.most_common(1)[0]
    return ClickStats(total, len(cells), most, round(total / len(cells), 3), (x + 0.5, y + 0.5))


def scroll_depth(scrolls: Iterable[Scroll]) -> ScrollDepth:
    buckets = [0] * BUCKETS
    weighted = 0.0
    for scroll in scrolls:
        if scroll.direction not in (ScrollDirection.UP, ScrollDirection.DOWN):
            continue
        buckets[min(BUCKETS - 1, int(scroll.y * BUCKETS / 100.0))] += scroll.amount
        weighted += scroll.y * scroll.amount
    notches = sum(buckets)
    return ScrollDepth(notches, tuple(buckets), round(weighted / notches, 2) if notches else None)


def click_intensity(clicks: Iterable[Click], width: int, height: int,
                    radius_percent: float = RADIUS_PERCENT) -> np.ndarray:
    """A ``height`` x ``width`` float32 grid in 0..1: the clicks' gradients, normalised by
    the maximum (all zeros without clicks).  ValueError for a size below 1 pixel."""
    if width < 1 or height < 1:
        raise ValueError(f"heatmap size {width}x{height}: width and height must be at least 1 pixel")
    if not 0 < radius_percent <= 100:
        raise ValueError(f"radius_percent={radius_percent!r}: must be > 0 and <= 100")
    grid = np.zeros((height, width), dtype=np.float32)
    radius = max(MIN_RADIUS, min(width, height) * radius_percent / 100.0)
    reach = int(np.ceil(radius))
    offsets = np.arange(-reach, reach + 1, dtype=np.float32)
    distance = np.sqrt(offsets[None, :] ** 2 + offsets[:, None] ** 2)
    kernel = np.clip(1.0 - distance / radius, 0.0, 1.0) ** 1.5  # the radial gradient of one click
    # one pass per distinct pixel, weighted by its clicks: a thousand clicks on one button cost one
    spots = Counter((min(width - 1, int(c.x * width / 100.0)), min(height - 1, int(c.y * height / 100.0)))
                    for c in clicks)
    for (cx, cy), count in spots.items():
        top, left = cy - reach, cx - reach
        y0, x0 = max(0, top), max(0, left)
        y1, x1 = min(height, cy + reach + 1), min(width, cx + reach + 1)
        grid[y0:y1, x0:x1] += count * kernel[y0 - top:y1 - top, x0 - left:x1 - left]
    peak = float(grid.max())
    if peak > 0:
        grid /= peak
    return grid
