"""The connection monitor on Windows (issue 10): "mstsc.exe" starting (and showing its
session window) starts a recording pinned to that client; its exit stops it.  The
connection's details come from mstsc's command line, read through psutil from Wine's
process table; the password never reaches anything stored."""

from __future__ import annotations

from pathlib import Path

from conftest import WAIT
from polling import wait_for

from fastrec import ConnectionMonitor, RecordingManager, load_settings
from fastrec.storage import iter_metadata, verify_session


def test_mstsc_starting_and_exiting_starts_and_stops_a_recording(tmp_path: Path, mstsc):
    out = tmp_path / "rec"
    manager = RecordingManager(load_settings(enabled=True, auto_start=True, mode="rdp_window",
                                             output_dir=str(out), fps=10, encoder_workers=1),
                               cleanup_schedule=False)
    events: list[tuple[str, str]] = []
    manager.add_observer(lambda event, session_id, _details: events.append((event, session_id)))
    monitor = ConnectionMonitor(manager, poll_interval=0.3)
    try:
        assert manager.initialize()
        assert monitor.start() is True
        client = mstsc("10.1.2.3", (150, 120, 560, 400), "/u:CORP\\alice", "/p:hunter2")
        pid = client.process.pid
        wait_for(lambda: pid in monitor.sessions, WAIT, "the monitor to see mstsc.exe")
        session_id = monitor.sessions[pid]
        wait_for(lambda: manager.get_recording_status(session_id)["frames"]["encoded"] >= 5, WAIT,
                 "frames of the session window")
        status = manager.get_recording_status(session_id)
        assert status["state"] == "recording" and status["region"] == [150, 120, 560, 400]
        client.process.terminate()  # mstsc.exe exits
        client.process.wait(WAIT)
        wait_for(lambda: not manager.is_recording(session_id), WAIT, "the recording to stop")
        assert manager.wait_for_session(session_id, WAIT)
    finally:
        monitor.stop()
        manager.shutdown()
    assert ("started", session_id) in events and ("stopped", session_id) in events
    assert verify_session(out, session_id).ok
    (meta,) = [m for _, m in iter_metadata(out) if m.session_id == session_id]
    info = meta.connection_info
    assert (info.ip, info.connection_type) == ("10.1.2.3", "RDP")
    assert "hunter2" not in "".join(p.read_text() for p in out.glob("*_metadata.json"))
