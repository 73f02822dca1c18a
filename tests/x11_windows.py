"""Test helpers for real X11 windows: bounded waits, Tk windows from named processes, colour
checks, occlusion masking.  Used by the capture and engine tests (fixtures in
tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from polling import WAIT, wait_for, wait_until  # noqa: F401 - re-exported to the tests

from fastrec.capture import CaptureError, Target, WindowInfo
from fastrec.capture.x11 import X11Backend
from fastrec.core.masks import MaskKind, MaskRegion, mask_bgra


needs_x = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("Xvfb", "openbox", "xdotool")),
    reason="needs Xvfb, openbox and xdotool (scripts/setup.sh)",
)

# A Tk window filled with one colour: argv = title, geometry, colour, class, kind.  Tk never sets
# _NET_WM_PID, so the sources must find its process through the X server (X-Resource).
WINDOW_SCRIPT = """
import sys, tkinter as tk
root = tk.Tk(className=sys.argv[4])
root.title(sys.argv[1])
root.geometry(sys.argv[2])
root.configure(bg=sys.argv[3])
if sys.argv[5] == "popup":  # override-redirect, like a menu or tooltip: no WM, no frame
    root.overrideredirect(True)
root.mainloop()
"""


# A stand-in RDP client window whose content changes ten times a second.  Run it through a
# link to the Python interpreter named like a client (xfreerdp) so /proc/PID/comm matches.
RDP_CLIENT_SCRIPT = """
import tkinter as tk
root = tk.Tk()
root.title("FreeRDP: test")
root.geometry("400x300+50+50")
label = tk.Label(root, text="0", font=("Helvetica", 40))
label.pack(expand=True, fill="both")
def tick(n=[0]):
    n[0] += 1
    label.configure(text=str(n[0]))
    root.after(100, tick)
tick()
root.mainloop()
"""


def wait_capture(recorder: Any, session_id: str, predicate: Callable[[dict[str, Any]], object],
                 what: str, timeout: float = 3 * WAIT) -> dict[str, Any]:
    """Wait until the capture counters the recorder holds for ``session_id`` (its
    ``status()["capture"]``, sent by the capture process once a second) satisfy ``predicate``;
    returns them.  The bound is a hang guard, generous for a loaded machine."""
    def ready() -> dict[str, Any] | None:
        capture = recorder.status(session_id)["capture"]
        return capture if capture and predicate(capture) else None
    return wait_for(ready, timeout, what)


@dataclass
class Window:
    """A running Tk window: its process and its X window id (the WM's client)."""

    proc: subprocess.Popen[bytes]
    id: int
    title: str
    env: dict[str, str]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def xdotool(self, command: str, *args: str, sync: bool = False) -> None:
        """Run ``xdotool <command> [--sync] <this window> <args>``."""
        cmd = ["xdotool", command, *(["--sync"] if sync else []), str(self.id), *args]
        subprocess.run(cmd, env=self.env, check=True, timeout=WAIT, capture_output=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def bgr(colour: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` as the (b, g, r) of a BGRA frame."""
    value = colour.lstrip("#")
    r, g, b = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    return b, g, r


def share_of(frame: Any, colour: str) -> float:
    """Fraction of ``frame``'s pixels that are exactly ``colour``."""
    b, g, r = bgr(colour)
    hits = (frame[..., 0] == b) & (frame[..., 1] == g) & (frame[..., 2] == r)
    return float(hits.mean()) if hits.size else 0.0


def mask_occluded(frame: np.ndarray, target: Target) -> np.ndarray:
    """Hide ``target.occluded`` in a grabbed BGRA ``frame`` in place, as the capture loop
    does (a BLOCK mask per part, in frame coordinates); returns ``frame``."""
    parts = target.occluded
    mask_bgra(frame, [MaskRegion(p.x, p.y, p.width, p.height, MaskKind.BLOCK) for p in parts])
    return frame


class FlakyWindowList(X11Backend):
    """A test double for failure injection only (no real X server fails on demand): the
    real X11 window list of ``display``, except that :meth:`windows` raises while the file
    ``trigger`` exists.  Picklable, so it reaches a capture process as a source option
    (the process must find this module: tests/ on its PYTHONPATH)."""

    def __init__(self, display: str | None, trigger: str) -> None:
        super().__init__(display)
        self.trigger = trigger

    def windows(self) -> list[WindowInfo]:
        if os.path.exists(self.trigger):
            raise CaptureError(f"window list failure injected by the test ({self.trigger} exists)")
        return super().windows()
