"""examples/tk_app.py under Xvfb: its window title shows 🔴 while it records, not after."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from x11_windows import wait_until

from fastrec.demo.display import VirtualDisplay
from fastrec.storage import verify_session

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tk_app.py"


def _titles(env: dict) -> list[str]:
    found = subprocess.run(["xdotool", "search", "--name", "WATS"], check=False, env=env, capture_output=True,
                           text=True, timeout=10).stdout.split()
    names = []
    for wid in found:
        result = subprocess.run(["xdotool", "getwindowname", wid], check=False, env=env, capture_output=True,
                                text=True, timeout=10)
        if result.returncode == 0:
            names.append(result.stdout.strip())
    return names


def test_the_title_shows_the_red_dot_while_recording(tmp_path: Path):
    out = tmp_path / "rec"
    with VirtualDisplay(640, 480) as display:
        env = {k: v for k, v in display.env.items() if not k.startswith("RECORDING_")}
        app = subprocess.Popen([sys.executable, str(EXAMPLE), "--mode", "synthetic", "--output-dir", str(out),
                                "--session-id", "tk_1", "--start-now", "--stop-after", "3", "--exit-after", "20"],
                               env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
        seen: list[str] = []

        def recorded_and_stopped() -> bool:  # it was recording, and now it is not
            titles = _titles(env)
            seen.extend(t for t in titles if not seen or seen[-1] != t)
            return any("🔴" in t for t in seen) and bool(titles) and "🔴" not in titles[0]

        try:
            wait_until(recorded_and_stopped, timeout=30, step=0.2)  # the asserts below say what was missing
            app.terminate()  # the example closes as from its close button: files sealed
            output, _ = app.communicate(timeout=30)
        finally:
            if app.poll() is None:
                os.killpg(app.pid, signal.SIGKILL)  # the app and its engine processes
                app.wait(10)
    recording = [t for t in seen if "🔴" in t]
    assert recording, (seen, output)
    after = seen[seen.index(recording[0]):]
    assert any("🔴" not in t for t in after), seen  # the dot went away when it stopped
    assert "Recording started for session: tk_1" in output
    assert "Recording stopped for session: tk_1" in output
    assert app.returncode == 0, output
    assert verify_session(out, "tk_1").ok
