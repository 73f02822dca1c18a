"""Reading back what the Windows suite recorded, with PyAV (ffprobe is a Linux program;
the Windows interpreter has PyAV's own FFmpeg)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

# the stand-in mstsc.exe's quadrants (programs/mstsc.c), as RGB
QUADRANTS = {"top left": (255, 0, 0), "top right": (0, 255, 0),
             "bottom left": (0, 0, 255), "bottom right": (255, 255, 255)}
TOLERANCE = 48  # per channel: H.264 at the default quality, BT.709 limited range


@dataclass(frozen=True)
class Frame:
    seconds: float
    rgb: np.ndarray


def decode(path: Path) -> list[Frame]:
    """Every frame of the file with its presentation time; raises if it does not decode."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [Frame(float(f.pts * stream.time_base), f.to_ndarray(format="rgb24"))
                for f in container.decode(stream)]


def quadrant_colours(rgb: np.ndarray) -> dict[str, tuple[int, ...]]:
    """The colour at the middle of each quadrant of a picture (the mean of a 9x9 patch)."""
    h, w = rgb.shape[:2]
    points = {"top left": (h // 4, w // 4), "top right": (h // 4, 3 * w // 4),
              "bottom left": (3 * h // 4, w // 4), "bottom right": (3 * h // 4, 3 * w // 4)}
    return {name: tuple(int(v) for v in rgb[y - 4:y + 5, x - 4:x + 5].reshape(-1, 3).mean(0))
            for name, (y, x) in points.items()}


def shows_the_client(rgb: np.ndarray) -> bool:
    """Whether a picture is the stand-in mstsc.exe's client area, quadrants in place."""
    found = quadrant_colours(rgb)
    return all(max(abs(a - b) for a, b in zip(found[name], colour)) <= TOLERANCE
               for name, colour in QUADRANTS.items())


def is_blank(rgb: np.ndarray) -> bool:
    """Whether a picture is one flat colour (what the recorder writes while paused)."""
    return float(rgb.std()) < 4.0
