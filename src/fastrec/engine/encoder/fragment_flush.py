"""Make FFmpeg's MP4 muxer write the fragment it holds, now.

The fragmented-MP4 muxer cuts a fragment only when the *next* packet arrives (at a keyframe
or once ``frag_duration`` has passed), so a segment's first frame would reach the disk only
with its second one - on an idle screen (a login screen waiting for a password) that can be
minutes, and an auditor wants that first picture at once.  FFmpeg's answer is
``av_write_frame(ctx, NULL)``: the muxer writes the fragment it holds.  PyAV does not expose
it, so this module calls it through ctypes on the libavformat that PyAV loaded
(:mod:`fastrec.engine.encoder.libav`).

Why it is safe: the AVFormatContext pointer is the PyAV container object's first C field,
used only when the structure it points to starts with libavformat's own
``avformat_get_class()`` - the AVFormatContext class - so a PyAV whose layout differs is
detected, not written through.  Where the library or the pointer cannot be found (another
PyAV layout, a platform whose libraries are named differently) :func:`flush_fragment`
returns False and nothing happens: the first frame then reaches the disk with the second,
as before.
"""

from __future__ import annotations

import ctypes
from functools import cache
from typing import Any

from fastrec.engine.encoder import libav


@cache
def _libavformat() -> ctypes.CDLL | None:
    lib = libav.library("avformat")
    if lib is None:
        return None
    try:
        lib.av_write_frame.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.av_write_frame.restype = ctypes.c_int
        lib.avformat_get_class.restype = ctypes.c_void_p
    except AttributeError:
        return None
    return lib


def _context(container: Any, lib: ctypes.CDLL) -> int | None:
    ptr = libav.first_field(container)
    if ptr is None:
        return None
    av_class = ctypes.c_void_p.from_address(ptr).value  # AVFormatContext.av_class comes first
    return ptr if av_class == lib.avformat_get_class() else None


def flush_fragment(container: Any) -> bool:
    """Write the fragment ``container`` (a PyAV OutputContainer of a fragmented MP4) holds;
    True when it was asked to, False when that is not possible here (see the module)."""
    lib = _libavformat()
    if lib is None:
        return False
    ctx = _context(container, lib)
    if ctx is None:
        return False
    return lib.av_write_frame(ctx, None) >= 0
