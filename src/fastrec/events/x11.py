"""Input on X11 through the RECORD extension (python-xlib): every client's key and button
presses as the X server delivers them, with the server's timestamps.

Two connections: RECORD's data connection blocks in ``record_enable_context`` on the
source's thread, handing each intercepted batch to :meth:`X11RecordSource._on_record`;
the control connection creates and disables the context (that is what ends the blocking
call) and answers :meth:`active_window` (``_NET_ACTIVE_WINDOW``, under a lock: an Xlib
connection is not thread-safe).  The answer is kept until the X server says it may have
changed - the root's ``_NET_ACTIVE_WINDOW`` property (PropertyNotify) or the active window's
place or size (ConfigureNotify: window managers send one on every move) - or
``ACTIVE_REFRESH_SECONDS`` have passed (a safety net): asked four times a second, an
unchanged answer costs no round trip (three, before: an idle recording's 0.15 CPU-s a
minute).  Only ButtonPress and KeyPress are taken; a KeyPress's
key code (``detail``) is read by nobody and dropped here: only the fact of a key press
leaves this module.  Pointer-generated events from XTEST (xdotool) are device events like
any other, so the tests drive this with xdotool.

Nothing of X is touched before :meth:`X11RecordSource.start`, and then on the source's own
thread: python-xlib's import and the two connections (~0.1 CPU-s) run beside the session's
first frame, not before it (issue 14: time to the first frame).  Until they are up,
:meth:`~X11RecordSource.active_window` answers None (unknown), as when the window is gone; a
display that refuses them is logged from that thread and the recording goes on without input,
as when the display goes away later.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from typing import Any

import structlog

from fastrec.events.model import MouseButton, ScrollDirection
from fastrec.events.source import InputSink, InputUnavailable, RawClick, RawKey, RawScroll, ServerClock

__all__ = ["X11RecordSource"]

log = structlog.get_logger("fastrec.events")

_BUTTONS = {1: MouseButton.LEFT, 2: MouseButton.MIDDLE, 3: MouseButton.RIGHT,
            8: MouseButton.BACK, 9: MouseButton.FORWARD}
_WHEEL = {4: ScrollDirection.UP, 5: ScrollDirection.DOWN, 6: ScrollDirection.LEFT, 7: ScrollDirection.RIGHT}
_JOIN_SECONDS = 5.0
_DISABLE_RETRY_SECONDS = 0.05
ACTIVE_REFRESH_SECONDS = 2.0  # the active window is looked up again at least this often


class X11RecordSource:
    """:class:`~fastrec.events.source.InputSource` for an X display (default ``$DISPLAY``)."""

    name = "x11-record"

    def __init__(self, display: str | None = None) -> None:
        self.display_name = display or os.environ.get("DISPLAY")
        if not self.display_name:
            raise InputUnavailable("no X display (DISPLAY is not set)")
        if importlib.util.find_spec("Xlib") is None:  # imported on the source's thread
            raise InputUnavailable("python-xlib is not installed")
        self._lock = threading.Lock()  # the connections: start's thread vs close() vs active_window()
        self._clock = ServerClock()
        self._X: Any = None
        self._record: Any = None
        self._control: Any = None  # set on the source's thread once connected
        self._data: Any = None
        self._active_atom: Any = None
        self._active: tuple[int, int, int, int] | None = None  # the last answer of active_window()
        self._active_id = 0  # its window (0: none), whose ConfigureNotify events we select
        self._looked_at = -ACTIVE_REFRESH_SECONDS  # time.monotonic() of that answer
        self._context: Any = None
        self._thread: threading.Thread | None = None
        self._sink: InputSink | None = None
        self._closed = False

    def start(self, sink: InputSink) -> None:
        self._sink = sink
        self._thread = threading.Thread(target=self._run, name=f"fastrec-input-{self.display_name}",
                                        daemon=True)
        self._thread.start()

    def _connect(self) -> None:
        """Import python-xlib, open both connections and create the RECORD context (on the
        source's thread, under the lock).  Raises InputUnavailable saying why not."""
        try:
            from Xlib import X  # noqa: PLC0415 - python-xlib is a Linux-only dependency
            from Xlib import display as xdisplay  # noqa: PLC0415
            from Xlib.ext import record  # noqa: PLC0415
        except ImportError as exc:
            raise InputUnavailable(f"python-xlib is not installed ({exc})") from exc
        self._X, self._record = X, record
        try:
            self._control = xdisplay.Display(self.display_name)
            self._data = xdisplay.Display(self.display_name)
        except Exception as exc:  # noqa: BLE001 - Xlib raises several unrelated types
            self._close_displays()
            raise InputUnavailable(f"cannot connect to X display {self.display_name}: {exc}") from exc
        if not self._control.has_extension("RECORD"):
            self._close_displays()
            raise InputUnavailable(f"X display {self.display_name} has no RECORD extension")
        self._active_atom = self._control.intern_atom("_NET_ACTIVE_WINDOW")
        self._control.screen().root.change_attributes(event_mask=X.PropertyChangeMask)
        self._context = self._control.record_create_context(0, [record.AllClients], [{
            "core_requests": (0, 0), "core_replies": (0, 0),
            "ext_requests": (0, 0, 0, 0), "ext_replies": (0, 0, 0, 0),
            "delivered_events": (0, 0), "device_events": (X.KeyPress, X.ButtonPress),
            "errors": (0, 0), "client_started": False, "client_died": False}])
        self._control.sync()  # the data connection must find the context on the server

    def _run(self) -> None:
        try:
            with self._lock:
                if self._closed:
                    return
                self._connect()
        except InputUnavailable as exc:
            log.warning("X input events are not recorded", display=self.display_name, reason=str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - the display went away while connecting
            log.warning("X input recording ended", display=self.display_name, error=str(exc))
            return
        try:
            self._data.record_enable_context(self._context, self._on_record)
        except Exception as exc:  # noqa: BLE001 - the display went away: input ends, recording goes on
            if not self._closed:
                log.warning("X input recording ended", display=self.display_name, error=str(exc))

    def _on_record(self, reply: Any) -> None:
        if reply.category != self._record.FromServer or reply.client_swapped or not reply.data:
            return
        from Xlib.protocol import rq  # noqa: PLC0415

        received = time.monotonic()
        data = reply.data
        while len(data):
            event, data = rq.EventField(None).parse_binary_value(data, self._data.display, None, None)
            self._deliver(event, received)

    def _deliver(self, event: Any, received: float) -> None:
        sink = self._sink
        if sink is None:
            return
        X = self._X
        stamp = self._clock.stamp(int(event.time), received)
        if event.type == X.KeyPress:
            sink(RawKey(stamp))  # event.detail (the key) deliberately goes nowhere
        elif event.type == X.ButtonPress:
            x, y = int(event.root_x), int(event.root_y)
            if event.detail in _WHEEL:
                sink(RawScroll(stamp, x, y, _WHEEL[event.detail]))
            elif event.detail in _BUTTONS:
                sink(RawClick(stamp, x, y, _BUTTONS[event.detail]))

    def active_window(self) -> tuple[int, int, int, int] | None:
        """The focused window's (x, y, width, height) on the screen; None when unknown."""
        with self._lock:
            if self._closed or self._control is None:  # closed, or not connected yet
                return None
            now = time.monotonic()
            try:
                if self._told_changed() or now - self._looked_at >= ACTIVE_REFRESH_SECONDS:
                    self._active, self._looked_at = self._look_up_active(), now
            except Exception:  # noqa: BLE001 - the display went away: unknown
                self._active, self._looked_at = None, -ACTIVE_REFRESH_SECONDS
            return self._active

    def _told_changed(self) -> bool:
        """Whether an event since the last look says the answer may differ (no round trip:
        only what has reached the socket)."""
        X, control, changed = self._X, self._control, False
        while control.pending_events():
            event = control.next_event()
            if event.type == X.PropertyNotify:
                changed = changed or event.atom == self._active_atom
            elif event.type in (X.ConfigureNotify, X.DestroyNotify, X.UnmapNotify):
                changed = changed or event.window.id == self._active_id
        return changed

    def _look_up_active(self) -> tuple[int, int, int, int] | None:
        root = self._control.screen().root
        prop = root.get_full_property(self._active_atom, self._X.AnyPropertyType)
        active = int(prop.value[0]) if prop is not None and len(prop.value) else 0
        if not active:
            return None
        window = self._control.create_resource_object("window", active)
        if active != self._active_id:  # its moves and resizes from now on (errors: a window gone)
            window.change_attributes(event_mask=self._X.StructureNotifyMask, onerror=_ignore)
            self._active_id = active
        try:
            geometry = window.get_geometry()
            origin = window.translate_coords(root, 0, 0)
        except Exception:  # noqa: BLE001 - a window gone between the calls: unknown
            return None
        return (-int(origin.x), -int(origin.y), int(geometry.width), int(geometry.height))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        # the thread may enable the context just after a disable (it connects, then enables
        # outside the lock): disable again until it has returned (a repeated disable is harmless)
        deadline = time.monotonic() + _JOIN_SECONDS
        while self._thread is not None and self._thread.is_alive() and time.monotonic() < deadline:
            self._disable()
            self._thread.join(_DISABLE_RETRY_SECONDS)
        with self._lock:
            if self._context is not None:
                try:
                    self._control.record_free_context(self._context)
                    self._control.flush()
                except Exception:  # noqa: BLE001
                    pass
            self._close_displays()

    def _disable(self) -> None:
        with self._lock:
            if self._context is not None:
                try:
                    self._control.record_disable_context(self._context)
                    self._control.flush()
                except Exception:  # noqa: BLE001 - the display is gone already
                    pass

    def _close_displays(self) -> None:
        for connection in (self._control, self._data):
            if connection is None:
                continue
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        self._control = self._data = None


def _ignore(*_: Any) -> None:
    """An X error handler that drops the error (a request on a window that is gone)."""
