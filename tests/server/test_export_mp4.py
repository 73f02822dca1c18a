"""MP4 and JSON exports of a session the real engine recorded in parts (rotation, then a
restart after a pause: media_recording), checked with ffmpeg/ffprobe and PyAV."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from export_helpers import frames_with_times, plays_through, probe, top_level_boxes
from media_recording import SESSION, Recorded, ffprobe_packets, recorded  # noqa: F401

from fastrec.export.document import SessionExport
from fastrec.export.run import ExportRefused, export_session
from fastrec.export.timerange import parse_bound
from fastrec.storage.integrity import sha256_file

FRAME = 0.1  # seconds: the recording's 10 fps


def _timeline(recorded: Recorded) -> list[tuple[float, bool]]:
    """(seconds from the session start, keyframe) of every recorded frame, in order."""
    start = recorded.parts[0].start_time
    frames = []
    for meta in recorded.parts:
        offset = (meta.start_time - start).total_seconds()
        frames += [(offset + pts, key) for pts, _, key in ffprobe_packets(recorded.video(meta))]
    return frames


def _session_end(recorded: Recorded) -> float:
    """Seconds from the session start to the end of the last part's last frame."""
    last = recorded.parts[-1]
    out = probe(recorded.video(last))
    return (last.start_time - recorded.parts[0].start_time).total_seconds() + float(out["format"]["duration"])


def test_a_whole_multi_part_session_is_one_file_that_plays_with_every_frame_at_its_time(recorded: Recorded,
                                                                                       tmp_path: Path):
    progress: list[float] = []
    outcome = export_session(recorded.directory, SESSION, "mp4", output=tmp_path / "all.mp4",
                             progress=lambda fraction, _: progress.append(fraction))
    assert plays_through(outcome.path) == ""
    frames = _timeline(recorded)
    info = probe(outcome.path)
    stream = info["streams"][0]
    assert int(stream["nb_read_frames"]) == len(frames) == sum(m.frames.encoded for m in recorded.parts)
    # wall-clock spacing is kept: the pause between the two recordings is in the file
    assert float(info["format"]["duration"]) == pytest.approx(_session_end(recorded), abs=FRAME)
    packets = ffprobe_packets(outcome.path)
    assert packets[0][0] == 0 and packets[0][2]
    # the file's millisecond time base: each frame within half a millisecond and rounding of
    # its recorded time (rounding both to 0.01 s first failed on a 0.1049 vs 0.105)
    assert [p[0] for p in packets] == pytest.approx([t for t, _ in frames], abs=0.002)
    boxes = top_level_boxes(outcome.path)
    assert "moof" not in boxes and boxes.index("moov") < boxes.index("mdat")  # plain MP4, faststart
    tags = info["format"]["tags"]
    assert tags["title"] == SESSION and SESSION in tags["comment"]
    created = datetime.fromisoformat(tags["creation_time"].replace("Z", "+00:00"))
    assert created == recorded.parts[0].start_time.astimezone(UTC).replace(microsecond=0)  # mvhd: whole seconds
    assert progress[-1] == 1.0 and progress == sorted(progress)


def test_a_range_starting_inside_a_group_of_pictures_starts_with_the_frame_on_screen_then(recorded: Recorded,
                                                                                          tmp_path: Path):
    frames = _timeline(recorded)
    # a frame of the first part that is not a keyframe, with frames after it before the next one
    index = next(i for i in range(2, len(frames) - 3) if not frames[i][1] and not frames[i + 1][1]
                 and frames[i][0] > 0.5 and frames[i + 1][0] - frames[i][0] >= 0.1)
    shown, following = frames[index][0], frames[index + 1][0]
    start = shown + 0.3 * (following - shown)  # mid-frame (the next one well after it), mid-GOP
    end = start + 3.0
    outcome = export_session(recorded.directory, SESSION, "mp4", output=tmp_path / "range.mp4",
                             first=parse_bound("--from", f"{start:.4f}"), last=parse_bound("--to", f"{end:.4f}"))
    assert plays_through(outcome.path) == ""
    info = probe(outcome.path)
    assert float(info["format"]["duration"]) == pytest.approx(3.0, abs=FRAME)
    expected = [t for t, _ in frames if start <= t < end]
    packets = ffprobe_packets(outcome.path)
    assert len(packets) == len(expected) + 1  # the frame on screen at the start, then the later ones
    assert packets[0][0] == 0 and packets[0][2]
    assert [p[0] for p in packets[1:]] == pytest.approx([t - start for t in expected], abs=0.002)
    session_start = recorded.parts[0].start_time
    assert outcome.start == session_start + timedelta(seconds=float(f"{start:.4f}"))
    # the first picture is the one on screen at the start (re-encoded), not the keyframe before it
    exported = frames_with_times(outcome.path)
    source = frames_with_times(recorded.video(recorded.parts[0]))
    offset = (recorded.parts[0].start_time - session_start).total_seconds()
    on_screen = max((f for f in source if f[0] + offset <= start), key=lambda f: f[0])[1]
    first = exported[0][1]
    assert abs(first - on_screen).mean() < 2.0
    keyframe_before = next(f for f in source if f[0] == 0)[1]
    if abs(on_screen - keyframe_before).mean() > 4:
        assert abs(first - keyframe_before).mean() > abs(first - on_screen).mean()
    # from the next keyframe on, the recorded packets are copied as they are
    copied_sizes = [size for t, size, key in ffprobe_packets(recorded.video(recorded.parts[0]))]
    assert any(size in copied_sizes for _, size, _ in packets[1:])

    # a range starting a sliver before a frame starts at that frame: no two frames of the
    # file closer than the recording's frame interval (FFmpeg would give them one slot)
    sliver = export_session(recorded.directory, SESSION, "mp4", output=tmp_path / "sliver.mp4",
                            first=parse_bound("--from", f"{following - 0.02:.4f}"),
                            last=parse_bound("--to", f"{end:.4f}"))
    assert plays_through(sliver.path) == ""
    assert (sliver.start - session_start).total_seconds() == pytest.approx(following, abs=0.002)
    times = [p[0] for p in ffprobe_packets(sliver.path)]
    assert times[0] == 0 and min(b - a for a, b in zip(times, times[1:], strict=False)) >= FRAME * 0.6


def test_a_tampered_part_is_refused_unless_unverified_parts_are_allowed(recorded: Recorded, tmp_path: Path):
    copy = tmp_path / "rec"
    shutil.copytree(recorded.directory, copy)
    victim = copy / recorded.parts[1].file.name
    data = bytearray(victim.read_bytes())
    data[-10] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(ExportRefused) as refused:
        export_session(copy, SESSION, "mp4", output=tmp_path / "no.mp4")
    assert refused.value.reason == "refused"
    assert f"part 2 ({victim.name}): modified" in str(refused.value) and "--allow-unverified" in str(refused.value)
    assert not (tmp_path / "no.mp4").exists()
    outcome = export_session(copy, SESSION, "mp4", output=tmp_path / "yes.mp4", allow_unverified=True)
    assert any("part 2" in note for note in outcome.notes)
    comment = probe(outcome.path)["format"]["tags"]["comment"]
    assert "UNVERIFIED" in comment and victim.name in comment


def test_the_json_export_lists_every_part_with_its_hash_and_validates_against_its_model(recorded: Recorded,
                                                                                       tmp_path: Path):
    outcome = export_session(recorded.directory, SESSION, "json", output=tmp_path / "session.json")
    document = SessionExport.model_validate_json(outcome.path.read_text())
    assert document.session_id == SESSION and document.integrity.ok
    assert [s.part for s in document.segments] == [m.chain.part for m in recorded.parts]
    for segment, meta in zip(document.segments, recorded.parts, strict=True):
        assert segment.sha256 == meta.file.sha256 == sha256_file(recorded.video(meta))
        assert segment.status == "ok" and segment.metadata["chain"]["chain_hash"] == meta.chain.chain_hash
    assert document.events == [] and document.events_file is None  # no events recorded (yet)
    assert document.start_time == recorded.parts[0].start_time


def test_bad_ranges_name_the_option_the_value_and_what_is_allowed(recorded: Recorded, tmp_path: Path):
    with pytest.raises(ExportRefused) as after:
        export_session(recorded.directory, SESSION, "mp4", output=tmp_path / "x.mp4",
                       first=parse_bound("--from", "99999"))
    assert "--from='99999'" in str(after.value) and "the session runs from" in str(after.value)
    assert after.value.reason == "usage"
    with pytest.raises(ExportRefused) as empty:
        export_session(recorded.directory, SESSION, "mp4", output=tmp_path / "x.mp4",
                       first=parse_bound("--from", "5"), last=parse_bound("--to", "2"))
    assert "range is empty" in str(empty.value)
    with pytest.raises(ExportRefused) as unknown:
        export_session(recorded.directory, "no-such-session", "pdf", output=tmp_path / "x.pdf")
    assert unknown.value.reason == "not_found"


def test_the_export_command_writes_the_file_and_says_how_far_it_got(recorded: Recorded, tmp_path: Path):
    from cli_jobs import fastrec

    target = tmp_path / "cut.mp4"
    done = fastrec("export", SESSION, "--format", "mp4", "--output-dir", str(recorded.directory),
                   "--output", str(target), "--from", "1", "--to", "4.5", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(target) and "100%" in done.stderr
    assert plays_through(target) == ""
    assert float(probe(target)["format"]["duration"]) == pytest.approx(3.5, abs=FRAME)
    json_done = fastrec("export", SESSION, "--format", "json", "--output-dir", str(recorded.directory),
                        cwd=tmp_path)  # default name, in the current directory
    assert json_done.returncode == 0, json_done.stderr
    assert SessionExport.model_validate_json((tmp_path / f"{SESSION}.json").read_text()).session_id == SESSION
    bad = fastrec("export", SESSION, "--format", "mp4", "--output-dir", str(recorded.directory), "--to", "soon",
                  cwd=tmp_path)
    assert bad.returncode == 2 and "--to='soon'" in bad.stderr and "ISO 8601" in bad.stderr
    missing = fastrec("export", "nobody", "--format", "json", "--output-dir", str(recorded.directory), cwd=tmp_path)
    assert missing.returncode == 1 and "'nobody': no such recording" in missing.stderr
    wrong = fastrec("export", SESSION, "--format", "avi", "--output-dir", str(recorded.directory), cwd=tmp_path)
    assert wrong.returncode == 2 and "--format" in wrong.stderr and "'avi'" in wrong.stderr
