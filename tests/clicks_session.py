"""A recorded window session with clicks, wheel notches, a title change and a rage click,
made under a private Xvfb (openbox) with xdotool: what the heatmap, search and browser
tests read (the session fixture ``click_session`` in conftest.py records it once a run).

The recorded window is a plain blue Tk window (400x200) run through a link named like an
RDP client, so the recorder's ``rdp_window`` mode follows it.  In order: one left click at
75 % / 75 % of the window, three wheel notches down at 50 % / 80 %, the title changes from
TITLE_BEFORE to TITLE_AFTER, then a burst of five left clicks at 25 % / 25 % (one rage
click).  Every step is waited for in the events file, never slept over.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from polling import wait_for
from x11_windows import WINDOW_SCRIPT

from fastrec.demo.display import VirtualDisplay
from fastrec.events.file import read_session_events
from fastrec.events.model import EventKind
from fastrec.manager import RecordingManager
from fastrec.settings import load_settings

SESSION = "heat_session"
CONNECTION = {"name": "srv-heat", "user": "dora", "ip": "10.4.4.4", "connection_type": "RDP"}
TITLE_BEFORE = "Customers - Editor"
TITLE_AFTER = "Invoice 4711 - Editor"
COLOUR = (0x20, 0x40, 0xE0)  # the window's RGB
HOT = (25.0, 25.0)  # percent of the window: five clicks
LONE = (75.0, 75.0)  # one click
WHEEL_Y = 80.0  # three notches down, at x 50 %
WAIT = 60.0  # a hang guard for a loaded machine, not a timing assertion


@dataclass(frozen=True)
class ClickSession:
    directory: Path
    session_id: str
    title_moment: datetime  # the title_change event to TITLE_AFTER
    rage_moment: datetime  # the rage_click event


def _kinds(out: Path) -> dict[str, list]:
    found: dict[str, list] = {}
    for event in read_session_events(out, SESSION)[0]:
        found.setdefault(str(event.kind), []).append(event)
    return found


def record_click_session(out: Path) -> ClickSession:
    with VirtualDisplay(1280, 720, window_manager=True) as display:
        def xdotool(*args: str) -> str:
            return subprocess.run(["xdotool", *args], env=display.env, check=True, timeout=WAIT,
                                  capture_output=True, text=True).stdout

        link = out.parent / "xfreerdp"
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(os.path.realpath(sys.executable))
        window = subprocess.Popen([str(link), "-c", WINDOW_SCRIPT, TITLE_BEFORE, "400x200+100+100",
                                   "#%02x%02x%02x" % COLOUR, "Tk", "window"], env=display.env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        manager = RecordingManager(load_settings(enabled=True, output_dir=str(out), encoder_workers=1, fps=10,
                                                 live_announce=False),
                                   mode="rdp_window", display=display.display, cleanup_schedule=False)
        try:
            window_id = xdotool("search", "--sync", "--onlyvisible", "--name", f"^{TITLE_BEFORE}$").split()[0]
            assert manager.start_session_recording(SESSION, CONNECTION)

            def region() -> list[int] | None:
                status = manager.get_recording_status(SESSION)
                return status["region"] if status.get("region") and not status.get("paused") else None
            x, y, width, height = wait_for(region, WAIT, "the window being recorded")

            def at(percent: tuple[float, float]) -> tuple[str, str]:
                return str(x + round(width * percent[0] / 100)), str(y + round(height * percent[1] / 100))

            xdotool("mousemove", *at(LONE), "click", "1")
            xdotool("mousemove", *at((50.0, WHEEL_Y)), "click", "--repeat", "3", "5")
            wait_for(lambda: len(_kinds(out).get("scroll", [])) == 3, WAIT, "the click and the notches")
            # the title as a window manager reads it: _NET_WM_NAME (UTF-8) first, like Tk sets it
            subprocess.run(["xprop", "-id", window_id, "-f", "_NET_WM_NAME", "8u", "-set", "_NET_WM_NAME",
                            TITLE_AFTER], env=display.env, check=True, timeout=WAIT, capture_output=True)
            wait_for(lambda: any(e.title == TITLE_AFTER for e in _kinds(out).get("title_change", [])), WAIT,
                     "the title change")
            xdotool("mousemove", *at(HOT), "click", "--repeat", "5", "--delay", "100", "1")
            wait_for(lambda: len(_kinds(out).get("click", [])) == 6 and _kinds(out).get("rage_click"), WAIT,
                     "the burst of clicks")
            assert manager.stop_session_recording(SESSION) and manager.wait_for_session(SESSION, WAIT)
        finally:
            manager.shutdown()
            window.terminate()
            window.wait(WAIT)
    kinds = _kinds(out)
    title = next(e for e in kinds[EventKind.TITLE_CHANGE] if e.title == TITLE_AFTER)
    return ClickSession(out, SESSION, title.at, kinds[EventKind.RAGE_CLICK][0].at)
