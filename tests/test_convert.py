"""Scale + BGRA->I420 against the numpy reference, and through a real H.264 round trip."""

from fractions import Fraction

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference as ref
from fastrec import Scaler, i420_planes, i420_size, output_size, to_i420
from fastrec.core.convert import tag_colours
from strategies import bgra_frames


def _convert(frame: np.ndarray, ow: int, oh: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    buf = np.empty(i420_size(ow, oh), np.uint8)
    planes = i420_planes(buf, ow, oh)
    Scaler(frame.shape[1], frame.shape[0], ow, oh).convert(frame, *planes)
    return planes


def _assert_close(planes, expected, tol):
    for got, want, name in zip(planes, expected, "YUV"):
        err = np.abs(got.astype(np.float64) - want)
        assert err.max() <= tol, f"{name}: max error {err.max():.2f} > {tol}"


@settings(max_examples=120, deadline=None)
@given(frame=bgra_frames(), scale=st.floats(0.1, 2.0))
def test_any_scale_matches_reference(frame, scale):
    h, w = frame.shape[:2]
    ow, oh = output_size(w, h, scale)
    planes = _convert(frame, ow, oh)
    _assert_close(planes, ref.rgb_to_i420(ref.scale_rgb(frame, ow, oh)), 1.5)


@settings(max_examples=60, deadline=None)
@given(frame=bgra_frames(min_side=4, max_w=40, max_h=30), factor=st.sampled_from([1, 2]))
def test_direct_and_half_paths_match_reference(frame, factor):
    # even sizes that hit the dedicated 1:1 and 2:1 paths
    h, w = frame.shape[:2]
    frame = frame[: h - h % (2 * factor), : w - w % (2 * factor)]
    h, w = frame.shape[:2]
    ow, oh = w // factor, h // factor
    assert Scaler(w, h, ow, oh).mode == ("direct" if factor == 1 else "half")
    _assert_close(_convert(frame, ow, oh), ref.rgb_to_i420(ref.scale_rgb(frame, ow, oh)), 1.0)


def test_scale_resamples_the_whole_picture_never_crops():
    # a frame whose right half is white: at any scale the right half of the output is white
    frame = np.zeros((200, 320, 4), np.uint8)
    frame[:, 160:] = 255
    for scale in (0.25, 0.5, 0.75, 1.5):
        ow, oh = output_size(320, 200, scale)
        y, _, _ = i420_planes(to_i420(frame, scale), ow, oh)
        assert y[:, : ow // 2 - 1].max() == 16 and y[:, ow // 2 + 1 :].min() == 235


def test_output_size_is_even_and_validated():
    assert output_size(1921, 1081, 1.0) == (1922, 1082)
    assert output_size(1920, 1080, 0.5) == (960, 540)
    assert output_size(5, 3, 0.1) == (2, 2)
    with pytest.raises(ValueError, match="scale must be between 0.1 and 2.0, got 2.5"):
        output_size(100, 100, 2.5)


def test_plane_shape_errors_name_the_plane():
    sc = Scaler(8, 8, 4, 4)
    src = np.zeros((8, 8, 4), np.uint8)
    with pytest.raises(ValueError, match="u: expected"):
        sc.convert(src, np.zeros((4, 4), np.uint8), np.zeros((1, 2), np.uint8), np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match="output size must be even"):
        Scaler(8, 8, 5, 4)


def _test_card(w: int, h: int) -> np.ndarray:
    """Gradients and flat colour patches: what screens show, minus sharp 1-px text."""
    yy, xx = np.mgrid[0:h, 0:w]
    frame = np.empty((h, w, 4), np.uint8)
    frame[..., 0] = (xx * 255 // (w - 1)).astype(np.uint8)
    frame[..., 1] = (yy * 255 // (h - 1)).astype(np.uint8)
    frame[..., 2] = ((xx + yy) * 255 // (w + h - 2)).astype(np.uint8)
    frame[..., 3] = 255
    colours = [(255, 255, 255), (0, 0, 0), (40, 90, 200), (230, 60, 30), (30, 200, 90)]
    for i, c in enumerate(colours):
        frame[h // 8 : h // 3, (i * w) // 6 + 8 : ((i + 1) * w) // 6, :3] = c[::-1]
    return frame


@pytest.mark.parametrize("scale", [1.0, 0.5, 0.75])
def test_h264_round_trip_matches_source_within_two_levels(scale):
    """Our matrix is the one the stream is tagged with: a decoder that honours the tags
    gives back the source colours."""
    src = _test_card(640, 360)
    ow, oh = output_size(640, 360, scale)
    y, u, v = i420_planes(to_i420(src, scale), ow, oh)
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = ow, oh, "yuv420p"
    tag_colours(enc)
    enc.time_base = Fraction(1, 10)
    enc.options = {"crf": "12", "preset": "veryfast"}
    frame = av.VideoFrame(ow, oh, "yuv420p")
    tag_colours(frame)
    for plane, data in zip(frame.planes, (y, u, v)):
        view = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
        view[: data.shape[0], : data.shape[1]] = data
    frame.pts = 0
    packets = list(enc.encode(frame)) + list(enc.encode(None))
    dec = av.CodecContext.create("h264", "r")
    decoded = [f for p in packets for f in dec.decode(p)] + list(dec.decode(None))
    assert len(decoded) == 1
    out = decoded[0]
    assert out.colorspace == av.video.reformatter.Colorspace.ITU709
    assert out.color_range == av.video.reformatter.ColorRange.MPEG
    rgb = out.to_ndarray(format="rgb24", src_colorspace=out.colorspace,
                         src_color_range=out.color_range, dst_color_range="JPEG")
    want = ref.scale_rgb(src, ow, oh)
    err = np.abs(rgb.astype(np.float64) - want).mean(axis=(0, 1))
    assert (err < 2.0).all(), f"mean error per RGB channel {err}"
