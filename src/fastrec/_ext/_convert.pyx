# Scale + BGRA -> I420 in one pass over the source.
#
# Each pair of output rows is built as BGRA-ordered uint16 rows with `frac` fraction bits,
# then one emitter writes both luma rows and the shared chroma row.  Scaling is area
# averaging when shrinking and bilinear when enlarging, separably per axis; exact 1:1 and
# 2:1 get dedicated paths because they are what recorders use most.

cimport cython
from libc.stdint cimport uint8_t, uint16_t, int32_t, uint64_t

import numpy as np

from fastrec._ext._frame cimport CSHIFT, Y_R, Y_G, Y_B, U_R, U_G, U_B, V_R, V_G, V_B
from fastrec._ext._frame cimport chroma_u as _chroma_u, chroma_v as _chroma_v, luma as _luma

cdef enum:
    WSHIFT = 14          # fraction bits of the resampling weights (they sum to 1 << 14)
    GFRAC = 6            # fraction bits kept between the generic path's two passes

cdef enum:
    MODE_DIRECT = 0
    MODE_HALF = 1
    MODE_GENERIC = 2


ctypedef fused pixel_t:
    uint8_t   # source rows, as grabbed (the 1:1 path)
    uint16_t  # resampled rows with fraction bits


cdef void emit(const pixel_t* r0, const pixel_t* r1, int frac, uint8_t* y0, uint8_t* y1,
               uint8_t* u, uint8_t* v, int w) noexcept nogil:
    # r0, r1: BGRA-ordered rows of w pixels with `frac` fraction bits.  Luma row by row,
    # then chroma from each 2x2 block: three simple loops that GCC vectorises.
    cdef int x, p, sY = CSHIFT + frac, sC = CSHIFT + frac + 2
    cdef int32_t r, g, b
    cdef int32_t kY = (16 << sY) + (1 << (sY - 1))
    cdef int32_t kC = (128 << sC) + (1 << (sC - 1))
    for x in range(w):
        y0[x] = <uint8_t>((Y_R * r0[4 * x + 2] + Y_G * r0[4 * x + 1] + Y_B * r0[4 * x] + kY) >> sY)
    for x in range(w):
        y1[x] = <uint8_t>((Y_R * r1[4 * x + 2] + Y_G * r1[4 * x + 1] + Y_B * r1[4 * x] + kY) >> sY)
    for x in range(w >> 1):
        p = 8 * x
        b = r0[p] + r0[p + 4] + r1[p] + r1[p + 4]
        g = r0[p + 1] + r0[p + 5] + r1[p + 1] + r1[p + 5]
        r = r0[p + 2] + r0[p + 6] + r1[p + 2] + r1[p + 6]
        u[x] = <uint8_t>((U_R * r + U_G * g + U_B * b + kC) >> sC)
        v[x] = <uint8_t>((V_R * r + V_G * g + V_B * b + kC) >> sC)


cdef void box2_row(const uint8_t* s0, const uint8_t* s1, uint16_t* tmp, uint16_t* out,
                   int w) noexcept nogil:
    # 2x2 box sums of two source rows into w output pixels (2 fraction bits): a widening
    # vertical add, then pixel pairs added as packed 4 x uint16 words (sums stay < 1024,
    # so no lane carries into the next).
    cdef int i
    cdef const uint64_t* t = <const uint64_t*>tmp
    cdef uint64_t* o = <uint64_t*>out
    for i in range(w * 8):
        tmp[i] = s0[i] + s1[i]
    for i in range(w):
        o[i] = t[2 * i] + t[2 * i + 1]


cdef void resample_row(const uint8_t* src, Py_ssize_t sstride, int src_w, int oy,
                       const int32_t* ys, const int32_t* yn, const int32_t* yw, int ytaps,
                       const int32_t* xs, const int32_t* xn, const int32_t* xw, int xtaps,
                       int32_t* acc, uint16_t* vrow, uint16_t* out, int out_w) noexcept nogil:
    cdef int i, k, x, n = src_w * 4, j
    cdef int32_t wgt, s0, s1, s2
    cdef const uint8_t* row
    cdef const int32_t* wx
    # vertical: weighted sum of the source rows under output row oy
    row = src + ys[oy] * sstride
    wgt = yw[oy * ytaps]
    for i in range(n):
        acc[i] = wgt * row[i]
    for k in range(1, yn[oy]):
        row = src + (ys[oy] + k) * sstride
        wgt = yw[oy * ytaps + k]
        for i in range(n):
            acc[i] += wgt * row[i]
    for i in range(n):
        vrow[i] = <uint16_t>((acc[i] + (1 << (WSHIFT - GFRAC - 1))) >> (WSHIFT - GFRAC))
    # horizontal
    for x in range(out_w):
        s0 = s1 = s2 = 1 << (WSHIFT - 1)
        wx = xw + x * xtaps
        j = xs[x] * 4
        for k in range(xn[x]):
            s0 += wx[k] * vrow[j]
            s1 += wx[k] * vrow[j + 1]
            s2 += wx[k] * vrow[j + 2]
            j += 4
        out[4 * x] = <uint16_t>(s0 >> WSHIFT)
        out[4 * x + 1] = <uint16_t>(s1 >> WSHIFT)
        out[4 * x + 2] = <uint16_t>(s2 >> WSHIFT)


@cython.wraparound(True)
def _taps(n_in, n_out):
    """Resampling taps along one axis: start index, tap count and integer weights per
    output pixel (area overlap when shrinking, bilinear when enlarging)."""
    f = n_in / n_out
    starts, weights = [], []
    for i in range(n_out):
        if n_in == n_out:
            idx, w = [i], [1.0]
        elif f > 1.0:
            a, b = i * f, (i + 1) * f
            j0, j1 = int(a), min(int(np.ceil(b)), n_in)
            idx = list(range(j0, j1))
            w = [max(0.0, min(b, j + 1) - max(a, j)) / f for j in idx]
        else:
            c = (i + 0.5) * f - 0.5
            j = int(np.floor(c))
            t = c - j
            lo, hi = min(max(j, 0), n_in - 1), min(max(j + 1, 0), n_in - 1)
            idx, w = ([lo], [1.0]) if lo == hi else ([lo, hi], [1.0 - t, t])
        # drop zero-weight edge taps, keep the indices contiguous
        while len(w) > 1 and round(w[-1] * (1 << WSHIFT)) == 0:
            idx.pop(); w.pop()
        while len(w) > 1 and round(w[0] * (1 << WSHIFT)) == 0:
            idx.pop(0); w.pop(0)
        wi = [int(round(x * (1 << WSHIFT))) for x in w]
        wi[int(np.argmax(wi))] += (1 << WSHIFT) - sum(wi)
        starts.append(idx[0])
        weights.append(wi)
    ntaps = max(len(w) for w in weights)
    table = np.zeros((n_out, ntaps), dtype=np.int32)
    for i, w in enumerate(weights):
        table[i, :len(w)] = w
    counts = np.array([len(w) for w in weights], dtype=np.int32)
    return np.array(starts, dtype=np.int32), counts, table


cdef class Scaler:
    """Scale BGRA frames of one size to I420 planes of another, in one pass.

    Build it once per (source size, output size); ``convert`` then allocates nothing.
    Output width and height must be even.  ``mode`` says which path runs: "direct" (same
    size), "half" (exact 2:1) or "generic".
    """

    cdef readonly int src_w, src_h, dst_w, dst_h
    cdef int _mode, _xtaps, _ytaps
    cdef int32_t[::1] _xs, _xn, _ys, _yn, _acc
    cdef int32_t[:, ::1] _xw, _yw
    cdef uint16_t[:, ::1] _rows
    cdef uint16_t[::1] _vrow

    def __init__(self, int src_w, int src_h, int dst_w, int dst_h):
        if src_w < 1 or src_h < 1:
            raise ValueError(f"source size must be positive, got {src_w}x{src_h}")
        if dst_w < 2 or dst_h < 2 or dst_w % 2 or dst_h % 2:
            raise ValueError(f"output size must be even and at least 2x2, got {dst_w}x{dst_h}")
        self.src_w, self.src_h, self.dst_w, self.dst_h = src_w, src_h, dst_w, dst_h
        self._rows = np.zeros((2, dst_w * 4), dtype=np.uint16)
        if src_w == dst_w and src_h == dst_h:
            self._mode = MODE_DIRECT
        elif src_w == 2 * dst_w and src_h == 2 * dst_h:
            self._mode = MODE_HALF
            self._vrow = np.zeros(src_w * 4, dtype=np.uint16)
        else:
            self._mode = MODE_GENERIC
            xs, xn, xw = _taps(src_w, dst_w)
            ys, yn, yw = _taps(src_h, dst_h)
            self._xs, self._xn, self._xw, self._xtaps = xs, xn, xw, xw.shape[1]
            self._ys, self._yn, self._yw, self._ytaps = ys, yn, yw, yw.shape[1]
            self._acc = np.zeros(src_w * 4, dtype=np.int32)
            self._vrow = np.zeros(src_w * 4, dtype=np.uint16)

    @property
    def mode(self):
        return ("direct", "half", "generic")[self._mode]

    def convert(self, const uint8_t[:, :, :] src, uint8_t[:, :] y, uint8_t[:, :] u,
                uint8_t[:, :] v):
        """Write ``src`` (h, w, 4 BGRA, any row stride) scaled into the ``y``, ``u``, ``v``
        planes (2-D uint8, any row stride; chroma half size in each direction)."""
        _check_planes(self, src, y, u, v)
        with nogil:
            self._run(&src[0, 0, 0], src.strides[0], &y[0, 0], y.strides[0], &u[0, 0],
                      u.strides[0], &v[0, 0], v.strides[0])

    def convert_tiles(self, const uint8_t[:, :, :] src, uint8_t[:, :] y, uint8_t[:, :] u,
                      uint8_t[:, :] v, const uint8_t[:, :] tiles, int tile_w, int tile_h):
        """Like :meth:`convert`, but write only the output pixels that the marked source
        tiles reach; the rest of the planes is left as it is.

        ``tiles`` is a (rows, cols) map over ``src`` in tiles of ``tile_w`` x ``tile_h``
        (nonzero = convert; :attr:`TileDiff.tiles` is one).  When the planes hold the
        conversion of a frame that differs from ``src`` only inside the marked tiles, they
        then hold exactly what :meth:`convert` of ``src`` writes.  The 1:1 and 2:1 paths
        convert each run of marked tiles in a tile row (tiles must be even, multiples of 4
        at 2:1, so a chroma sample never straddles a tile edge); the generic path converts
        every output row pair whose filter taps reach a marked tile row, over the full
        width (its taps cross tile edges).  Returns the number of output pixels written.
        """
        _check_planes(self, src, y, u, v)
        cdef int cols = (self.src_w + tile_w - 1) // tile_w if tile_w > 0 else 0
        cdef int rows = (self.src_h + tile_h - 1) // tile_h if tile_h > 0 else 0
        cdef int align = 4 if self._mode == MODE_HALF else 2
        if self._mode != MODE_GENERIC and (tile_w <= 0 or tile_h <= 0 or tile_w % align
                                           or tile_h % align):
            raise ValueError(f"tile size {tile_w}x{tile_h}: the {self.mode} path needs "
                             f"positive multiples of {align}")
        if tile_w <= 0 or tile_h <= 0:
            raise ValueError(f"tile size must be positive, got {tile_w}x{tile_h}")
        if tiles.shape[0] != rows or tiles.shape[1] != cols:
            raise ValueError(f"tiles: expected a ({rows}, {cols}) map for {tile_w}x{tile_h} "
                             f"tiles of a {self.src_w}x{self.src_h} frame, got {tuple(tiles.shape)[:2]}")
        cdef Py_ssize_t written = 0
        if rows == 0 or cols == 0:
            return 0
        with nogil:
            written = self._run_tiles(&src[0, 0, 0], src.strides[0], &y[0, 0], y.strides[0],
                                      &u[0, 0], u.strides[0], &v[0, 0], v.strides[0],
                                      &tiles[0, 0], tiles.strides[0], rows, cols, tile_w, tile_h)
        return written

    cdef Py_ssize_t _run_tiles(self, const uint8_t* src, Py_ssize_t ss, uint8_t* Y,
                               Py_ssize_t ys, uint8_t* U, Py_ssize_t us, uint8_t* V,
                               Py_ssize_t vs, const uint8_t* tiles, Py_ssize_t tstride,
                               int rows, int cols, int tile_w, int tile_h) noexcept nogil:
        cdef int ty, tx, tx1, div = 2 if self._mode == MODE_HALF else 1
        cdef int ox0, ox1, oy0, oy1, oy, k, r
        cdef const uint8_t* trow
        cdef Py_ssize_t written = 0
        cdef bint hit
        if self._mode == MODE_GENERIC:
            for oy in range(0, self.dst_h, 2):
                hit = False
                for r in range(oy, oy + 2):
                    for k in range(self._yn[r]):
                        if _row_marked(tiles, tstride, cols, (self._ys[r] + k) // tile_h):
                            hit = True
                            break
                    if hit:
                        break
                if hit:
                    self._pair(src, ss, Y, ys, U, us, V, vs, oy, 0, self.dst_w)
                    written += 2 * self.dst_w
            return written
        for ty in range(rows):
            trow = tiles + ty * tstride
            oy0 = ty * tile_h // div
            oy1 = min((ty + 1) * tile_h // div, self.dst_h)
            tx = 0
            while tx < cols:
                if not trow[tx]:
                    tx += 1
                    continue
                tx1 = tx + 1
                while tx1 < cols and trow[tx1]:
                    tx1 += 1
                ox0 = tx * tile_w // div
                ox1 = min(tx1 * tile_w // div, self.dst_w)
                for oy in range(oy0, oy1, 2):
                    self._pair(src, ss, Y, ys, U, us, V, vs, oy, ox0, ox1)
                written += (ox1 - ox0) * (oy1 - oy0)
                tx = tx1
        return written

    cdef void _pair(self, const uint8_t* src, Py_ssize_t ss, uint8_t* Y, Py_ssize_t ys,
                    uint8_t* U, Py_ssize_t us, uint8_t* V, Py_ssize_t vs, int oy, int ox0,
                    int ox1) noexcept nogil:
        # output rows oy, oy + 1 (oy even), columns ox0..ox1 (even; the generic path only
        # takes the full width, its horizontal taps being shared across the row)
        cdef int w = ox1 - ox0
        cdef uint16_t* r0 = &self._rows[0, 0]
        cdef uint16_t* r1 = &self._rows[1, 0]
        cdef uint8_t* y0 = Y + oy * ys + ox0
        cdef uint8_t* y1 = Y + (oy + 1) * ys + ox0
        cdef uint8_t* u = U + (oy >> 1) * us + (ox0 >> 1)
        cdef uint8_t* v = V + (oy >> 1) * vs + (ox0 >> 1)
        if self._mode == MODE_DIRECT:
            emit(src + oy * ss + 4 * ox0, src + (oy + 1) * ss + 4 * ox0, 0, y0, y1, u, v, w)
        elif self._mode == MODE_HALF:
            box2_row(src + 2 * oy * ss + 8 * ox0, src + (2 * oy + 1) * ss + 8 * ox0,
                     &self._vrow[0], r0, w)
            box2_row(src + (2 * oy + 2) * ss + 8 * ox0, src + (2 * oy + 3) * ss + 8 * ox0,
                     &self._vrow[0], r1, w)
            emit(r0, r1, 2, y0, y1, u, v, w)
        else:
            resample_row(src, ss, self.src_w, oy, &self._ys[0], &self._yn[0], &self._yw[0, 0],
                         self._ytaps, &self._xs[0], &self._xn[0], &self._xw[0, 0], self._xtaps,
                         &self._acc[0], &self._vrow[0], r0, self.dst_w)
            resample_row(src, ss, self.src_w, oy + 1, &self._ys[0], &self._yn[0],
                         &self._yw[0, 0], self._ytaps, &self._xs[0], &self._xn[0],
                         &self._xw[0, 0], self._xtaps, &self._acc[0], &self._vrow[0], r1,
                         self.dst_w)
            emit(r0, r1, GFRAC, y0, y1, u, v, self.dst_w)

    cdef void _run(self, const uint8_t* src, Py_ssize_t ss, uint8_t* Y, Py_ssize_t ys,
                   uint8_t* U, Py_ssize_t us, uint8_t* V, Py_ssize_t vs) noexcept nogil:
        cdef int oy, w = self.dst_w
        cdef uint16_t* r0 = &self._rows[0, 0]
        cdef uint16_t* r1 = &self._rows[1, 0]
        for oy in range(0, self.dst_h, 2):
            if self._mode == MODE_DIRECT:
                emit(src + oy * ss, src + (oy + 1) * ss, 0, Y + oy * ys, Y + (oy + 1) * ys,
                     U + (oy >> 1) * us, V + (oy >> 1) * vs, w)
                continue
            if self._mode == MODE_HALF:
                box2_row(src + 2 * oy * ss, src + (2 * oy + 1) * ss, &self._vrow[0], r0, w)
                box2_row(src + (2 * oy + 2) * ss, src + (2 * oy + 3) * ss, &self._vrow[0], r1, w)
                emit(r0, r1, 2, Y + oy * ys, Y + (oy + 1) * ys, U + (oy >> 1) * us,
                     V + (oy >> 1) * vs, w)
                continue
            resample_row(src, ss, self.src_w, oy, &self._ys[0], &self._yn[0], &self._yw[0, 0],
                         self._ytaps, &self._xs[0], &self._xn[0], &self._xw[0, 0], self._xtaps,
                         &self._acc[0], &self._vrow[0], r0, w)
            resample_row(src, ss, self.src_w, oy + 1, &self._ys[0], &self._yn[0],
                         &self._yw[0, 0], self._ytaps, &self._xs[0], &self._xn[0],
                         &self._xw[0, 0], self._xtaps, &self._acc[0], &self._vrow[0], r1, w)
            emit(r0, r1, GFRAC, Y + oy * ys, Y + (oy + 1) * ys, U + (oy >> 1) * us,
                 V + (oy >> 1) * vs, w)


cdef inline bint _row_marked(const uint8_t* tiles, Py_ssize_t tstride, int cols,
                             int ty) noexcept nogil:
    cdef int tx
    for tx in range(cols):
        if tiles[ty * tstride + tx]:
            return True
    return False


cdef int _check_planes(Scaler sc, const uint8_t[:, :, :] src, uint8_t[:, :] y,
                       uint8_t[:, :] u, uint8_t[:, :] v) except -1:
    if src.shape[0] != sc.src_h or src.shape[1] != sc.src_w or src.shape[2] != 4 \
            or src.strides[1] != 4 or src.strides[2] != 1:
        raise ValueError(f"src: expected BGRA ({sc.src_h}, {sc.src_w}, 4) with "
                         f"contiguous pixels, got shape {tuple(src.shape)[:3]}")
    if y.shape[0] != sc.dst_h or y.shape[1] != sc.dst_w:
        raise ValueError(f"y: expected ({sc.dst_h}, {sc.dst_w}), got {tuple(y.shape)[:2]}")
    if y.strides[1] != 1 or u.strides[1] != 1 or v.strides[1] != 1:
        raise ValueError("y, u, v: plane rows must be packed bytes (any row stride)")
    for name, plane in (("u", u), ("v", v)):
        if plane.shape[0] != sc.dst_h // 2 or plane.shape[1] != sc.dst_w // 2:
            raise ValueError(f"{name}: expected ({sc.dst_h // 2}, {sc.dst_w // 2}), "
                             f"got {tuple(plane.shape)[:2]}")
    return 0


def rgb_to_yuv(int r, int g, int b):
    """One colour (each channel 0..255) as the kernels convert it: BT.709, limited range,
    as (Y, U, V).  The one place outside the kernels that needs the matrix (mask fills,
    blank frames) asks here, so the two can never disagree."""
    if not (0 <= r <= 255 and 0 <= g <= 255 and 0 <= b <= 255):
        raise ValueError(f"rgb=({r}, {g}, {b}): each channel must be between 0 and 255")
    return _luma(r, g, b), _chroma_u(r, g, b, 0), _chroma_v(r, g, b, 0)
