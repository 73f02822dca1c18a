"""Mask compositing against the numpy reference; nothing outside a region is touched."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference as ref
from fastrec import MaskKind, MaskRegion, i420_planes, i420_size, mask_bgra, mask_i420, to_i420
from fastrec._ext import apply_masks
from strategies import bgra_frames

KINDS = {MaskKind.BLOCK: 0, MaskKind.BLUR: 1, MaskKind.PIXELATE: 2, MaskKind.REDACT: 3}


@st.composite
def regions(draw, w: int, h: int):
    """A region anywhere around the frame: inside, straddling an edge, outside or empty."""
    x = draw(st.integers(-w, w + 5))
    y = draw(st.integers(-h, h + 5))
    return x, y, draw(st.integers(0, w + 10)), draw(st.integers(0, h + 10))


def _clip(x, y, rw, rh, w, h):
    return max(x, 0), max(y, 0), min(x + rw, w), min(y + rh, h)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), frame=bgra_frames(), channels=st.sampled_from([1, 4]),
       kind=st.sampled_from(list(KINDS)), strength=st.integers(1, 12))
def test_each_kind_matches_reference_and_leaves_the_rest_alone(data, frame, channels, kind, strength):
    if channels == 1:  # a luma-like plane with padded rows
        storage = np.zeros((frame.shape[0], frame.shape[1] + 3), np.uint8)
        storage[:, : frame.shape[1]] = frame[..., 0]
        frame = storage[:, : frame.shape[1]]
    h, w = frame.shape[:2]
    plane = frame.reshape(h, w * channels) if channels == 4 else frame
    before = np.array(frame)
    x, y, rw, rh = data.draw(regions(w, h))
    fill = np.arange(10, 10 + channels, dtype=np.uint8)
    glyph = np.arange(200, 200 + channels, dtype=np.uint8)
    apply_masks(plane, channels, np.array([[x, y, rw, rh, KINDS[kind], strength]], np.int32),
                np.concatenate([fill, glyph])[None, :])
    x0, y0, x1, y1 = _clip(x, y, rw, rh, w, h)
    outside = np.ones((h, w), bool)
    if x1 > x0 and y1 > y0:
        outside[y0:y1, x0:x1] = False
        src = before[y0:y1, x0:x1]
        got = np.array(frame[y0:y1, x0:x1])
        if kind is MaskKind.BLOCK:
            want, tol = np.broadcast_to(fill if channels == 4 else fill[0], src.shape), 0
        elif kind is MaskKind.PIXELATE:
            want, tol = ref.pixelate(src, strength), 0
        elif kind is MaskKind.BLUR:
            want, tol = ref.box_blur(src, strength), 2
        else:
            want, tol = ref.redact(src.shape, fill if channels == 4 else fill[0],
                                   glyph if channels == 4 else glyph[0]), 0
        assert np.abs(got.astype(int) - want.astype(int)).max() <= tol
    np.testing.assert_array_equal(np.array(frame)[outside], before[outside])


def _text_like(h: int, w: int) -> np.ndarray:
    """Black 1-2 px strokes on white: the detail a privacy mask must destroy."""
    rng = np.random.default_rng(7)
    frame = np.full((h, w, 4), 255, np.uint8)
    for _ in range(w * h // 60):
        y, x = rng.integers(0, h - 8), rng.integers(0, w - 8)
        if rng.random() < 0.5:
            frame[y : y + 8, x : x + 2, :3] = 0
        else:
            frame[y : y + 2, x : x + 8, :3] = 0
    return frame


def _detail(img: np.ndarray) -> float:
    """Mean absolute Laplacian: high for text, near zero once it is unreadable."""
    g = img.astype(np.float64)
    return float(np.abs(4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]).mean())


@pytest.mark.parametrize("kind", [MaskKind.BLUR, MaskKind.PIXELATE])
def test_default_blur_and_pixelate_destroy_text_detail(kind):
    frame = _text_like(300, 400)
    region = MaskRegion(50, 40, 300, 200, kind)
    y, u, v = i420_planes(to_i420(frame), 400, 300)
    before = _detail(y[40:240, 50:350])
    mask_i420(y, u, v, [region])
    assert _detail(y[40:240, 50:350]) < 0.1 * before


def test_redact_is_visibly_different_from_block():
    frame = np.full((60, 200, 4), 128, np.uint8)
    blocked, redacted = frame.copy(), frame.copy()
    mask_bgra(blocked, [MaskRegion(0, 0, 200, 60, MaskKind.BLOCK)])
    mask_bgra(redacted, [MaskRegion(0, 0, 200, 60, MaskKind.REDACT)])
    assert len(np.unique(blocked[..., :3])) == 1
    assert len(np.unique(redacted[..., 0])) == 2  # a bar with glyphs on it
    assert np.abs(redacted[..., :3].astype(int) - blocked[..., :3]).mean() > 100


def test_i420_regions_cover_whole_chroma_samples():
    """An odd-aligned region blocks the full 2x2 luma block of every chroma sample it
    touches, so no chroma sample carries unmasked colour from inside the region."""
    frame = np.zeros((40, 40, 4), np.uint8)
    frame[..., 2] = 255  # red
    y, u, v = i420_planes(to_i420(frame), 40, 40)
    mask_i420(y, u, v, [MaskRegion(5, 7, 9, 5, MaskKind.BLOCK, colour=(0, 255, 0))])
    green = np.zeros((1, 1, 4), np.uint8)
    green[..., 1] = 255
    gy, gu, gv = i420_planes(to_i420(np.tile(green, (2, 2, 1))), 2, 2)
    assert (y[6:12, 4:14] == gy[0, 0]).all()
    assert (u[3:6, 2:7] == gu[0, 0]).all() and (v[3:6, 2:7] == gv[0, 0]).all()


def test_scaled_region_rounds_outwards():
    r = MaskRegion(101, 51, 99, 49, MaskKind.BLUR, strength=10)
    s = r.scaled(0.5, 0.5)
    assert (s.x, s.y, s.x + s.width, s.y + s.height) == (50, 25, 100, 50)
    assert s.strength == 5
    up = r.scaled(1.5, 1.5)
    assert up.x <= 151 and up.x + up.width >= 300


def test_regions_outside_or_empty_are_harmless():
    frame = np.random.default_rng(3).integers(0, 256, (20, 30, 4), dtype=np.uint8)
    before = frame.copy()
    mask_bgra(frame, [MaskRegion(-50, -50, 10, 10), MaskRegion(40, 0, 5, 5), MaskRegion(3, 3, 0, 9),
                      MaskRegion(0, 25, 30, 3, MaskKind.BLUR)])
    np.testing.assert_array_equal(frame, before)
    mask_bgra(frame, [])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(kind="smudge"), "MaskRegion.kind must be one of block, blur, pixelate, redact, got 'smudge'"),
        (dict(width=-1), "width and height must be >= 0"),
        (dict(strength=0), "MaskRegion.strength must be between 1 and 1024, got 0"),
        (dict(colour=(0, 300, 0)), r"MaskRegion.colour must be three values 0..255"),
        (dict(x=1.5), "MaskRegion.x must be an integer, got 1.5"),
    ],
)
def test_bad_regions_name_the_field_and_the_value(kwargs, message):
    base = dict(x=0, y=0, width=10, height=10)
    with pytest.raises((TypeError, ValueError), match=message):
        MaskRegion(**{**base, **kwargs})


def _screen(h: int = 20, w: int = 30) -> np.ndarray:
    return np.random.default_rng(5).integers(0, 256, (h, w, 4), dtype=np.uint8)


@pytest.mark.parametrize("view", [lambda f: f[:, ::-1], lambda f: f.transpose(1, 0, 2),
                                  lambda f: f[..., ::-1]],
                         ids=["mirrored", "transposed", "channels-reversed"])
def test_mask_bgra_refuses_a_view_it_cannot_mask_in_place(view):
    # numpy would reshape such a view into a copy: the copy got masked, the pixels not
    frame = _screen()
    before = frame.copy()
    bad = view(frame)
    strides = re.escape(str(bad.strides))
    with pytest.raises(ValueError, match=rf"frame cannot be masked in place \(shape .*, "
                                         rf"strides {strides}\): .*strides \(any, 4, 1\)"):
        mask_bgra(bad, [MaskRegion(0, 0, 10, 10, MaskKind.BLOCK)])
    np.testing.assert_array_equal(frame, before)


def test_mask_bgra_masks_views_with_any_row_stride_in_place():
    frame = _screen(20, 30)
    before = frame.copy()
    flipped = frame[::-1]  # rows backwards: the kernel takes a negative row stride
    mask_bgra(flipped, [MaskRegion(0, 0, 30, 2, MaskKind.BLOCK, colour=(1, 2, 3))])
    assert (frame[18:, :, :3] == (3, 2, 1)).all()  # the frame's own last two rows (BGR)
    np.testing.assert_array_equal(frame[:18], before[:18])
    cropped = _screen(20, 30)
    mask_bgra(cropped[5:15, 10:20], [MaskRegion(0, 0, 10, 10, MaskKind.BLOCK, colour=(1, 2, 3))])
    assert (cropped[5:15, 10:20, :3] == (3, 2, 1)).all()


def test_mask_bgra_refuses_read_only_and_non_bgra_frames():
    frame = _screen()
    frame.flags.writeable = False
    with pytest.raises(ValueError, match="frame is read-only"):
        mask_bgra(frame, [MaskRegion(0, 0, 5, 5)])
    with pytest.raises(ValueError, match=r"frame must be a 3-D uint8 numpy array, got float32"):
        mask_bgra(np.zeros((4, 4, 4), np.float32), [MaskRegion(0, 0, 5, 5)])


def test_mask_i420_refuses_planes_it_cannot_mask_in_place():
    y, u, v = i420_planes(to_i420(_screen(20, 30)), 30, 20)
    region = [MaskRegion(0, 0, 10, 10)]
    with pytest.raises(ValueError, match=r"y cannot be masked in place .*strides \(any, 1\)"):
        mask_i420(y[:, ::-1], u, v, region)
    with pytest.raises(ValueError, match=r"v cannot be masked in place"):
        mask_i420(y, u, v.T, region)
    with pytest.raises(ValueError, match=r"u and v must be the chroma planes of y \(20, 30\)"):
        mask_i420(y, u[:5], v[:5], region)


def test_i420_planes_are_views_or_an_error():
    buf = np.zeros(2 * i420_size(8, 6), np.uint8)
    with pytest.raises(ValueError, match=r"buf must be a C-contiguous uint8 .*strides \(2,\)"):
        i420_planes(buf[::2], 8, 6)  # its planes would have been a copy's
    with pytest.raises(ValueError, match="buf must be a C-contiguous uint8"):
        to_i420(_screen(6, 8), out=buf[::2])
    y, u, v = i420_planes(buf[: i420_size(8, 6)], 8, 6)
    y[:] = 1
    assert buf[: 8 * 6].sum() == 8 * 6
