"""Secrets never reach a session's metadata, log or status (issue 8, bug 13)."""

from __future__ import annotations

import json
from pathlib import Path

from x11_windows import wait_until

from fastrec.manager import RecordingManager
from fastrec.settings import load_settings
from fastrec.storage import iter_metadata, verify_session

SYNTHETIC = {"width": 320, "height": 240, "fps": 10, "scenario": "video"}


def test_connection_info_secrets_bytes_nested_and_long_values(tmp_path: Path, log_stream):
    """Bug 13 (and bug 9's bytes way in): the metadata, the log and the status hold no
    password; bytes / a nested dict are dropped, not fatal; a 10 kB name is cut."""
    settings = load_settings(enabled=True, output_dir=str(tmp_path / "rec"), encoder_workers=1, fps=10)
    manager = RecordingManager(settings, mode="synthetic", source_options=SYNTHETIC)
    info = {"con_codigo": 7, "ip": "10.0.0.5", "name": "n" * 10_000, "user": "admin:S3cret!",
            "connection_type": "RDP", "password": "S3cret!", "blob": b"\xff\xfe",
            "nested": {"password": "S3cret!"}, "client": "rdp://admin:S3cret!@10.0.0.5"}
    try:
        assert manager.initialize()
        assert manager.start_session_recording("s13", info) is True
        status = manager.get_recording_status("s13")
        assert "S3cret" not in repr(status)
        assert wait_until(lambda: manager.get_recording_status("s13")["frames"]["encoded"] > 3)
        assert manager.stop_session_recording("s13")
        assert manager.wait_for_session("s13", 60)
        assert manager.get_recording_status("s13")["state"] == "stopped"
    finally:
        manager.shutdown()
    (path,) = [p for p, _ in iter_metadata(tmp_path / "rec")]
    text = path.read_text()
    stored = json.loads(text)["connection_info"]
    assert stored["user"] == "admin" and stored["client"] == "rdp://admin@10.0.0.5"
    assert len(stored["name"]) == 256 and stored["name"].endswith("…")
    assert not {"password", "blob", "nested"} & set(stored)
    assert "S3cret" not in text and "S3cret" not in log_stream.getvalue()
    assert "password" in log_stream.getvalue()  # the dropped key is named in the log
    assert verify_session(tmp_path / "rec", "s13").ok
