"""FFmpeg functions PyAV does not expose, called through ctypes on the libraries PyAV loaded.

Two things are needed for that, and both are found, never assumed:

- the library: the copy inside PyAV's wheel (``av.libs/`` for auditwheel and delvewheel
  wheels, ``.dylibs/`` on macOS), opened by path - the same handle as PyAV's, since the
  library is loaded already - so a function works on PyAV's own structures;
- the C structure behind a PyAV object: its first C field (``Frame.ptr``, ``Container.ptr``)
  sits after the object header and Cython's vtable pointer.  The caller checks what it
  reads there against something PyAV reports (a plane's address, a class pointer) before
  using it, so a PyAV whose layout differs is detected, never written through.

Where either cannot be found, the functions here return None and the caller does without.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
from functools import cache

# PyObject_HEAD (refcount, type), then Cython's vtable pointer, then the object's first C field
_FIRST_FIELD = 3 * ctypes.sizeof(ctypes.c_void_p)


@cache
def library(stem: str) -> ctypes.CDLL | None:
    """PyAV's copy of FFmpeg's ``lib{stem}`` (e.g. "avutil", "avformat"), or None."""
    import av

    here = os.path.dirname(av.__file__)
    for folder in (os.path.join(here, os.pardir, "av.libs"), os.path.join(here, ".dylibs"), here):
        for path in sorted(glob.glob(os.path.join(folder, f"*{stem}*"))):
            if not path.endswith((".so", ".dll", ".dylib")) and ".so." not in path:
                continue
            try:
                return ctypes.CDLL(path)
            except OSError:
                continue
    return None


def first_field(obj: object) -> int | None:
    """The pointer in the first C field of a PyAV (Cython) object, unchecked; None if the
    object is too small to have one or this is not CPython."""
    if sys.implementation.name != "cpython" or type(obj).__basicsize__ < _FIRST_FIELD + ctypes.sizeof(ctypes.c_void_p):
        return None
    value: int | None = ctypes.c_void_p.from_address(id(obj) + _FIRST_FIELD).value
    return value or None
