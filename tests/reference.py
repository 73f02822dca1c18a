"""Plain-numpy references of the native kernels: slow, obvious, and independent of them
(matrices instead of tap tables, floats instead of fixed point)."""

from __future__ import annotations

import math

import numpy as np

KR, KB = 0.2126, 0.0722
KG = 1 - KR - KB


def tile_map(cur: np.ndarray, prev: np.ndarray, tw: int, th: int) -> np.ndarray:
    h, w = cur.shape[:2]
    rows, cols = -(-h // th), -(-w // tw)
    changed = np.any(cur != prev, axis=2)
    out = np.zeros((rows, cols), dtype=np.uint8)
    for ty in range(rows):
        for tx in range(cols):
            out[ty, tx] = changed[ty * th : (ty + 1) * th, tx * tw : (tx + 1) * tw].any()
    return out


def resample_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Area weights when shrinking, bilinear (half-pixel centres) when enlarging."""
    m = np.zeros((n_out, n_in))
    f = n_in / n_out
    for i in range(n_out):
        if n_in == n_out:
            m[i, i] = 1.0
        elif f > 1:
            a, b = i * f, (i + 1) * f
            for j in range(math.floor(a), min(math.ceil(b), n_in)):
                m[i, j] = (min(b, j + 1) - max(a, j)) / f
        else:
            c = (i + 0.5) * f - 0.5
            j = math.floor(c)
            t = c - j
            m[i, min(max(j, 0), n_in - 1)] += 1 - t
            m[i, min(max(j + 1, 0), n_in - 1)] += t
    return m


def scale_rgb(bgra: np.ndarray, ow: int, oh: int) -> np.ndarray:
    """Float RGB (oh, ow, 3) of a BGRA frame resampled to ow x oh."""
    h, w = bgra.shape[:2]
    rgb = bgra[..., 2::-1].astype(np.float64)
    my, mx = resample_matrix(h, oh), resample_matrix(w, ow)
    rows = np.tensordot(my, rgb, axes=(1, 0))  # (oh, w, 3)
    return np.tensordot(rows, mx, axes=(1, 1)).transpose(0, 2, 1)  # (oh, ow, 3)


def rgb_to_i420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BT.709 limited range; chroma from the mean of each 2x2 block."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 16 + (KR * r + KG * g + KB * b) * 219 / 255
    h, w = rgb.shape[:2]
    mean = rgb.reshape(h // 2, 2, w // 2, 2, 3).mean(axis=(1, 3))
    r, g, b = mean[..., 0], mean[..., 1], mean[..., 2]
    u = 128 + (b - (KR * r + KG * g + KB * b)) / (2 * (1 - KB)) * 224 / 255
    v = 128 + (r - (KR * r + KG * g + KB * b)) / (2 * (1 - KR)) * 224 / 255
    return y, u, v


def i420_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_i420` with nearest chroma upsampling."""
    uu = np.repeat(np.repeat(u.astype(np.float64), 2, 0), 2, 1) - 128
    vv = np.repeat(np.repeat(v.astype(np.float64), 2, 0), 2, 1) - 128
    yy = (y.astype(np.float64) - 16) * 255 / 219
    uu *= 255 / 224
    vv *= 255 / 224
    r = yy + 2 * (1 - KR) * vv
    b = yy + 2 * (1 - KB) * uu
    g = (yy - KR * r - KB * b) / KG
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255)


def box_blur(region: np.ndarray, radius: int, passes: int = 3) -> np.ndarray:
    """Repeated box blur with edges clamped to the region, rounded after each 1-D pass."""
    out = region.astype(np.float64)
    n = 2 * radius + 1
    for _ in range(passes):
        for axis in (1, 0):
            pad = [(0, 0)] * out.ndim
            pad[axis] = (radius, radius)
            padded = np.pad(out, pad, mode="edge")
            c = np.cumsum(padded, axis=axis)
            c = np.concatenate([np.zeros_like(np.take(c, [0], axis=axis)), c], axis=axis)
            size = out.shape[axis]
            hi = np.take(c, np.arange(n, n + size), axis=axis)
            lo = np.take(c, np.arange(0, size), axis=axis)
            out = np.floor((hi - lo) / n + 0.5)
    return out.astype(np.uint8)


def pixelate(region: np.ndarray, cell: int) -> np.ndarray:
    out = region.copy()
    h, w = region.shape[:2]
    for y in range(0, h, cell):
        for x in range(0, w, cell):
            block = region[y : y + cell, x : x + cell].astype(np.float64)
            out[y : y + cell, x : x + cell] = np.floor(block.mean(axis=(0, 1)) + 0.5)
    return out


ASTERISK = ["#.#.#", ".###.", "#####", ".###.", "#.#.#"]


def redact(shape: tuple[int, ...], bg: np.ndarray, fg: np.ndarray) -> np.ndarray:
    """A bar of ``bg`` with a row of 5x5 asterisks of ``fg``, 3/5 of its height."""
    h, w = shape[:2]
    out = np.empty(shape, dtype=np.uint8)
    out[...] = bg
    s = (h * 3 // 5) // 5
    if s < 1:
        return out
    gy, gx = (h - 5 * s) // 2, 2 * s
    while gx + 5 * s <= w - 2 * s or (gx == 2 * s and gx + 5 * s <= w):
        for row, pattern in enumerate(ASTERISK):
            for col, ch in enumerate(pattern):
                if ch == "#":
                    out[gy + row * s : gy + (row + 1) * s, gx + col * s : gx + (col + 1) * s] = fg
        gx += 7 * s
    return out
