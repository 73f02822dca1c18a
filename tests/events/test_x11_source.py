"""The X RECORD input source on a private Xvfb: it touches X only on its own thread (issue 14:
python-xlib's import and its two connections run beside the session's first frame), a close
right after the start still ends that thread, and a display that refuses it is a warning,
not an error of the recording."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from polling import wait_until
from structlog.testing import capture_logs

from fastrec.demo.display import VirtualDisplay
from fastrec.events.source import RawClick, RawInput
from fastrec.events.x11 import X11RecordSource

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="X11 only")


def test_nothing_of_x_is_opened_before_start_and_a_close_at_once_ends_the_thread(bare_display: VirtualDisplay) -> None:
    for _ in range(5):  # the close lands at different points of the thread's connecting
        source = X11RecordSource(bare_display.display)
        assert source._control is None and source._data is None  # nothing before start()
        source.start(lambda raw: None)
        source.close()
        assert source._thread is not None and not source._thread.is_alive()
        assert source._control is None and source._data is None
    assert not [t for t in threading.enumerate() if t.name.startswith("fastrec-input-")]


def test_clicks_reach_the_sink_once_the_thread_has_connected(bare_display: VirtualDisplay) -> None:
    seen: list[RawInput] = []
    source = X11RecordSource(bare_display.display)
    source.start(seen.append)
    try:
        def clicked() -> bool:  # a click before the context is enabled is not seen: click again
            subprocess.run(["xdotool", "mousemove", "30", "40", "click", "1"], env=bare_display.env,
                           check=True, timeout=10, capture_output=True)
            return any(isinstance(raw, RawClick) for raw in seen)

        assert wait_until(clicked, timeout=20, step=0.2), "no click reached the sink"
        click = next(raw for raw in seen if isinstance(raw, RawClick))
        assert (click.x, click.y) == (30, 40)
    finally:
        source.close()
    assert not source._thread.is_alive()  # type: ignore[union-attr]


def test_a_display_that_refuses_the_connection_is_a_warning_and_the_source_closes() -> None:
    source = X11RecordSource(":9876")  # no server there
    with capture_logs() as logs:
        source.start(lambda raw: None)
        assert wait_until(lambda: not source._thread.is_alive(), timeout=20)  # type: ignore[union-attr]
    assert any(e["event"] == "X input events are not recorded" and "cannot connect" in e["reason"]
               for e in logs), logs
    assert source.active_window() is None
    source.close()


def test_the_active_window_costs_no_x_request_until_the_server_says_it_changed(wm_display, spawn_window) -> None:
    # Issue 14: the session's ticker asks for the active window four times a second; on an
    # idle desktop that was three X round trips each time
    first = spawn_window(wm_display, "300x200+50+60", "#2040e0")
    second = spawn_window(wm_display, "200x100+600+400", "#e02020")
    source = X11RecordSource(wm_display.display)
    source.start(lambda raw: None)
    try:
        first.xdotool("windowactivate", sync=True)
        assert wait_until(lambda: (a := source.active_window()) is not None and a[2:] == (300, 200), timeout=20)

        def requests_made() -> int:
            sent = source._control.display.request_serial
            source.active_window()
            return source._control.display.request_serial - sent

        assert wait_until(lambda: requests_made() == 0, timeout=20)  # the window manager's own events settled
        assert sum(requests_made() for _ in range(20)) == 0
        second.xdotool("windowactivate", sync=True)
        assert wait_until(lambda: (a := source.active_window()) is not None and a[2:] == (200, 100), timeout=20)
        before = source.active_window()
        assert before is not None
        second.xdotool("windowmove", "700", "450", sync=True)
        assert wait_until(lambda: (a := source.active_window()) is not None and a[0] == before[0] + 100
                          and a[1] == before[1] + 50, timeout=20), (before, source.active_window())
    finally:
        source.close()
