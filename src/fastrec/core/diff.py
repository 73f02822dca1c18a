"""Which parts of a frame changed: the first step of every captured frame.

An unchanged frame is answered by one pass of row compares and allocates nothing, so an
idle screen costs almost nothing past the grab itself.  ``compare`` reads (and with
``copy=True`` updates) the caller's arrays themselves, never a copy: a frame whose pixels
are not packed (strides (any, 4, 1)) is a ValueError naming it.
"""

from fastrec._ext import TileDiff

DEFAULT_TILE = 64

__all__ = ["DEFAULT_TILE", "TileDiff"]
