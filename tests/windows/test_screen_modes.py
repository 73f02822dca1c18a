"""full_screen and active_window on Windows (issue 10): GDI grabs through mss, the
foreground window through GetForegroundWindow; playable files whose timestamps follow the
capture's clock -- through RecordingManager in the Windows interpreter."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import WAIT
from polling import wait_for
from videos import decode, shows_the_client

from fastrec import RecordingManager, load_settings

SECONDS = 3.0  # of capture: what the timestamps are checked against


def _record(out: Path, mode: str, **settings: object) -> dict:
    """Record until the capture has run SECONDS, stop; the session's last capture counters."""
    manager = RecordingManager(load_settings(enabled=True, output_dir=str(out), fps=10,
                                             encoder_workers=1, **settings),
                               mode=mode, cleanup_schedule=False)
    try:
        assert manager.initialize()
        assert manager.start_session_recording("s", {"name": "Server"})
        assert manager.recorder is not None
        recorder = manager.recorder
        wait_for(lambda: recorder.status("s")["capture"].get("elapsed", 0) >= SECONDS, WAIT,
                 f"{SECONDS} s of capture")
        assert manager.stop_session_recording("s")
        assert manager.wait_for_session("s", WAIT)
        status = recorder.status("s")
        assert status["state"] == "stopped", status
        return status["capture"]
    finally:
        manager.shutdown()


@pytest.mark.parametrize("monitor", [0, 1])  # 0: all monitors together; Xvfb has one
def test_full_screen_records_the_screen_with_true_timestamps(tmp_path: Path, mstsc, monitor: int):
    mstsc("10.0.0.5", (100, 100, 320, 240))  # something that changes on the screen
    capture = _record(tmp_path / "rec", "full_screen", monitor=monitor)
    (video,) = (tmp_path / "rec").glob("*.mp4")
    frames = decode(video)
    assert {f.rgb.shape for f in frames} == {(720, 1280, 3)}  # the private screen, 1280x720
    # the video spans the capture by its own clock, within 2 %, in order
    seconds = [f.seconds for f in frames]
    assert seconds == sorted(seconds)
    assert abs((seconds[-1] - seconds[0]) - capture["elapsed"]) <= 0.02 * capture["elapsed"]
    assert len(frames) == capture["published"]
    # the stand-in window is where it was put: its red quadrant at the screen's (180, 160)
    assert all(tuple(f.rgb[160, 180]) > (200, 0, 0) and f.rgb[160, 180][1] < 60 for f in frames)


def test_active_window_records_the_foreground_window(tmp_path: Path, mstsc):
    mstsc("10.0.0.7", (300, 200, 480, 320))  # shown last: it has the focus
    capture = _record(tmp_path / "rec", "active_window")
    assert tuple(capture["region"][2:]) == (480, 320)
    (video,) = (tmp_path / "rec").glob("*.mp4")
    frames = decode(video)
    assert frames and {f.rgb.shape for f in frames} == {(320, 480, 3)}
    assert all(shows_the_client(f.rgb) for f in frames)
