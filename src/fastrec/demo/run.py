"""The demo: a scripted desktop on a private Xvfb, recorded as a real session.

It records through :class:`~fastrec.manager.RecordingManager`, as an embedding app does,
so the demo's recording is a real one: each part has its metadata (connection details of
an RDP-like session), a SHA-256 chained to the previous part, and an index entry, and the
admin server lists and replays it.  Parts rotate every :data:`PART_SECONDS`, so the 20 s
default shows the replay's one timeline over several parts.  The editor's secrets bar is
redacted in the capture process (a session mask), never recorded.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastrec.core.mask_kinds import MaskKind
from fastrec.core.mask_region import MaskRegion
from fastrec.demo.display import VirtualDisplay
from fastrec.demo.workload import secret_bar_region
from fastrec.engine.protocol import CaptureMode, SegmentPolicy
from fastrec.manager.facade import RecordingManager
from fastrec.settings import load_settings

__all__ = ["CONNECTION", "PART_SECONDS", "DemoReport", "run_demo"]

SCREEN = (1920, 1080)
PART_SECONDS = 8.0
#: what a connection manager would pass for an RDP session
CONNECTION: dict[str, Any] = {"con_codigo": "demo", "ip": "127.0.0.1", "name": "Demo Server", "user": "demo",
                              "connection_type": "RDP"}
FINISH_TIMEOUT = 60.0  # seconds to seal the last part; a hang guard, not a target


@dataclass(frozen=True, slots=True)
class DemoReport:
    """What the demo recorded and what it cost."""

    session_id: str
    output_dir: Path
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
            f"session    {self.session_id} ({len(self.files)} part(s) in {self.output_dir})",
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
             progress: Callable[[str], None] | None = None,
             stop: threading.Event | None = None) -> DemoReport:
    """Record ``seconds`` of the scripted workload (less when ``stop`` is set: the
    recording then ends at once, its parts sealed); returns the report.

    Settings come from ``RECORDING_*`` and ``.env`` like every recorder's, with the
    demo's own values on top; a bad value raises :class:`fastrec.settings.SettingsError`.
    """
    settings = load_settings(enabled=True, output_dir=str(output_dir), mode=CaptureMode.FULL_SCREEN.value,
                             fps=fps, quality=crf, resolution_scale=scale, preset=preset, encoder_workers=1)
    session_id = f"demo_{datetime.now():%Y%m%d_%H%M%S}"
    bar = MaskRegion(*secret_bar_region(), kind=MaskKind.REDACT)
    stop = stop or threading.Event()
    with VirtualDisplay(*SCREEN) as display:
        # its own session: a terminal's Ctrl-C reaches the demo, which stops the recording
        workload = subprocess.Popen([sys.executable, "-m", "fastrec.demo.workload", "--seconds", str(seconds + 10)],
                                    env=display.env, start_new_session=True)
        manager = RecordingManager(settings, display=display.display, cleanup_schedule=False,
                                   segment_policy=SegmentPolicy(max_seconds=PART_SECONDS))
        try:
            stop.wait(1.0)  # let the window map before the first frame
            if not manager.start_session_recording(session_id, CONNECTION, masks=(bar,)):
                raise RuntimeError(f"the demo session could not be started in {output_dir} (see the log)")
            assert manager.recorder is not None
            recorder = manager.recorder
            recorder.wait_started(session_id)  # the demo's seconds count from the first frame
            start = time.monotonic()
            while (elapsed := time.monotonic() - start) < seconds and not stop.is_set():
                stop.wait(min(1.0, seconds - elapsed))
                if progress:
                    c = recorder.status(session_id)["capture"]
                    progress(f"{time.monotonic() - start:5.1f} s  {c.get('grabbed', 0)} grabbed  "
                             f"{c.get('published', 0)} to encoder  {c.get('unchanged', 0)} unchanged  "
                             f"{c.get('dropped', 0)} dropped")
            manager.stop_session_recording(session_id)
            if not manager.wait_for_session(session_id, FINISH_TIMEOUT):
                raise RuntimeError(f"the demo session did not finish within {FINISH_TIMEOUT:.0f} s")
            status = manager.get_recording_status(session_id)
            engine = recorder.status(session_id)  # kept after the end: CPU and frame counters
        finally:
            manager.shutdown()
            workload.terminate()
            workload.wait(5)
    c = engine["capture"]
    files = [Path(p) for p in status["files"]]
    return DemoReport(session_id, Path(output_dir), files, c.get("elapsed", 0.0),
                      sum(f.stat().st_size for f in files if f.exists()),
                      c.get("ticks", 0), c.get("damage_skips", 0), c.get("grabbed", 0), c.get("unchanged", 0),
                      c.get("published", 0), engine["encoded_frames"], c.get("dropped", 0), c.get("late_ticks", 0),
                      c.get("cpu_seconds", 0.0) + engine["encoder_cpu_seconds"], status["errors"])
