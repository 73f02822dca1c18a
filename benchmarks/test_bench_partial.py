"""Capture work proportional to the change (issue 14): the kernels of a typing frame.

A 1080p frame in which a few glyphs changed (three 64x64 tiles: a glyph on a tile edge and
the cursor) costs the capture loop a diff of the grabbed tiles into the previous frame and a
conversion of the changed tiles into the persistent I420 frame.  Each group's reference is
what the loop did before for the same frame - the whole-frame kernel - and a numpy row does
the same partial work with the tests' plain-numpy references.
"""

from __future__ import annotations

import numpy as np
import pytest

import reference as ref
from fastrec import Scaler, TileDiff, i420_planes, i420_size, output_size
from test_bench_kernels import _screen

W, H, TILE = 1920, 1080, 64
DIRTY = [(6, 10), (6, 11), (7, 20)]  # (tile row, tile column): glyphs across a tile edge, the cursor


def _typed(frame: np.ndarray) -> np.ndarray:
    out = frame.copy()
    for ty, tx in DIRTY:
        out[ty * TILE + 20 : ty * TILE + 40, tx * TILE + 50 : tx * TILE + 64] ^= 0x5A
    return out


def _parts(frame: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """The dirty tiles as a partial grab returns them: packed (x, y, pixels)."""
    return [(tx * TILE, ty * TILE,
             np.ascontiguousarray(frame[ty * TILE : (ty + 1) * TILE, tx * TILE : (tx + 1) * TILE]))
            for ty, tx in DIRTY]


@pytest.mark.parametrize("impl", ["fastrec compare_part", "fastrec compare (whole frame)", "numpy tiles"])
def test_diff_typing_frame(benchmark, impl):
    old = _screen(W, H)
    new = _typed(old)
    benchmark.group = "diff+copy 1080p typing frame"
    benchmark.extra_info["reference"] = impl == "fastrec compare (whole frame)"
    diff = TileDiff(W, H, TILE)
    prev = old.copy()
    if impl == "fastrec compare_part":
        parts = _parts(new)

        def run() -> int:
            diff.reset()
            for x, y, pixels in parts:
                diff.compare_part(pixels, prev, x, y)
            for x, y, pixels in parts:  # undo the copy, so every round sees the change
                prev[y : y + TILE, x : x + TILE] = old[y : y + TILE, x : x + TILE]
            return diff.dirty

        assert benchmark(run) == len(DIRTY)
    elif impl == "fastrec compare (whole frame)":
        def run_full() -> int:
            n = diff.compare(new, prev, copy=True)
            for ty, tx in DIRTY:
                prev[ty * TILE : (ty + 1) * TILE, tx * TILE : (tx + 1) * TILE] = \
                    old[ty * TILE : (ty + 1) * TILE, tx * TILE : (tx + 1) * TILE]
            return n

        assert benchmark(run_full) == len(DIRTY)
    else:
        parts = _parts(new)
        benchmark.pedantic(lambda: [ref.tile_map(p, prev[y : y + TILE, x : x + TILE], TILE, TILE)
                                    for x, y, p in parts], rounds=5)


@pytest.mark.parametrize("scale", [1.0, 0.5])
@pytest.mark.parametrize("impl", ["fastrec convert_tiles", "fastrec convert (whole frame)", "numpy tiles"])
def test_convert_typing_frame(benchmark, scale, impl):
    frame = _typed(_screen(W, H))
    ow, oh = output_size(W, H, scale)
    benchmark.group = f"convert 1080p typing frame x{scale}"
    benchmark.extra_info["reference"] = impl == "fastrec convert (whole frame)"
    buf = np.empty(i420_size(ow, oh), np.uint8)
    planes = i420_planes(buf, ow, oh)
    scaler = Scaler(W, H, ow, oh)
    tiles = np.zeros(((H + TILE - 1) // TILE, (W + TILE - 1) // TILE), np.uint8)
    for ty, tx in DIRTY:
        tiles[ty, tx] = 1
    if impl == "fastrec convert_tiles":
        benchmark(scaler.convert_tiles, frame, *planes, tiles, TILE, TILE)
    elif impl == "fastrec convert (whole frame)":
        benchmark(scaler.convert, frame, *planes)
    else:
        t = int(TILE * scale)
        crops = [frame[ty * TILE : (ty + 1) * TILE, tx * TILE : (tx + 1) * TILE] for ty, tx in DIRTY]
        benchmark.pedantic(lambda: [ref.rgb_to_i420(ref.scale_rgb(c, t, t)) for c in crops], rounds=5)
