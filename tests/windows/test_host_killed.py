"""The embedding application killed with TerminateProcess (Windows' SIGKILL: no handler,
no atexit, nothing) mid-recording (issue 10): the file plays; the engine's processes see
their connection break, finish the file and exit on their own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil
from conftest import WAIT
from polling import wait_for
from videos import decode

# an application embedding fastrec, recording the screen through RecordingManager
HOST_SCRIPT = """
import json, sys
from fastrec import RecordingManager, load_settings
manager = RecordingManager(load_settings(enabled=True, output_dir=sys.argv[1], fps=10,
                                         encoder_workers=1), mode="full_screen",
                           cleanup_schedule=False)
manager.initialize()
manager.start_session_recording("k", {"name": "Server"})
print("@recording", flush=True)
for _ in sys.stdin:  # every line asks for the capture counters; runs until killed
    print("@" + json.dumps(manager.recorder.status("k")["capture"]), flush=True)
"""


def _answer(host: subprocess.Popen[str]) -> str:
    """The host's next answer: its lines starting with "@" (the others are its log)."""
    assert host.stdout is not None
    for line in host.stdout:
        if line.startswith("@"):
            return line[1:].strip()
    raise AssertionError(f"the host exited with {host.wait(WAIT)} before answering")


def _engine_processes(pid: int) -> list[psutil.Process]:
    """The engine's processes under ``pid`` (not the console hosts Windows gives them)."""
    return [c for c in psutil.Process(pid).children(recursive=True)
            if any("_child_main" in part for part in c.cmdline())]


def _playable_frames(video: Path) -> int:
    try:
        return len(decode(video))
    except Exception:  # noqa: BLE001 - not yet a file with a fragment
        return 0


def _start_host(tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    script = tmp_path / "host.py"
    script.write_text(HOST_SCRIPT)
    out = tmp_path / "rec"
    host = subprocess.Popen([sys.executable, str(script), str(out)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert _answer(host) == "recording"
    video = wait_for(lambda: next(out.glob("*.mp4"), None), WAIT, "the video file")
    return host, video


def _counters(host: subprocess.Popen[str]) -> dict:
    assert host.stdin is not None
    host.stdin.write("status\n")
    host.stdin.flush()
    return json.loads(_answer(host))


def test_the_engine_finishes_the_file_when_the_host_is_terminated(tmp_path: Path, mstsc):
    mstsc()  # a window that changes: frames to record
    host, video = _start_host(tmp_path)
    try:
        children = _engine_processes(host.pid)
        assert len(children) == 2  # the capture process and the encoder
        wait_for(lambda: _playable_frames(video) >= 15, WAIT, "15 frames on disk")
        published = _counters(host)["published"]
        host.kill()  # TerminateProcess
        host.wait(WAIT)
        gone, alive = psutil.wait_procs(children, timeout=WAIT)
        assert not alive, [c.pid for c in alive]
    finally:
        if host.poll() is None:
            host.kill()
            host.wait(WAIT)
    assert _playable_frames(video) >= published > 0  # everything up to the kill


def test_the_file_plays_when_every_process_is_terminated(tmp_path: Path, mstsc):
    mstsc()
    host, video = _start_host(tmp_path)
    try:
        on_disk = wait_for(lambda: (n := _playable_frames(video)) >= 15 and n, WAIT,
                           "15 frames on disk")
        for process in [psutil.Process(host.pid), *_engine_processes(host.pid)]:
            try:
                process.kill()  # TerminateProcess, one after the other at once
            except psutil.NoSuchProcess:
                pass  # already gone: that is what the test wants
    finally:
        if host.poll() is None:
            host.kill()
        host.wait(WAIT)
    assert _playable_frames(video) >= on_disk  # every fragment written before the kill
