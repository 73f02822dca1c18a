"""The demo: the recording engine on a scripted desktop on a private Xvfb.

A full-screen session with the editor's secrets bar redacted, through the same engine the
recorder uses: capture process -> ring -> encoder worker -> MP4 segments.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fastrec.core.masks import MaskKind, MaskRegion
from fastrec.demo.display import VirtualDisplay
from fastrec.demo.workload import secret_bar_region
from fastrec.engine.capture_loop import CaptureConfig
from fastrec.engine.protocol import SegmentNaming, SegmentPolicy
from fastrec.engine.recorder import EncodingOptions, Recorder

SCREEN = (1920, 1080)


@dataclass(frozen=True, slots=True)
class DemoReport:
    """What the demo recorded and what it cost."""

    files: list[Path]
    wall_seconds: float
    bytes: int
    ticks: int
    damage_skips: int
    grabbed: int
    unchanged: int
    published: int
    encoded: int
    dropped: int
    late_ticks: int
    cpu_seconds: float
    errors: list[str]

    def summary(self) -> str:
        mb = self.bytes / 1e6
        lines = [
            f"files      {', '.join(str(f) for f in self.files)}",
            f"size       {mb:.2f} MB ({mb * 3600 / max(self.wall_seconds, 1e-9):.0f} MB/hour)",
            f"frames     {self.ticks} ticks: {self.damage_skips} skipped on the X DAMAGE hint, "
            f"{self.grabbed} grabbed, {self.unchanged} unchanged (not encoded), {self.encoded} "
            f"encoded, {self.dropped} dropped, {self.late_ticks} late ticks skipped",
            f"cpu        {self.cpu_seconds:.2f} s for the capture and encoder processes "
            f"({100 * self.cpu_seconds / max(self.wall_seconds, 1e-9):.0f}% of one core over "
            f"{self.wall_seconds:.1f} s)",
        ]
        lines += [f"error      {e}" for e in self.errors]
        return "\n".join(lines)


def run_demo(seconds: float = 20.0, output_dir: Path = Path("recordings"), fps: int = 10,
             crf: int = 23, scale: float = 1.0, preset: str = "veryfast",
             progress: Callable[[str], None] | None = None) -> DemoReport:
    """Record ``seconds`` of the scripted workload; returns the report."""
    session = "demo"
    naming = SegmentNaming(output_dir, f"demo_{datetime.now():%Y%m%d_%H%M%S}")
    with VirtualDisplay(*SCREEN) as display:
        config = CaptureConfig(session, mode="full_screen", display=display.display, fps=fps,
                               scale=scale, masks=(MaskRegion(*secret_bar_region(), kind=MaskKind.REDACT),))
        workload = subprocess.Popen([sys.executable, "-m", "fastrec.demo.workload",
                                     "--seconds", str(seconds + 10)], env=display.env)
        try:
            time.sleep(1.0)  # let the window map before the first frame
            with Recorder(workers=1) as recorder:
                recorder.start(config, EncodingOptions(crf, preset),
                               SegmentPolicy(), naming)
                recorder.wait_started(session)  # the demo's seconds count from here
                start = time.monotonic()
                while (elapsed := time.monotonic() - start) < seconds:
                    time.sleep(min(1.0, seconds - elapsed))
                    if progress:
                        c = recorder.status(session)["capture"]
                        progress(f"{elapsed + 1:5.1f} s  {c.get('grabbed', 0)} grabbed  "
                                 f"{c.get('published', 0)} to encoder  {c.get('unchanged', 0)} unchanged  "
                                 f"{c.get('dropped', 0)} dropped")
                recorder.stop(session)
                status = recorder.wait(session, timeout=60)
        finally:
            workload.terminate()
            workload.wait(5)
    c = status["capture"]
    files = [Path(p) for p in status["segments"]]
    return DemoReport(files, c.get("elapsed", 0.0), sum(f.stat().st_size for f in files if f.exists()),
                      c.get("ticks", 0), c.get("damage_skips", 0), c.get("grabbed", 0), c.get("unchanged", 0), c.get("published", 0),
                      status["encoded_frames"], c.get("dropped", 0), c.get("late_ticks", 0),
                      c.get("cpu_seconds", 0.0) + status["encoder_cpu_seconds"], status["errors"])



__all__ = ["DemoReport", "run_demo"]
