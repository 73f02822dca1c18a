"""Scale a BGRA frame and convert it to I420 (yuv420p) in one pass.

The output is BT.709, limited range: the matrix and range the encoder tags its streams
with, so any player inverts exactly what was applied.  Shrinking averages areas,
enlarging is bilinear; output dimensions are always even, as H.264 4:2:0 needs.
"""

from __future__ import annotations

import numpy as np

from fastrec._ext import Scaler, rgb_to_yuv
from fastrec.checks import check_number

BLACK_YUV: tuple[int, int, int] = rgb_to_yuv(0, 0, 0)  # (16, 128, 128): limited-range black

MIN_SCALE = 0.1
MAX_SCALE = 2.0

# What an encoder must tag its stream with so that decoders invert our matrix: BT.709
# matrix, primaries and transfer, limited range (FFmpeg's AVColor* enum values).
STREAM_COLOUR_TAGS: dict[str, int] = {
    "colorspace": 1,  # AVCOL_SPC_BT709
    "color_range": 1,  # AVCOL_RANGE_MPEG ("tv", limited)
    "color_primaries": 1,  # AVCOL_PRI_BT709
    "color_trc": 1,  # AVCOL_TRC_BT709
}


def tag_colours(target: object) -> None:
    """Set :data:`STREAM_COLOUR_TAGS` on a PyAV codec context or video frame."""
    for name, value in STREAM_COLOUR_TAGS.items():
        setattr(target, name, value)


def output_size(width: int, height: int, scale: float = 1.0) -> tuple[int, int]:
    """The even output size for a ``width`` x ``height`` source at ``scale``."""
    check_number("scale", scale, MIN_SCALE, MAX_SCALE)
    if width < 1 or height < 1:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    # round half up (not Python's half-to-even) so odd sizes behave predictably
    return (max(2, int(width * scale / 2 + 0.5) * 2), max(2, int(height * scale / 2 + 0.5) * 2))


def i420_size(width: int, height: int) -> int:
    """Bytes of one I420 frame of even ``width`` x ``height``."""
    return width * height * 3 // 2


def i420_planes(buf: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y, U and V views on an I420 buffer (no copy): one C-contiguous block of uint8, of any
    shape.  Anything else is a ValueError: numpy would reshape it into a copy, and what is
    then written into the planes (a conversion, a mask) would miss the buffer."""
    if not isinstance(buf, np.ndarray) or buf.dtype != np.uint8 or not buf.flags.c_contiguous:
        dtype = getattr(buf, "dtype", type(buf).__name__)
        raise ValueError(f"buf must be a C-contiguous uint8 numpy array, got {dtype} of shape "
                         f"{getattr(buf, 'shape', None)}, strides {getattr(buf, 'strides', None)}")
    flat = buf.reshape(-1)
    if flat.size < i420_size(width, height):
        raise ValueError(
            f"buffer of {flat.size} bytes is too small for a {width}x{height} I420 frame "
            f"({i420_size(width, height)} bytes)"
        )
    ys, cs = width * height, (width // 2) * (height // 2)
    y = flat[:ys].reshape(height, width)
    u = flat[ys : ys + cs].reshape(height // 2, width // 2)
    v = flat[ys + cs : ys + 2 * cs].reshape(height // 2, width // 2)
    return y, u, v


def to_i420(frame: np.ndarray, scale: float = 1.0, out: np.ndarray | None = None) -> np.ndarray:
    """Convert one BGRA frame; returns the flat I420 buffer (``out`` if given).

    For a stream of frames build a :class:`Scaler` once and call its ``convert``.
    """
    h, w = frame.shape[:2]
    ow, oh = output_size(w, h, scale)
    if out is None:
        out = np.empty(i420_size(ow, oh), dtype=np.uint8)
    Scaler(w, h, ow, oh).convert(frame, *i420_planes(out, ow, oh))
    return out


__all__ = [
    "BLACK_YUV",
    "STREAM_COLOUR_TAGS",
    "MAX_SCALE",
    "MIN_SCALE",
    "Scaler",
    "i420_planes",
    "i420_size",
    "output_size",
    "rgb_to_yuv",
    "tag_colours",
    "to_i420",
]
