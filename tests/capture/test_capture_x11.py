"""Window sources on a real X server: Xvfb + openbox, Tk windows from named processes."""

from __future__ import annotations

import numpy as np
import pytest
from x11_windows import mask_occluded, needs_x, share_of, wait_for

from fastrec.capture import CaptureError, Region, open_source
from fastrec.capture.x11 import ActiveWindowSource, RdpWindowSource, X11Backend

pytestmark = needs_x

RDP, OTHER, THIRD = "#d02020", "#2040e0", "#20a040"


def client_region(display, window) -> Region:
    """The window's content area as the backend reads it (cross-checked with xwininfo
    in test_backend_geometry_agrees_with_xwininfo)."""
    with_backend = X11Backend(display.display)
    with_backend.open()
    try:
        return next(w.geometry for w in with_backend.windows() if w.id == window.id)
    finally:
        with_backend.close()


def grab_until(source, target, colour: str, share: float = 1.0) -> np.ndarray:
    """Grab until at least ``share`` of the frame has ``colour`` (Tk paints after mapping)."""
    def attempt():
        frame = source.grab(target)
        return frame if share_of(frame, colour) >= share else None
    return wait_for(attempt, what=f"{share:.0%} of the frame in {colour}")


def test_backend_geometry_agrees_with_xwininfo(wm_display, spawn_window):
    import subprocess

    window = spawn_window(wm_display, "300x200+100+80", RDP, process_name="xfreerdp")
    out = subprocess.run(["xwininfo", "-id", str(window.id)], env=wm_display.env,
                         capture_output=True, text=True, timeout=10, check=True).stdout
    info = dict(line.strip().split(":", 1) for line in out.splitlines() if ":" in line)
    expected = Region(int(info["Absolute upper-left X"]), int(info["Absolute upper-left Y"]),
                      int(info["Width"]), int(info["Height"]))
    backend = X11Backend(wm_display.display)
    backend.open()
    try:
        listed = {w.id: w for w in backend.windows()}
    finally:
        backend.close()
    mine = listed[window.id]
    assert mine.geometry == expected
    assert mine.process_name == "xfreerdp" and mine.pid == window.pid  # via X-Resource
    assert mine.title == window.title and mine.visible and mine.managed
    assert mine.frame.contains(mine.geometry) and mine.frame != mine.geometry  # decorations


def test_rdp_window_follows_moves_and_resizes(wm_display, spawn_window):
    rdp = spawn_window(wm_display, "400x300+100+100", RDP, process_name="xfreerdp")
    with RdpWindowSource(wm_display.display) as source:
        target = wait_for(source.locate, what="the rdp window")
        assert target.window_id == rdp.id and target.title == rdp.title
        assert target.region == client_region(wm_display, rdp) and target.region.size == (400, 300)
        assert "xfreerdp" in target.reason
        frame = grab_until(source, target, RDP)
        assert frame.shape == (300, 400, 4)

        rdp.xdotool("windowmove", "500", "250", sync=True)
        moved = wait_for(lambda: (t := source.locate()) and t.region.x > 450 and t, what="the move")
        assert moved.region.size == (400, 300)
        rdp.xdotool("windowsize", "520", "260", sync=True)
        resized = wait_for(lambda: (t := source.locate()) and t.region.size == (520, 260) and t,
                           what="the resize")
        assert resized.region == client_region(wm_display, rdp)
        frame = grab_until(source, resized, RDP)
        assert frame.shape == (260, 520, 4)


def test_rdp_window_pauses_while_minimised_and_never_falls_back(wm_display, spawn_window):
    rdp = spawn_window(wm_display, "400x300+100+100", RDP, process_name="xfreerdp")
    spawn_window(wm_display, "300x200+700+300", OTHER)  # an unrelated application
    with open_source("rdp_window", wm_display.display) as source:
        wait_for(source.locate, what="the rdp window")
        rdp.xdotool("windowminimize", sync=True)
        wait_for(lambda: source.locate() is None, what="a pause while minimised")
        assert "minimised" in source.pause_reason
        assert source.window_id == rdp.id  # still the same window, paused
        rdp.xdotool("windowactivate")
        back = wait_for(source.locate, what="the restored window")
        assert back.window_id == rdp.id


def test_rdp_window_gone_with_its_process(wm_display, spawn_window):
    rdp = spawn_window(wm_display, "400x300+100+100", RDP, process_name="xfreerdp")
    spawn_window(wm_display, "300x200+700+300", OTHER)
    with RdpWindowSource(wm_display.display) as source:
        wait_for(source.locate, what="the rdp window")
        rdp.stop()
        wait_for(lambda: source.locate() is None, what="a pause after the client exited")
        assert source.pause_reason == "no rdp window"


def test_no_rdp_client_means_no_target(wm_display, spawn_window):
    spawn_window(wm_display, "300x200+100+100", OTHER, process_name="firefox")
    with RdpWindowSource(wm_display.display) as source:
        assert source.locate() is None and source.pause_reason == "no rdp window"


def test_other_window_on_top_is_reported_and_blanked(wm_display, spawn_window):
    rdp = spawn_window(wm_display, "500x400+100+100", RDP, process_name="xfreerdp")
    other = spawn_window(wm_display, "200x150+400+300", OTHER)  # new windows go on top
    with RdpWindowSource(wm_display.display) as source:
        target = wait_for(lambda: (t := source.locate()) and t.occluded and t,
                          what="the occluded part")
        assert target.window_id == rdp.id
        region = target.region
        other_content = client_region(wm_display, other)
        expected = other_content.intersection(region).relative_to(region)
        # the other window's frame (title bar, borders) is blanked too
        (part,) = target.occluded
        assert part.contains(expected) and part != expected

        frame = grab_until(source, target, OTHER, share=0.01)  # blue drawn over red
        mask_occluded(frame, target)
        assert share_of(frame, OTHER) == 0, "another application's pixels left unblanked"
        visible = np.ones(frame.shape[:2], bool)
        visible[part.y : part.bottom, part.x : part.right] = False
        assert share_of(frame[visible], RDP) == 1.0


def test_override_redirect_popup_on_top_is_reported(wm_display, spawn_window):
    # menus and tooltips are in no window manager's client list, but cover windows all the same
    spawn_window(wm_display, "500x400+100+100", RDP, process_name="xfreerdp")
    spawn_window(wm_display, "120x80+300+250", THIRD, popup=True)
    with RdpWindowSource(wm_display.display) as source:
        popup = Region(300, 250, 120, 80)  # no window manager moves a popup
        target = wait_for(lambda: (t := source.locate()) and t.occluded and t,
                          what="the popup reported as occluded")
        expected = (popup.relative_to(target.region),)
        # Tk may map the popup before it applies the geometry: wait for where it settles
        target = wait_for(lambda: (t := source.locate()) and t.occluded == expected and t,
                          what=f"the popup at {popup}, last {target.occluded}")
        frame = grab_until(source, target, THIRD, share=0.01)
        assert share_of(mask_occluded(frame, target), THIRD) == 0


def test_fully_covered_window_pauses(wm_display, spawn_window):
    spawn_window(wm_display, "300x200+200+200", RDP, process_name="xfreerdp")
    cover = spawn_window(wm_display, "100x100+800+100", OTHER)
    with RdpWindowSource(wm_display.display) as source:
        wait_for(source.locate, what="the rdp window")
        cover.xdotool("windowmove", "100", "100", sync=True)
        cover.xdotool("windowsize", "700", "500", sync=True)
        wait_for(lambda: source.locate() is None, what="a pause when fully covered")
        assert "fully covered" in source.pause_reason
        cover.xdotool("windowmove", "900", "100", sync=True)
        wait_for(source.locate, what="the window uncovered")


def test_resizing_while_recording_never_crashes(wm_display, spawn_window):
    rdp = spawn_window(wm_display, "400x300+100+100", RDP, process_name="xfreerdp")
    with RdpWindowSource(wm_display.display) as source:
        sizes = set()
        for width, height in [(200, 150), (640, 480), (33, 17), (400, 300)]:
            rdp.xdotool("windowsize", str(width), str(height))
            for _ in range(5):
                target = source.locate()
                if target is not None:
                    frame = source.grab(target)
                    assert frame.shape == (target.region.height, target.region.width, 4)
                    sizes.add(target.region.size)
        wait_for(lambda: (t := source.locate()) and t.region.size == (400, 300), what="final size")
        assert len(sizes) >= 2


def test_active_window_follows_the_focus(wm_display, spawn_window):
    first = spawn_window(wm_display, "300x200+50+50", RDP)
    second = spawn_window(wm_display, "250x180+600+300", OTHER)
    with open_source("active_window", wm_display.display) as source:
        for window, size in [(first, (300, 200)), (second, (250, 180)), (first, (300, 200))]:
            window.xdotool("windowactivate")
            target = wait_for(lambda w=window: (t := source.locate()) and t.window_id == w.id and t,
                              what=f"focus on {window.title}")
            assert target.region.size == size and target.title == window.title
            assert target.occluded == ()  # the focused window is on top


def test_window_damage_is_limited_to_the_window(wm_display, spawn_window):
    rdp = spawn_window(wm_display, "300x200+50+50", RDP, process_name="xfreerdp")
    elsewhere = spawn_window(wm_display, "100x100+900+400", OTHER)
    with RdpWindowSource(wm_display.display) as source:
        wait_for(source.locate, what="the rdp window")
        wait_for(lambda: source.damaged() is False, what="no damage on an idle window")
        elsewhere.xdotool("windowmove", "950", "450", sync=True)  # damage outside the window
        for _ in range(5):
            assert source.damaged() is False
            source.locate()
        rdp.xdotool("windowmove", "60", "60", sync=True)  # redrawn where it now is
        source.locate()
        wait_for(lambda: source.damaged() is True, what="damage inside the moved window")


def test_window_source_needs_a_display():
    with pytest.raises(CaptureError, match="no X display: pass display=':N' or set DISPLAY"):
        RdpWindowSource(None).open()
    with pytest.raises(ValueError, match="display must be an X display name like ':1'"):
        ActiveWindowSource("nonsense")
