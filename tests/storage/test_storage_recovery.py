"""Sealing what a killed recorder left behind (issue 8, bugs 17 and 18): real fragmented
MP4 files cut mid-fragment, metadata left in status "recording", a dead recorder pid."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from storage_builders import NOW, NOW_TS, set_mtime, write_fragmented_mp4, write_segment

from fastrec.storage import (
    RecorderProcess,
    SegmentMetadata,
    link_next,
    metadata_path,
    probe_video,
    read_metadata,
    part_basename,
    recording_basename,
    recover_interrupted,
    seal_segment,
    verify_session,
    video_path,
    write_metadata,
)
from fastrec.storage.integrity import NO_KEY
from fastrec.storage.recovery import ORPHAN_AFTER_SECONDS

SESSION = "rdp_123_1729950022"


def dead_recorder() -> RecorderProcess:
    """A recorder process that has exited: its pid is no longer in use."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return RecorderProcess(pid=child.pid, start_time=NOW_TS, host=socket.gethostname())


def ffprobe_frames(video: Path) -> tuple[int, str]:
    """Frames ffmpeg decodes from ``video``, and what it complained about."""
    result = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                             "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(video)],
                            capture_output=True, text=True, check=False)
    return (int(result.stdout.strip() or 0), result.stderr.strip())


def recording_part(directory: Path, part: int, recorder: RecorderProcess | None,
                   previous_meta: Path | None = None, session_id: str = SESSION,
                   con_codigo: int = 123, faststart: bool = False) -> tuple[Path, Path]:
    """Part ``part`` of a session as a killed recorder leaves it: a fragmented MP4 with half
    a fragment at its end (or a remuxed, plain one), metadata still "recording"."""
    base = part_basename(recording_basename(con_codigo, "Production Server", NOW), part)
    video = video_path(directory, base)
    boxes = write_fragmented_mp4(video)
    data = video.read_bytes()
    if faststart:
        plain = video.with_name("plain.mp4")
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-c", "copy", "-movflags", "+faststart",
                        str(plain)], check=True)
        os.replace(plain, video)
    else:
        # the recorder died while writing the next fragment: half of one (moof + part of mdat)
        moof = [offset for offset, kind in boxes if kind == b"moof"][1]
        with open(video, "ab") as handle:
            handle.write(data[moof:moof + 400])
    meta = SegmentMetadata(session_id=session_id, start_time=NOW + timedelta(minutes=30 * (part - 1)),
                           recorder=recorder)
    meta.chain.part = part
    meta.file.name = video.name
    meta_file = metadata_path(directory, base)
    write_metadata(meta_file, meta)
    if previous_meta is not None:
        link_next(previous_meta, video.name)  # the manager does so when a part opens
    return video, meta_file


def test_killed_recorders_part_is_cut_back_sealed_and_chained(recordings: Path) -> None:
    """Bug 17: metadata said "recording" forever and the file ended mid-fragment."""
    first_video, first_meta, _ = write_segment(recordings, part=1)
    video, meta_file = recording_part(recordings, 2, dead_recorder(), first_meta)
    damaged = video.stat().st_size

    report = recover_interrupted(recordings)

    [part] = report.sealed
    assert (part.session_id, part.part, part.video, part.cut_bytes) == (SESSION, 2, video, 400)
    assert part.frames == 30 and part.playable and "is gone" in part.reason
    assert video.stat().st_size == damaged - 400  # shorter: back to the last whole fragment
    assert ffprobe_frames(video) == (30, "")  # plays, every frame, without a complaint
    sealed = read_metadata(meta_file)
    assert sealed.status == "interrupted" and sealed.frames.encoded == 30
    assert sealed.chain.previous_file == first_video.name and sealed.chain.part == 2
    assert any(e.startswith("recovered after a crash: its recorder (pid") for e in sealed.errors)
    assert 2.5 <= (sealed.end_time - sealed.start_time).total_seconds() <= 3.5  # the video's length
    verdict = verify_session(recordings, SESSION)
    assert verdict.ok, verdict.summary
    assert verdict.summary.splitlines()[1].startswith(f"  part 2 ({video.name}): ok [interrupted: recovered")
    # once sealed, nothing is left to recover
    assert recover_interrupted(recordings).sealed == ()


def test_a_running_or_recent_recorder_is_left_alone(recordings: Path) -> None:
    live_video, live_meta = recording_part(recordings, 1, RecorderProcess.current())
    unknown_video, unknown_meta = recording_part(recordings, 1, None, session_id="s2", con_codigo=2)
    own_video, _ = recording_part(recordings, 1, dead_recorder(), session_id="s3", con_codigo=3)
    before = {p: p.read_bytes() for p in (live_video, live_meta, unknown_video, unknown_meta, own_video)}

    report = recover_interrupted(recordings, is_live=lambda path: path == own_video)

    assert report.sealed == () and report.errors == ()
    reasons = {path: why for path, why in report.skipped}
    assert reasons[live_video] == f"its recorder (pid {os.getpid()}) is running"
    assert reasons[own_video] == "being recorded by this process"
    assert reasons[unknown_video].startswith("status recording, written ")
    assert all(p.read_bytes() == data for p, data in before.items())
    # a part without a recorder section, untouched for longer than the limit: orphaned
    old = NOW_TS - ORPHAN_AFTER_SECONDS - 60
    set_mtime(unknown_video, old)
    set_mtime(unknown_meta, old)
    report = recover_interrupted(recordings, is_live=lambda path: path == own_video,
                                 clock=lambda: NOW_TS)
    assert [p.video for p in report.sealed] == [unknown_video]
    assert read_metadata(unknown_meta).status == "interrupted"


def test_dry_run_changes_nothing(recordings: Path) -> None:
    video, meta_file = recording_part(recordings, 1, dead_recorder())
    before = (video.read_bytes(), meta_file.read_bytes())
    report = recover_interrupted(recordings, dry_run=True)
    assert [(p.video, p.cut_bytes, p.frames) for p in report.sealed] == [(video, 400, 30)]
    assert (video.read_bytes(), meta_file.read_bytes()) == before
    assert report.summary.startswith(f"would seal 1 interrupted part(s) in {recordings}")


def test_plain_faststart_file_is_never_cut(recordings: Path) -> None:
    video, _ = recording_part(recordings, 1, dead_recorder(), faststart=True)
    with open(video, "ab") as handle:
        handle.write(b"\0" * 100)  # whatever is at its end is not ours to cut
    size = video.stat().st_size
    [part] = recover_interrupted(recordings).sealed
    assert part.cut_bytes == 0 and video.stat().st_size == size and part.frames == 30


def test_recover_command(recordings: Path, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    from fastrec.cli import main

    for name in [n for n in os.environ if n.startswith("RECORDING_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(recordings.parent)
    video, meta_file = recording_part(recordings, 1, dead_recorder())
    assert main(["status", "--output-dir", str(recordings)]) == 0
    assert "being recorded:" in capsys.readouterr().out  # what the crash left
    assert main(["recover", "--dry-run", "--output-dir", str(recordings)]) == 0
    assert capsys.readouterr().out.startswith("would seal 1 interrupted part(s)")
    assert read_metadata(meta_file).status == "recording"
    assert main(["recover", "--json", "--output-dir", str(recordings)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [(s["file"], s["frames"], s["cut_bytes"]) for s in result["sealed"]] == [(str(video), 30, 400)]
    assert main(["status", "--output-dir", str(recordings)]) == 0
    assert "nothing is being recorded" in capsys.readouterr().out  # the index was updated too
    assert main(["recover", "--output-dir", str(recordings)]) == 0
    assert capsys.readouterr().out.startswith(f"nothing to recover in {recordings}")


# --- bug 18: seal what is on disk, as it is ---

def test_probe_video(tmp_path: Path) -> None:
    boxes = write_fragmented_mp4(tmp_path / "v.mp4")
    found = probe_video(tmp_path / "v.mp4")
    assert (found.frames, found.playable, found.problem) == (30, True, None)
    assert 2.9 <= found.duration_seconds <= 3.1
    header_only = tmp_path / "h.mp4"
    header_only.write_bytes((tmp_path / "v.mp4").read_bytes()[:boxes[2][0]])  # ftyp + moov
    assert probe_video(header_only).playable is False
    (tmp_path / "empty.mp4").write_bytes(b"")
    empty = probe_video(tmp_path / "empty.mp4")
    assert (empty.frames, empty.playable) == (0, False) and empty.problem.startswith("cannot be opened")


def test_unplayable_part_is_sealed_interrupted_with_an_error_verify_shows(recordings: Path) -> None:
    """Bug 18: a 0-byte part was sealed "complete", its chain reported intact."""
    _, first_meta_file, first = write_segment(recordings, part=1)
    video = video_path(recordings, part_basename(recording_basename(123, "Production Server", NOW), 2))
    video.write_bytes(b"")
    meta = SegmentMetadata(session_id=SESSION, start_time=NOW + timedelta(minutes=30))
    meta.file.name = video.name
    sealed = seal_segment(meta, video, first, status="complete", probe=True)
    write_metadata(metadata_path(recordings, video.name[:-4]), sealed)
    link_next(first_meta_file, video.name)
    assert sealed.status == "interrupted" and sealed.frames.encoded == 0
    assert sealed.errors == ["holds no playable video (0 bytes)"]
    report = verify_session(recordings, SESSION)
    assert report.ok  # correctly hashed: not a broken chain
    assert report.summary.splitlines() == [
        f"session {SESSION}: 2 segment(s), chain intact",
        f"  part 2 ({video.name}): ok [interrupted: holds no playable video (0 bytes)]",
        f"  signatures not checked: {NO_KEY}",
    ]


def test_frames_unknown_to_the_encoder_are_counted_from_the_file(recordings: Path) -> None:
    """Bug 18: an interrupted part's metadata said 0 frames while the file held 30."""
    video = video_path(recordings, recording_basename(123, "Production Server", NOW))
    write_fragmented_mp4(video)
    meta = SegmentMetadata(session_id=SESSION, start_time=NOW)
    sealed = seal_segment(meta, video, status="interrupted", probe=True)
    assert (sealed.frames.encoded, sealed.frames.captured, sealed.errors) == (30, 30, [])
    known = meta.model_copy(deep=True)
    known.frames.encoded = known.frames.captured = 12  # the encoder's own count wins
    assert seal_segment(known, video, probe=True).frames.encoded == 12


def test_two_orphaned_parts_are_sealed_in_order_and_chained(recordings: Path) -> None:
    recorder = dead_recorder()
    first_video, first_meta = recording_part(recordings, 1, recorder)
    second_video, second_meta = recording_part(recordings, 2, recorder, first_meta)
    report = recover_interrupted(recordings)
    assert [(p.part, p.video) for p in report.sealed] == [(1, first_video), (2, second_video)]
    assert read_metadata(second_meta).chain.previous_sha256 == read_metadata(first_meta).file.sha256
    assert verify_session(recordings, SESSION).ok


def test_a_part_cut_inside_its_first_fragment_is_sealed_with_no_video(recordings: Path) -> None:
    base = recording_basename(123, "Production Server", NOW)
    video = video_path(recordings, base)
    boxes = write_fragmented_mp4(video)
    first_moof = boxes[2][0]
    with open(video, "r+b") as handle:
        handle.truncate(first_moof + 300)  # the recorder died inside its first fragment
    meta = SegmentMetadata(session_id=SESSION, start_time=NOW, recorder=dead_recorder())
    meta.file.name = video.name
    write_metadata(metadata_path(recordings, base), meta)
    [part] = recover_interrupted(recordings).sealed
    assert (part.cut_bytes, part.frames, part.playable) == (300, 0, False)
    assert video.stat().st_size == first_moof  # the header alone: ftyp + moov
    sealed = read_metadata(metadata_path(recordings, base))
    assert sealed.status == "interrupted" and sealed.frames.encoded == 0
    assert sealed.errors[-1].startswith("holds no playable video")
    report = verify_session(recordings, SESSION)
    assert report.ok and "holds no playable video" in report.summary


def test_a_killed_recorder_its_parent_has_not_reaped_yet_is_gone() -> None:
    # a zombie writes nothing more: its parts may be recovered, its live sessions ended
    import signal
    import time

    import psutil

    from fastrec.storage.metadata import RecorderProcess
    from fastrec.storage.recovery import recorder_alive

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        me = RecorderProcess(pid=child.pid, start_time=psutil.Process(child.pid).create_time())
        assert recorder_alive(me) is True
        child.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 30  # until the kernel has made it a zombie (not reaped)
        while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.01)
        assert recorder_alive(me) is False
    finally:
        child.kill()
        child.wait()
