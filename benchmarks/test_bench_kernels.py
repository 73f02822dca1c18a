"""Frame-core kernels against their numpy references and the best OpenCV/PyAV equivalents.

Each group has one reference row; scripts/bench.py prints every row as a ratio to it.
OpenCV runs single-threaded like our kernels; a two-thread row is there for information.
"""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

import reference as ref
from fastrec import MaskKind, MaskRegion, Scaler, TileDiff, i420_planes, i420_size, mask_bgra, mask_i420, output_size

SIZES = {"1080p": (1920, 1080), "2160p": (3840, 2160)}


def _screen(w: int, h: int, seed: int = 0) -> np.ndarray:
    """Screen-like BGRA: flat areas, gradients and noise."""
    rng = np.random.default_rng(seed)
    frame = np.empty((h, w, 4), np.uint8)
    frame[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    frame[..., 1] = np.linspace(0, 255, h, dtype=np.uint8)[:, None]
    frame[..., 2] = rng.integers(0, 256, (h, w), dtype=np.uint8)
    frame[..., 3] = 255
    frame[h // 4 : h // 2, w // 4 : w // 2, :3] = 250
    return frame


@pytest.fixture(autouse=True)
def _opencv_single_thread():
    cv2.setNumThreads(1)
    yield
    cv2.setNumThreads(-1)


# -- tile diff: two identical frames (the idle-screen case) -------------------------------

@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("impl", ["fastrec", "np.array_equal", "cv2.norm", "numpy tiles"])
def test_diff(benchmark, size, impl):
    w, h = SIZES[size]
    a = _screen(w, h)
    b = a.copy()
    benchmark.group = f"diff {size} identical"
    benchmark.extra_info["reference"] = impl == "np.array_equal"
    if impl == "fastrec":
        diff = TileDiff(w, h)
        assert benchmark(diff.compare, a, b) == 0
    elif impl == "np.array_equal":
        assert benchmark(np.array_equal, a, b)
    elif impl == "cv2.norm":
        assert benchmark(cv2.norm, a, b, cv2.NORM_INF) == 0
    else:
        assert not benchmark.pedantic(ref.tile_map, (a, b, 64, 64), rounds=3).any()


# -- scale + BGRA -> I420 ----------------------------------------------------------------

@pytest.mark.parametrize("scale", [1.0, 0.5])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("impl", ["fastrec", "cv2 resize+cvtColor", "cv2 2 threads", "PyAV reformat", "numpy"])
def test_convert(benchmark, size, scale, impl):
    w, h = SIZES[size]
    ow, oh = output_size(w, h, scale)
    src = _screen(w, h)
    benchmark.group = f"scale+convert {size} x{scale}"
    benchmark.extra_info["reference"] = impl == "cv2 resize+cvtColor"
    if impl == "fastrec":
        out = np.empty(i420_size(ow, oh), np.uint8)
        planes = i420_planes(out, ow, oh)
        scaler = Scaler(w, h, ow, oh)
        benchmark(scaler.convert, src, *planes)
    elif impl.startswith("cv2"):
        cv2.setNumThreads(2 if "2 threads" in impl else 1)

        def run():
            scaled = src if (ow, oh) == (w, h) else cv2.resize(src, (ow, oh), interpolation=cv2.INTER_AREA)
            return cv2.cvtColor(scaled, cv2.COLOR_BGRA2YUV_I420)

        benchmark(run)
    elif impl == "PyAV reformat":
        frame = av.VideoFrame.from_ndarray(src, format="bgra")
        benchmark(frame.reformat, ow, oh, "yuv420p", interpolation="AREA", dst_colorspace="ITU709")
    else:
        benchmark.pedantic(lambda: ref.rgb_to_i420(ref.scale_rgb(src, ow, oh)), rounds=1 if size == "2160p" else 3)


# -- masks: a 400x300 blur of comparable strength to a 31x31 Gaussian -------------------

BLUR_RADIUS = 5  # three box passes of radius 5: sigma 5.5, against sigma 5.0 for ksize 31


@pytest.mark.parametrize("impl", ["fastrec I420", "fastrec BGRA", "cv2.GaussianBlur 31x31", "numpy box"])
def test_blur(benchmark, impl):
    frame = _screen(1920, 1080)
    region = MaskRegion(200, 200, 400, 300, MaskKind.BLUR, strength=BLUR_RADIUS)
    benchmark.group = "blur 400x300 region"
    benchmark.extra_info["reference"] = impl.startswith("cv2")
    if impl == "fastrec I420":
        buf = np.empty(i420_size(1920, 1080), np.uint8)
        planes = i420_planes(buf, 1920, 1080)
        Scaler(1920, 1080, 1920, 1080).convert(frame, *planes)
        benchmark(mask_i420, *planes, [region])
    elif impl == "fastrec BGRA":
        benchmark(mask_bgra, frame, [region])
    elif impl.startswith("cv2"):
        roi = frame[200:500, 200:600]
        benchmark(cv2.GaussianBlur, roi, (31, 31), 0, dst=roi)
    else:
        roi = frame[200:500, 200:600]
        benchmark.pedantic(ref.box_blur, (roi, BLUR_RADIUS), rounds=3)


def test_blur_strength_is_comparable():
    """Not a timing: the residual noise after both blurs, recorded for the table."""
    noise = np.random.default_rng(5).integers(0, 256, (300, 400, 4), dtype=np.uint8)
    ours = noise.copy()
    mask_bgra(ours, [MaskRegion(0, 0, 400, 300, MaskKind.BLUR, strength=BLUR_RADIUS)])
    theirs = cv2.GaussianBlur(noise, (31, 31), 0)
    inner = (slice(30, -30), slice(30, -30), slice(0, 3))
    ratio = ours[inner].std() / theirs[inner].std()
    assert 0.5 < ratio < 1.5, f"blur strengths differ: residual std ratio {ratio:.2f}"
