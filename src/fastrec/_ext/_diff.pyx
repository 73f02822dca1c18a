# Tile diff: which tiles of a BGRA frame changed since the previous frame.

from libc.stdint cimport uint8_t
from libc.string cimport memcmp, memcpy, memset

import numpy as np


cdef Py_ssize_t diff_tiles(
    const uint8_t* cur, Py_ssize_t cur_stride,
    uint8_t* prev, Py_ssize_t prev_stride,
    int width, int height, int tile_w, int tile_h,
    uint8_t* tiles, int cols, int rows, bint copy,
    Py_ssize_t tile_stride=-1, bint clear=True,
) noexcept nogil:
    # tiles: `rows` rows of `cols` flags, `tile_stride` apart (-1: cols); with clear=False
    # the flags already set stay set (a part of a larger map) and only new ones count
    cdef Py_ssize_t row_bytes = <Py_ssize_t>width * 4
    cdef Py_ssize_t count = 0, x0, n
    cdef int ty, tx, y, y0, y1, band_dirty
    cdef const uint8_t* c
    cdef uint8_t* p
    cdef uint8_t* trow
    for ty in range(rows):
        y0 = ty * tile_h
        y1 = min(y0 + tile_h, height)
        trow = tiles + <Py_ssize_t>ty * (cols if tile_stride < 0 else tile_stride)
        if clear:
            memset(trow, 0, cols)
        band_dirty = 0
        for y in range(y0, y1):
            c = cur + y * cur_stride
            p = prev + y * prev_stride
            # Whole-row compare first: an unchanged row (the common case) costs one memcmp.
            if memcmp(c, p, row_bytes) == 0:
                continue
            if band_dirty == cols and not copy:
                break
            for tx in range(cols):
                x0 = <Py_ssize_t>tx * tile_w * 4
                n = <Py_ssize_t>min(tile_w, width - tx * tile_w) * 4
                if trow[tx]:
                    if copy:
                        memcpy(p + x0, c + x0, n)
                elif memcmp(c + x0, p + x0, n) != 0:
                    trow[tx] = 1
                    band_dirty += 1
                    if copy:
                        memcpy(p + x0, c + x0, n)
        count += band_dirty
    return count


cdef class TileDiff:
    """Compare BGRA frames tile by tile against a previous frame.

    ``compare`` fills the preallocated ``tiles`` map (rows x cols, 1 = changed) and returns
    the number of changed tiles; it allocates nothing, so an unchanged frame costs only the
    comparison.
    """

    cdef readonly int width, height, tile_w, tile_h, cols, rows
    cdef readonly Py_ssize_t dirty
    cdef readonly object tiles
    cdef uint8_t[:, ::1] _tiles

    def __init__(self, int width, int height, int tile_w=64, tile_h=None):
        if width <= 0 or height <= 0:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        if tile_w <= 0 or (tile_h is not None and tile_h <= 0):
            raise ValueError(f"tile size must be positive, got {tile_w}x{tile_h}")
        self.width = width
        self.height = height
        self.tile_w = tile_w
        self.tile_h = tile_w if tile_h is None else tile_h
        self.cols = (width + self.tile_w - 1) // self.tile_w
        self.rows = (height + self.tile_h - 1) // self.tile_h
        self.tiles = np.zeros((self.rows, self.cols), dtype=np.uint8)
        self._tiles = self.tiles
        self.dirty = 0

    def compare(self, const uint8_t[:, :, :] cur, prev, bint copy=False):
        """Mark the tiles where ``cur`` differs from ``prev``; return how many differ.

        Both are (height, width, 4) uint8 arrays with packed pixels and any row stride.
        With ``copy=True`` the changed tiles are copied from ``cur`` into ``prev`` in the
        same pass, so ``prev`` becomes the new reference frame.
        """
        cdef const uint8_t[:, :, :] prev_ro
        cdef uint8_t[:, :, :] prev_rw
        cdef uint8_t* prev_ptr
        cdef Py_ssize_t prev_stride
        if copy:
            prev_rw = prev
            prev_ptr = &prev_rw[0, 0, 0]
            prev_stride = prev_rw.strides[0]
            _check_frame("prev", prev_rw.shape[0], prev_rw.shape[1], prev_rw.shape[2],
                         prev_rw.strides[1], prev_rw.strides[2], self.width, self.height)
        else:
            prev_ro = prev
            prev_ptr = <uint8_t*>&prev_ro[0, 0, 0]
            prev_stride = prev_ro.strides[0]
            _check_frame("prev", prev_ro.shape[0], prev_ro.shape[1], prev_ro.shape[2],
                         prev_ro.strides[1], prev_ro.strides[2], self.width, self.height)
        _check_frame("cur", cur.shape[0], cur.shape[1], cur.shape[2], cur.strides[1],
                     cur.strides[2], self.width, self.height)
        with nogil:
            self.dirty = diff_tiles(&cur[0, 0, 0], cur.strides[0], prev_ptr, prev_stride,
                                    self.width, self.height, self.tile_w, self.tile_h,
                                    &self._tiles[0, 0], self.cols, self.rows, copy)
        return self.dirty

    def reset(self):
        """Clear the tile map (before a frame's :meth:`compare_part` calls)."""
        self._tiles[:, :] = 0
        self.dirty = 0

    def compare_part(self, const uint8_t[:, :, :] cur, uint8_t[:, :, :] prev, int x, int y):
        """Compare ``cur``, the pixels of the frame's rectangle at ``x``, ``y`` (multiples of
        the tile size) of ``cur``'s size, with the same rectangle of ``prev`` (the whole
        previous frame), copying changed tiles into ``prev``.

        Marks those tiles in :attr:`tiles` without clearing the others (call :meth:`reset`
        first) and returns how many it newly marked; :attr:`dirty` counts them all.  The
        rectangle must end at tile edges or at the frame's edge, so its tiles are whole
        tiles of the frame: a partial grab of damaged rectangles rounded out to the tile
        grid is compared and copied exactly as the full grab would be.
        """
        cdef Py_ssize_t h = cur.shape[0], w = cur.shape[1], n
        _check_frame("prev", prev.shape[0], prev.shape[1], prev.shape[2], prev.strides[1],
                     prev.strides[2], self.width, self.height)
        if cur.shape[2] != 4 or cur.strides[1] != 4 or cur.strides[2] != 1:
            raise ValueError(f"cur: expected BGRA pixels (h, w, 4) with contiguous pixels, "
                             f"got shape {tuple(cur.shape)[:3]} strides {tuple(cur.strides)[:3]}")
        if (x < 0 or y < 0 or x % self.tile_w or y % self.tile_h or h <= 0 or w <= 0
                or x + w > self.width or y + h > self.height
                or (x + w != self.width and w % self.tile_w)
                or (y + h != self.height and h % self.tile_h)):
            raise ValueError(f"part {w}x{h}+{x}+{y}: must lie in the {self.width}x{self.height} "
                             f"frame, start on the {self.tile_w}x{self.tile_h} tile grid and end "
                             "on it or at the frame's edge")
        cdef int tx0 = x // self.tile_w, ty0 = y // self.tile_h
        cdef int pcols = (w + self.tile_w - 1) // self.tile_w
        cdef int prows = (h + self.tile_h - 1) // self.tile_h
        with nogil:
            n = diff_tiles(&cur[0, 0, 0], cur.strides[0], &prev[y, x, 0], prev.strides[0],
                           w, h, self.tile_w, self.tile_h,
                           &self._tiles[ty0, tx0], pcols, prows, True, self.cols, False)
        self.dirty += n
        return n


cdef inline void _check_frame(str name, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c,
                              Py_ssize_t pixel_stride, Py_ssize_t byte_stride, int width,
                              int height) except *:
    # rows may be padded (a window cut out of a screen grab); pixels must be packed
    if c != 4 or pixel_stride != 4 or byte_stride != 1:
        raise ValueError(f"{name}: expected BGRA pixels (h, w, 4) with contiguous pixels, "
                         f"got shape (..., {c}) with pixel stride {pixel_stride}")
    if h != height or w != width:
        raise ValueError(f"{name}: expected a {width}x{height} frame, got {w}x{h}")
