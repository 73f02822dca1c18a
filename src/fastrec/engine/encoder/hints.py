"""Which macroblocks of a frame may have changed: from the capture loop's tile diff to libx264.

The capture loop knows which tiles of the screen changed since the frame before
(:class:`~fastrec.core.diff.TileDiff`).  :func:`tile_rects` turns that map into rectangles of
the output frame, widened to whole 16x16 macroblocks; they travel with the frame through the
ring (``FrameFlags.DIRTY``, after the pixels in the slot) to the encoder, which hands them to
libx264 as ``AVVideoHint`` side data (:func:`attach`, FFmpeg's ``mb_info`` option).  libx264
then codes every macroblock outside them as unchanged (a skip, or a zero motion vector)
without analysing it: the encoder's work follows the change.

Invariants:

- A rectangle list is a promise that every pixel outside it equals the previous frame the
  encoder was given.  So the capture loop sends one only for a frame whose picture it built
  from the previous one with nothing but the dirty tiles changed - the same target, size,
  layout and masks - and no list otherwise (every macroblock is then analysed).  A frame
  without a list is always correct; a wrong list would freeze stale pixels.
- Rectangles are in output pixels, clipped to the frame, on macroblock boundaries
  (FFmpeg's wrapper writes its map from them without clipping).
- Hints never change what a frame *is*, only how much work finding its coding costs: when
  the side data cannot be attached (a PyAV or FFmpeg that lacks the API) the frame goes to
  the encoder without it.
"""

from __future__ import annotations

import ctypes
from functools import cache
from typing import Any

import numpy as np

from fastrec.engine.encoder import libav

MB = 16  # H.264 macroblock size in luma pixels
RECT_BYTES = 8  # one rectangle in a ring slot: x, y, width, height as uint16
MAX_RECTS = 512  # more than this many pieces: no hint (the change is everywhere anyway)
# More than this share of the tiles changed: no hint.  libx264 codes a hinted macroblock
# with a zero motion vector where its neighbours' predicted one is not zero (a scroll), and
# that costs more than the analysis it saves: +8% bytes and +15% CPU on a full-screen scroll,
# while typing (a few tiles) saves a fifth of the encoder's CPU (benchmarks/README.md).
MAX_DIRTY_FRACTION = 0.25
_AV_VIDEO_HINT_TYPE_CHANGED = 1  # libavutil/video_hint.h: the rects changed, the rest is constant
# AVFrame: data[8], linesize[8] (int), extended_data, then width and height (int)
_AVFRAME_WIDTH_OFFSET = 8 * ctypes.sizeof(ctypes.c_void_p) + 8 * 4 + ctypes.sizeof(ctypes.c_void_p)


def tile_rects(tiles: np.ndarray, tile_w: int, tile_h: int, width: int, height: int, *,
               scale: tuple[float, float] = (1.0, 1.0), offset: tuple[int, int] = (0, 0),
               size: tuple[int, int] | None = None, max_rects: int = MAX_RECTS,
               max_fraction: float = MAX_DIRTY_FRACTION) -> np.ndarray | None:
    """The output rectangles (n x 4 uint16: x, y, width, height) that cover the changed tiles.

    ``tiles`` is a TileDiff map (rows x cols, nonzero = changed) of a ``width`` x ``height``
    source, drawn into the output at ``offset`` scaled by ``scale``; ``size`` is the output
    frame's (default: the source's).  Runs of changed tiles in a row become one rectangle;
    each is widened by the scaler's reach (2 output pixels when scaling) and to whole
    macroblocks.  None (no hint) when there would be more than ``max_rects``, or more than
    ``max_fraction`` of the tiles changed.
    """
    out_w, out_h = size if size is not None else (width, height)
    sx, sy = scale
    ox, oy = offset
    reach = 0 if (sx, sy) == (1.0, 1.0) else 2
    rows, cols = np.nonzero(tiles)
    if len(rows) > max_fraction * tiles.size:
        return None
    if len(rows) == 0:
        return np.empty((0, 4), np.uint16)
    # runs of consecutive changed tiles within a row: a run starts where the previous tile
    # is not its left neighbour
    starts = np.ones(len(rows), bool)
    starts[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1] + 1)
    first = np.flatnonzero(starts)
    if len(first) > max_rects:
        return None
    last = np.append(first[1:], len(rows)) - 1
    r, c0, c1 = rows[first], cols[first], cols[last] + 1
    x0 = np.floor(c0 * tile_w * sx) + ox - reach
    x1 = np.ceil(np.minimum(c1 * tile_w, width) * sx) + ox + reach
    y0 = np.floor(r * tile_h * sy) + oy - reach
    y1 = np.ceil(np.minimum((r + 1) * tile_h, height) * sy) + oy + reach
    x0 = np.clip(x0 // MB * MB, 0, out_w).astype(np.int64)
    y0 = np.clip(y0 // MB * MB, 0, out_h).astype(np.int64)
    x1 = np.clip(-(-x1 // MB) * MB, 0, out_w).astype(np.int64)
    y1 = np.clip(-(-y1 // MB) * MB, 0, out_h).astype(np.int64)
    rects = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)
    return rects[(rects[:, 2] > 0) & (rects[:, 3] > 0)].astype(np.uint16)


class _AVVideoHint(ctypes.Structure):
    _fields_ = [("nb_rects", ctypes.c_size_t), ("rect_offset", ctypes.c_size_t),
                ("rect_size", ctypes.c_size_t), ("type", ctypes.c_int)]


@cache
def _create_side_data() -> Any:
    """libavutil's ``av_video_hint_create_side_data`` (FFmpeg 7+), or None."""
    lib = libav.library("avutil")
    fn = getattr(lib, "av_video_hint_create_side_data", None) if lib is not None else None
    if fn is not None:
        fn.restype = ctypes.POINTER(_AVVideoHint)
        fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    return fn


def _avframe(frame: Any) -> int | None:
    """The AVFrame pointer of a PyAV VideoFrame, checked against what PyAV reports of it:
    its first data pointer and its size."""
    ptr = libav.first_field(frame)
    if ptr is None or ctypes.c_void_p.from_address(ptr).value != frame.planes[0].buffer_ptr:
        return None
    w = ctypes.c_int.from_address(ptr + _AVFRAME_WIDTH_OFFSET).value
    h = ctypes.c_int.from_address(ptr + _AVFRAME_WIDTH_OFFSET + 4).value
    return ptr if (w, h) == (frame.width, frame.height) else None


def available() -> bool:
    """Whether :func:`attach` can hand hints to FFmpeg in this process."""
    import av

    return _create_side_data() is not None and _avframe(av.VideoFrame(32, 32, "yuv420p")) is not None


def attach(frame: Any, rects: np.ndarray) -> bool:
    """Attach ``rects`` (n x 4: x, y, width, height; every other pixel unchanged since the
    previous frame) to a PyAV VideoFrame as AVVideoHint side data; False if it cannot be."""
    create = _create_side_data()
    ptr = _avframe(frame) if create is not None else None
    if ptr is None:
        return False
    hint = create(ptr, len(rects))
    if not hint:
        return False
    hint.contents.type = _AV_VIDEO_HINT_TYPE_CHANGED
    if len(rects):
        base = ctypes.addressof(hint.contents) + hint.contents.rect_offset
        stride = hint.contents.rect_size
        data = np.asarray(rects, np.uint32)
        if stride == 16:
            ctypes.memmove(base, data.ctypes.data, data.nbytes)
        else:
            for i, row in enumerate(data):
                ctypes.memmove(base + i * stride, row.ctypes.data, 16)
    return True
