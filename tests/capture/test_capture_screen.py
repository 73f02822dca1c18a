"""Full-screen capture on a real X server (Xvfb): shape, content, monitors, DAMAGE."""

from __future__ import annotations

import pytest
from x11_windows import bgr, needs_x, share_of, wait_for

from fastrec.capture import CaptureError, FullScreenSource, Region, Target, open_source

pytestmark = needs_x


def test_full_screen_grab_shows_a_window_where_it_is(bare_display, spawn_window):
    # no window manager: the window sits exactly at +200+150
    spawn_window(bare_display, "320x240+200+150", "#ff8000")
    with open_source("full_screen", bare_display.display) as source:
        target = source.locate()
        assert target.region == Region(0, 0, 1280, 720) and target.occluded == ()
        assert target.window_id is None

        def painted():
            frame = source.grab(target)
            return frame if share_of(frame[150:390, 200:520], "#ff8000") == 1.0 else None

        frame = wait_for(painted, what="the orange window on the screen grab")
        assert frame.shape == (720, 1280, 4) and frame.dtype.name == "uint8"
        assert tuple(frame[150, 200, :3]) == bgr("#ff8000")  # BGRA order
        assert share_of(frame[:150], "#ff8000") == 0 and share_of(frame[390:], "#ff8000") == 0
        assert share_of(frame[:, :200], "#ff8000") == 0 and share_of(frame[:, 520:], "#ff8000") == 0
        # the array is the caller's: a second grab does not overwrite it
        frame[:] = 7
        assert share_of(source.grab(target)[150:390, 200:520], "#ff8000") == 1.0


def test_one_monitor_and_the_monitor_list(bare_display):
    with FullScreenSource(bare_display.display, monitor=1) as source:
        assert source.locate().region == Region(0, 0, 1280, 720)
        assert source.monitors == [Region(0, 0, 1280, 720)] * 2


def test_a_missing_monitor_is_a_clear_error(bare_display):
    source = FullScreenSource(bare_display.display, monitor=3)
    with pytest.raises(ValueError) as err:
        source.open()
    assert str(err.value) == (
        f"FullScreenSource.monitor=3 does not exist on display {bare_display.display}; "
        "available monitors: 0 (all monitors, 1280x720+0+0), 1 (1280x720+0+0)"
    )
    assert not source.is_open


@pytest.mark.parametrize("monitor", [-1, 1.0, True, "1"])
def test_the_monitor_must_be_a_non_negative_integer(monitor):
    with pytest.raises((TypeError, ValueError), match=r"FullScreenSource.monitor \(0 = all monitors\) must be (an integer|>= 0)"):
        FullScreenSource(":0", monitor=monitor)


def test_grab_refuses_a_region_off_the_screen(bare_display):
    with (FullScreenSource(bare_display.display) as source,
          pytest.raises(CaptureError, match="is not inside the screen 1280x720")):
        source.grab(Target(Region(1200, 700, 100, 100)))


def test_an_unreachable_display_is_a_clear_error():
    with pytest.raises(CaptureError, match="cannot open the screen :4242"):
        FullScreenSource(":4242").open()


def test_no_display_means_an_error_not_the_developers_screen():
    # tests/conftest.py unsets DISPLAY; a source without a display must refuse to start
    with pytest.raises(CaptureError, match=r"cannot open the screen \$DISPLAY"):
        FullScreenSource(None).open()


def test_use_without_with_is_refused():
    with pytest.raises(CaptureError, match="FullScreenSource is not open: use it in a `with` block"):
        FullScreenSource(":0").locate()


def test_damage_tells_an_idle_screen_from_a_changing_one(bare_display, spawn_window):
    window = spawn_window(bare_display, "100x100+10+10", "#00ff00")
    with FullScreenSource(bare_display.display) as source:
        assert source.damaged() is True  # nothing is known about the time before
        wait_for(lambda: source.damaged() is False, what="an idle screen")
        window.xdotool("windowmove", "400", "300")
        wait_for(lambda: source.damaged() is True, what="damage after a window moved")
        wait_for(lambda: source.damaged() is False, what="idle again")


def test_an_idle_screen_sends_no_x_request_and_drawing_is_still_seen(bare_display, spawn_window):
    """Partial grabs ask DAMAGE where the screen changed every tick.  On an idle screen that
    costs no request at all (the server's damage events say when to ask again); what is drawn
    next is still reported, each rectangle in full (issue 14: idle CPU)."""
    window = spawn_window(bare_display, "100x100+10+10", "#00ff00")
    with FullScreenSource(bare_display.display) as source:
        source.locate()
        assert source.damage() is None  # the first answer: unknown, grab everything
        wait_for(lambda: source.damage() == [], what="an idle screen")
        wait_for(lambda: source.damage() == [], what="an idle screen after a fetch with no event")
        connection = source._damage._dpy.display  # the DAMAGE connection: its request counter
        sent = connection.request_serial
        for _ in range(20):
            assert source.damage() == []
        assert connection.request_serial == sent, "an idle tick sent X requests"
        window.xdotool("windowmove", "400", "300", sync=True)
        seen: list[Region] = []
        wait_for(lambda: seen.extend(source.damage() or []) or any(
            r.x <= 400 and r.y <= 300 and r.right >= 500 and r.bottom >= 400 for r in _merged(seen)),
            what="the moved window's new place in the damage")


def _merged(rects: list[Region]) -> list[Region]:
    """The bounding box of all rectangles (enough to say a window's whole area was reported)."""
    if not rects:
        return []
    x0, y0 = min(r.x for r in rects), min(r.y for r in rects)
    return [Region(x0, y0, max(r.right for r in rects) - x0, max(r.bottom for r in rects) - y0)]
