"""The kernels behind capture work proportional to the change (issue 14):
``TileDiff.compare_part`` (diff + copy of a grabbed rectangle into the previous frame) and
``Scaler.convert_tiles`` (convert only the dirty tiles into a persistent I420 frame), against
the numpy reference tile map and against the full-frame kernels, pixel for pixel."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference as ref
from fastrec import Scaler, TileDiff, i420_planes, i420_size, output_size
from strategies import bgra_frames


def _edit(frame: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """A copy of ``frame`` with ``n`` small random rectangles repainted."""
    out = np.ascontiguousarray(frame).copy()
    h, w = out.shape[:2]
    for _ in range(n):
        x, y = rng.integers(w), rng.integers(h)
        out[y : y + rng.integers(1, 9), x : x + rng.integers(1, 9)] = rng.integers(0, 256, 4, dtype=np.uint8)
    return out


def _tile_parts(mask: np.ndarray, w: int, h: int, tw: int, th: int) -> list[tuple[int, int, int, int]]:
    """Tile-aligned rectangles covering the tiles ``mask`` marks: one per run in a tile row."""
    parts = []
    for ty in range(mask.shape[0]):
        tx = 0
        while tx < mask.shape[1]:
            if not mask[ty, tx]:
                tx += 1
                continue
            tx1 = tx
            while tx1 < mask.shape[1] and mask[ty, tx1]:
                tx1 += 1
            x0, y0 = tx * tw, ty * th
            parts.append((x0, y0, min(tx1 * tw, w) - x0, min(y0 + th, h) - y0))
            tx = tx1
    return parts


@settings(max_examples=120, deadline=None)
@given(frame=bgra_frames(), tw=st.integers(1, 24), th=st.integers(1, 24), edits=st.integers(0, 6),
       extra=st.integers(0, 2**32 - 1), seed=st.integers(0, 2**32 - 1))
def test_compare_part_marks_and_copies_like_the_full_compare(frame, tw, th, edits, extra, seed):
    rng = np.random.default_rng(seed)
    h, w = frame.shape[:2]
    prev = _edit(frame, rng, edits)
    expected = ref.tile_map(frame, prev, tw, th)
    # grab the changed tiles plus some unchanged ones (damage is a superset of the change)
    rows, cols = expected.shape
    grabbed = expected | (np.random.default_rng(extra).random((rows, cols)) < 0.2)
    diff = TileDiff(w, h, tw, th)
    diff.compare(frame, frame)  # a stale map: reset() must clear it
    diff.tiles[...] = 1
    diff.reset()
    total = 0
    for x, y, pw, ph in _tile_parts(grabbed, w, h, tw, th):
        part = np.ascontiguousarray(frame[y : y + ph, x : x + pw])  # what a sub-rectangle grab returns
        total += diff.compare_part(part, prev, x, y)
    np.testing.assert_array_equal(diff.tiles, expected)
    assert total == diff.dirty == expected.sum()
    np.testing.assert_array_equal(prev, frame)


def test_compare_part_refuses_parts_off_the_tile_grid():
    diff = TileDiff(100, 50, 16)
    prev = np.zeros((50, 100, 4), np.uint8)
    with pytest.raises(ValueError, match="tile grid"):
        diff.compare_part(np.zeros((16, 16, 4), np.uint8), prev, 8, 0)
    with pytest.raises(ValueError, match="tile grid"):
        diff.compare_part(np.zeros((16, 10, 4), np.uint8), prev, 0, 0)  # ends mid-tile
    with pytest.raises(ValueError, match="tile grid"):
        diff.compare_part(np.zeros((16, 16, 4), np.uint8), prev, 96, 0)  # past the right edge
    # the last partial tile column ends at the frame's edge: allowed
    assert diff.compare_part(np.zeros((16, 4, 4), np.uint8), prev, 96, 48 - 16) == 0


def _planes(ow: int, oh: int, fill: int = 0):
    buf = np.full(i420_size(ow, oh), fill, np.uint8)
    return buf, i420_planes(buf, ow, oh)


@settings(max_examples=150, deadline=None)
@given(frame=bgra_frames(min_side=2, max_w=90, max_h=70), scale=st.sampled_from([1.0, 0.5, 0.75, 0.3, 1.5]),
       tile=st.sampled_from([4, 8, 12, 16]), edits=st.integers(0, 6), seed=st.integers(0, 2**32 - 1))
def test_convert_tiles_over_the_previous_conversion_equals_a_full_conversion(frame, scale, tile, edits, seed):
    rng = np.random.default_rng(seed)
    h, w = frame.shape[:2]
    if scale in (1.0, 0.5):  # the dedicated paths need sizes they take (even; 2:1 multiples of 4)
        m = 2 if scale == 1.0 else 4
        frame = frame[: h - h % m, : w - w % m]
        h, w = frame.shape[:2]
        if h == 0 or w == 0:
            return
        ow, oh = int(w * scale), int(h * scale)
    else:
        ow, oh = output_size(w, h, scale)
    old = _edit(frame, rng, edits)
    sc = Scaler(w, h, ow, oh)
    if scale in (1.0, 0.5):
        assert sc.mode == ("direct" if scale == 1.0 else "half")
    buf, planes = _planes(ow, oh)
    sc.convert(old, *planes)
    dirty = ref.tile_map(frame, old, tile, tile)
    sc.convert_tiles(frame, *planes, dirty, tile, tile)
    want, want_planes = _planes(ow, oh)
    sc.convert(frame, *want_planes)
    np.testing.assert_array_equal(buf, want)


@settings(max_examples=60, deadline=None)
@given(frame=bgra_frames(min_side=8, max_w=90, max_h=70), half=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_convert_tiles_leaves_unmarked_tiles_untouched(frame, half, seed):
    # the 1:1 and 2:1 paths write exactly the marked tiles' output pixels, nothing else
    m, f = (4, 2) if half else (2, 1)
    h, w = frame.shape[:2]
    frame = frame[: h - h % m, : w - w % m]
    h, w = frame.shape[:2]
    tile = 8
    sc = Scaler(w, h, w // f, h // f)
    marked = np.random.default_rng(seed).random((-(-h // tile), -(-w // tile))) < 0.4
    buf, (y, u, v) = _planes(w // f, h // f, fill=7)
    written = sc.convert_tiles(frame, y, u, v, marked.astype(np.uint8), tile, tile)
    full, (fy, fu, fv) = _planes(w // f, h // f)
    sc.convert(frame, fy, fu, fv)
    luma_mask = np.kron(marked, np.ones((tile // f, tile // f), bool))[: h // f, : w // f]
    chroma_mask = luma_mask[::2, ::2]
    for got, want, mask in ((y, fy, luma_mask), (u, fu, chroma_mask), (v, fv, chroma_mask)):
        np.testing.assert_array_equal(got[mask], want[mask])
        assert (got[~mask] == 7).all()
    assert written == luma_mask.sum()


def test_convert_tiles_refuses_tiles_the_path_cannot_split():
    sc = Scaler(64, 32, 32, 16)  # 2:1
    _, planes = _planes(32, 16)
    frame = np.zeros((32, 64, 4), np.uint8)
    with pytest.raises(ValueError, match="multiples of 4"):
        sc.convert_tiles(frame, *planes, np.ones((6, 11), np.uint8), 6, 6)
    with pytest.raises(ValueError, match=r"\(2, 4\) map"):
        sc.convert_tiles(frame, *planes, np.ones((3, 3), np.uint8), 16, 16)
