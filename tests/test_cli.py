"""`python -m fastrec` end to end: a real recording of a private Xvfb screen, then the
storage commands on it; bad values; a broken chain; Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from x11_windows import RDP_CLIENT_SCRIPT, wait_until

from fastrec.demo.display import VirtualDisplay
from fastrec.storage import iter_metadata

COMMANDS = ("demo", "record", "status", "list", "info", "verify", "storage", "cleanup", "watch")


def _run(*args: str, cwd: Path, timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RECORDING_")}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "fastrec", *args], check=False, cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, tmp_path: Path):
    result = _run(command, "--help", cwd=tmp_path)
    assert result.returncode == 0 and "usage:" in result.stdout


def test_record_the_screen_then_list_info_verify_storage_cleanup(tmp_path: Path):
    out = tmp_path / "rec"
    with VirtualDisplay(640, 480) as display:
        result = _run("record", "--mode", "full_screen", "--display", display.display, "--duration", "3",
                      "--output-dir", str(out), "--con-codigo", "42", "--server", "Prod Server",
                      "--ip", "10.0.0.9", "--user", "alice", "--session-id", "cli_1", "--fps", "5",
                      cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "session cli_1: stopped, 1 file(s)" in result.stdout
    live = [line for line in result.stderr.splitlines() if line.startswith("REC ")]
    assert live and all(k in live[-1] for k in ("fps", "frames", "MB", "dropped"))
    (video,) = out.glob("session_42_Prod_Server_*.mp4")
    assert video.stat().st_size > 0
    (meta,) = [m for _, m in iter_metadata(out)]
    assert meta.capture.mode == "full_screen" and list(meta.capture.region) == [0, 0, 640, 480]
    assert meta.duration_seconds and 2.5 <= meta.duration_seconds <= 4.5
    assert meta.connection_info.user == "alice" and meta.recorder_settings.fps == 5

    listing = _run("list", "--output-dir", str(out), cwd=tmp_path)
    assert listing.returncode == 0
    assert "cli_1" in listing.stdout and "Prod Server" in listing.stdout and "complete" in listing.stdout
    entries = json.loads(_run("list", "--json", "--output-dir", str(out), cwd=tmp_path).stdout)
    assert [e["session_id"] for e in entries] == ["cli_1"]

    info = _run("info", "cli_1", "--output-dir", str(out), cwd=tmp_path)
    assert info.returncode == 0 and "con_codigo=42" in info.stdout and "part 1" in info.stdout
    assert _run("info", "nope", "--output-dir", str(out), cwd=tmp_path).returncode == 1

    verify = _run("verify", "cli_1", "--output-dir", str(out), cwd=tmp_path)
    assert verify.returncode == 0 and "chain intact" in verify.stdout

    storage = json.loads(_run("storage", "--json", "--output-dir", str(out), cwd=tmp_path).stdout)
    assert storage["session_count"] == 1 and "size_usage_percent" in storage
    status = _run("status", "--output-dir", str(out), cwd=tmp_path)
    assert status.returncode == 0 and "nothing is being recorded" in status.stdout

    dry = _run("cleanup", "--dry-run", "--older-than", "0", "--output-dir", str(out), cwd=tmp_path)
    assert dry.returncode == 0 and "would delete 2 file(s)" in dry.stdout and video.exists()
    kept = _run("cleanup", "--output-dir", str(out), cwd=tmp_path)  # within the 30-day default
    assert kept.returncode == 0 and "deleted 0 file(s)" in kept.stdout and video.exists()
    gone = _run("cleanup", "--older-than", "0", "--output-dir", str(out), cwd=tmp_path)
    assert gone.returncode == 0 and "deleted 2 file(s)" in gone.stdout and not video.exists()
    assert json.loads(_run("list", "--json", "--output-dir", str(out), cwd=tmp_path).stdout) == []


def test_verify_exits_1_and_says_what_is_broken(tmp_path: Path):
    out = tmp_path / "rec"
    result = _run("record", "--mode", "synthetic", "--duration", "1.5", "--output-dir", str(out),
                  "--session-id", "s", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (video,) = out.glob("*.mp4")
    with open(video, "ab") as handle:
        handle.write(b"tampered")
    verify = _run("verify", "s", "--output-dir", str(out), cwd=tmp_path)
    assert verify.returncode == 1
    assert "part 1" in verify.stdout and "modified" in verify.stdout and video.name in verify.stdout
    missing = _run("verify", "nobody", "--output-dir", str(out), cwd=tmp_path)
    assert missing.returncode == 1 and "no segments found" in missing.stdout


@pytest.mark.parametrize(("args", "env", "expected"), [
    (["record", "--fps", "0"], {}, "--fps: must be between 1 and 60, got 0"),
    (["record", "--mode", "bogus"], {}, "invalid choice: 'bogus'"),
    (["cleanup", "--older-than", "x"], {}, "--older-than"),
    (["storage"], {"RECORDING_FPS": "0", "RECORDING_QUALITY": "99"},
     "RECORDING_FPS=0: must be between 1 and 60\nfastrec storage: RECORDING_QUALITY=99: must be between 0 and 51"),
])
def test_bad_values_exit_2_with_one_line_each_and_no_traceback(tmp_path, args, env, expected):
    result = _run(*args, cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert expected in result.stderr and "Traceback" not in result.stderr


def test_ctrl_c_in_a_terminal_stops_cleanly_and_seals_the_file(tmp_path: Path):
    out = tmp_path / "rec"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RECORDING_")}
    # its own process group, as a terminal's foreground job: Ctrl-C signals every process in it
    proc = subprocess.Popen([sys.executable, "-m", "fastrec", "record", "--mode", "synthetic",
                             "--output-dir", str(out), "--session-id", "ctrlc"],
                            cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(p.stat().st_size for p in out.glob("*.mp4")):
            time.sleep(0.1)
        time.sleep(1.0)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert proc.returncode == 0, stderr
    assert "session ctrlc: stopped" in stdout
    verify = _run("verify", "ctrlc", "--output-dir", str(out), cwd=tmp_path)
    assert verify.returncode == 0, verify.stdout




def _statuses(out: Path) -> list[str]:
    return [m.status for _, m in iter_metadata(out) if not isinstance(m, Exception)]




def test_watch_records_an_rdp_client_from_its_window_to_its_exit(tmp_path: Path):
    out = tmp_path / "rec"
    fake = tmp_path / "bin" / "xfreerdp"
    fake.parent.mkdir()
    fake.symlink_to(os.path.realpath(sys.executable))
    (tmp_path / "client.py").write_text(RDP_CLIENT_SCRIPT)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RECORDING_")}
    with VirtualDisplay(640, 480, window_manager=True) as display:
        watch = subprocess.Popen([sys.executable, "-m", "fastrec", "watch", "--display", display.display,
                                  "--output-dir", str(out), "--poll-interval", "0.3", "--mode", "rdp_window"],
                                 cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, start_new_session=True)
        client = None
        try:
            time.sleep(1.0)
            client = subprocess.Popen([str(fake), str(tmp_path / "client.py"), "/v:rdp.example.com",
                                       "/u:eve"], env=display.env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            assert wait_until(lambda: "recording" in _statuses(out), 20), "no recording started"
            time.sleep(2.0)
            client.terminate()
            client.wait(10)
            assert wait_until(lambda: _statuses(out) == ["complete"], 20), _statuses(out)
            os.killpg(watch.pid, signal.SIGINT)
            stdout, stderr = watch.communicate(timeout=30)
        finally:
            for proc, group in ((client, False), (watch, True)):
                if proc is not None and proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL) if group else proc.kill()
                    proc.wait(10)
    assert watch.returncode == 0, stderr
    assert " started rdp_" in stdout and " stopped rdp_" in stdout
    (meta,) = [m for _, m in iter_metadata(out)]
    assert meta.connection_info.name == "rdp.example.com" and meta.connection_info.user == "eve"
    assert list(meta.capture.region)[2:] == [400, 300]
    assert _run("verify", meta.session_id, "--output-dir", str(out), cwd=tmp_path).returncode == 0
