"""Tile diff against the numpy reference."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference as ref
from fastrec import TileDiff
from strategies import bgra_frames


def _changed(frame: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """A copy of ``frame`` with ``n`` random bytes flipped (n may be 0)."""
    out = np.ascontiguousarray(frame).copy()
    h, w = out.shape[:2]
    for _ in range(n):
        out[rng.integers(h), rng.integers(w), rng.integers(4)] ^= rng.integers(1, 256, dtype=np.uint8)
    return out


@settings(max_examples=150, deadline=None)
@given(frame=bgra_frames(), tw=st.integers(1, 40), th=st.integers(1, 40),
       flips=st.integers(0, 12), seed=st.integers(0, 2**32 - 1))
def test_tile_map_matches_reference(frame, tw, th, flips, seed):
    rng = np.random.default_rng(seed)
    h, w = frame.shape[:2]
    prev = _changed(frame, rng, flips)
    diff = TileDiff(w, h, tw, th)
    count = diff.compare(frame, prev)
    expected = ref.tile_map(frame, prev, tw, th)
    # the map has one entry per tile, partial edge tiles included, and marks exactly the
    # tiles holding a changed pixel; the count and `dirty` both say how many
    assert (diff.rows, diff.cols) == expected.shape
    np.testing.assert_array_equal(diff.tiles, expected)
    assert count == diff.dirty == expected.sum()


@settings(max_examples=100, deadline=None)
@given(frame=bgra_frames(), prev_pad=st.integers(0, 5), tile=st.integers(1, 33),
       flips=st.integers(0, 20), seed=st.integers(0, 2**32 - 1))
def test_copy_makes_prev_the_new_reference_without_touching_padding(frame, prev_pad, tile, flips, seed):
    rng = np.random.default_rng(seed)
    h, w = frame.shape[:2]
    storage = np.full((h, w + prev_pad, 4), 77, dtype=np.uint8)
    prev = storage[:, :w]
    prev[...] = _changed(frame, rng, flips)
    diff = TileDiff(w, h, tile)
    expected = ref.tile_map(frame, prev, tile, tile)
    assert diff.compare(frame, prev, copy=True) == expected.sum()
    np.testing.assert_array_equal(diff.tiles, expected)  # the copy pass (production) marks the same
    np.testing.assert_array_equal(prev, frame)
    assert (storage[:, w:] == 77).all()
    assert diff.compare(frame, prev) == 0


def test_unchanged_frame_reports_zero_and_no_tiles():
    frame = np.random.default_rng(1).integers(0, 256, (1080, 1920, 4), dtype=np.uint8)
    diff = TileDiff(1920, 1080)
    assert diff.compare(frame, frame.copy()) == 0
    assert diff.dirty == 0
    assert not diff.tiles.any()


def test_one_pixel_change_marks_its_tile_only():
    frame = np.zeros((1080, 1910, 4), dtype=np.uint8)
    prev = frame.copy()
    frame[700, 1900, 2] = 1  # in the last, partial (54-pixel) tile column
    diff = TileDiff(1910, 1080, 64)
    assert diff.compare(frame, prev) == 1
    assert diff.tiles.shape == (17, 30)
    assert np.argwhere(diff.tiles).tolist() == [[700 // 64, 1900 // 64]]


@pytest.mark.parametrize(
    "cur_shape, message",
    [((10, 12, 4), "expected a 12x11 frame"), ((11, 12, 3), "expected BGRA")],
)
def test_wrong_frame_is_a_clear_error(cur_shape, message):
    diff = TileDiff(12, 11)
    with pytest.raises(ValueError, match=message):
        diff.compare(np.zeros(cur_shape, np.uint8), np.zeros((11, 12, 4), np.uint8))


def test_copy_needs_a_writable_previous_frame():
    frame = np.zeros((4, 4, 4), np.uint8)
    prev = frame.copy()
    prev.flags.writeable = False
    diff = TileDiff(4, 4)
    assert diff.compare(frame, prev) == 0  # read-only is fine without copy
    with pytest.raises((ValueError, BufferError)):
        diff.compare(frame, prev, copy=True)


def test_bad_sizes_are_rejected():
    with pytest.raises(ValueError, match="frame size must be positive"):
        TileDiff(0, 10)
    with pytest.raises(ValueError, match="tile size must be positive"):
        TileDiff(10, 10, 0)
