"""Ctrl-C in a Windows console stops `python -m fastrec record` cleanly (issue 10): the
command stops the session and seals its files, exit code 0, while the engine's processes --
consoles of their own -- never see the event.

Wine 8 sends Ctrl-C to a console's processes (GenerateConsoleCtrlEvent, group 0), so the
test opens a console of its own with a small driver program in it.  Ctrl-Break (SIGBREAK,
handled like SIGINT), closing the console window, logging off and shutting down cannot be
sent under Wine 8 (README, Platforms)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import WAIT
from videos import decode

from fastrec.storage import iter_metadata, verify_session

# runs in a new console: starts `record` in it, waits for its video file, then presses
# Ctrl-C (the event goes to every process of the console; the driver ignores it)
DRIVER = """
import json, os, signal, subprocess, sys, time
from pathlib import Path
out, event = Path(sys.argv[1]), getattr(signal, sys.argv[2])
signal.signal(signal.SIGINT, signal.SIG_IGN)
with open(out.parent / "record.log", "w") as log:
    record = subprocess.Popen([sys.executable, "-m", "fastrec", "record", "--mode", "full_screen",
                               "--output-dir", str(out), "--session-id", "console", "--fps", "10"],
                              stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + float(sys.argv[3])
    while not any(p.stat().st_size for p in out.glob("*.mp4")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(0, event)
    print(json.dumps({"code": record.wait(float(sys.argv[3]))}))
"""


def test_ctrl_c_stops_record_and_seals_the_files(tmp_path: Path, mstsc):
    mstsc()  # something changing on the screen
    out = tmp_path / "rec"
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    result = subprocess.run([sys.executable, str(driver), str(out), "CTRL_C_EVENT", str(WAIT)],
                            capture_output=True, text=True, timeout=4 * WAIT,
                            creationflags=subprocess.CREATE_NEW_CONSOLE)
    log = (tmp_path / "record.log").read_text()
    assert result.returncode == 0, result.stdout + result.stderr + log
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"code": 0}, log
    assert "stopping" in log and "Traceback" not in log, log
    (meta,) = [m for _, m in iter_metadata(out)]
    assert meta.status == "complete", log
    assert verify_session(out, "console").ok
    (video,) = out.glob("*.mp4")
    assert len(decode(video)) == meta.frames.encoded > 0
