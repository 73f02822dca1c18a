"""PSNR of a recording against a lossless reference capture of another run of the same
scripted workload.

Each recorder records its own run of the workload, so the reference and a recording are
not frame-synchronous: the workload is the same script, but its start and tk's timers
drift by tens of milliseconds.  So:

1. every recording is sampled at the times a player shows it, t = k / fps (for a
   variable-frame-rate file that is the last frame with pts <= t, exactly as a player
   holds it);
2. a global time offset between recording and reference is searched (+-2.5 s in 50 ms
   steps, around the offset the launch times suggest) on 1/4-scale grey frames;
3. each displayed frame is compared, at full resolution in BGR (decoded with the colour
   matrix the stream is tagged with), with the reference frames within +-0.25 s of its
   aligned time, and the best match is kept (this absorbs the timer jitter; it is equally
   favourable to every recorder);
4. PSNR = 10 log10(255^2 / mean MSE over all compared frames).
"""

from __future__ import annotations

import math
from pathlib import Path

import av
import cv2
import numpy as np

FPS = 10


def _decode(path: Path):  # yields (seconds from the first frame, BGR ndarray)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        first = None
        for frame in container.decode(stream):
            t = float(frame.pts * frame.time_base) if frame.pts is not None else 0.0
            if first is None:
                first = t
            yield t - first, frame.to_ndarray(format="bgr24")


def _displayed(path: Path, duration: float):
    """(t, frame) at t = k / FPS for k = 0.. while t < duration: the frame a player shows."""
    k = 0
    current = None
    for t, img in _decode(path):
        while current is not None and k / FPS < t - 1e-6 and k / FPS < duration:
            yield k / FPS, current
            k += 1
        current = img
    while current is not None and k / FPS < duration:
        yield k / FPS, current
        k += 1


def _small(img: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, (grey.shape[1] // 4, grey.shape[0] // 4), interpolation=cv2.INTER_AREA)


class Reference:
    def __init__(self, path: Path) -> None:
        self.times: list[float] = []
        self.frames: list[np.ndarray] = []
        self.small: list[np.ndarray] = []
        for t, img in _decode(path):
            self.times.append(t)
            self.frames.append(img)
            self.small.append(_small(img).astype(np.float32))
        self.t = np.asarray(self.times)

    def window(self, t: float, half: float) -> range:
        lo = int(np.searchsorted(self.t, t - half, "left"))
        hi = int(np.searchsorted(self.t, t + half, "right"))
        return range(lo, hi)

    def nearest(self, t: float) -> int:
        i = int(np.searchsorted(self.t, t))
        if i >= len(self.t):
            return len(self.t) - 1
        if i > 0 and t - self.t[i - 1] < self.t[i] - t:
            return i - 1
        return i


def psnr_against(ref: Reference, path: Path, duration: float, guess: float,
                 search: float = 2.5, half: float = 0.25) -> tuple[float, float, int]:
    """(PSNR dB, offset s, frames compared) of the recording at ``path``."""
    shown = [(t, _small(img).astype(np.float32)) for t, img in _displayed(path, duration)]
    if not shown or not ref.frames:
        raise ValueError(f"nothing to compare in {path}")
    best_off, best_err = guess, math.inf
    sample = shown[:: max(1, len(shown) // 120)]
    for off in np.arange(guess - search, guess + search + 1e-9, 0.05):
        errs = []
        for t, small in sample:
            ts = t + off
            if ts < 0 or ts > ref.times[-1]:
                continue
            errs.append(float(np.mean((small - ref.small[ref.nearest(ts)]) ** 2)))
        if len(errs) >= len(sample) // 2 and errs:
            err = float(np.mean(errs))
            if err < best_err:
                best_off, best_err = float(off), err
    total, n = 0.0, 0
    for t, img in _displayed(path, duration):
        ts = t + best_off
        if ts < ref.times[0] - half or ts > ref.times[-1] + half:
            continue
        cands = ref.window(ts, half) or range(ref.nearest(ts), ref.nearest(ts) + 1)
        mse = min(cv2.norm(img, ref.frames[i], cv2.NORM_L2SQR) for i in cands) / img.size
        total += mse
        n += 1
    mse = total / max(n, 1)
    psnr = 10 * math.log10(255.0 ** 2 / mse) if mse > 0 else math.inf
    return psnr, best_off, n
