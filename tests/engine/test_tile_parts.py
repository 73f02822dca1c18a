"""Which rectangles a partial grab reads for a frame's damage: every tile a damaged
rectangle touches, nothing else, each once, on the tile grid (the capture loop's
``_tile_parts``), against a numpy tile map."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fastrec.capture.base import Region
from fastrec.engine.capture_loop import _tile_parts

rects = st.builds(Region, st.integers(-50, 700), st.integers(-50, 500), st.integers(0, 90), st.integers(0, 60))


@settings(max_examples=200, deadline=None)
@given(damage=st.lists(rects, max_size=8), x=st.integers(0, 30), y=st.integers(0, 30),
       w=st.integers(1, 650), h=st.integers(1, 450), tile=st.sampled_from([8, 16, 64]))
def test_parts_cover_exactly_the_damaged_tiles(damage, x, y, w, h, tile):
    region = Region(x, y, w, h)
    rows, cols = -(-h // tile), -(-w // tile)
    want = np.zeros((rows, cols), bool)
    for box in damage:
        cut = box.intersection(region)
        if cut is not None:
            rel = cut.relative_to(region)
            want[rel.y // tile : -(-rel.bottom // tile), rel.x // tile : -(-rel.right // tile)] = True
    parts = _tile_parts(damage, region, tile, rows, cols)
    if want.sum() * 2 > rows * cols:
        assert parts is None  # most of the region: one whole grab instead
        return
    assert parts is not None
    got = np.zeros((rows, cols), np.int32)
    frame = Region(0, 0, w, h)
    for part in parts:
        assert frame.contains(part) and not part.is_empty
        assert part.x % tile == 0 and part.y % tile == 0
        assert part.right == w or part.right % tile == 0
        assert part.bottom == h or part.bottom % tile == 0
        got[part.y // tile : -(-part.bottom // tile), part.x // tile : -(-part.right // tile)] += 1
    np.testing.assert_array_equal(got, want.astype(np.int32))  # each damaged tile exactly once
