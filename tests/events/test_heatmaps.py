"""Heatmaps of a real recorded window session (tests/clicks_session.py: five clicks at
25 % / 25 % of a blue window, one at 75 % / 75 %, three notches down at 80 % height): the
PNG's hot spot is where the clicks were, the numbers count them, the CLI, the admin API
and the PDF report show them."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from clicks_session import COLOUR, HOT, LONE, TITLE_AFTER, ClickSession
from PIL import Image
from x11_windows import needs_x

from fastrec.export.heatmaps import heatmap_image, heatmap_stats, resolve_range
from fastrec.export.source import SessionSource
from fastrec.export.timerange import parse_bound

pytestmark = needs_x


def pixel(png: bytes, percent: tuple[float, float]) -> tuple[int, int, int]:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    x = min(image.width - 1, int(image.width * percent[0] / 100))
    y = min(image.height - 1, int(image.height * percent[1] / 100))
    r, g, b = image.getpixel((x, y))
    return int(r), int(g), int(b)


def close_to(found: tuple[int, int, int], expected: tuple[int, int, int], tolerance: int = 24) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(found, expected, strict=True))


def test_the_click_heatmap_is_hot_where_the_clicks_were_over_the_recorded_window(click_session: ClickSession):
    source = SessionSource.load(click_session.directory, click_session.session_id)
    drawn = heatmap_image(source, None, "clicks")
    assert drawn.picture_at is not None  # drawn over a frame of the recording, not a blank picture
    hot = pixel(drawn.png, HOT)
    assert hot[0] >= 200 and hot[2] <= 90, hot  # red: the hottest point
    lone = pixel(drawn.png, LONE)
    assert lone != hot and lone[2] > lone[0], lone  # one click of five: a cold colour
    for far in ((60.0, 50.0), (5.0, 90.0), (95.0, 5.0)):
        assert close_to(pixel(drawn.png, far), COLOUR), (far, pixel(drawn.png, far))  # the window, untouched


def test_the_numbers_count_clicks_per_point_and_the_scroll_depth(click_session: ClickSession):
    source = SessionSource.load(click_session.directory, click_session.session_id)
    stats = heatmap_stats(source)
    assert (stats.clicks.total, stats.clicks.points, stats.clicks.max_per_point) == (6, 2, 5)
    assert stats.clicks.average_per_point == 3.0 and stats.clicks.hottest == (25.5, 25.5)
    assert stats.scroll.notches == 3 and stats.scroll.average_depth == 80.0
    assert stats.scroll.buckets[16] == 3 and sum(stats.scroll.buckets) == 3  # 80-85 %
    # a range before the burst holds the lone click only
    start = source.start
    until = (click_session.title_moment - start).total_seconds()
    early = heatmap_stats(source, resolve_range(source, None, parse_bound("--to", f"{until:.3f}")))
    assert (early.clicks.total, early.clicks.max_per_point) == (1, 1)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fastrec", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_the_cli_writes_the_png_and_prints_the_numbers(click_session: ClickSession, tmp_path: Path):
    out = tmp_path / "maps"
    out.mkdir(mode=0o700)
    done = run_cli("heatmap", click_session.session_id, "--output-dir", str(click_session.directory),
                   "--output", str(out / "clicks.png"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == str(out / "clicks.png")
    assert "clicks: 6 at 2 point(s), max per point 5, average per point 3.00" in lines
    assert pixel((out / "clicks.png").read_bytes(), HOT)[0] >= 200
    scroll = run_cli("heatmap", click_session.session_id, "--kind", "scroll", "--output-dir",
                     str(click_session.directory), "--output", str(out / "scroll.png"))
    assert scroll.returncode == 0, scroll.stderr
    assert "scroll: 3 notch(es), average depth 80.0 %" in scroll.stdout
    band = pixel((out / "scroll.png").read_bytes(), (50.0, 82.0))  # the 80-85 % band: all the notches
    assert band[0] >= 200 and band[2] <= 90, band
    assert close_to(pixel((out / "scroll.png").read_bytes(), (50.0, 30.0)), COLOUR)  # no notch up there
    bad = run_cli("heatmap", click_session.session_id, "--from", "teatime", "--output-dir",
                  str(click_session.directory), "--output", str(out / "x.png"))
    assert bad.returncode == 2 and "--from='teatime'" in bad.stderr
    missing = run_cli("heatmap", "nobody", "--output-dir", str(click_session.directory), "--output",
                      str(out / "x.png"))
    assert missing.returncode == 1 and "'nobody'" in missing.stderr and not (out / "x.png").exists()


def test_the_pdf_report_shows_the_click_heatmap(click_session: ClickSession, tmp_path: Path):
    from fastrec.export.run import export_session

    outcome = export_session(click_session.directory, click_session.session_id, "pdf", output_dir=tmp_path)
    pages = subprocess.run(["pdftoppm", "-png", "-r", "50", str(outcome.path), str(tmp_path / "page")],
                           capture_output=True, text=True, check=False, timeout=120)
    assert pages.returncode == 0 and pages.stderr == ""
    text = subprocess.run(["pdftotext", str(outcome.path), "-"], capture_output=True, text=True, check=True,
                          timeout=120).stdout
    assert "Click heatmap" in text and "6 click(s) at 2 point(s)" in text
    (tmp_path / "images").mkdir()
    subprocess.run(["pdfimages", "-png", str(outcome.path), str(tmp_path / "images" / "img")], check=True,
                   timeout=120)
    # among the pictures of the report: the heatmap, the window's blue with a red hot spot
    heat = [p for p in (tmp_path / "images").glob("img-*.png")
            if pixel(p.read_bytes(), HOT)[0] >= 200 and close_to(pixel(p.read_bytes(), (60.0, 50.0)), COLOUR)]
    assert len(heat) == 1
    rendered = np.asarray(Image.open(sorted(tmp_path.glob("page-*.png"))[-1]).convert("RGB"), dtype=np.int16)
    reds = (rendered[..., 0] > 200) & (rendered[..., 2] < 90)
    assert reds.any()  # the hot spot is on the rendered page


def test_the_admin_api_serves_the_png_the_numbers_and_the_events(click_session: ClickSession):
    from fastapi.testclient import TestClient

    from fastrec.server.app import create_app
    from fastrec.server.config import ServerSettings

    app = create_app(ServerSettings(recordings_dir=click_session.directory))
    with TestClient(app) as client:
        base = f"/api/recordings/{click_session.session_id}"
        assert client.get(f"{base}/heatmap").status_code == 401
        app.state.ctx.accounts.create_user("vera", "correct horse battery", "viewer")
        assert client.post("/api/auth/login", json={"username": "vera", "password": "correct horse battery"}
                           ).status_code == 200
        numbers = client.get(f"{base}/heatmap").json()
        assert numbers["clicks"] == {"total": 6, "points": 2, "max_per_point": 5, "average_per_point": 3.0,
                                     "hottest": [25.5, 25.5]}
        assert numbers["scroll"]["average_depth"] == 80.0 and len(numbers["scroll"]["buckets"]) == 20
        png = client.get(f"{base}/heatmap.png", params={"kind": "clicks"})
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert pixel(png.content, HOT)[0] >= 200
        assert client.get(f"{base}/heatmap.png", params={"from": "99999"}).status_code == 422
        assert client.get("/api/recordings/nobody/heatmap.png").status_code == 404
        events = client.get(f"{base}/events", params={"kind": "rage_click"}).json()
        assert [(e["kind"], e["x"], e["y"]) for e in events["events"]] == [("rage_click", 25.0, 25.0)]
        timeline = client.get(f"{base}/timeline").json()
        rage = [m for m in timeline["markers"] if m["kind"] == "rage_click"]
        assert len(rage) == 1 and abs(datetime.fromisoformat(rage[0]["wall"]).timestamp()
                                      - click_session.rage_moment.timestamp()) < 0.001
        assert any(m["kind"] == "window" and m["text"] == TITLE_AFTER for m in timeline["markers"])
