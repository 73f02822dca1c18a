"""Search, event markers and heatmaps in a real chromium, over the recorded window session
of tests/clicks_session.py (clicks, a title change, a rage click): a search hit opens the
replay at its moment, the rage click's marker on the timeline seeks there, and the
recording's page shows the heatmap and its numbers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from browser_harness import RunningServer, create_users, run_server, sign_in
from clicks_session import TITLE_AFTER, ClickSession
from playwright.sync_api import expect
from x11_windows import needs_x

pytestmark = [pytest.mark.browser, needs_x]

READY = "() => document.getElementById('player')?.dataset.ready === '1'"
# the player never starts playing by itself: the moment it opens at stays on screen, however
# slow the machine (a user presses play; here nothing does)
NO_AUTOPLAY = "HTMLMediaElement.prototype.play = function () { return Promise.resolve(); };"


@pytest.fixture(scope="module")
def heat_server(click_session: ClickSession) -> Iterator[RunningServer]:
    create_users(click_session.directory)
    with run_server(click_session.directory) as server:
        yield server


def paused_page(new_page):  # type: ignore[no-untyped-def]
    page = new_page()
    page.add_init_script(NO_AUTOPLAY)
    return page


def shown_ms(page) -> int:
    """The wall-clock time (epoch ms) of the frame the player shows, once it has settled
    (the frame decoded, no seek under way)."""
    page.wait_for_function(READY)
    page.wait_for_function("() => { const v = document.getElementById('video');"
                           " return v.paused && !v.seeking && v.readyState >= 2; }")
    return int(page.get_attribute("#wall-clock", "data-epoch-ms"))


def test_a_search_hit_opens_the_replay_at_the_moment_the_title_was_shown(heat_server, click_session, new_page):
    page = paused_page(new_page)
    sign_in(page, heat_server.url, "viewer", "/search")
    page.fill("#search-title", "invoice")
    page.click("#search-form button[type=submit]")
    rows = page.locator("#search-hits tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(TITLE_AFTER)
    moment = datetime.fromisoformat(rows.first.get_attribute("data-moment"))
    assert abs((moment - click_session.title_moment).total_seconds()) < 0.5
    assert "title=invoice" in page.url  # the filters are in the URL: back and links work
    rows.first.locator("a.open-hit").click()
    page.wait_for_url(f"{heat_server.url}/replay/{click_session.session_id}?t=*")
    assert abs(shown_ms(page) - moment.timestamp() * 1000) < 2  # the player's clock shows whole ms


def test_the_rage_click_marker_seeks_to_the_burst(heat_server, click_session, new_page):
    page = paused_page(new_page)
    sign_in(page, heat_server.url, "aud", f"/replay/{click_session.session_id}")
    start = shown_ms(page)
    marker = page.locator(".tl-marks .mark.rage_click")
    expect(marker).to_have_count(1)
    expect(page.locator(".tl-marks .mark.window")).to_have_count(2)  # the two titles
    page.evaluate("() => { window.__seeked = false; document.getElementById('video')"
                  ".addEventListener('seeked', () => { window.__seeked = true; }, { once: true }); }")
    marker.click()
    page.wait_for_function("() => window.__seeked")
    assert abs(shown_ms(page) - click_session.rage_moment.timestamp() * 1000) < 2
    assert start < click_session.rage_moment.timestamp() * 1000 - 1000  # it moved there


def test_the_recording_page_shows_the_heatmap_and_its_numbers(heat_server, click_session, new_page):
    page = new_page()
    sign_in(page, heat_server.url, "viewer", f"/recordings/{click_session.session_id}")
    expect(page.locator("#heatmap-clicks")).to_have_text("6")
    expect(page.locator("#heatmap-max")).to_have_text("5")
    image = page.locator("#heatmap-image")
    expect(image).to_have_attribute("data-state", "loaded")
    assert page.evaluate("() => document.getElementById('heatmap-image').naturalWidth") == 400
    page.click(".heatmap-panel button[data-kind=scroll]")
    expect(page.locator("#heatmap-image")).to_have_attribute("src", f"/api/recordings/{click_session.session_id}"
                                                                    "/heatmap.png?kind=scroll")
    expect(page.locator("#heatmap-image")).to_have_attribute("data-state", "loaded")
