"""The replay in a real chromium: one timeline over a multi-part session.  The recording
is the "clock" scenario, so the pixels the <video> shows name the wall-clock second they
were captured at; seeking anywhere, across part boundaries, must show the frame of the
wall-clock time the player displays."""

from __future__ import annotations

import math
import re

import pytest
from browser_harness import CLOCK, CLOCK_PARTS, TYPING, shown_clock, sign_in
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

READY = "() => document.getElementById('player')?.dataset.ready === '1'"


def _open_paused(page, url: str, path: str) -> dict:
    sign_in(page, url, "aud", path)
    page.wait_for_function(READY)
    if not page.evaluate("() => document.getElementById('video').paused"):
        page.click("#play")
    page.wait_for_function("() => document.getElementById('video').paused")
    return page.evaluate(f"() => fetch('/api/recordings/{CLOCK}/timeline').then(r => r.json())")


def _seek_by_clicking(page, t: float) -> None:
    """Click the timeline bar where timeline second ``t`` is; returns once the video has seeked."""
    box = page.locator("#timeline-bar").bounding_box()
    duration = float(page.get_attribute("#player", "data-duration"))
    page.evaluate("() => { window.__seeked = false; document.getElementById('video')"
                  ".addEventListener('seeked', () => { window.__seeked = true; }, { once: true }); }")
    page.mouse.click(box["x"] + box["width"] * t / duration, box["y"] + box["height"] / 2)
    page.wait_for_function("() => window.__seeked && !document.getElementById('video').seeking")


def _mid_second(part: dict) -> float:
    """A timeline second inside ``part`` whose wall-clock time is half-way through a second
    (so the second the frame shows is unambiguous)."""
    from datetime import datetime

    wall_start = datetime.fromisoformat(part["wall_start"]).timestamp()
    target = math.floor(wall_start) + 0.5
    while target < wall_start + 0.1:
        target += 1
    t = part["offset"] + (target - wall_start)
    assert t < part["offset"] + part["duration"] - 0.1, part
    return t


def _long_parts(timeline: dict) -> list[dict]:
    """The parts with room for a moment half-way through a wall-clock second."""
    return [p for p in timeline["parts"] if p["duration"] >= 1.2]


def test_seeking_across_part_boundaries_shows_the_frame_of_the_wall_clock_shown(ui_server, new_page):
    page = new_page()
    timeline = _open_paused(page, ui_server.url, f"/replay/{CLOCK}")
    parts = _long_parts(timeline)
    assert len(parts) >= CLOCK_PARTS - 1, timeline["parts"]
    # one bar for the whole session: its end is the session's duration, not a part's
    assert float(page.get_attribute("#player", "data-duration")) == pytest.approx(timeline["duration"], abs=0.5)
    seen = []
    order = [0, 2, 1, 3][:len(parts)]  # forward and back across part boundaries
    for index in order:
        _seek_by_clicking(page, _mid_second(parts[index]))
        wall_ms = int(page.get_attribute("#wall-clock", "data-epoch-ms"))
        second = shown_clock(page)
        assert second is not None, "the video shows no clock frame"
        assert second == math.floor(wall_ms / 1000), (index, wall_ms, second)
        seen.append(second)
    assert len(set(seen)) == len(order)  # moments in different parts, each where the player said it was


def test_speed_and_ten_second_steps(ui_server, new_page):
    page = new_page()
    _open_paused(page, ui_server.url, f"/replay/{CLOCK}")
    for speed in ("2", "8", "0.5", "4"):
        page.click(f".speeds button[data-speed='{speed}']")
        assert page.evaluate("() => document.getElementById('video').playbackRate") == float(speed)
        expect(page.locator(f".speeds button[data-speed='{speed}']")).to_have_attribute("aria-pressed", "true")
    # the speed holds across a seek over a part boundary and while playing
    _seek_by_clicking(page, 0.5)
    page.click("#fwd10")  # past the end of an 8 s session: the last moment
    page.wait_for_function("() => Number(document.getElementById('player').dataset.t) > 5")
    page.click("#back10")
    page.wait_for_function("() => Number(document.getElementById('player').dataset.t) < 0.5")
    page.click("#play")
    page.wait_for_function("() => Number(document.getElementById('player').dataset.t) > 2.5")
    assert page.evaluate("() => document.getElementById('video').playbackRate") == 4.0


def test_a_link_at_a_moment_opens_the_replay_there(ui_server, new_page):
    page = new_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=ui_server.url)
    timeline = _open_paused(page, ui_server.url, f"/replay/{CLOCK}")
    _seek_by_clicking(page, _mid_second(_long_parts(timeline)[2]))
    wall_ms = int(page.get_attribute("#wall-clock", "data-epoch-ms"))
    page.click("#copy-link")
    expect(page.locator(".toast")).to_contain_text("copied")
    link = page.evaluate("() => navigator.clipboard.readText()")
    assert link.startswith(f"{ui_server.url}/replay/{CLOCK}?t=")

    other = new_page()
    # this browser refuses autoplay (the player then waits on its play button), so the
    # moment it opened at is still there to read - not moved on by however long a loaded
    # machine takes between the player being ready and the test looking (CI: 448 ms once)
    other.add_init_script("HTMLMediaElement.prototype.play = function () { return Promise.resolve(); };")
    sign_in(other, ui_server.url, "viewer", "/recordings")
    other.goto(link)
    other.wait_for_function(READY)
    other.wait_for_function("() => !document.getElementById('video').seeking")
    assert other.evaluate("() => document.getElementById('video').paused")
    opened_ms = int(other.get_attribute("#wall-clock", "data-epoch-ms"))
    assert abs(opened_ms - wall_ms) < 300
    assert shown_clock(other) == math.floor(wall_ms / 1000)


def test_a_bookmark_becomes_a_marker_for_the_next_viewer(ui_server, new_page):
    page = new_page()
    timeline = _open_paused(page, ui_server.url, f"/replay/{CLOCK}")
    _seek_by_clicking(page, _mid_second(_long_parts(timeline)[1]))
    page.click("#add-bookmark")
    page.fill("#bookmark-note", "the user opens the payroll file")
    page.click("dialog button[type=submit]")
    expect(page.locator(".toast")).to_contain_text("Bookmark added")
    other = new_page()
    sign_in(other, ui_server.url, "viewer", f"/replay/{CLOCK}")
    marker = other.locator(".mark.bookmark")
    expect(marker).to_have_count(1)
    expect(marker).to_have_attribute("title", re.compile("the user opens the payroll file"))


def test_idle_stretches_are_skipped_unless_the_toggle_is_off(ui_server, new_page):
    page = new_page()
    sign_in(page, ui_server.url, "aud", f"/replay/{TYPING}")
    page.wait_for_function(READY)
    timeline = page.evaluate(f"() => fetch('/api/recordings/{TYPING}/timeline').then(r => r.json())")
    assert timeline["idle"], "the typist's pauses should be idle stretches"
    stretch = timeline["idle"][0]
    expect(page.locator(".tl-idle .idle")).to_have_count(len(timeline["idle"]))
    assert page.is_checked("#skip-idle")  # on by default

    if not page.evaluate("() => document.getElementById('video').paused"):
        page.click("#play")
    _seek_by_clicking(page, max(0.0, stretch["start"] - 0.5))
    page.click("#play")
    page.wait_for_function("() => document.getElementById('player').dataset.skips === '1'")
    assert float(page.get_attribute("#player", "data-t")) >= stretch["end"] - 0.05
    expect(page.locator(".toast")).to_contain_text("with no change")

    # toggled off: playback goes through the stretch
    page.click("#play")
    page.uncheck("#skip-idle")
    _seek_by_clicking(page, max(0.0, stretch["start"] - 0.3))
    page.click("#play")
    middle = (stretch["start"] + stretch["end"]) / 2
    page.wait_for_function(f"() => Number(document.getElementById('player').dataset.t) > {middle}")
    assert float(page.get_attribute("#player", "data-t")) < stretch["end"]
    assert page.get_attribute("#player", "data-skips") == "1"
