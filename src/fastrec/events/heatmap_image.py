"""Drawing heatmaps over a picture of the session (Pillow), as PNG.

- Clicks: the normalised intensity grid (:func:`fastrec.events.heatmap.click_intensity`)
  goes through a colour map (blue - cyan - green - yellow - red as it gets hotter) and is
  alpha-blended over the picture: the alpha grows with the intensity up to
  :data:`MAX_ALPHA`, and pixels below :data:`FLOOR` stay untouched, so the picture shows
  through everywhere nobody clicked.
- Scroll depth: the :data:`~fastrec.events.heatmap.BUCKETS` horizontal bands of the picture,
  each tinted by its share of the notches (same colour map), and a white line at the
  average depth.

Invariant: only the pixels of the given picture (what the recorder stored, masks
included) and the drawn overlay end up in the image; nothing else is read.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

import numpy as np

from fastrec.events.heatmap import BUCKETS, ScrollDepth, click_intensity
from fastrec.events.model import Click

__all__ = ["FLOOR", "MAX_ALPHA", "blank_picture", "colour_map", "png_bytes", "render_clicks", "render_scroll"]

MAX_ALPHA = 0.8
FLOOR = 0.02  # intensities below this draw nothing
BLANK = (48, 48, 48)  # the background when the session has no frame to show
_STOPS = ((0.0, (0, 0, 255)), (0.25, (0, 255, 255)), (0.5, (0, 255, 0)), (0.75, (255, 255, 0)),
          (1.0, (255, 0, 0)))


def colour_map() -> np.ndarray:
    """256 RGB colours (uint8, shape (256, 3)), cold to hot."""
    levels = np.linspace(0.0, 1.0, 256)
    where = [s[0] for s in _STOPS]
    return np.stack([np.interp(levels, where, [s[1][c] for s in _STOPS]) for c in range(3)],
                    axis=1).round().astype(np.uint8)


_LUT = colour_map()


def blank_picture(width: int, height: int) -> Any:
    """A plain dark picture of the region's size, for a session without a frame."""
    from PIL import Image

    return Image.new("RGB", (max(1, width), max(1, height)), BLANK)


def _overlay(intensity: np.ndarray) -> Any:
    from PIL import Image

    colours = _LUT[(np.clip(intensity, 0.0, 1.0) * 255).astype(np.uint8)]
    alpha = np.where(intensity < FLOOR, 0.0, np.minimum(1.0, 0.25 + intensity) * MAX_ALPHA * 255)
    rgba = np.dstack([colours, alpha.round().astype(np.uint8)])
    return Image.fromarray(rgba, "RGBA")


def render_clicks(picture: Any, clicks: Iterable[Click]) -> Any:
    """``picture`` (a PIL image) with the clicks' heatmap blended over it (a new RGB image)."""
    base = picture.convert("RGBA")
    intensity = click_intensity(clicks, base.width, base.height)
    return _blend(base, intensity)


def render_scroll(picture: Any, depth: ScrollDepth) -> Any:
    """``picture`` with its 20 bands tinted by the notches turned there, and the average."""
    from PIL import ImageDraw

    base = picture.convert("RGBA")
    peak = max(depth.buckets, default=0)
    rows = np.zeros(base.height, dtype=np.float32)
    if peak:
        band = np.minimum(BUCKETS - 1, (np.arange(base.height) * BUCKETS) // base.height)
        rows = np.asarray(depth.buckets, dtype=np.float32)[band] / peak
    image = _blend(base, np.repeat(rows[:, None], base.width, axis=1))
    if depth.average_depth is not None:
        y = min(base.height - 1, round(depth.average_depth * base.height / 100.0))
        thickness = max(1, base.height // 200)
        ImageDraw.Draw(image).line([(0, y), (base.width - 1, y)], fill=(255, 255, 255), width=thickness)
    return image


def _blend(base: Any, intensity: np.ndarray) -> Any:
    from PIL import Image

    return Image.alpha_composite(base, _overlay(intensity)).convert("RGB")


def png_bytes(image: Any) -> bytes:
    """The image as PNG (optimised: heatmaps are served and embedded in reports)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
