"""RecordingManager end to end: real engine processes on the synthetic source, real files."""

from __future__ import annotations

import itertools
import json
import time
from datetime import datetime
from pathlib import Path

import av
import numpy as np
import pytest
from storage_builders import write_segment
from x11_windows import wait_until

from fastrec.core.masks import MaskKind, MaskRegion
from fastrec.engine.protocol import SegmentPolicy
from fastrec.manager import RecordingManager
from fastrec.settings import load_settings
from fastrec.storage import INDEX_FILE, RecordingIndex, iter_metadata, read_metadata, verify_session

CONNECTION = {"con_codigo": 123, "ip": "192.168.1.100", "name": "Production Server",
              "user": "administrator", "connection_type": "RDP"}
SYNTHETIC = {"width": 320, "height": 240, "fps": 10, "scenario": "video"}
REFERENCE_KEYS = {"session_id", "connection_info", "start_time", "recorder_settings"}


def _settings(tmp_path: Path, **overrides):
    values = {"enabled": True, "output_dir": str(tmp_path / "rec"), "encoder_workers": 1, "fps": 10}
    values.update(overrides)
    return load_settings(**values)


def _manager(tmp_path: Path, **kw) -> RecordingManager:
    settings = kw.pop("settings", None) or _settings(tmp_path)
    return RecordingManager(settings, mode="synthetic", source_options=SYNTHETIC, **kw)




def test_disabled_recording_is_refused_with_a_reason(tmp_path: Path, log_stream):
    manager = RecordingManager(load_settings(enabled=False, output_dir=str(tmp_path / "rec")),
                               mode="synthetic", source_options=SYNTHETIC)
    try:
        assert manager.initialize() is False
        assert manager.start_session_recording("s1", CONNECTION) is False
        assert manager.is_recording() is False
        assert manager.stop_session_recording() is False
        status = manager.get_recording_status()
        assert status["enabled"] is False and status["is_recording"] is False
        assert not (tmp_path / "rec").exists()  # a disabled recorder writes nothing
    finally:
        manager.shutdown()
    events = [e["event"] for e in log_stream.events()]
    assert any("RECORDING_ENABLED=false" in e and "s1" in e for e in events), events


def test_api_calls_return_their_documented_results(tmp_path: Path, log_stream):
    manager = _manager(tmp_path)
    seen: list[tuple[str, str]] = []
    manager.add_observer(lambda event, sid, details: seen.append((event, sid)))
    try:
        assert manager.initialize() is True
        assert manager.initialize() is True  # idempotent
        assert manager.get_recording_status("nope") == {"session_id": "nope", "known": False,
                                                        "state": "unknown", "is_recording": False}
        assert manager.start_session_recording("rdp_123_1", CONNECTION) is True
        # returned before the engine did its work (a process start): a GUI thread never waits
        assert manager.get_recording_status("rdp_123_1")["state"] in ("pending", "starting")
        assert manager.start_session_recording("rdp_123_1", CONNECTION) is False  # already recording
        assert manager.start_session_recording("", CONNECTION) is False
        assert manager.is_recording() and manager.is_recording("rdp_123_1")
        assert not manager.is_recording("other")
        assert wait_until(lambda: manager.get_recording_status("rdp_123_1")["state"] == "recording")
        assert wait_until(lambda: manager.get_recording_status("rdp_123_1")["frames"]["encoded"] > 5)
        status = manager.get_recording_status()
        assert status["is_recording"] is True and status["active_sessions"] == ["rdp_123_1"]
        assert status["session_id"] == "rdp_123_1" and status["enabled"] and status["initialized"]
        session = status["current_session"]
        assert session["state"] == "recording" and session["connection_info"] == CONNECTION
        assert session["current_file"].endswith(".mp4") and session["output_size"] == [320, 240]
        assert set(session["frames"]) == {"captured", "encoded", "unchanged", "dropped"}
        info = manager.get_storage_info()
        assert info["active_sessions"] == ["rdp_123_1"] and "size_usage_percent" in info
        assert info["active_count"] == 1

        assert manager.stop_session_recording() is True  # the reference's call: no id
        # returned before the files were sealed
        assert manager.get_recording_status("rdp_123_1")["state"] == "stopping"
        assert manager.stop_session_recording() is False  # nothing left to stop
        assert manager.wait_for_session("rdp_123_1", timeout=30)
        final = manager.get_recording_status("rdp_123_1")
        assert final["state"] == "stopped" and final["is_recording"] is False and final["errors"] == []
        assert final["segments"] == 1 and final["bytes"] > 0 and final["end_time"]
        assert not manager.is_recording()
    finally:
        manager.shutdown()
    assert wait_until(lambda: ("stopped", "rdp_123_1") in seen, 5)
    assert seen[0] == ("started", "rdp_123_1")
    messages = [e["event"] for e in log_stream.events()]
    assert "Recording started for session: rdp_123_1" in messages
    assert "Recording stopped for session: rdp_123_1" in messages
    started = next(e for e in log_stream.events() if e["event"].startswith("Recording started"))
    assert started["session_id"] == "rdp_123_1" and started["level"] == "info"

    (meta_path,) = [p for p, _ in iter_metadata(tmp_path / "rec")]
    raw = json.loads(meta_path.read_text())
    assert REFERENCE_KEYS <= set(raw)
    assert raw["connection_info"] == CONNECTION
    assert set(raw["recorder_settings"]) >= {"fps", "quality", "resolution_scale", "max_file_size_mb",
                                             "max_duration_minutes"}
    assert raw["status"] == "complete" and raw["file"]["sha256"] and raw["end_time"]
    assert raw["frames"]["encoded"] > 5 and raw["capture"]["mode"] == "synthetic"
    assert verify_session(tmp_path / "rec", "rdp_123_1").ok
    with RecordingIndex(tmp_path / "rec" / INDEX_FILE) as index:
        (entry,) = index.search(session_id="rdp_123_1")
    assert entry.status == "complete" and entry.server == "Production Server"


def test_several_sessions_record_at_once_and_rotate_into_a_verifiable_chain(tmp_path: Path):
    manager = _manager(tmp_path, segment_policy=SegmentPolicy(max_seconds=1.0))
    rotated: list[tuple[str, int]] = []
    manager.add_observer(lambda e, sid, d: rotated.append((sid, d["part"])) if e == "rotated" else None)
    ids = ["a", "b", "c"]
    try:
        for n, sid in enumerate(ids):
            assert manager.start_session_recording(sid, {**CONNECTION, "con_codigo": n, "name": f"srv{n}"})
        assert wait_until(lambda: all(manager.get_recording_status(s)["segments"] >= 3 for s in ids), 30)
        assert set(manager.get_recording_status()["active_sessions"]) == set(ids)
        for sid in ids:
            assert manager.stop_session_recording(sid)
        for sid in ids:
            assert manager.wait_for_session(sid, 30)
    finally:
        manager.shutdown()
    out = tmp_path / "rec"
    for sid in ids:
        report = verify_session(out, sid)
        assert report.ok, report.summary
        assert len(report.segments) >= 3
        assert any(s == sid for s, _ in rotated)
    # the chain: part N names N-1's hash and file, N-1 names N as next
    metas = sorted((m for _, m in iter_metadata(out) if m.session_id == "a"), key=lambda m: m.chain.part)
    for prev, nxt in itertools.pairwise(metas):
        assert nxt.chain.previous_sha256 == prev.file.sha256
        assert nxt.chain.previous_file == prev.file.name and prev.chain.next_file == nxt.file.name
    assert all(m.status == "complete" for m in metas)
    # tampering is detected
    victim = out / metas[1].file.name
    with open(victim, "r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00\x01\x02")
    assert not verify_session(out, "a").ok


def test_stop_before_the_engine_started_and_shutdown_stop_everything(tmp_path: Path):
    manager = _manager(tmp_path)
    try:
        assert manager.start_session_recording("quick", CONNECTION)
        assert manager.stop_session_recording("quick")
        assert manager.wait_for_session("quick", 30)
        quick = manager.get_recording_status("quick")
        assert (quick["state"], quick["errors"]) == ("stopped", []), quick  # a clean stop, not an error
        # whatever it recorded before the stop (usually nothing) is sealed, none left "recording"
        assert all(Path(f).exists() for f in quick["files"]), quick
        out = tmp_path / "rec"
        assert {m.status for _, m in iter_metadata(out) if m.session_id == "quick"} <= {"complete"}
        assert manager.start_session_recording("long", CONNECTION)
        assert wait_until(lambda: manager.get_recording_status("long")["current_file"] is not None)
        # the reference's manual cleanup: a live part is never deleted, even by "everything"
        result = manager.rotation_manager.force_cleanup_by_age(days=0)
        current = Path(manager.get_recording_status("long")["current_file"])
        assert current.exists() and current.name not in result["deleted"]
        assert any(s["reason"] == "active" for s in result["skipped"])
        assert "session_" in str(manager.rotation_manager.force_cleanup_by_size(target_size_gb=0)["skipped"])
    finally:
        manager.shutdown()
    assert manager.get_recording_status("long")["state"] == "stopped"
    assert verify_session(tmp_path / "rec", "long").ok
    # no empty claimed file is left behind by the session that never recorded a frame
    assert all(p.stat().st_size > 0 for p in (tmp_path / "rec").glob("*.mp4"))


def test_an_engine_error_is_reported_logged_and_observed(tmp_path: Path, log_stream):
    manager = RecordingManager(_settings(tmp_path), mode="synthetic",
                               source_options={"scenario": "no-such-scenario"})
    errors: list[str] = []
    manager.add_observer(lambda e, sid, d: errors.append(d["error"]) if e == "error" else None)
    try:
        assert manager.start_session_recording("bad", CONNECTION) is True  # fails in the background
        assert manager.wait_for_session("bad", 30)
        status = manager.get_recording_status("bad")
    finally:
        manager.shutdown()
    assert status["state"] == "error" and status["errors"] and errors
    assert any(e["event"].startswith("Recording error for session bad: ") and e["level"] == "error"
               for e in log_stream.events())
    assert not list((tmp_path / "rec").glob("*.mp4"))


def test_scheduled_cleanup_runs_and_spares_live_segments(tmp_path: Path):
    out = tmp_path / "rec"
    out.mkdir(mode=0o700, exist_ok=True)
    # a finished recording from 2020, sealed by the recorder: retention's to delete
    old, old_meta, _ = write_segment(out, session_id="old", start=datetime(2020, 1, 1), mtime=time.time() - 90 * 86400)
    manager = _manager(tmp_path)
    try:
        assert manager.start_session_recording("live", CONNECTION)
        assert wait_until(lambda: manager.get_recording_status("live")["current_file"] is not None, 20)
        assert manager.scheduler is not None
        manager.scheduler.trigger()  # a second run while "live" records
        assert manager.scheduler.wait_for_runs(2, timeout=20)
        assert not old.exists() and not old_meta.exists()
        current = manager.get_recording_status("live")["current_file"]
        assert current and Path(current).exists()
        assert manager.get_recording_status()["cleanup"]["runs"] >= 2
    finally:
        manager.shutdown()
    assert verify_session(out, "live").ok
    meta = read_metadata(next(out.glob("*_metadata.json")))
    assert meta.session_id == "live"


def test_concurrent_callers_from_many_threads(tmp_path: Path):
    import threading

    manager = _manager(tmp_path)
    results: dict[str, list[bool]] = {}
    assert manager.initialize()

    def caller(sid: str) -> None:
        started = manager.start_session_recording(sid, {**CONNECTION, "name": sid})
        # stop once the session records into its file (all four threads do so at once)
        recording = wait_until(lambda: manager.get_recording_status(sid)["current_file"] is not None, 30)
        stopped = manager.stop_session_recording(sid)
        results[sid] = [started, recording, stopped, manager.wait_for_session(sid, 30)]

    threads = [threading.Thread(target=caller, args=(f"t{i}",)) for i in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert results == {f"t{i}": [True, True, True, True] for i in range(4)}
        assert manager.get_recording_status()["active_sessions"] == []
    finally:
        manager.shutdown()
    for i in range(4):
        assert verify_session(tmp_path / "rec", f"t{i}").ok
    metas = sorted((read_metadata(p) for p in (tmp_path / "rec").glob("*_metadata.json")),
                   key=lambda m: m.session_id)
    assert [(m.session_id, m.status) for m in metas] == [(f"t{i}", "complete") for i in range(4)]
    assert all(m.frames.encoded > 0 for m in metas), [m.frames for m in metas]


def test_masks_of_the_manager_and_of_a_session_hide_their_regions_in_every_frame(tmp_path: Path):
    # what issue 11's privacy rules will feed: the manager's masks apply to every session, a
    # session's own ones are added to them (never instead)
    red, blue = (255, 0, 0), (0, 0, 255)
    manager = _manager(tmp_path, cleanup_schedule=False,
                       masks=[MaskRegion(0, 0, 160, 240, kind=MaskKind.BLOCK, colour=red)])
    try:
        assert manager.start_session_recording("masked", CONNECTION,
                                               masks=(MaskRegion(160, 0, 160, 120, kind=MaskKind.BLOCK, colour=blue),))
        assert wait_until(lambda: manager.get_recording_status("masked")["frames"]["encoded"] >= 5, 60)
        assert manager.stop_session_recording("masked") and manager.wait_for_session("masked", 60)
        files = manager.get_recording_status("masked")["files"]
    finally:
        manager.shutdown()
    with av.open(files[0]) as container:
        frames = [f.to_ndarray(format="rgb24").astype(int) for f in container.decode(video=0)]
    assert len(frames) >= 5
    for rgb in frames:
        # inside each region (away from its edges, where 4:2:0 chroma bleeds) only its colour
        assert np.abs(rgb[8:232, 8:152] - red).max() < 40
        assert np.abs(rgb[8:112, 168:312] - blue).max() < 40
        assert np.abs(rgb[128:232, 168:312] - blue).min(axis=2).mean() > 40  # the rest is the video


def test_masks_that_are_not_mask_regions_are_refused(tmp_path: Path, log_stream):
    with pytest.raises(TypeError, match=r"masks\[0\] must be a MaskRegion, got tuple"):
        _manager(tmp_path, masks=[(0, 0, 10, 10)])
    manager = _manager(tmp_path, cleanup_schedule=False)
    try:
        assert manager.start_session_recording("bad", CONNECTION, masks=MaskRegion(0, 0, 1, 1)) is False
        assert manager.start_session_recording("bad", CONNECTION, masks=["x"]) is False
        assert not manager.is_recording("bad")
    finally:
        manager.shutdown()
    errors = [e["event"] for e in log_stream.events() if e.get("reason") == "bad masks"]
    assert errors == ["Recording not started for session bad: masks must be a sequence of MaskRegion, got MaskRegion",
                      "Recording not started for session bad: masks[0] must be a MaskRegion, got str"]


def test_an_unusable_signing_key_stops_the_recorder_before_it_writes(tmp_path: Path, log_stream, monkeypatch):
    """Every metadata file is signed: a recorder that could not sign must not record unsigned."""
    monkeypatch.setenv("FASTREC_SIGNING_KEY", "not hex")
    manager = _manager(tmp_path)
    try:
        assert manager.initialize() is False
        assert manager.start_session_recording("s1", CONNECTION) is False
    finally:
        manager.shutdown()
    assert not list((tmp_path / "rec").glob("*.mp4"))  # nothing recorded unsigned
    events = [e["event"] for e in log_stream.events()]
    assert any("FASTREC_SIGNING_KEY (value hidden): not hexadecimal" in e for e in events), events


def test_a_recording_is_signed_end_to_end(tmp_path: Path, monkeypatch):
    """Sealing, linking the next part and the last seal all sign: verify checks every part."""
    monkeypatch.setenv("FASTREC_SIGNING_KEY", "5a" * 32)
    manager = _manager(tmp_path, segment_policy=SegmentPolicy(max_seconds=0.5))
    try:
        assert manager.start_session_recording("signed", CONNECTION)
        assert wait_until(lambda: manager.get_recording_status("signed").get("segments", 0) >= 3, 60)
        assert manager.stop_session_recording("signed")
        assert manager.wait_for_session("signed", 60)
    finally:
        manager.shutdown()
    report = verify_session(tmp_path / "rec", "signed")
    assert report.ok and report.signatures_checked, report.summary
    assert len(report.segments) >= 3
