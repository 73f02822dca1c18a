"""Make FFmpeg's MP4 muxer write the fragment it holds, now.

The fragmented-MP4 muxer cuts a fragment only when the *next* packet arrives (at a keyframe
or once ``frag_duration`` has passed), so a segment's first frame would reach the disk only
with its second one - on an idle screen (a login screen waiting for a password) that can be
minutes, and an auditor wants that first picture at once.  FFmpeg's answer is
``av_write_frame(ctx, NULL)``: the muxer writes the fragment it holds.  PyAV does not expose
it, so this module calls it through ctypes on the libavformat that PyAV loaded.

Why it is safe: the AVFormatContext pointer is read from the PyAV container object at the
offset of its first C field (after the object header and Cython's vtable pointer), and is
used only when the structure it points to starts with libavformat's own
``avformat_get_class()`` - the AVFormatContext class - so a PyAV whose layout differs is
detected, not written through.  Where the library or the pointer cannot be found (another
PyAV layout, a platform whose libraries are named differently) :func:`flush_fragment`
returns False and nothing happens: the first frame then reaches the disk with the second,
as before.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
from functools import cache
from typing import Any

# PyObject_HEAD (refcount, type) and the Cython vtable pointer, then Container.ptr
_PTR_OFFSET = 3 * ctypes.sizeof(ctypes.c_void_p)


@cache
def _libavformat() -> Any | None:
    """libavformat as PyAV loaded it (the same handle: dlopen of a loaded library), or None."""
    import av

    here = os.path.dirname(av.__file__)
    patterns = [os.path.join(here, "..", "av.libs", "*avformat*"),  # auditwheel/delvewheel wheels
                os.path.join(here, ".dylibs", "*avformat*"), os.path.join(here, "*avformat*")]
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            try:
                lib = ctypes.CDLL(path)
                lib.av_write_frame.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
                lib.av_write_frame.restype = ctypes.c_int
                lib.avformat_get_class.restype = ctypes.c_void_p
                return lib
            except (OSError, AttributeError):
                continue
    return None


def _context(container: Any, lib: Any) -> int | None:
    if sys.implementation.name != "cpython" or type(container).__basicsize__ < _PTR_OFFSET + 8:
        return None
    ptr = ctypes.c_void_p.from_address(id(container) + _PTR_OFFSET).value
    if not ptr:
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
