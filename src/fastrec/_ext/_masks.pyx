# Mask compositing on one plane of interleaved channels: a BGRA frame (4 channels) or one
# I420 plane (1 channel).  Regions are clipped to the plane; empty ones are skipped.

from libc.stdint cimport uint8_t, int32_t, uint32_t
from libc.stdlib cimport malloc, free
from libc.string cimport memset

from fastrec._ext._frame cimport Plane

cdef enum:
    KIND_BLOCK = 0
    KIND_BLUR = 1
    KIND_PIXELATE = 2
    KIND_REDACT = 3
    REGION_FIELDS = 6    # x, y, width, height, kind, strength
    BLUR_PASSES = 3      # three box passes approximate a Gaussian

# A 5x5 asterisk, one row per byte, bit 4 = leftmost pixel.
cdef uint8_t[5] ASTERISK = [0b10101, 0b01110, 0b11111, 0b01110, 0b10101]


cdef inline uint8_t* at(Plane* p, int x, int y) noexcept nogil:
    return p.data + y * p.stride + x * p.channels


cdef void fill(Plane* p, int x0, int y0, int x1, int y1, const uint8_t* colour) noexcept nogil:
    cdef int x, y, c, C = p.channels
    cdef uint8_t* row
    for y in range(y0, y1):
        row = at(p, x0, y)
        if C == 1:
            memset(row, colour[0], x1 - x0)
        else:
            for x in range(x1 - x0):
                for c in range(C):
                    row[x * C + c] = colour[c]


cdef void pixelate(Plane* p, int x0, int y0, int x1, int y1, int cell) noexcept nogil:
    cdef int cx, cy, cx1, cy1, x, y, c, C = p.channels, n
    cdef uint32_t[4] acc
    cdef uint8_t[4] mean
    cdef uint8_t* row
    cy = y0
    while cy < y1:
        cy1 = min(cy + cell, y1)
        cx = x0
        while cx < x1:
            cx1 = min(cx + cell, x1)
            acc[0] = acc[1] = acc[2] = acc[3] = 0
            for y in range(cy, cy1):
                row = at(p, cx, y)
                for x in range(cx1 - cx):
                    for c in range(C):
                        acc[c] += row[x * C + c]
            n = (cx1 - cx) * (cy1 - cy)
            for c in range(C):
                mean[c] = <uint8_t>((acc[c] + n // 2) // n)
            fill(p, cx, cy, cx1, cy1, mean)
            cx = cx1
        cy = cy1


cdef inline void box_rows_n(const uint8_t* src, Py_ssize_t sstride, uint8_t* dst,
                            Py_ssize_t dstride, int n, int h, int r, const int C) noexcept nogil:
    # Horizontal box filter of radius r on h rows of n pixels, edges clamped to the region.
    # Called with a literal C so each channel count gets its own unrolled copy.
    cdef uint32_t inv = ((1 << 16) + r) // (2 * r + 1)
    cdef uint32_t[4] s
    cdef int y, x, c, k, xa, xs
    cdef const uint8_t* a
    cdef uint8_t* b
    for y in range(h):
        a = src + y * sstride
        b = dst + y * dstride
        for c in range(C):
            s[c] = (r + 1) * a[c]
        for k in range(1, r + 1):
            xa = min(k, n - 1) * C
            for c in range(C):
                s[c] += a[xa + c]
        for x in range(n):
            xa = min(x + r + 1, n - 1) * C
            xs = max(x - r, 0) * C
            for c in range(C):
                b[x * C + c] = <uint8_t>((s[c] * inv + 32768) >> 16)
                s[c] += a[xa + c] - a[xs + c]


cdef void box_rows(const uint8_t* src, Py_ssize_t sstride, uint8_t* dst, Py_ssize_t dstride,
                   int n, int h, int C, int r) noexcept nogil:
    if C == 4:
        box_rows_n(src, sstride, dst, dstride, n, h, r, 4)
    elif C == 1:
        box_rows_n(src, sstride, dst, dstride, n, h, r, 1)
    else:
        box_rows_n(src, sstride, dst, dstride, n, h, r, C)


cdef void box_cols(const uint8_t* src, Py_ssize_t sstride, uint8_t* dst, Py_ssize_t dstride,
                   int m, int h, int r, uint32_t* sums) noexcept nogil:
    # Vertical box filter of radius r over h rows of m bytes, edges clamped; the inner
    # loops run along a row so they vectorise.
    cdef uint32_t inv = ((1 << 16) + r) // (2 * r + 1)
    cdef int y, i, k
    cdef const uint8_t* add
    cdef const uint8_t* sub
    cdef uint8_t* b
    for i in range(m):
        sums[i] = (r + 1) * src[i]
    for k in range(1, r + 1):
        add = src + min(k, h - 1) * sstride
        for i in range(m):
            sums[i] += add[i]
    for y in range(h):
        b = dst + y * dstride
        for i in range(m):
            b[i] = <uint8_t>((sums[i] * inv + 32768) >> 16)
        add = src + min(y + r + 1, h - 1) * sstride
        sub = src + max(y - r, 0) * sstride
        for i in range(m):
            sums[i] += add[i] - sub[i]


cdef int blur(Plane* p, int x0, int y0, int x1, int y1, int r) noexcept nogil:
    # Repeated box blur, O(1) per pixel whatever the radius.  Returns -1 when out of memory.
    cdef int n = x1 - x0, h = y1 - y0, C = p.channels, i
    cdef Py_ssize_t m = <Py_ssize_t>n * C
    cdef uint8_t* a = <uint8_t*>malloc(m * h)
    cdef uint8_t* b = <uint8_t*>malloc(m * h)
    cdef uint32_t* sums = <uint32_t*>malloc(m * sizeof(uint32_t))
    cdef uint8_t* region = at(p, x0, y0)
    if a == NULL or b == NULL or sums == NULL:
        free(a); free(b); free(sums)
        return -1
    for i in range(BLUR_PASSES):
        box_rows(region if i == 0 else a, p.stride if i == 0 else m, b, m, n, h, C, r)
        if i == BLUR_PASSES - 1:
            box_cols(b, m, region, p.stride, <int>m, h, r, sums)
        else:
            box_cols(b, m, a, m, <int>m, h, r, sums)
    free(a); free(b); free(sums)
    return 0


cdef void redact(Plane* p, int x0, int y0, int x1, int y1, const uint8_t* bg,
                 const uint8_t* fg) noexcept nogil:
    # A light bar with a row of dark asterisks: unmistakably "redacted", unlike a block.
    cdef int rw = x1 - x0, rh = y1 - y0, s, gy, gx, row, col
    fill(p, x0, y0, x1, y1, bg)
    s = (rh * 3 // 5) // 5
    if s < 1:
        return
    gy = y0 + (rh - 5 * s) // 2
    gx = x0 + 2 * s
    while gx + 5 * s <= x1 - 2 * s or gx == x0 + 2 * s and gx + 5 * s <= x1:
        for row in range(5):
            for col in range(5):
                if ASTERISK[row] & (0x10 >> col):
                    fill(p, gx + col * s, gy + row * s, gx + (col + 1) * s,
                         gy + (row + 1) * s, fg)
        gx += 7 * s


def apply_masks(uint8_t[:, :] plane, int channels, const int32_t[:, ::1] regions,
                const uint8_t[:, ::1] colours):
    """Composite masks into ``plane`` in place.

    ``plane`` is (height, width * channels) uint8 with any row stride.  Each row of
    ``regions`` is x, y, width, height, kind (0 block, 1 blur, 2 pixelate, 3 redact),
    strength (blur radius or pixel cell, in plane pixels); the matching row of ``colours``
    holds the fill colour then the redaction glyph colour, ``channels`` bytes each.
    """
    if plane.strides[1] != 1:
        raise ValueError("plane: rows must be packed bytes (any row stride)")
    if channels < 1 or channels > 4 or plane.shape[1] % channels:
        raise ValueError(f"channels must be 1..4 and divide the row length, got {channels}")
    if regions.shape[0] and regions.shape[1] != REGION_FIELDS:
        raise ValueError(f"regions must have {REGION_FIELDS} columns, got {regions.shape[1]}")
    if colours.shape[0] != regions.shape[0] or (regions.shape[0] and colours.shape[1] != 2 * channels):
        raise ValueError(f"colours must be ({regions.shape[0]}, {2 * channels}), "
                         f"got {tuple(colours.shape)[:2]}")
    cdef Plane p
    p.data = &plane[0, 0]
    p.stride = plane.strides[0]
    p.width = <int>(plane.shape[1] // channels)
    p.height = <int>plane.shape[0]
    p.channels = channels
    cdef Py_ssize_t i
    cdef int x0, y0, x1, y1, kind, strength, failed = 0
    with nogil:
        for i in range(regions.shape[0]):
            x0 = max(regions[i, 0], 0)
            y0 = max(regions[i, 1], 0)
            x1 = min(regions[i, 0] + max(regions[i, 2], 0), p.width)
            y1 = min(regions[i, 1] + max(regions[i, 3], 0), p.height)
            if x1 <= x0 or y1 <= y0:
                continue
            kind = regions[i, 4]
            strength = max(regions[i, 5], 1)
            if kind == KIND_BLUR:
                if blur(&p, x0, y0, x1, y1, strength) < 0:
                    # never leave the region unmasked: fall back to a block
                    fill(&p, x0, y0, x1, y1, &colours[i, 0])
                    failed = 1
            elif kind == KIND_PIXELATE:
                pixelate(&p, x0, y0, x1, y1, strength)
            elif kind == KIND_REDACT:
                redact(&p, x0, y0, x1, y1, &colours[i, 0], &colours[i, channels])
            else:
                fill(&p, x0, y0, x1, y1, &colours[i, 0])
    if failed:
        raise MemoryError("blur: out of memory; the region was blocked instead")
