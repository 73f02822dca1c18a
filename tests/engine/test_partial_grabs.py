"""Partial grabs (issue 14) on a real X server: a frame built from the X DAMAGE rectangles
alone - grabbed as tile-aligned pieces, diffed into the previous frame, converted only where
tiles changed into a persistent I420 frame - is pixel for pixel the frame a fresh full grab
of the same screen converts to, while windows move, are resized and raised, and while a
privacy mask moves with its window.

Each step changes the screen, waits until it is stable (two full grabs agree: the window
manager and the Tk clients repaint asynchronously), ticks the loop, and compares what the
loop published with a fresh full grab converted and masked from scratch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from Xlib import X
from Xlib import display as xdisplay

from fastrec.capture import open_source
from fastrec.capture.base import Region
from fastrec.capture.grabber import ScreenGrabber
from fastrec.core.convert import BLACK_YUV, Scaler, i420_planes, i420_size, output_size
from fastrec.core.masks import MaskKind, MaskRegion
from fastrec.engine.capture_loop import CaptureConfig, CaptureLoop
from fastrec.engine.ring import FrameRing, RingReader
from fastrec.privacy.screen_rules import ScreenRules, WindowRule
from x11_windows import needs_x, wait_for

pytestmark = needs_x


class Painter:
    """Draws on the screen through its own X connection, over every window
    (IncludeInferiors), and waits until the server has done it."""

    def __init__(self, display: str) -> None:
        self.dpy = xdisplay.Display(display)
        root = self.dpy.screen().root
        self.root = root
        self.gcs = {c: root.create_gc(foreground=c, subwindow_mode=X.IncludeInferiors)
                    for c in (0xFF0000, 0x00FF00, 0x0000FF, 0xFFFFFF, 0x203040)}

    def box(self, x: int, y: int, w: int, h: int, colour: int) -> None:
        self.root.fill_rectangle(self.gcs[colour], x, y, w, h)
        self.dpy.sync()

    def client(self, x: int, y: int, w: int, h: int) -> Any:
        """A window of this client's own (override-redirect: placed as asked), mapped."""
        window = self.root.create_window(x, y, w, h, 0, self.dpy.screen().root_depth,
                                         background_pixel=0x404040, override_redirect=True)
        window.map()
        self.dpy.sync()
        return window

    def draw_in(self, window: Any, x: int, y: int, w: int, h: int, colour: int) -> None:
        """Draw into ``window`` itself (an application painting its own window)."""
        window.fill_rectangle(window.create_gc(foreground=colour), x, y, w, h)
        self.dpy.sync()

    def close(self) -> None:
        self.dpy.close()


class Check:
    """One loop under test, its ring's reader and an independent full grabber."""

    def __init__(self, loop: CaptureLoop, reader: RingReader, grabber: ScreenGrabber,
                 out: tuple[int, int]) -> None:
        self.loop, self.reader, self.grabber, self.out = loop, reader, grabber, out
        self.last: np.ndarray | None = None
        self.tick = 0.0
        self._seen: np.ndarray | None = None

    def _stable(self, region: Region) -> np.ndarray | None:
        """The screen, once two grabs one poll apart (20 ms) agree."""
        now = self.grabber.grab(region)
        seen, self._seen = self._seen, now
        return now if seen is not None and np.array_equal(seen, now) else None

    def newest(self) -> np.ndarray | None:
        """The newest frame published so far (earlier ones are read and dropped)."""
        while (slot := self.reader.read(timeout=0)) is not None:
            self.last = np.array(slot.data)
            slot.release()
        return self.last

    def step(self, what: str) -> dict[str, Any]:
        """Tick on a stable screen; the published frame (or the last one, when the loop
        found nothing changed) must equal a from-scratch conversion of a full grab.  A tick
        during which the screen still changed (a late repaint) is not judged: the loop
        sees that change as damage on the next tick, which is judged instead."""
        source = self.loop.source
        for _ in range(20):
            target = self.loop._private(source.locate())
            assert target is not None, what
            self._seen = None
            before = wait_for(lambda: self._stable(target.region), what=f"a stable screen ({what})")
            self.tick += 0.1
            self.loop.tick(self.tick)
            located = self.loop._last_target
            if (located is not None and located.region == target.region
                    and np.array_equal(before, self.grabber.grab(target.region))):
                break
        else:
            raise AssertionError(f"the screen never stayed still for a tick ({what})")
        # what the loop located (its window list may have moved on since ours: occlusion)
        target = located
        self.newest()
        assert self.last is not None, what
        w, h = self.out
        want = np.empty(i420_size(w, h), np.uint8)
        y, u, v = i420_planes(want, w, h)
        lay = self.loop._layout(target.region.width, target.region.height)
        for plane, value in zip((y, u, v), BLACK_YUV, strict=True):
            plane.fill(value)
        Scaler(target.region.width, target.region.height, lay.w, lay.h).convert(before, *lay.planes(y, u, v))
        self.loop._mask(target, y, u, v)
        bad = np.flatnonzero(self.last != want)
        assert bad.size == 0, f"{what}: {bad.size} bytes differ from a full grab, first at {bad[:5]}"
        return dict(partial=self.loop.stats.partial, published=self.loop.stats.published)


def _run_steps(display: str, mode: str, scale: float, rules: ScreenRules, steps: Any,
               masks: tuple[MaskRegion, ...] = ()) -> CaptureLoop:
    config = CaptureConfig("partial", mode=mode, display=display, scale=scale, tile_size=64,
                           settle_seconds=0.0, rules=rules, masks=masks)
    with open_source(mode, display) as source, ScreenGrabber(display) as grabber:
        first = wait_for(source.locate, what="a target")
        out = output_size(first.region.width, first.region.height, scale)
        with FrameRing(i420_size(*out), slots=2, policy="drop_oldest") as ring, \
                RingReader(ring.endpoint(0)) as reader:
            loop = CaptureLoop(config, source, ring, *out)
            steps(Check(loop, reader, grabber, out))
            return loop


@pytest.mark.parametrize("scale", [1.0, 0.5, 0.75])
def test_full_screen_partial_frames_equal_full_grabs(wm_display, spawn_window, scale):
    app = spawn_window(wm_display, "300x200+200+150", "#3050a0")
    other = spawn_window(wm_display, "240x160+600+300", "#a05030", title_prefix="secret-")
    rules = ScreenRules(1, windows=(WindowRule(titles=("secret-*",), kind=MaskKind.PIXELATE),))
    painter = Painter(wm_display.display)

    def steps(check: Check) -> None:
        check.step("first frame")
        # glyph-sized changes, on tile edges and at the screen's right and bottom edges
        painter.box(63, 63, 3, 3, 0xFF0000)
        painter.box(1275, 100, 5, 9, 0x00FF00)
        painter.box(500, 715, 9, 5, 0x0000FF)
        got = check.step("small changes")
        assert got["partial"] >= 1
        painter.box(130, 400, 400, 40, 0xFFFFFF)  # a band across several tiles
        check.step("a wider change")
        check.step("nothing changed")
        app.xdotool("windowmove", "260", "170", sync=True)
        check.step("a window moved")
        app.xdotool("windowsize", "380", "150", sync=True)
        check.step("a window resized")
        other.xdotool("windowmove", "220", "160", sync=True)  # over the first: a mask moved
        check.step("the masked window moved over the other")
        app.xdotool("windowactivate", sync=True)
        app.xdotool("windowraise")
        check.step("the other window raised above the masked one")
        painter.box(230, 180, 20, 10, 0x203040)  # drawn across the masked window
        check.step("a change under a mask")
        for i in range(5):
            painter.box(700 + 9 * i, 50, 8, 14, 0xFFFFFF)  # typing
            check.step(f"typed {i}")
        own = painter.client(900, 500, 200, 100)
        check.step("a window mapped")
        for i in range(3):  # damage from another client's drawing into its own window
            painter.draw_in(own, 10 + 12 * i, 40, 9, 15, 0x00FF00)
            check.step(f"typed {i} in an application's window")

    try:
        loop = _run_steps(wm_display.display, "full_screen", scale, rules, steps)
    finally:
        painter.close()
    assert loop.stats.partial >= 6  # the small changes went through partial grabs
    assert loop.stats.grabbed_pixels < loop.stats.grabbed * 1280 * 720 / 2


def test_window_source_partial_frames_equal_full_grabs(wm_display, spawn_window):
    rdp = spawn_window(wm_display, "400x300+100+100", "#305070", process_name="xfreerdp")
    cover = spawn_window(wm_display, "200x120+700+400", "#707030")
    painter = Painter(wm_display.display)
    masks = (MaskRegion(0, 0, 1280, 140, MaskKind.BLUR),)  # screen coordinates: the window's top

    def steps(check: Check) -> None:
        check.step("first frame")
        region = check.loop._last_target.region
        painter.box(region.x + 70, region.y + 10, 6, 12, 0xFFFFFF)
        check.step("typed in the window")
        painter.box(region.x + 130, region.y + 60, 6, 12, 0xFFFFFF)
        assert check.step("typed under no mask")["partial"] >= 1
        rdp.xdotool("windowmove", "300", "200", sync=True)
        check.step("the window moved")
        region = check.loop._last_target.region
        painter.box(region.x + 5, region.y + 5, 7, 7, 0xFF0000)
        check.step("typed after the move")
        cover.xdotool("windowmove", str(region.x + 200), str(region.y + 100), sync=True)
        check.step("another window covers part of it")
        painter.box(region.x + 30, region.y + 200, 9, 9, 0x00FF00)
        check.step("typed beside the cover")
        rdp.xdotool("windowsize", "360", "260", sync=True)
        check.step("the window resized (letterboxed)")
        region = check.loop._last_target.region
        painter.box(region.x + 300, region.y + 10, 9, 9, 0x0000FF)
        check.step("typed after the resize")
        rdp.xdotool("windowminimize", sync=True)
        wait_for(lambda: check.loop.source.locate() is None, what="the minimised window to pause")
        check.loop.tick(check.tick + 0.1)
        blank = check.newest()
        w, h = check.out
        assert blank is not None and (blank[: w * h] == BLACK_YUV[0]).all()  # a pause: one blank frame
        rdp.xdotool("windowactivate", sync=True)
        wait_for(lambda: check.loop.source.locate() is not None, what="the restored window")
        check.step("restored after a pause")
        painter.box(region.x + 40, region.y + 40, 9, 9, 0xFFFFFF)
        check.step("typed after the pause")

    try:
        loop = _run_steps(wm_display.display, "rdp_window", 1.0, ScreenRules(), steps, masks)
    finally:
        painter.close()
    assert loop.stats.partial >= 3


def test_an_idle_screen_is_not_ticked_at_the_frame_rate_and_a_drawing_still_makes_a_frame(wm_display):
    """Issue 14: an idle full-screen recording slept ten times a second to find nothing each
    time.  The loop now sleeps on the X server's next damage event (and wakes for the stats
    every second, and for "stop"); what is drawn is still captured at the next tick."""
    import threading
    from multiprocessing import Pipe

    from fastrec.engine.capture_loop import _run

    def until(kind: str) -> dict[str, Any]:
        while supervisor.poll(30):
            message = supervisor.recv()
            if message[0] == kind:
                return message[1]
        raise AssertionError(f"no {kind!r} message within 30 s")

    painter = Painter(wm_display.display)
    supervisor, control = Pipe()
    config = CaptureConfig("quiet", mode="full_screen", display=wm_display.display, fps=10, settle_seconds=0.0)
    try:
        with open_source("full_screen", wm_display.display) as source:
            first = wait_for(source.locate, what="the screen")
            out = output_size(first.region.width, first.region.height, 1.0)
            with FrameRing(i420_size(*out), slots=4, policy="drop_oldest") as ring:
                loop = CaptureLoop(config, source, ring, *out)
                thread = threading.Thread(target=_run, args=(loop, 10, control), daemon=True)
                thread.start()
                # idle from some stats message on: the next second's ticks were slept through
                # (counted as DAMAGE skips: the capture rate in the status stays 10 fps)
                for _ in range(20):
                    before = until("stats")
                    after = until("stats")
                    slept = after["slept_ticks"] - before["slept_ticks"]
                    if after["published"] == before["published"] and slept >= 5:
                        break
                else:
                    raise AssertionError(f"ticked at the frame rate on an idle screen: {before} -> {after}")
                assert after["ticks"] - before["ticks"] >= slept
                assert after["damage_skips"] - before["damage_skips"] >= slept
                painter.box(300, 200, 40, 20, 0xFF0000)
                wait_for(lambda: until("stats")["published"] > after["published"], what="a frame of the drawing")
                supervisor.send("stop")
                thread.join(30)
                assert not thread.is_alive()
    finally:
        painter.close()
