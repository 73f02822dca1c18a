"""Privacy masks composited into frames before they leave the capture process.

Masks run on the I420 planes after scaling (:func:`mask_i420`): there they touch 1.5
bytes per pixel instead of 4 and, below scale 1, fewer pixels, which made a 400x300 blur
about 2.6x cheaper than on the BGRA frame in our benchmark (benchmarks/README.md).
:func:`mask_bgra` is there for callers that hold BGRA frames.

Privacy first: a region is rounded outwards when mapped to output pixels and to even
coordinates on I420, so no output pixel or chroma sample mixes masked and unmasked
source pixels.  And a mask never silently misses: the kernel works on the caller's memory,
in place, with any row stride; an array it cannot take as it is (a mirrored, transposed or
channel-reordered view, a read-only or non-uint8 one, mismatched planes) is a ValueError
naming the argument and its layout.  Never a copy that is masked while the real pixels
are not (numpy's ``reshape`` silently copies such a view).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fastrec._ext import apply_masks, rgb_to_yuv
from fastrec.core.mask_kinds import MaskKind
from fastrec.core.mask_region import DEFAULT_COLOUR, DEFAULT_STRENGTH, REDACT_GLYPH_COLOUR, MaskRegion, Rgb


_KIND_CODE = {MaskKind.BLOCK: 0, MaskKind.BLUR: 1, MaskKind.PIXELATE: 2, MaskKind.REDACT: 3}


def _colours(region: MaskRegion) -> tuple[Rgb, Rgb]:
    fill = region.colour or DEFAULT_COLOUR.get(region.kind, (0, 0, 0))
    return tuple(int(c) for c in fill), REDACT_GLYPH_COLOUR  # type: ignore[return-value]


def _check_writable(name: str, array: object, ndim: int) -> None:
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8 or array.ndim != ndim:
        shape = getattr(array, "shape", None)
        dtype = getattr(array, "dtype", type(array).__name__)
        raise ValueError(f"{name} must be a {ndim}-D uint8 numpy array, "
                         f"got {dtype} of shape {shape}")
    if not array.flags.writeable:
        raise ValueError(f"{name} is read-only: masks are composited into it in place")


def _layout_error(name: str, array: np.ndarray, allowed: str) -> ValueError:
    return ValueError(
        f"{name} cannot be masked in place (shape {array.shape}, strides {array.strides}): "
        f"{allowed}; a mirrored or transposed view has other strides.  Mask the array it "
        "views, or a contiguous copy (np.ascontiguousarray) and use that copy")


def mask_bgra(frame: np.ndarray, regions: Sequence[MaskRegion]) -> None:
    """Composite ``regions`` into a BGRA ``frame`` (h, w, 4; any row stride) in place.

    Raises ValueError when ``frame`` cannot be masked in place (see the module docstring).
    """
    _check_writable("frame", frame, 3)
    h, w, channels = frame.shape
    allowed = ("it must be (height, width, 4) with packed BGRA pixels in each row, "
               "strides (any, 4, 1)")
    if channels != 4 or frame.strides[2] != 1 or (w > 1 and frame.strides[1] != 4):
        raise _layout_error("frame", frame, allowed)
    if not regions or frame.size == 0:
        return
    plane = frame.reshape(h, w * 4)  # a view: the strides were checked above
    table = np.array(
        [(r.x, r.y, r.width, r.height, _KIND_CODE[r.kind], r.effective_strength) for r in regions],
        dtype=np.int32,
    )
    colours = np.empty((len(regions), 8), dtype=np.uint8)
    for i, region in enumerate(regions):
        fill, glyph = _colours(region)
        colours[i, :4] = (fill[2], fill[1], fill[0], 255)
        colours[i, 4:] = (glyph[2], glyph[1], glyph[0], 255)
    apply_masks(plane, 4, table, colours)


def mask_i420(
    y: np.ndarray, u: np.ndarray, v: np.ndarray, regions: Sequence[MaskRegion]
) -> None:
    """Composite ``regions`` (in luma pixel coordinates) into I420 planes in place.

    ``u`` and ``v`` are the chroma planes of ``y``: half its size in each direction
    (rounded down or up).  Raises ValueError when a plane cannot be masked in place.
    """
    for name, plane in (("y", y), ("u", u), ("v", v)):
        _check_writable(name, plane, 2)
        if plane.strides[1] != 1:
            raise _layout_error(name, plane, "its rows must be packed bytes, strides (any, 1)")
    h, w = y.shape
    halves = sorted({(h // 2, w // 2), ((h + 1) // 2, (w + 1) // 2)})
    if u.shape not in halves or v.shape != u.shape:
        raise ValueError(f"u and v must be the chroma planes of y {y.shape}: "
                         f"{' or '.join(map(str, halves))}, got u {u.shape}, v {v.shape}")
    if not regions:
        return
    luma, chroma = [], []
    for region in regions:
        # even bounds: each chroma sample covers 2x2 luma pixels
        x0, y0 = region.x & ~1, region.y & ~1
        x1 = (region.x + region.width + 1) & ~1
        y1 = (region.y + region.height + 1) & ~1
        code, strength = _KIND_CODE[region.kind], region.effective_strength
        luma.append((x0, y0, x1 - x0, y1 - y0, code, strength))
        chroma.append((x0 // 2, y0 // 2, (x1 - x0) // 2, (y1 - y0) // 2, code, max(1, strength // 2)))
    yuv = [(rgb_to_yuv(*fill), rgb_to_yuv(*glyph)) for fill, glyph in map(_colours, regions)]
    for plane, table, channel in ((y, luma, 0), (u, chroma, 1), (v, chroma, 2)):
        colours = np.array([(f[channel], g[channel]) for f, g in yuv], dtype=np.uint8)
        if plane.size:
            apply_masks(plane, 1, np.array(table, dtype=np.int32), colours)


__all__ = [
    "DEFAULT_COLOUR",
    "DEFAULT_STRENGTH",
    "MaskKind",
    "MaskRegion",
    "mask_bgra",
    "mask_i420",
]
