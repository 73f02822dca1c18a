"""`python -m fastrec demo` end to end on a private Xvfb: the README's main command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import av
import numpy as np

from fastrec.demo.workload import secret_bar_region


def test_demo_records_a_playable_masked_wall_clock_file(tmp_path: Path):
    out = tmp_path / "rec"
    proc = subprocess.run([sys.executable, "-m", "fastrec", "demo", "--seconds", "4", "--output-dir", str(out)],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    files = list(out.glob("demo_*.mp4"))
    assert len(files) == 1
    # the report names the file and counts what it holds (drop counts depend on the machine's
    # load: scripts/bench_e2e.py reports them)
    summary = proc.stdout
    assert f"files      {files[0]}" in summary, summary
    encoded = re.search(r"\b(\d+) encoded, \d+ dropped", summary)
    assert encoded, summary
    assert "error " not in summary, summary

    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
         "stream=codec_name,pix_fmt,color_space,color_range:packet=pts_time", "-of", "json", str(files[0])],
        capture_output=True, text=True, check=True).stdout)
    stream = probe["streams"][0]
    assert (stream["codec_name"], stream["pix_fmt"]) == ("h264", "yuv420p")
    assert (stream["color_space"], stream["color_range"]) == ("bt709", "tv")
    pts = sorted(float(p["pts_time"]) for p in probe["packets"])
    # timestamps are capture times: the video spans the wall-clock recording
    assert abs((pts[-1] - pts[0]) - 4.0) < 0.3, pts

    # the secrets bar is redacted in every decoded frame, the editor above it is not
    x, y, w, h = secret_bar_region()
    with av.open(str(files[0])) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == int(encoded[1]) >= 5
    for rgb in frames:
        bar = rgb[y + 4 : y + h - 4, x + 4 : x + w - 4].astype(int)
        yellow = np.array([0xFF, 0xF3, 0xB0])
        assert np.abs(bar - yellow).sum(axis=2).min() > 60, "unmasked secrets bar pixels"
        # the redaction: a light bar (208) with dark asterisks (40), little else
        near_bar = np.abs(bar - 208).max(axis=2) < 24
        near_glyph = np.abs(bar - 40).max(axis=2) < 40
        assert (near_bar | near_glyph).mean() > 0.9 and near_glyph.mean() > 0.05


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
