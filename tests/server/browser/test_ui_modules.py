"""The UI's pure logic, run in chromium by importing its ES modules: the reconnection
delays (exponential backoff with full jitter) and the timeline's wall-clock mapping."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture
def module_page(ui_server, new_page):
    page = new_page()
    page.goto(f"{ui_server.url}/login")
    return page


def test_backoff_is_exponential_with_full_jitter_up_to_the_maximum(module_page):
    result = module_page.evaluate("""async () => {
        const { backoffDelay } = await import('/static/ui/backoff.js');
        const top = [...Array(8).keys()].map((a) => backoffDelay(a, 1000, 30000, () => 0.999999));
        const bottom = [...Array(8).keys()].map((a) => backoffDelay(a, 1000, 30000, () => 0));
        const samples = [...Array(2000).keys()].map(() => backoffDelay(3, 1000, 30000));
        return { top, bottom, min: Math.min(...samples), max: Math.max(...samples),
                 mean: samples.reduce((a, b) => a + b, 0) / samples.length, huge: backoffDelay(500, 1000, 30000, () => 0.5) };
    }""")
    assert result["top"] == [999, 1999, 3999, 7999, 15999, 29999, 29999, 29999]  # base * 2^attempt, capped
    assert result["bottom"] == [0] * 8  # full jitter: anything from 0
    assert 0 <= result["min"] < 400 and 7600 < result["max"] < 8000  # uniform over [0, 8 s)
    assert 3600 < result["mean"] < 4400
    assert result["huge"] == 15000  # no overflow for a large attempt number


def test_timeline_maps_seconds_to_wall_clock_and_back(module_page):
    result = module_page.evaluate("""async () => {
        const { wallAt, timeAtWall, idleEntered } = await import('/static/ui/timeline.js');
        // two parts with 60 s of wall time between them (a session stopped and started again)
        const timeline = { duration: 20, live: false, idle: [{ start: 12, end: 16 }], parts: [
            { part: 1, offset: 0, duration: 10, wall_start: '2026-01-12T10:00:00Z' },
            { part: 2, offset: 10, duration: 10, wall_start: '2026-01-12T10:01:10Z' } ] };
        const iso = (t) => new Date(wallAt(timeline, t)).toISOString();
        const at = (s) => timeAtWall(timeline, Date.parse(s));
        return { walls: [iso(0), iso(4.5), iso(10), iso(13.25), iso(25)],
                 times: [at('2026-01-12T10:00:04.500Z'), at('2026-01-12T10:00:30Z'), at('2026-01-12T10:01:13.250Z'),
                         at('2026-01-12T09:00:00Z'), at('2026-01-12T11:00:00Z')],
                 idle: [idleEntered(timeline, 11.9, 12.1), idleEntered(timeline, 13, 13.2), idleEntered(timeline, 15.8, 15.9)] };
    }""")
    assert result["walls"] == ["2026-01-12T10:00:00.000Z", "2026-01-12T10:00:04.500Z", "2026-01-12T10:01:10.000Z",
                               "2026-01-12T10:01:13.250Z", "2026-01-12T10:01:20.000Z"]
    # a moment in the gap between parts opens the next part; before / after: the ends
    assert result["times"] == [4.5, 10, 13.25, 0, 20]
    # playback entering a stretch skips it; being inside one already (a seek) does not
    assert result["idle"] == [{"start": 12, "end": 16}, None, None]
