"""The PDF report of a session recorded by the real engine on the synthetic "clock" desktop
(its picture changes every second: scene changes), rendered with poppler's pdftoppm."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from x11_windows import wait_until

from fastrec.engine.protocol import SegmentPolicy
from fastrec.export.run import export_session
from fastrec.export.timerange import parse_bound
from fastrec.manager import RecordingManager
from fastrec.settings import load_settings

SESSION = "clock_1"


@pytest.fixture(scope="module")
def clock_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clock") / "rec"
    settings = load_settings(enabled=True, output_dir=str(out), encoder_workers=1, fps=10,
                             keyframe_interval_seconds=2.0)
    manager = RecordingManager(settings, mode="synthetic",
                               source_options={"width": 320, "height": 240, "fps": 10, "scenario": "clock"},
                               segment_policy=SegmentPolicy(max_seconds=3.0))
    try:
        assert manager.initialize()
        assert manager.start_session_recording(SESSION, {"name": "clock-server", "user": "alice"})
        assert wait_until(lambda: manager.get_recording_status(SESSION)["segments"] >= 2, 60)
        encoded = manager.get_recording_status(SESSION)["frames"]["encoded"]
        assert wait_until(lambda: manager.get_recording_status(SESSION)["frames"]["encoded"] >= encoded + 15, 60)
        assert manager.stop_session_recording(SESSION)
        assert manager.wait_for_session(SESSION, 60)
    finally:
        manager.shutdown()
    return out


def _images(pdf: Path, into: Path) -> list[np.ndarray]:
    into.mkdir()
    subprocess.run(["pdfimages", "-png", str(pdf), str(into / "img")], check=True)
    return [np.asarray(Image.open(p).convert("L"), dtype=np.float64) for p in sorted(into.glob("img-*.png"))]


def test_the_report_renders_with_thumbnails_at_the_scene_changes(clock_recording: Path, tmp_path: Path):
    outcome = export_session(clock_recording, SESSION, "pdf", output=tmp_path / "report.pdf")
    pages = subprocess.run(["pdftoppm", "-png", "-r", "50", str(outcome.path), str(tmp_path / "page")],
                           capture_output=True, text=True, check=False)
    assert pages.returncode == 0 and pages.stderr == ""
    first_page = np.asarray(Image.open(tmp_path / "page-1.png").convert("L"), dtype=np.float64)
    images = _images(outcome.path, tmp_path / "images")
    assert len(images) >= 3  # the clock's second changes: one thumbnail per change, up to 12
    assert len(images) <= 12
    assert all(image.std() > 30 for image in images)  # black and white blocks, not a blank box
    # the thumbnails are on the first page: a band of it with the clock's black blocks
    rows = first_page.mean(axis=1)
    assert rows.min() < 200
    text = subprocess.run(["pdftotext", str(outcome.path), "-"], capture_output=True, text=True, check=True).stdout
    assert SESSION in text and "clock-server" in text and "alice" in text
    assert "No input events recorded." in text and "Chain intact" in text
    assert "heatmap" not in text.lower()  # no heatmap section without a heatmap


def test_a_range_report_shows_only_its_own_scene_changes(clock_recording: Path, tmp_path: Path):
    whole = export_session(clock_recording, SESSION, "pdf", output=tmp_path / "whole.pdf")
    cut = export_session(clock_recording, SESSION, "pdf", output=tmp_path / "cut.pdf",
                         first=parse_bound("--from", "0.5"), last=parse_bound("--to", "2.5"))
    assert 1 <= len(_images(cut.path, tmp_path / "cut")) < len(_images(whole.path, tmp_path / "whole"))


def test_the_heatmap_picture_is_the_frame_on_screen_at_the_moment_in_any_part(clock_recording: Path):
    """The representative frame of a heatmap: seeking into each part of the clock session
    gives the frame captured last before the moment, with its own pixels (they name the
    second it was captured in)."""
    from datetime import timedelta

    from fastrec.capture.synthetic import decode_clock
    from fastrec.export.frame import frame_at
    from fastrec.export.source import SessionSource

    source = SessionSource.load(clock_recording, SESSION, verify=False)
    parts = source.playable()
    assert len(parts) >= 2
    for part in parts:
        moment = part.first_frame + (part.end - part.first_frame) * 0.75
        frame = frame_at(source, moment)
        with part.demux() as container:
            times = [part.start + timedelta(seconds=float(f.time)) for f in container.decode(video=0)]
        assert frame is not None and frame.part == part.part
        assert frame.at == max(t for t in times if t <= moment)  # the last frame captured before it
        assert decode_clock(np.asarray(frame.image)) == int(frame.at.timestamp())
