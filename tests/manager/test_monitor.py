"""ConnectionMonitor: RDP clients are found by process name and window, recorded, stopped.

The "RDP client" is the Python binary linked as ``xfreerdp`` running a small Tk window,
so the kernel names the process ``xfreerdp`` (/proc/PID/comm) exactly as the real client
is named; it runs on a private Xvfb with openbox.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import structlog
from x11_windows import RDP_CLIENT_SCRIPT, wait_until

from fastrec.demo.display import VirtualDisplay
from fastrec.manager import RecordingManager
from fastrec.monitor import ConnectionMonitor, RdpClient, parse_command_line
from fastrec.privacy.connection import MAX_TEXT
from fastrec.settings import load_settings
from fastrec.storage import iter_metadata, verify_session

PASSWORD = "S3cret!"

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
    # the case: the old parser stored user "admin:S3cret!"
    ("remmina", ["remmina", "-c", "rdp://admin:S3cret!@10.0.0.5"],
     {"ip": "10.0.0.5", "name": "10.0.0.5", "user": "admin", "port": None}),
    ("remmina", ["remmina", "--connect=rdp://CORP%5Cadmin:p@ss/w:rd@srv:3390"],
     {"name": "srv", "user": "CORP\\admin", "port": 3390}),
    ("remmina", ["remmina", "-c", "/home/u/.local/share/remmina/1612345.remmina"],
     {"name": "1612345", "user": None}),
])
def test_connection_info_comes_from_the_command_line(name, cmdline, expected):
    info = parse_command_line(name, cmdline)
    assert info["connection_type"] == "RDP" and info["client"] == name
    for key, value in expected.items():
        assert info[key] == value, (key, info)
    assert "secret" not in str(info) and "pw" not in str(info.values())
    assert "S3cret" not in str(info) and "ss/w" not in str(info)


@pytest.mark.parametrize(("name", "cmdline"), [
    ("remmina", ["remmina", "-c", f"rdp://admin:{PASSWORD}@10.0.0.5"]),
    ("remmina", ["remmina", f"rdp://admin:{PASSWORD}@10.0.0.5:3389/"]),
    ("remmina", ["remmina", "-c", f"rdp://admin:{PASSWORD}@srv@10.0.0.5"]),
    ("xfreerdp", ["xfreerdp", f"/v:admin:{PASSWORD}@10.0.0.5", "/u:admin", f"/p:{PASSWORD}"]),
    ("xfreerdp", ["xfreerdp", "/v:srv", f"/u:admin:{PASSWORD}", f"/pth:{PASSWORD}"]),
    ("xfreerdp", ["xfreerdp", "/v:srv", "/d:CORP", f"/gateway:g:gw,u:bob,p:{PASSWORD}"]),
    ("rdesktop", ["rdesktop", "-u", f"admin:{PASSWORD}", "-p", PASSWORD, "srv"]),
    ("rdesktop", ["rdesktop", f"-p{PASSWORD}", f"admin:{PASSWORD}@srv"]),
    ("mstsc.exe", ["mstsc.exe", f"/v:admin:{PASSWORD}@srv"]),
])
def test_no_password_from_any_command_line(name, cmdline):
    info = parse_command_line(name, cmdline)
    assert "3cret" not in str(info), info
    assert "3cret" not in repr(RdpClient(1, name, 0.0, tuple(cmdline)))  # safe to log


def test_a_hostile_command_line_still_gives_bounded_json():
    # a 5000-digit port made int() raise; a 10 kB user was stored whole; bytes that are not
    # UTF-8 (decoded by psutil with surrogateescape) could not be written as JSON
    info = parse_command_line("xfreerdp", ["xfreerdp", "/v:[::1]:" + "9" * 5000,
                                           "/u:" + "u" * 10_000, "/d:D\udcff"])
    assert info["ip"] == "::1" and info["port"] is None
    user = info["user"]
    assert user.startswith("D\\xff\\uuu") and user.endswith("u…") and len(user) == MAX_TEXT
    assert json.loads(json.dumps(info)) == info


def test_monitor_does_nothing_without_auto_start(tmp_path: Path):
    manager = RecordingManager(load_settings(enabled=True, auto_start=False, output_dir=str(tmp_path)))
    monitor = ConnectionMonitor(manager, display=":0", poll_interval=0.2)
    assert monitor.start() is False and not monitor.running
    monitor.stop()
    manager.shutdown()
    with pytest.raises(ValueError, match="poll_interval"):
        ConnectionMonitor(manager, poll_interval=0)


@pytest.mark.parametrize(("program", "args", "expected", "password"), [
    ("xfreerdp", ["/v:10.1.2.3:3390", "/u:alice", "/d:CORP", "/p:hunter2"],
     ("10.1.2.3", "10.1.2.3", "CORP\\alice"), "hunter2"),
    # the remmina URI: the old monitor logged and stored user "admin:S3cret!"
    ("remmina", ["-c", f"rdp://admin:{PASSWORD}@10.0.0.5"], ("10.0.0.5", "10.0.0.5", "admin"),
     PASSWORD),
])
def test_an_rdp_client_with_a_window_is_recorded_until_it_exits(tmp_path: Path, program, args,
                                                                 expected, password):
    fake = tmp_path / "bin" / program
    fake.parent.mkdir()
    fake.symlink_to(os.path.realpath(sys.executable))
    script = tmp_path / "client.py"
    script.write_text(RDP_CLIENT_SCRIPT)
    out = tmp_path / "rec"
    settings = load_settings(enabled=True, auto_start=True, mode="rdp_window", output_dir=str(out),
                             encoder_workers=1, fps=10)
    with (VirtualDisplay(800, 600, window_manager=True) as display,
          structlog.testing.capture_logs() as logs):
        manager = RecordingManager(settings, display=display.display)
        events: list[tuple[str, str]] = []
        event_data: list[str] = []

        def observe(event: str, sid: str, data: object) -> None:
            events.append((event, sid))
            event_data.append(repr(data))

        manager.add_observer(observe)
        monitor = ConnectionMonitor(manager, display=display.display, poll_interval=0.3)
        client = None
        # an RDP client without a window (asking for a password, failing to connect) is not a session
        windowless = subprocess.Popen([str(fake), "-c", "import time; time.sleep(60)", "/v:10.9.9.9"],
                                      env=display.env)
        try:
            assert manager.initialize()
            assert monitor.start() is True
            client = subprocess.Popen([str(fake), str(script), *args], env=display.env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            comm = Path(f"/proc/{client.pid}/comm")
            assert wait_until(lambda: comm.read_text().strip() == program, 5)  # after its exec
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
    assert (info.ip, info.name, info.user, info.connection_type) == (*expected, "RDP")
    text = "".join(p.read_text() for p in out.glob("*_metadata.json"))
    assert password not in text
    detected = [e for e in logs if e["event"] == "RDP connection detected"]
    assert [(e["server"], e["user"]) for e in detected] == [expected[1:]]
    assert password not in repr(logs) and password not in "".join(event_data)


def test_the_monitor_records_only_what_the_recording_policy_includes(tmp_path: Path):
    from fastrec.policy.store import PolicyStore

    fake = tmp_path / "bin" / "xfreerdp"
    fake.parent.mkdir()
    fake.symlink_to(os.path.realpath(sys.executable))
    # apart on screen: the recorder pauses while its window is covered, and which of two
    # windows at one place maps last (on top) is a race
    scripts = {"203.0.113.7": tmp_path / "outside.py", "10.1.2.3": tmp_path / "inside.py"}
    scripts["203.0.113.7"].write_text(RDP_CLIENT_SCRIPT.replace("400x300+50+50", "300x200+480+380"))
    scripts["10.1.2.3"].write_text(RDP_CLIENT_SCRIPT)
    out = tmp_path / "rec"
    with PolicyStore(out) as store:
        store.save("connections:\n  default: skip\n  rules:\n    - {name: internal, action: record, ip: 10.0.0.0/8}\n",
                   author="alice", comment="only internal connections")
    settings = load_settings(enabled=True, auto_start=True, mode="rdp_window", output_dir=str(out),
                             encoder_workers=1, fps=10)
    clients: list[subprocess.Popen] = []
    with (VirtualDisplay(800, 600, window_manager=True) as display,
          structlog.testing.capture_logs() as logs):
        manager = RecordingManager(settings, display=display.display)
        monitor = ConnectionMonitor(manager, display=display.display, poll_interval=0.3)
        try:
            assert manager.initialize() and monitor.start() is True
            for server, script in scripts.items():
                clients.append(subprocess.Popen([str(fake), str(script), f"/v:{server}", "/u:alice"], env=display.env,
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            outside, inside = clients
            assert wait_until(lambda: inside.pid in monitor.sessions), "the internal connection was not recorded"
            skipped = f"rdp_{outside.pid}_"
            assert wait_until(lambda: any(e.get("policy_decision") == "skip" and e["session_id"].startswith(skipped)
                                          for e in logs)), "no decision for the external connection"
            session_id = monitor.sessions[inside.pid]
            assert wait_until(lambda: manager.get_recording_status(session_id)["frames"]["encoded"] >= 3)
            assert outside.pid not in monitor.sessions and list(monitor.sessions) == [inside.pid]
        finally:
            monitor.stop()
            for client in clients:
                client.kill()
                client.wait(10)
            manager.shutdown()
    (decision,) = [e for e in logs if e.get("policy_decision") == "skip"]
    assert decision["event"].endswith("excluded by connections.default of policy version 1")
    assert {m.session_id for _, m in iter_metadata(out)} == {session_id}
