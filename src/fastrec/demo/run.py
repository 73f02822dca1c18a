"""The demo: the frame core and the ring recording a scripted desktop on a private Xvfb.

Capture (this process): grab -> tile diff (unchanged frames stop here) -> scale + I420
-> privacy mask -> ring slot.  Encode (a spawned process): ring slot -> libx264 -> MP4.
"""

from __future__ import annotations

import math
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import mss
import numpy as np

from fastrec.core.convert import Scaler, i420_planes, i420_size, output_size
from fastrec.core.diff import TileDiff
from fastrec.core.masks import MaskKind, MaskRegion, mask_i420
from fastrec.demo.display import VirtualDisplay
from fastrec.demo.workload import secret_bar_region
from fastrec.engine.encoder import EncoderProcess, EncoderSettings
from fastrec.engine.ring import FrameRing

SCREEN = (1920, 1080)


@dataclass(frozen=True, slots=True)
class DemoReport:
    """What the demo recorded and what it cost."""

    path: Path
    wall_seconds: float
    video_seconds: float
    bytes: int
    captured: int
    unchanged: int
    encoded: int
    dropped: int
    late_ticks: int
    cpu_seconds: float
    convert_ms: float

    def summary(self) -> str:
        mb = self.bytes / 1e6
        return "\n".join([
            f"file       {self.path}",
            f"size       {mb:.2f} MB ({mb * 3600 / max(self.wall_seconds, 1e-9):.0f} MB/hour)",
            f"duration   {self.video_seconds:.1f} s of video for {self.wall_seconds:.1f} s of wall clock",
            f"frames     {self.captured} captured, {self.unchanged} unchanged (not encoded), "
            f"{self.encoded} encoded, {self.dropped} dropped, {self.late_ticks} late ticks skipped",
            f"cpu        {self.cpu_seconds:.2f} s for capture and encoder processes "
            f"({100 * self.cpu_seconds / max(self.wall_seconds, 1e-9):.0f}% of one core)",
            f"convert    {self.convert_ms:.2f} ms per changed frame (scale + I420 + mask)",
        ])


def _cpu_seconds() -> float:
    # this process only: Xvfb and the workload are the scenery, not the recorder
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def run_demo(seconds: float = 20.0, output_dir: Path = Path("recordings"), fps: int = 10,
             crf: int = 23, scale: float = 1.0, preset: str = "veryfast",
             progress: Callable[[str], None] | None = None) -> DemoReport:
    """Record ``seconds`` of the scripted workload; returns the report."""
    output_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = output_dir / f"demo_{datetime.now():%Y%m%d_%H%M%S}.mp4"
    width, height = SCREEN
    ow, oh = output_size(width, height, scale)
    sx, sy = ow / width, oh / height
    secret = MaskRegion(*secret_bar_region(), kind=MaskKind.REDACT).scaled(sx, sy)
    cpu0 = _cpu_seconds()
    with VirtualDisplay(width, height) as display:
        workload = subprocess.Popen([sys.executable, "-m", "fastrec.demo.workload",
                                     "--seconds", str(seconds + 5)], env=display.env)
        try:
            time.sleep(1.0)  # let the window map before the first frame
            with FrameRing(i420_size(ow, oh), slots=8, policy="block", timeout=1.0) as ring:
                settings = EncoderSettings(ow, oh, crf=crf, preset=preset, fps_hint=fps)
                with EncoderProcess(ring.endpoint(), path, settings) as encoder:
                    stats = _capture(display.display, ring, seconds, fps, Scaler(width, height, ow, oh),
                                     [secret], progress)
                    ring.close()
                    result = encoder.result(timeout=60)
        finally:
            workload.terminate()
            workload.wait(5)
    if result.error:
        raise RuntimeError(f"encoder failed: {result.error}")
    video = 0.0 if result.first_timestamp is None else result.last_timestamp - result.first_timestamp
    return DemoReport(path, stats["wall"], video, result.bytes, stats["captured"], stats["unchanged"],
                      result.frames, stats["dropped"], stats["late"],
                      _cpu_seconds() - cpu0 + result.cpu_seconds, stats["convert_ms"])


def _capture(display: str, ring: FrameRing, seconds: float, fps: int, scaler: Scaler,
             masks: list[MaskRegion], progress: Callable[[str], None] | None) -> dict[str, float]:
    width, height = scaler.src_w, scaler.src_h
    ow, oh = scaler.dst_w, scaler.dst_h
    diff = TileDiff(width, height)
    previous = np.zeros((height, width, 4), np.uint8)
    captured = unchanged = dropped = late = 0
    convert_s = 0.0
    period = 1.0 / fps
    with mss.MSS(display=display) as grabber:
        monitor = grabber.monitors[1]
        t0 = time.monotonic()
        tick = 0
        next_report = t0 + 1.0
        while (now := time.monotonic()) < t0 + seconds or tick == 0:
            due = t0 + tick * period
            if now < due:
                time.sleep(due - now)
            elif now - due >= period:
                # drift-free: skip the ticks we are late for instead of bunching frames up
                skipped = math.floor((now - due) / period)
                late += skipped
                tick += skipped
            tick += 1
            shot = grabber.grab(monitor)
            stamp = time.monotonic()
            frame = np.frombuffer(shot.raw, np.uint8).reshape(height, width, 4)
            captured += 1
            last = stamp + period >= t0 + seconds  # the last frame closes the timeline
            if diff.compare(frame, previous, copy=True) == 0 and captured > 1 and not last:
                unchanged += 1
                continue
            slot = ring.acquire()
            if slot is None:
                dropped += 1
                continue
            with slot:
                start = time.perf_counter()
                y, u, v = i420_planes(slot.data, ow, oh)
                scaler.convert(frame, y, u, v)
                mask_i420(y, u, v, masks)
                convert_s += time.perf_counter() - start
                slot.publish(timestamp=stamp, width=ow, height=oh)
            if progress and stamp >= next_report:
                next_report += 1.0
                progress(f"{stamp - t0:5.1f} s  {captured} captured  {captured - unchanged - dropped} "
                         f"to encoder  {unchanged} unchanged  {dropped} dropped")
    changed = max(captured - unchanged - dropped, 1)
    return {"wall": time.monotonic() - t0, "captured": captured, "unchanged": unchanged,
            "dropped": dropped, "late": late, "convert_ms": 1e3 * convert_s / changed}


__all__ = ["DemoReport", "run_demo"]
