"""Hypothesis strategies for frames with odd sizes and padded rows."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st


@st.composite
def bgra_frames(draw, min_side: int = 1, max_w: int = 70, max_h: int = 50, padded: bool | None = None):
    """A BGRA frame, sometimes a view with row padding (stride > width * 4)."""
    w = draw(st.integers(min_side, max_w))
    h = draw(st.integers(min_side, max_h))
    pad = draw(st.integers(0, 9)) if padded is None else (draw(st.integers(1, 9)) if padded else 0)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(h, w + pad, 4), dtype=np.uint8)
    return base[:, :w]
