"""A real RDP client window under Xvfb whose title holds an e-mail address, a card number
and an operator-defined badge id, recorded through RecordingManager for a connection whose
name and user hold the address: the metadata, the index, the live store, the status, the
log and the file names show the markers ([email], [card], [badge]), never the data."""

from __future__ import annotations

import json
from pathlib import Path

from x11_windows import wait_until

from fastrec.manager import RecordingManager
from fastrec.settings import load_settings
from fastrec.storage import iter_metadata, verify_session

FINISH = 60  # a hang guard for waits on a state
TITLE = "Re: refund - jane.doe@example.com - 4111 1111 1111 1111 - EMP-123456 - "
PRIVATE = ["jane", "4111 1111", "4111111111111111", "EMP-123456"]


def test_personal_data_in_a_title_and_a_connection_reaches_nothing_but_its_markers(
        wm_display, spawn_window, tmp_path: Path, log_stream):
    rdp = spawn_window(wm_display, "480x270+40+40", "#2040e0", process_name="xfreerdp",
                       title_prefix=TITLE)
    out = tmp_path / "rec"
    settings = load_settings(enabled=True, output_dir=str(out), encoder_workers=1, fps=10,
                             pii_patterns=r"badge=EMP-\d{6}")
    manager = RecordingManager(settings, mode="rdp_window", display=wm_display.display,
                               cleanup_schedule=False)

    def capture() -> dict:
        assert manager.recorder is not None
        return manager.recorder.status("win")["capture"]

    try:
        assert manager.start_session_recording("win", {
            "con_codigo": 7, "ip": "10.0.0.5", "name": "desk of jane.doe@example.com",
            "user": "jane.doe@example.com", "connection_type": "RDP"})
        assert wait_until(lambda: capture().get("titles"), FINISH)
        # a pause reason names the window by its title too
        rdp.xdotool("windowminimize", sync=True)
        assert wait_until(lambda: capture().get("pauses"), FINISH)
        assert wait_until(lambda: manager.get_recording_status("win")["paused"], FINISH)
        status = json.dumps(manager.get_recording_status("win"))
        assert manager.stop_session_recording("win")
        assert manager.wait_for_session("win", FINISH)
    finally:
        manager.shutdown()

    (path,) = [p for p, _ in iter_metadata(out)]
    meta = json.loads(path.read_text())
    shown = rdp.title.replace(TITLE, "Re: refund - [email] - [card] - [badge] - ")
    assert [n["text"] for n in meta["capture"]["window_titles"]] == [shown]
    assert any("[email]" in p["text"] for p in meta["capture"]["pauses"]), meta["capture"]["pauses"]
    assert meta["connection_info"]["name"] == "desk of [email]"
    assert meta["connection_info"]["user"] == "[email]"
    assert "[email]" in json.loads(status)["pause_reason"]
    assert verify_session(out, "win").ok
    # every byte the recorder wrote (metadata, SQLite index and live store with their
    # journals, videos), every file name, the status and every log line
    written = [(p.name, p.read_bytes()) for p in out.rglob("*") if p.is_file()]
    assert any(name.endswith(".sqlite3") for name, _ in written)  # the index was written
    for secret in PRIVATE:
        for name, data in written:
            assert secret not in name and secret.encode() not in data, (secret, name)
        assert secret not in status
        assert secret not in log_stream.getvalue(), secret
