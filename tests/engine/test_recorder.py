"""The recording engine end to end: real capture processes, encoder workers and files.

Sources are the synthetic one (known frames, no X needed) and the full screen of a
private Xvfb.  Files are checked with ffprobe and PyAV, as a player would read them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import av
import psutil
import pytest
from x11_windows import wait_for

from fastrec.engine.capture_loop import CaptureConfig
from fastrec.engine.events import EngineEvent, SessionError, SessionFinished
from fastrec.engine.protocol import SegmentNaming, SegmentPolicy
from fastrec.engine.recorder import EncodingOptions, Recorder


def _probe_packets(path: Path) -> list[dict]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                          "packet=pts_time,flags", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["packets"]


def _decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def _playable_frames(path: Path) -> int:
    """Frames a player decodes from ``path`` now, while it may still be written (only whole
    fragments decode); 0 before it exists."""
    count = 0
    try:
        with av.open(str(path)) as container:
            for _ in container.decode(video=0):
                count += 1
    except (OSError, ValueError, av.error.FFmpegError):
        pass  # not there yet, or the fragment being written: what came before it counts
    return count


def _synthetic(session: str, scenario: str, fps: int = 10, **kw) -> CaptureConfig:
    return CaptureConfig(session, mode="synthetic", fps=fps,
                         source_options={"width": 640, "height": 360, "fps": fps, "scenario": scenario}, **kw)


def _record(recorder: Recorder, config: CaptureConfig, tmp_path: Path, until: Callable[[dict], object],
            what: str, policy: SegmentPolicy = SegmentPolicy()) -> dict:
    """Record until the session's status satisfies ``until``, then stop; the final status."""
    naming = SegmentNaming(tmp_path, f"session_{config.session_id}")
    recorder.start(config, EncodingOptions(), policy, naming)
    wait_for(lambda: until(recorder.status(config.session_id)), 60, what)
    recorder.stop(config.session_id)
    return recorder.wait(config.session_id, timeout=60)


# The subject of the test below is time itself: a session spanning busy and idle stretches
# of the typing scenario must last this long by the capture's own clock.
SESSION_SECONDS = 6.0


def test_timestamps_follow_the_wall_clock_over_busy_and_idle(tmp_path: Path):
    with Recorder(workers=1) as recorder:
        start = time.monotonic()
        status = _record(recorder, _synthetic("mix", "typing"), tmp_path,
                         lambda s: s["capture"].get("elapsed", 0) >= SESSION_SECONDS,
                         f"{SESSION_SECONDS} s of capture")
        wall = time.monotonic() - start
    assert status["state"] == "stopped", status
    capture = status["capture"]
    assert capture["unchanged"] > 0 and capture["published"] > 0  # idle stretches were skipped
    (path,) = [Path(p) for p in status["segments"]]
    pts = sorted(float(p["pts_time"]) for p in _probe_packets(path))
    # the video spans the capture: within 2% of the session's wall time
    assert abs((pts[-1] - pts[0]) - capture["elapsed"]) <= 0.02 * capture["elapsed"]
    assert capture["elapsed"] <= wall
    assert _decoded_frames(path) == status["encoded_frames"] == capture["published"]


def test_rotation_by_duration_and_size_loses_and_repeats_no_frame(tmp_path: Path):
    def third_part(status: dict) -> bool:  # two parts sealed and the next one open
        return len(status["segments"]) >= 2 and status["current_file"] is not None

    with Recorder(workers=1) as recorder:
        by_time = _record(recorder, _synthetic("t", "video"), tmp_path, third_part, "a third part",
                          SegmentPolicy(max_seconds=1.0))
        by_size = _record(recorder, _synthetic("s", "video"), tmp_path, third_part, "a third part",
                          SegmentPolicy(max_bytes=60_000))
    for status in (by_time, by_size):
        segments = [Path(p) for p in status["segments"]]
        assert len(segments) >= 3, status
        total = 0
        for path in segments:
            packets = _probe_packets(path)
            assert packets[0]["flags"].startswith("K")  # every segment opens with a keyframe
            total += _decoded_frames(path)
        assert total == status["capture"]["published"] == status["encoded_frames"]
        assert [p.name for p in segments][1].endswith("_part2.mp4")


RECORDER_SCRIPT = """
import json, sys
from pathlib import Path
from fastrec.engine.capture_loop import CaptureConfig
from fastrec.engine.protocol import SegmentNaming, SegmentPolicy
from fastrec.engine.recorder import EncodingOptions, Recorder
if __name__ == "__main__":
    recorder = Recorder(workers=1)
    config = CaptureConfig("k", mode="synthetic", fps=10,
                           source_options={"width": 640, "height": 360, "fps": 10, "scenario": "video"})
    recorder.start(config, EncodingOptions(), SegmentPolicy(), SegmentNaming(Path(sys.argv[1]), "session_k"))
    recorder.wait_started("k")
    print("recording", flush=True)
    for _ in sys.stdin:  # every line asks for the capture counters; runs until killed
        print(json.dumps(recorder.status("k")["capture"]), flush=True)
"""


def _start_recorder_process(tmp_path: Path) -> subprocess.Popen[str]:
    script = tmp_path / "record.py"
    script.write_text(RECORDER_SCRIPT)
    return subprocess.Popen([sys.executable, str(script), str(tmp_path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)


def test_sigkill_mid_recording_leaves_playable_files(tmp_path: Path):
    shm_before = set(os.listdir("/dev/shm"))
    proc = _start_recorder_process(tmp_path)
    video = tmp_path / "session_k.mp4"
    try:
        assert proc.stdout.readline().strip() == "recording"
        # a couple of 1 s fragments are on disk
        on_disk = wait_for(lambda: (n := _playable_frames(video)) >= 15 and n, 60, "15 frames on disk")
        # the recorder, its capture process and its encoder
        tree = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        for pid in tree:
            os.kill(pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    frames = _decoded_frames(video)
    # the file still plays, with every fragment written before the kill
    assert frames >= on_disk, (frames, on_disk)
    # and nothing is left in /dev/shm (the ring never is there)
    assert set(os.listdir("/dev/shm")) <= shm_before, set(os.listdir("/dev/shm")) - shm_before


def test_engine_processes_finish_the_file_when_the_host_is_killed(tmp_path: Path):
    # the embedding application crashes: its capture and encoder processes see their
    # connection close, seal the file and exit on their own
    proc = _start_recorder_process(tmp_path)
    video = tmp_path / "session_k.mp4"
    try:
        assert proc.stdout.readline().strip() == "recording"
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) == 2
        wait_for(lambda: _playable_frames(video) >= 15, 60, "15 frames on disk")
        proc.stdin.write("status\n")
        proc.stdin.flush()
        published = json.loads(proc.stdout.readline())["published"]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        gone, alive = psutil.wait_procs(children, timeout=20)
        assert not alive, [" ".join(c.cmdline()) for c in alive]
    finally:
        proc.kill()
        proc.wait()
    frames = _decoded_frames(video)
    assert frames >= published > 0, (frames, published)  # everything up to the crash


def test_killed_encoder_worker_is_replaced_and_the_session_goes_on(tmp_path: Path):
    events: list[EngineEvent] = []
    with Recorder(workers=1, on_event=events.append) as recorder:
        config = _synthetic("w", "video")
        recorder.start(config, EncodingOptions(), SegmentPolicy(), SegmentNaming(tmp_path, "session_w"))
        first, second = tmp_path / "session_w.mp4", tmp_path / "session_w_part2.mp4"
        wait_for(lambda: _playable_frames(first) >= 10, 60, "10 frames of the first part on disk")
        os.kill(recorder.status("w")["encoder_pid"], signal.SIGKILL)
        wait_for(lambda: recorder.status("w")["current_file"] == str(second)
                 and _playable_frames(second) >= 20, 60, "20 frames of the replacement's part on disk")
        recorder.stop("w")
        status = recorder.wait("w", timeout=60)
    assert any("encoder worker 0 died" in e for e in status["errors"]), status
    assert any(isinstance(e, SessionError) and e.session_id == "w" and not e.fatal for e in events)
    assert str(second) in status["segments"]
    assert _decoded_frames(second) >= 20  # the session went on after the replacement
    assert _decoded_frames(first) >= 10  # and what the killed worker wrote still plays


@pytest.fixture
def tiny_disk(tmpfs) -> Path:
    return tmpfs("300k")

def test_disk_full_stops_the_session_cleanly_and_keeps_what_was_written(tiny_disk: Path):
    events: list[EngineEvent] = []
    with Recorder(workers=1, on_event=events.append) as recorder:
        recorder.start(_synthetic("d", "video"), EncodingOptions(crf=10), SegmentPolicy(),
                       SegmentNaming(tiny_disk, "session_d"))
        status = recorder.wait("d", timeout=60)  # ends by itself when the disk fills up
    assert status["state"] == "error"
    assert any("No space left on device" in e or "ENOSPC" in e or "space" in e.lower() for e in status["errors"]), status
    assert any(isinstance(e, SessionError) and e.fatal for e in events)
    assert isinstance(events[-1], SessionFinished) and events[-1].state == "error"
    assert _decoded_frames(tiny_disk / "session_d.mp4") > 0


def test_unwritable_directory_is_a_clear_error(tmp_path: Path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")  # (a permission-based check would not hold for root)
    with Recorder(workers=1) as recorder:
        recorder.start(_synthetic("u", "static"), EncodingOptions(), SegmentPolicy(),
                       SegmentNaming(not_a_dir / "sub", "session_u"))
        status = recorder.wait("u", timeout=60)
    assert status["state"] == "error"
    assert any("session_u.mp4" in e for e in status["errors"]), status


HOST_SCRIPT = """
import sys, time
from pathlib import Path
# no `if __name__ == "__main__"` guard, as in many host applications: multiprocessing's
# spawn would run this again in every child process
with open(sys.argv[1], "a") as marker:
    marker.write("imported\\n")
from fastrec.engine.capture_loop import CaptureConfig
from fastrec.engine.protocol import SegmentNaming, SegmentPolicy
from fastrec.engine.recorder import EncodingOptions, Recorder
import psutil
config = CaptureConfig("host", mode="synthetic", fps=10,
                       source_options={"width": 320, "height": 240, "fps": 10, "scenario": "video"})
with Recorder(workers=1) as recorder:
    recorder.start(config, EncodingOptions(), SegmentPolicy(), SegmentNaming(Path(sys.argv[2]), "host"))
    recorder.wait_started("host")
    deadline = time.monotonic() + 60  # (a hang guard) until the encoder has opened the file
    while recorder.status("host")["current_file"] is None and time.monotonic() < deadline:
        time.sleep(0.02)
    children = [" ".join(c.cmdline()) for c in psutil.Process().children(recursive=True)]
    print("CHILDREN", len(children), *children, sep="\\n")
    recorder.stop("host")
    print("STATE", recorder.wait("host", timeout=60)["state"])
"""


def test_engine_processes_do_not_run_the_host_script_or_a_resource_tracker(tmp_path: Path):
    script, marker = tmp_path / "host_app.py", tmp_path / "imported.txt"
    script.write_text(HOST_SCRIPT)
    out = subprocess.run([sys.executable, str(script), str(marker), str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "STATE stopped" in out.stdout
    assert marker.read_text() == "imported\n"  # the host script ran once: in the host
    children = out.stdout.split("CHILDREN\n", 1)[1].split("STATE", 1)[0].split("\n")
    assert children[0] == "2", out.stdout  # one capture process and one encoder worker
    assert not any("resource_tracker" in c for c in children)
    # the capture process was started ahead, before its session was known (Recorder spare_capture)
    assert any("fastrec-capture" in c for c in children) and any("fastrec-encoder" in c for c in children)
    (video,) = tmp_path.glob("host*.mp4")
    assert _decoded_frames(video) > 0


def _capture_children() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "fastrec-capture" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue  # gone meanwhile
    return found


def test_a_capture_interpreter_waits_ready_and_records_one_session_after_another(tmp_path: Path):
    # Issue 14: a session's capture process is one started ahead, its imports done, so the
    # first frame waits for no interpreter; after a session that stopped cleanly the same
    # process waits for the next one: sessions one after another start no interpreter
    with Recorder(workers=1) as recorder:
        (spare,) = wait_for(lambda: _capture_children() or None, 30, "the capture interpreter started ahead")
        for name, scenario in (("first", "typing"), ("second", "video"), ("third", "typing")):
            status = _record(recorder, _synthetic(name, scenario), tmp_path,
                             lambda s: s["encoded_frames"] > 0 or s["capture"].get("published", 0) > 0,
                             f"the {name} session's first frame")
            assert status["state"] == "stopped" and status["capture_pid"] == spare.pid, name
            assert _decoded_frames(Path(status["segments"][0])) == status["encoded_frames"] > 0, name
        assert [c.pid for c in _capture_children()] == [spare.pid]  # and no other interpreter
    assert not _capture_children()  # close() ends the one waiting


def test_a_capture_process_that_failed_is_not_reused(tmp_path: Path):
    with Recorder(workers=1) as recorder:
        (spare,) = wait_for(lambda: _capture_children() or None, 30, "the capture interpreter started ahead")
        bad = CaptureConfig("bad", mode="synthetic", fps=10, source_options={"scenario": "no-such-scenario"})
        recorder.start(bad, EncodingOptions(), SegmentPolicy(), SegmentNaming(tmp_path, "session_bad"))
        status = recorder.wait("bad", timeout=60)
        assert status["state"] == "error" and status["capture_pid"] == spare.pid
        wait_for(lambda: spare.pid not in [c.pid for c in _capture_children()], 30, "the failed process to exit")
        status = _record(recorder, _synthetic("good", "typing"), tmp_path,
                         lambda s: s["capture"].get("published", 0) > 0, "the next session's first frame")
        assert status["state"] == "stopped" and status["capture_pid"] != spare.pid


def test_a_capture_process_is_not_kept_while_another_session_records(tmp_path: Path):
    # an idle interpreter's memory is held only while nothing records (Recorder SPARE_DELAY)
    with Recorder(workers=1) as recorder:
        naming = SegmentNaming(tmp_path, "session_long")
        recorder.start(_synthetic("long", "typing"), EncodingOptions(), SegmentPolicy(), naming)
        wait_for(lambda: recorder.status("long")["capture"].get("published", 0) > 0, 60,
                 "the long session's first frame")
        status = _record(recorder, _synthetic("short", "typing"), tmp_path,
                         lambda s: s["capture"].get("published", 0) > 0, "the short session's first frame")
        assert status["state"] == "stopped"
        wait_for(lambda: status["capture_pid"] not in [c.pid for c in _capture_children()], 30,
                 "the short session's capture process to exit")
        assert recorder.status("long")["state"] == "recording"
        recorder.stop("long")
        assert recorder.wait("long", timeout=60)["state"] == "stopped"
