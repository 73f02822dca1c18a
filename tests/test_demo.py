"""`python -m fastrec demo` end to end on a private Xvfb: the README's main command."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import av
import httpx
import numpy as np
from cli_jobs import Job, free_port

from fastrec.demo.run import CONNECTION
from fastrec.demo.workload import secret_bar_region
from fastrec.server.catalogue import Catalogue
from fastrec.storage import INDEX_FILE, RecordingIndex, iter_metadata, verify_session


def _decoded(video: Path) -> list[np.ndarray]:
    with av.open(str(video)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _assert_secrets_bar_redacted(rgb: np.ndarray) -> None:
    x, y, w, h = secret_bar_region()
    bar = rgb[y + 4 : y + h - 4, x + 4 : x + w - 4].astype(int)
    yellow = np.array([0xFF, 0xF3, 0xB0])
    assert np.abs(bar - yellow).sum(axis=2).min() > 60, "unmasked secrets bar pixels"
    # the redaction: a light bar (208) with dark asterisks (40), little else
    near_bar = np.abs(bar - 208).max(axis=2) < 24
    near_glyph = np.abs(bar - 40).max(axis=2) < 40
    assert (near_bar | near_glyph).mean() > 0.9 and near_glyph.mean() > 0.05


def test_demo_records_a_real_session_in_parts_masked_chained_and_indexed(tmp_path: Path):
    out = tmp_path / "rec"
    seconds = 10  # PART_SECONDS is 8: two parts
    proc = subprocess.run([sys.executable, "-m", "fastrec", "demo", "--seconds", str(seconds), "--output-dir", str(out)],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    summary = proc.stdout
    session_id = re.search(r"^session    (demo_\d{8}_\d{6}) \(2 part\(s\) in ", summary, re.M)
    assert session_id, summary
    session_id = session_id[1]
    # the files the report names, as a recorder of an RDP session names them
    files = sorted(out.glob("session_demo_Demo_Server_*.mp4"))
    assert [f.name for f in files] == [files[0].name, files[0].stem + "_part2.mp4"]
    assert f"files      {files[0]}, {files[1]}" in summary, summary
    encoded = re.search(r"\b(\d+) encoded, \d+ dropped", summary)
    assert encoded, summary
    assert "error " not in summary and proc.stdout.count("\n") == 5, summary  # the report, no log lines

    # every part has its sealed metadata with the connection details, chained to the one before
    metas = sorted((m for _, m in iter_metadata(out)), key=lambda m: m.chain.part)
    assert [(m.session_id, m.chain.part, m.status) for m in metas] == [(session_id, 1, "complete"),
                                                                       (session_id, 2, "complete")]
    assert metas[0].connection_info.model_dump() == CONNECTION
    assert metas[1].chain.previous_sha256 == metas[0].file.sha256 and metas[0].chain.next_file == files[1].name
    assert verify_session(out, session_id).ok
    # indexed, so the admin server lists it as one session of two parts
    with RecordingIndex(out / INDEX_FILE, out) as index:
        assert [(e.part, e.server, e.connection_type) for e in index.search(session_id=session_id)] == [
            (1, "Demo Server", "RDP"), (2, "Demo Server", "RDP")]
    catalogue = Catalogue(out)
    try:
        (row,) = catalogue.sessions()
    finally:
        catalogue.close()
    assert (row.session_id, row.parts, row.user, row.ip, row.recording) == (session_id, 2, "demo", "127.0.0.1", False)

    for video, meta in zip(files, metas, strict=True):
        probe = json.loads(subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
             "stream=codec_name,pix_fmt,color_space,color_range", "-of", "json", str(video)],
            capture_output=True, text=True, check=True).stdout)
        stream = probe["streams"][0]
        assert (stream["codec_name"], stream["pix_fmt"]) == ("h264", "yuv420p")
        assert (stream["color_space"], stream["color_range"]) == ("bt709", "tv")
        assert meta.duration_seconds is not None and meta.duration_seconds <= 8.0 + 1.0
    # timestamps are capture times: from the first part's first frame to the last part's last
    # frame the parts span the wall-clock recording
    assert metas[1].end_time is not None
    assert abs((metas[1].end_time - metas[0].start_time).total_seconds() - seconds) < 0.5

    # the secrets bar is redacted in every decoded frame of every part
    frames = [rgb for video in files for rgb in _decoded(video)]
    assert len(frames) == int(encoded[1]) >= 5
    for rgb in frames:
        _assert_secrets_bar_redacted(rgb)


def test_demo_rejects_bad_values_with_exit_code_2():
    proc = subprocess.run([sys.executable, "-m", "fastrec", "demo", "--fps", "0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "--fps: must be between 1 and 60, got 0" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_demo_rejects_an_unknown_preset_before_recording(tmp_path: Path):
    out = tmp_path / "rec"
    proc = subprocess.run([sys.executable, "-m", "fastrec", "demo", "--seconds", "1", "--preset", "bogus",
                           "--output-dir", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert ("argument --preset: invalid choice: 'bogus' (choose from 'ultrafast', 'superfast', 'veryfast', "
            "'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow', 'placebo')") in proc.stderr
    assert not out.exists()  # nothing started, no empty file left behind


def test_demo_serve_opens_the_replay_with_one_click(tmp_path: Path):
    """The README's main command: record, then serve; the printed links work."""
    port = free_port()
    job = Job("demo", "--seconds", "2", "--output-dir", str(tmp_path / "rec"), "--serve", "--port", str(port),
              cwd=tmp_path)
    try:
        session_id = job.wait_for_stdout(r"^session    (demo_\d{8}_\d{6}) ", timeout=180)[1]
        base = job.wait_for_stdout(r"^admin server: (http://\S+)/ ", timeout=60)[1]
        assert base == f"http://127.0.0.1:{port}"
        user, password = job.wait_for_stdout(r"^  sign in:    (\S+) / (\S+)  \(shown only now").groups()
        assert job.wait_for_stdout(r"^  replay:     (\S+)$")[1] == f"{base}/replay/{session_id}"
        share = job.wait_for_stdout(r"^  share link: (\S+)  \(no sign-in; valid 24 h\)$")[1]
        token = share.rsplit("/", 1)[1]

        with httpx.Client(timeout=30) as anonymous:  # whoever got the link, not signed in
            page = anonymous.get(share)
            assert page.status_code == 200 and 'data-mode="shared"' in page.text
            shared = anonymous.get(f"{base}/api/shared/{token}/recording")
            assert shared.status_code == 200 and shared.json()["session_id"] == session_id
            playlist = anonymous.get(f"{base}/api/shared/{token}/playlist.m3u8")
            assert playlist.status_code == 200 and playlist.text.startswith("#EXTM3U"), playlist.text
            assert f"/api/shared/{token}/parts/1/video.mp4" in playlist.text
            assert anonymous.get(f"{base}/api/recordings").status_code == 401  # the link opens that one only

        with httpx.Client(base_url=base, timeout=30) as admin:  # the printed password signs in
            assert admin.post("/api/auth/login", json={"username": user, "password": password}).status_code == 200
            listing = admin.get("/api/recordings").json()
            assert [s["session_id"] for s in listing["sessions"]] == [session_id]
            assert admin.get(f"/replay/{session_id}").status_code == 200
            detail = admin.get(f"/api/recordings/{session_id}").json()
            assert detail["integrity"]["ok"] and detail["session"]["server"] == "Demo Server"

        job.interrupt(signal.SIGINT)
        code, _, stderr = job.finish()
        assert code == 0, stderr
    finally:
        job.kill()
