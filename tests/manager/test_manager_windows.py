"""A real RDP client window under Xvfb, through RecordingManager: each part's metadata says
which window it shows (its title) and why recording paused (issue 8: the window title and
pause reasons the docstrings promise are recorded)."""

from __future__ import annotations

import json
from pathlib import Path

from x11_windows import wait_until

from fastrec.manager import RecordingManager
from fastrec.settings import load_settings
from fastrec.storage import iter_metadata, verify_session

FINISH = 60  # a hang guard for waits on a state


def test_metadata_names_the_window_and_why_recording_paused(wm_display, spawn_window, tmp_path: Path):
    rdp = spawn_window(wm_display, "480x270+40+40", "#2040e0", process_name="xfreerdp")
    out = tmp_path / "rec"
    settings = load_settings(enabled=True, output_dir=str(out), encoder_workers=1, fps=10)
    manager = RecordingManager(settings, mode="rdp_window", display=wm_display.display,
                               cleanup_schedule=False)

    def capture() -> dict:
        assert manager.recorder is not None
        return manager.recorder.status("win")["capture"]

    try:
        assert manager.start_session_recording("win", {"name": "Production Server"})
        assert wait_until(lambda: manager.get_recording_status("win")["current_file"], FINISH)
        rdp.xdotool("windowminimize", sync=True)
        assert wait_until(lambda: capture().get("pauses"), FINISH)
        rdp.xdotool("windowactivate", sync=True)
        shown = capture()["published"]
        assert wait_until(lambda: capture()["published"] > shown, FINISH)  # recording again
        assert manager.stop_session_recording("win")
        assert manager.wait_for_session("win", FINISH)
    finally:
        manager.shutdown()
    (path,) = [p for p, _ in iter_metadata(out)]
    meta = json.loads(path.read_text())
    titles = [n["text"] for n in meta["capture"]["window_titles"]]
    assert titles and titles[0] == rdp.title
    assert meta["capture"]["window_titles"][0]["at_seconds"] == 0.0
    pauses = meta["capture"]["pauses"]
    assert pauses and all(p["text"] for p in pauses), pauses
    assert 0 < pauses[0]["at_seconds"] < meta["duration_seconds"]
    assert verify_session(out, "win").ok
