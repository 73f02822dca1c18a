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
from pathlib import Path

import av
import psutil
import pytest
from x11_windows import wait_until

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


def _synthetic(session: str, scenario: str, fps: int = 10, **kw) -> CaptureConfig:
    return CaptureConfig(session, mode="synthetic", fps=fps,
                         source_options={"width": 640, "height": 360, "fps": fps, "scenario": scenario}, **kw)


def _record(recorder: Recorder, config: CaptureConfig, tmp_path: Path, seconds: float,
            policy: SegmentPolicy = SegmentPolicy()) -> dict:
    naming = SegmentNaming(tmp_path, f"session_{config.session_id}")
    recorder.start(config, EncodingOptions(), policy, naming)
    time.sleep(seconds)
    recorder.stop(config.session_id)
    return recorder.wait(config.session_id, timeout=60)


def test_timestamps_follow_the_wall_clock_over_busy_and_idle(tmp_path: Path):
    with Recorder(workers=1) as recorder:
        start = time.monotonic()
        status = _record(recorder, _synthetic("mix", "typing"), tmp_path, 6.0)
        wall = time.monotonic() - start
    assert status["state"] == "stopped", status
    capture = status["capture"]
    assert capture["unchanged"] > 0 and capture["published"] > 0  # idle stretches were skipped
    assert capture["dropped"] == 0
    (path,) = [Path(p) for p in status["segments"]]
    pts = sorted(float(p["pts_time"]) for p in _probe_packets(path))
    # the video spans the capture: within 2% of the session's wall time
    assert abs((pts[-1] - pts[0]) - capture["elapsed"]) <= 0.02 * capture["elapsed"]
    assert capture["elapsed"] <= wall
    assert _decoded_frames(path) == status["encoded_frames"] == capture["published"]


def test_rotation_by_duration_and_size_loses_and_repeats_no_frame(tmp_path: Path):
    with Recorder(workers=1) as recorder:
        by_time = _record(recorder, _synthetic("t", "video"), tmp_path, 4.5,
                          SegmentPolicy(max_seconds=1.0))
        by_size = _record(recorder, _synthetic("s", "video"), tmp_path, 4.5,
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
import sys, time
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
    time.sleep(600)
"""


def test_sigkill_mid_recording_leaves_playable_files(tmp_path: Path):
    shm_before = set(os.listdir("/dev/shm"))
    script = tmp_path / "record.py"
    script.write_text(RECORDER_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "recording"
        time.sleep(4.0)
        # the recorder, its capture process and its encoder
        tree = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        for pid in tree:
            os.kill(pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    frames = _decoded_frames(tmp_path / "session_k.mp4")
    # the file plays up to its last fragment: at most a couple of seconds are lost
    assert frames >= 10 * (4.0 - 2.5), frames
    # and nothing is left in /dev/shm (the ring never is there)
    assert set(os.listdir("/dev/shm")) <= shm_before, set(os.listdir("/dev/shm")) - shm_before


def test_engine_processes_finish_the_file_when_the_host_is_killed(tmp_path: Path):
    # the embedding application crashes: its capture and encoder processes see their
    # connection close, seal the file and exit on their own
    script = tmp_path / "record.py"
    script.write_text(RECORDER_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "recording"
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) == 2
        time.sleep(3.0)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        gone, alive = psutil.wait_procs(children, timeout=20)
        assert not alive, [" ".join(c.cmdline()) for c in alive]
    finally:
        proc.kill()
        proc.wait()
    frames = _decoded_frames(tmp_path / "session_k.mp4")
    assert frames >= 10 * 3.0 * 0.8, frames  # everything up to the crash


def test_killed_encoder_worker_is_replaced_and_the_session_goes_on(tmp_path: Path):
    events: list[EngineEvent] = []
    with Recorder(workers=1, on_event=events.append) as recorder:
        config = _synthetic("w", "video")
        recorder.start(config, EncodingOptions(), SegmentPolicy(), SegmentNaming(tmp_path, "session_w"))
        time.sleep(3.0)
        os.kill(recorder.status("w")["encoder_pid"], signal.SIGKILL)
        time.sleep(3.0)
        recorder.stop("w")
        status = recorder.wait("w", timeout=60)
    assert any("encoder worker 0 died" in e for e in status["errors"]), status
    assert any(isinstance(e, SessionError) and e.session_id == "w" and not e.fatal for e in events)
    assert (tmp_path / "session_w.mp4").exists()
    second = tmp_path / "session_w_part2.mp4"
    assert str(second) in status["segments"]
    assert _decoded_frames(second) >= 20  # about 3 s at 10 fps after the replacement
    assert _decoded_frames(tmp_path / "session_w.mp4") >= 10


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 300 kB tmpfs: a real "no space left on device"."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


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
    time.sleep(1.0)
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
    assert any("fastrec-capture-host" in c for c in children) and any("fastrec-encoder" in c for c in children)
    (video,) = tmp_path.glob("host*.mp4")
    assert _decoded_frames(video) > 0
