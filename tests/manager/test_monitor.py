"""ConnectionMonitor: RDP clients are found by process name and window, recorded, stopped.

The "RDP client" is the Python binary linked as ``xfreerdp`` running a small Tk window,
so the kernel names the process ``xfreerdp`` (/proc/PID/comm) exactly as the real client
is named; it runs on a private Xvfb with openbox.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from x11_windows import RDP_CLIENT_SCRIPT, wait_until

from fastrec.demo.display import VirtualDisplay
from fastrec.manager import RecordingManager
from fastrec.monitor import ConnectionMonitor, parse_command_line
from fastrec.settings import load_settings
from fastrec.storage import iter_metadata, verify_session





@pytest.mark.parametrize(("name", "cmdline", "expected"), [
    ("xfreerdp", ["xfreerdp", "/v:10.0.0.5:3390", "/u:alice", "/d:CORP", "/p:secret"],
     {"ip": "10.0.0.5", "name": "10.0.0.5", "user": "CORP\\alice", "port": 3390}),
    ("sdl-freerdp", ["sdl-freerdp", "/u:CORP\\bob", "/v:server.example.com"],
     {"ip": "server.example.com", "name": "server.example.com", "user": "CORP\\bob", "port": None}),
    ("xfreerdp", ["xfreerdp", "/v:[fe80::1]:3389"], {"ip": "fe80::1", "port": 3389, "user": None}),
    ("rdesktop", ["rdesktop", "-u", "carol", "-g", "1024x768", "-p", "pw", "host1:3391"],
     {"name": "host1", "user": "carol", "port": 3391}),
    ("rdesktop", ["rdesktop", "-ucarol", "-dDOM", "10.9.8.7"],
     {"ip": "10.9.8.7", "user": "DOM\\carol", "port": None}),
    ("mstsc.exe", ["C:\\Windows\\system32\\mstsc.exe", "/v:192.168.1.100", "/f"],
     {"ip": "192.168.1.100", "name": "192.168.1.100", "user": None}),
    ("remmina", ["remmina", "-c", "rdp://dave@srv.local:3389"], {"name": "srv.local", "user": "dave", "port": 3389}),
])
def test_connection_info_comes_from_the_command_line(name, cmdline, expected):
    info = parse_command_line(name, cmdline)
    assert info["connection_type"] == "RDP" and info["client"] == name
    for key, value in expected.items():
        assert info[key] == value, (key, info)
    assert "secret" not in str(info) and "pw" not in str(info.values())


def test_monitor_does_nothing_without_auto_start(tmp_path: Path):
    manager = RecordingManager(load_settings(enabled=True, auto_start=False, output_dir=str(tmp_path)))
    monitor = ConnectionMonitor(manager, display=":0", poll_interval=0.2)
    assert monitor.start() is False and not monitor.running
    monitor.stop()
    manager.shutdown()
    with pytest.raises(ValueError, match="poll_interval"):
        ConnectionMonitor(manager, poll_interval=0)


def test_an_rdp_client_with_a_window_is_recorded_until_it_exits(tmp_path: Path):
    fake = tmp_path / "bin" / "xfreerdp"
    fake.parent.mkdir()
    fake.symlink_to(os.path.realpath(sys.executable))
    script = tmp_path / "client.py"
    script.write_text(RDP_CLIENT_SCRIPT)
    out = tmp_path / "rec"
    settings = load_settings(enabled=True, auto_start=True, mode="rdp_window", output_dir=str(out),
                             encoder_workers=1, fps=10)
    with VirtualDisplay(800, 600, window_manager=True) as display:
        manager = RecordingManager(settings, display=display.display)
        events: list[tuple[str, str]] = []
        manager.add_observer(lambda e, sid, d: events.append((e, sid)))
        monitor = ConnectionMonitor(manager, display=display.display, poll_interval=0.3)
        client = None
        # an RDP client without a window (asking for a password, failing to connect) is not a session
        windowless = subprocess.Popen([str(fake), "-c", "import time; time.sleep(60)", "/v:10.9.9.9"],
                                      env=display.env)
        try:
            assert manager.initialize()
            assert monitor.start() is True
            client = subprocess.Popen([str(fake), str(script), "/v:10.1.2.3:3390", "/u:alice", "/d:CORP",
                                       "/p:hunter2"], env=display.env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)
            comm = Path(f"/proc/{client.pid}/comm")
            assert wait_until(lambda: comm.read_text().strip() == "xfreerdp", 5)  # after its exec
            assert wait_until(lambda: client.pid in monitor.sessions), "the client was not detected"
            session_id = monitor.sessions[client.pid]
            assert wait_until(lambda: manager.get_recording_status(session_id)["frames"]["encoded"] >= 5)
            status = manager.get_recording_status(session_id)
            assert status["state"] == "recording" and status["mode"] == "rdp_window"
            assert status["region"][2:] == [400, 300]  # the client's window, not the screen
            assert windowless.pid not in monitor.sessions and len(monitor.sessions) == 1
            client.terminate()
            client.wait(10)
            assert wait_until(lambda: not manager.is_recording(session_id)), "recording did not stop"
            assert manager.wait_for_session(session_id, 30)
            assert manager.get_recording_status(session_id)["state"] == "stopped"
        finally:
            monitor.stop()
            windowless.kill()
            windowless.wait(10)
            if client is not None and client.poll() is None:
                client.kill()
                client.wait(10)
            manager.shutdown()
    assert [e for e, sid in events if sid == session_id][:1] == ["started"]
    assert ("stopped", session_id) in events
    assert verify_session(out, session_id).ok
    (meta,) = [m for _, m in iter_metadata(out) if m.session_id == session_id]
    info = meta.connection_info
    assert (info.ip, info.name, info.user, info.connection_type) == ("10.1.2.3", "10.1.2.3", "CORP\\alice", "RDP")
    text = "".join(p.read_text() for p in out.glob("*_metadata.json"))
    assert "hunter2" not in text
