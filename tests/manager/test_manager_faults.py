"""RecordingManager under faults (issue 8): a broken screen, a failing observer, values
JSON cannot store, a full disk, a directory remounted read-only, API misuse and races.

Each test drives the real engine (capture and encoder processes, synthetic source) into
real files, and asserts what an operator sees: the session finishes, its metadata is
sealed and the chain verifies; nothing hangs."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from x11_windows import wait_until

from fastrec.engine.protocol import SegmentPolicy
from fastrec.manager import RecordingManager
from fastrec.settings import load_settings
from fastrec.storage import iter_metadata, verify_session

CONNECTION = {"con_codigo": 7, "ip": "10.0.0.5", "name": "Faulty", "user": "auditor",
              "connection_type": "RDP"}
SMALL = {"width": 320, "height": 240, "fps": 10, "scenario": "video"}
FINISH = 60  # a hang guard for waits on a state, not a timing assertion


def _manager(out: Path, source: dict | None = None, **settings) -> RecordingManager:
    values = {"enabled": True, "output_dir": str(out), "encoder_workers": 1, "fps": 10}
    values.update(settings)
    return RecordingManager(load_settings(**values), mode="synthetic",
                            source_options=source or SMALL, cleanup_schedule=False)


def _metadata(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p, _ in iter_metadata(out)]


def test_a_capture_error_right_after_the_start_leaves_one_sealed_verifiable_chain(tmp_path: Path):
    # bug 6: the error reached the manager before the encoder's segment-opened event; the
    # session was called done while the encoder still wrote, and the late close sealed the
    # same part again, chained to itself
    out = tmp_path / "rec"
    manager = _manager(out, {"width": 1920, "height": 1080, "fps": 60, "scenario": "video",
                             "fail_after": 1}, fps=60, preset="veryslow")
    try:
        assert manager.start_session_recording("broken", CONNECTION)
        assert manager.wait_for_session("broken", FINISH)
        status = manager.get_recording_status("broken")
    finally:
        manager.shutdown()
    assert status["state"] == "error"
    assert any("synthetic screen broke" in e for e in status["errors"]), status["errors"]
    metas = _metadata(out)
    assert [m["chain"]["part"] for m in metas] == list(range(1, len(metas) + 1))
    assert all(m["status"] != "recording" for m in metas)
    assert all(m["chain"]["previous_file"] != m["file"]["name"] for m in metas)
    report = verify_session(out, "broken")
    assert report.ok, report.summary


def test_engine_and_observer_failures_are_logged_with_their_traceback(tmp_path: Path, log_stream):
    # bug 7: engine errors reached the log as "Type: message" only; observer errors were
    # swallowed by a bare pass
    def observer(event: str, session_id: str, details: dict) -> None:
        raise ValueError("the observer's own bug")

    manager = _manager(tmp_path / "rec", {**SMALL, "fail_after": 3})
    manager.add_observer(observer)
    try:
        assert manager.start_session_recording("tb", CONNECTION)
        assert manager.wait_for_session("tb", FINISH)
    finally:
        manager.shutdown()
    lines = log_stream.events()
    error = next(e for e in lines if e["event"].startswith("Recording error for session tb"))
    assert "Traceback" in error["exception"]
    assert "grab" in error["exception"] and "synthetic screen broke" in error["exception"]
    failed = [e for e in lines if e["event"] == "Recording observer failed"]
    assert failed and all("the observer's own bug" in e["exception"] for e in failed)
    assert {e["observed"] for e in failed} >= {"started", "error", "stopped"}


def test_values_json_cannot_store_never_stop_the_manager(tmp_path: Path):
    # bug 9: bytes in connection_info made the metadata write raise; the handler's own
    # log call then raised TypeError and the event thread died: no later session was sealed
    out = tmp_path / "rec"
    manager = _manager(out)
    odd = {**CONNECTION, "name": b"\xffserver", "user": object(), "password": "hunter2"}
    try:
        for sid, info in (("odd", odd), ("after", CONNECTION)):
            assert manager.start_session_recording(sid, info)
            assert wait_until(lambda: manager.get_recording_status(sid)["segments"] >= 1, FINISH)
            assert manager.stop_session_recording(sid)
            assert manager.wait_for_session(sid, FINISH)
    finally:
        manager.shutdown()
    metas = {m["session_id"]: m for m in _metadata(out)}
    assert metas["odd"]["status"] == metas["after"]["status"] == "complete"
    assert "hunter2" not in json.dumps(metas["odd"])
    assert verify_session(out, "odd").ok and verify_session(out, "after").ok


def test_api_misuse_gets_the_documented_answers(tmp_path: Path):
    # bug 20: a non-dict connection_info raised; initialize() said True after shutdown()
    manager = _manager(tmp_path / "rec")
    try:
        assert manager.start_session_recording("x", "notadict") is False  # type: ignore[arg-type]
        assert manager.start_session_recording("x", ["con_codigo", 1]) is False  # type: ignore[arg-type]
        assert not manager.is_recording("x")
    finally:
        manager.shutdown()
    assert manager.initialize() is False
    assert manager.start_session_recording("y", CONNECTION) is False


def test_a_session_id_used_again_continues_its_chain(tmp_path: Path):
    # bug 20: the second recording of an id started a second part 1, and verify called
    # intact files "reordered"
    out = tmp_path / "rec"
    manager = _manager(out)
    try:
        for _ in range(2):
            assert manager.start_session_recording("again", CONNECTION)
            assert wait_until(lambda: manager.get_recording_status("again")["frames"]["encoded"] >= 3, FINISH)
            assert manager.stop_session_recording("again")
            assert manager.wait_for_session("again", FINISH)
    finally:
        manager.shutdown()
    metas = sorted(_metadata(out), key=lambda m: m["chain"]["part"])
    assert [m["chain"]["part"] for m in metas] == [1, 2]
    assert metas[1]["chain"]["previous_file"] == metas[0]["file"]["name"]
    assert metas[0]["chain"]["next_file"] == metas[1]["file"]["name"]
    report = verify_session(out, "again")
    assert report.ok, report.summary


def test_start_and_stop_of_one_id_from_many_threads(tmp_path: Path):
    # bug 20: racing start/stop calls ended with "capture process exited unexpectedly
    # (code 0)" and no file
    out = tmp_path / "rec"
    manager = _manager(out)
    barrier = threading.Barrier(8)
    started: list[bool] = []

    def hammer(n: int) -> None:
        barrier.wait()
        for _ in range(5):
            started.append(manager.start_session_recording("race", CONNECTION))
            manager.stop_session_recording("race")

    try:
        threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(FINISH)
        assert manager.wait_for_session("race", FINISH)
        status = manager.get_recording_status("race")
    finally:
        manager.shutdown()
    assert any(started)
    assert not any("exited unexpectedly" in e for e in status["errors"]), status["errors"]
    assert status["state"] == "stopped"
    assert all(m["status"] != "recording" for m in _metadata(out))
    assert verify_session(out, "race").ok or not _metadata(out)


@pytest.fixture
def small_tmpfs(tmpfs) -> Path:
    return tmpfs("1200k")


def test_a_full_disk_ends_the_session_with_its_error_and_nothing_hangs(small_tmpfs: Path):
    # bug 9: the index write failed on the full disk, the event thread died, the CLI hung
    # 60 s and the metadata said "complete" with no error
    out = small_tmpfs / "rec"
    manager = _manager(out, {"width": 640, "height": 360, "fps": 10, "scenario": "video"}, quality=5)
    try:
        assert manager.start_session_recording("full", CONNECTION)
        assert manager.wait_for_session("full", FINISH)  # ends by itself when the disk fills
        status = manager.get_recording_status("full")
    finally:
        manager.shutdown()
    assert status["state"] == "error"
    assert any("space" in e.lower() for e in status["errors"]), status["errors"]
    for meta in _metadata(out):
        assert not (meta["status"] == "complete" and not meta["errors"]), meta


@pytest.fixture
def remountable(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    source, view = tmp_path / "disk", tmp_path / "view"
    source.mkdir(mode=0o700)
    view.mkdir(mode=0o700)
    subprocess.run(["mount", "--bind", str(source), str(view)], check=True)
    try:
        yield source, view
    finally:
        for _ in range(2):
            subprocess.run(["umount", "-l", str(view)], check=False, capture_output=True)


def test_a_directory_remounted_read_only_mid_recording_ends_the_session(remountable):
    # bug 9: remounted read-only mid-recording, the session hung and its metadata stayed
    # "recording"
    source, view = remountable
    manager = _manager(view)
    manager.segment_policy = SegmentPolicy(max_seconds=1.0)
    try:
        assert manager.start_session_recording("ro", CONNECTION)
        # a part sealed before the remount (under load the first one can still be open:
        # its metadata then cannot be sealed on a read-only mount, and says "recording")
        assert wait_until(lambda: any(m["status"] == "complete" for m in _metadata(view)), FINISH)
        # a read-only mount over the directory: what is open goes on, every new file fails
        subprocess.run(["mount", "--bind", str(source), str(view)], check=True)
        # EBUSY while the recorder has a file of the new mount open for writing: try again
        assert wait_until(lambda: subprocess.run(["mount", "-o", "remount,bind,ro", str(view)],
                                                 capture_output=True).returncode == 0, FINISH)
        assert manager.wait_for_session("ro", FINISH)  # the next write fails; it ends there
        status = manager.get_recording_status("ro")
    finally:
        manager.shutdown()
    assert status["state"] == "error"
    assert any("read-only" in e.lower() for e in status["errors"]), status["errors"]
    # what was written before stays: the first part is playable and sealed
    first = Path(status["files"][0])
    assert first.stat().st_size > 0
    (meta,) = [m for m in _metadata(view) if m["file"]["name"] == first.name]
    assert meta["status"] in ("complete", "interrupted") and meta["file"]["sha256"]


def test_damaged_derived_data_never_stops_a_recording(tmp_path: Path):
    # bug 14: a directory at the index's path, or another session's metadata nested
    # 100 000 levels deep, made `record` refuse to start
    out = tmp_path / "rec"
    out.mkdir(mode=0o700)
    (out / "recordings_index.sqlite3").mkdir()
    (out / "session_9_other_20200101_000000_metadata.json").write_text("[" * 100_000 + "]" * 100_000)
    manager = _manager(out)
    try:
        assert manager.start_session_recording("despite", CONNECTION)
        assert wait_until(lambda: manager.get_recording_status("despite")["frames"]["encoded"] >= 3, FINISH)
        assert manager.stop_session_recording("despite")
        assert manager.wait_for_session("despite", FINISH)
        status = manager.get_recording_status("despite")
    finally:
        manager.shutdown()
    assert status["state"] == "stopped" and status["segments"] == 1
    assert verify_session(out, "despite").ok
    assert (out / "recordings_index.sqlite3").is_dir()  # not ours to touch


RECORD_AND_WAIT = """
import sys, time
from fastrec.manager import RecordingManager
from fastrec.settings import load_settings
manager = RecordingManager(load_settings(enabled=True, output_dir=sys.argv[1], encoder_workers=1, fps=10),
                           mode="synthetic", source_options={"width": 320, "height": 240, "fps": 10,
                                                             "scenario": "video"}, cleanup_schedule=False)
manager.start_session_recording("killed", {"name": "Faulty"})
while manager.get_recording_status("killed")["frames"]["encoded"] < 25:
    time.sleep(0.05)
print("RECORDING", flush=True)
time.sleep(600)
"""


def test_a_killed_recorders_parts_are_sealed_when_the_next_one_starts(tmp_path: Path):
    # bug 17: after a SIGKILL of the recorder its metadata said "recording" forever
    import os
    import signal
    import sys

    out = tmp_path / "rec"
    proc = subprocess.Popen([sys.executable, "-c", RECORD_AND_WAIT, str(out)], stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    engine: list[int] = []
    try:
        assert proc.stdout is not None
        assert "RECORDING" in (line.strip() for line in proc.stdout)  # log lines come first
        engine = _engine_processes(proc.pid)
        assert engine
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the host; its engine processes are in groups of their own
        proc.wait()
    # the engine's processes outlive the host only to finish what they hold; then it is all on disk
    assert wait_until(lambda: not any(_alive(pid) for pid in engine), FINISH)
    (before,) = _metadata(out)
    assert before["status"] == "recording"
    manager = _manager(out)
    try:
        assert manager.initialize()
        status = manager.get_recording_status()
    finally:
        manager.shutdown()
    (after,) = _metadata(out)
    assert after["status"] == "interrupted" and after["file"]["sha256"] and after["frames"]["encoded"] >= 25
    assert not status["is_recording"]
    report = verify_session(out, "killed")
    assert report.ok, report.summary


def _engine_processes(host: int) -> list[int]:
    """The host's capture processes and encoder workers (by pid: other recorders may run)."""
    import psutil

    pids = []
    for p in psutil.Process(host).children(recursive=True):
        try:
            cmd = " ".join(p.cmdline())
        except psutil.Error:
            continue
        if "fastrec-capture" in cmd or "fastrec-encoder" in cmd:
            pids.append(p.pid)
    return pids


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False