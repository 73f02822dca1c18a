"""X11 window sources, through python-xlib.

Which windows exist, and in which order
    Application windows come from the window manager's EWMH list
    (``_NET_CLIENT_LIST_STACKING``, else ``_NET_CLIENT_LIST``).  The stacking order used
    for occlusion comes from ``XQueryTree`` on the root window instead: it is the X
    server's own order, and it also holds the override-redirect windows (menus, tooltips,
    notifications) that no window manager lists but that cover windows just the same.
    Without a window manager every top-level window counts as an application window.

Geometry
    A window's region is its *content* (client) area in root coordinates
    (``XTranslateCoordinates``), without the title bar and borders the window manager
    draws: for an RDP client that is the remote desktop, and the title is recorded as
    metadata anyway.  What a window covers of others is its *frame* (the top-level window
    the manager reparented it into, borders included), so another window's title bar is
    blanked too.

Owner process
    The PID comes from the X server (X-Resource ``QueryClientIds``, taken from the
    client's socket credentials), so it cannot be faked and needs no cooperation from the
    application (Tk, for one, never sets ``_NET_WM_PID``).  ``_NET_WM_PID`` is the
    fallback, trusted only when ``WM_CLIENT_MACHINE`` is this host.  The process name is
    psutil's (``/proc/PID/comm``, completed from the command line when truncated).

Minimised
    ``_NET_WM_STATE_HIDDEN`` or ``WM_STATE`` = Iconic; a window that is not viewable
    (``IsViewable``) for another reason -- withdrawn, on another virtual desktop -- is
    "not shown".  Both pause a window source.

Cost
    Listing windows takes a few X round trips per window (about 6 ms for five windows
    under Xvfb), too much for every frame.  The backend therefore listens: it selects
    SubstructureNotify and PropertyChange on the root (windows created, destroyed,
    mapped, moved, restacked; the client list and the active window) and StructureNotify
    and PropertyChange on each application window (its size and place in its frame --
    window managers also send their synthetic ConfigureNotify there -- its title and
    state).  Each query makes one round trip (so every event that happened before it has
    arrived), and lists the windows again only when a relevant event came in, or when the
    list is older than ``REFRESH_SECONDS`` (a safety net).  An idle desktop costs one round
    trip per frame.

Damage
    ``damaged()`` uses the X DAMAGE extension on the root window (report level: bounding
    box) over a second X connection, created on first use, so its events never queue up
    in front of the window queries.  Tested under Xvfb, which has DAMAGE.  ``damage()``
    also says *where*: the damage is moved into an XFixes region (``DamageSubtract`` with
    ``parts``) and read back with ``XFixesFetchRegion``: one round trip.  Whatever is drawn
    after the subtract is damage of the next call, so a grab that follows the call never
    misses a change: it is grabbed now or next time.
    An idle screen costs no round trip: at bounding-box level the server sends an event
    whenever the damage grows, so once a call has emptied the damage object and no event
    came with or after its reply, nothing has been drawn since - until an event arrives.
    The next call only reads what is already on the socket (no round trip): an event
    still in flight is seen one call later, and its drawing grabbed then.  Events that
    came before a reply may stand for drawing between the subtract and the fetch (still in
    the damage object), so they keep the next call on the round trip.

A source's X connections are used from one thread.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any

from Xlib import X, Xatom  # type: ignore[import-untyped]
from Xlib import display as xdisplay
from Xlib import error as xerror
from Xlib.ext import damage as xdamage  # type: ignore[import-untyped]
from Xlib.ext import res as xres
from Xlib.protocol import rq, structs

from fastrec.capture.base import CaptureError, Region
from fastrec.capture.grabber import ScreenGrabber, display_name
from fastrec.capture.matching import WindowInfo, WindowPatterns
from fastrec.capture.tracking import ActiveWindowTracker, RdpWindowTracker

_ICONIC_STATE = 3  # ICCCM WM_STATE
_RECT = struct.Struct("=hhHH")  # an X RECTANGLE in a reply: python-xlib asks for native byte order
REFRESH_SECONDS = 1.0  # list the windows again at least this often, events or not
# properties whose change can change a WindowInfo or the client list; others (such as
# _NET_WM_USER_TIME, updated on every key press) do not trigger a new listing
_RELEVANT_PROPERTIES = ("_NET_CLIENT_LIST_STACKING", "_NET_CLIENT_LIST", "_NET_ACTIVE_WINDOW",
                        "_NET_WM_STATE", "_NET_WM_NAME", "_NET_WM_PID", "WM_STATE", "WM_NAME",
                        "WM_CLASS", "WM_CLIENT_MACHINE")
_ROOT_EVENTS = X.SubstructureNotifyMask | X.PropertyChangeMask
_CLIENT_EVENTS = X.StructureNotifyMask | X.PropertyChangeMask
# errors a window that vanished mid-query can raise; python-xlib mislabels some extension
# errors (codes shared between extensions), hence the broad XError
_GONE = (xerror.XError,)


def connect(display: str | None) -> xdisplay.Display:
    """Open an X connection with a clear error; ``None`` means $DISPLAY."""
    name = display_name(display) or os.environ.get("DISPLAY")
    if not name:
        raise CaptureError("no X display: pass display=':N' or set DISPLAY")
    try:
        dpy = xdisplay.Display(name)
    except (xerror.DisplayError, ConnectionError, OSError) as exc:
        raise CaptureError(f"cannot open X display {name!r}: {exc}") from exc
    # errors of requests without replies would be printed to stderr; the calls that
    # matter have replies and raise instead
    dpy.set_error_handler(lambda err, request: None)
    return dpy


@dataclass(frozen=True, slots=True)
class _Static:
    """What does not change during a window's life: cached per window id."""

    pid: int | None
    process_name: str
    classes: tuple[str, ...]


class _CreateRegion(rq.Request):
    """XFixes CreateRegion (python-xlib lacks the XFixes region requests)."""

    _request = rq.Struct(rq.Card8("opcode"), rq.Opcode(5), rq.RequestLength(),
                         rq.Card32("region"), rq.List("rectangles", structs.Rectangle))


class _FetchRegion(rq.ReplyRequest):
    """XFixes FetchRegion: the region's extents, then its rectangles (x, y: INT16; w, h: CARD16)."""

    _request = rq.Struct(rq.Card8("opcode"), rq.Opcode(19), rq.RequestLength(), rq.Card32("region"))
    _reply = rq.Struct(rq.ReplyCode(), rq.Pad(1), rq.Card16("sequence_number"), rq.ReplyLength(),
                       rq.Object("extents", structs.Rectangle), rq.Pad(16), rq.Binary("data"))


class DamageMonitor:
    """X DAMAGE on the root window: has anything been drawn since the last look, and where?"""

    def __init__(self, display: str | None) -> None:
        self.display = display
        self._dpy: xdisplay.Display | None = None
        self._damage: int | None = None
        self._parts: int | None = None  # an XFixes region receiving the damage; None: no XFixes
        self._event_type = -1
        self.unavailable: str | None = None  # why DAMAGE cannot be used, once known
        # the damage object may hold drawing: True until a fetch came back with no event
        # before or after it (see the module docstring)
        self._pending = True

    def _start(self) -> bool:
        try:
            dpy = connect(self.display)
        except CaptureError as exc:
            self.unavailable = str(exc)
            return False
        try:
            if not dpy.has_extension("DAMAGE"):
                raise RuntimeError("the X server has no DAMAGE extension")
            # the version handshake must come first: without it the server rejects
            # DamageCreate
            dpy.damage_query_version()
            root = dpy.screen().root
            self._damage = root.damage_create(xdamage.DamageReportBoundingBox)
            self._event_type = dpy.query_extension("DAMAGE").first_event + xdamage.DamageNotifyCode
            dpy.sync()
        except Exception as exc:  # noqa: BLE001 - any failure just means "unknown"
            dpy.close()
            self.unavailable = f"X DAMAGE unusable: {exc}"
            return False
        self._dpy = dpy
        self._pending = True
        self._parts = self._create_region(dpy)
        if self._parts is not None:
            # a new damage object holds the whole screen; the caller grabs it all after
            # this first call anyway, so start from nothing
            with contextlib.suppress(Exception):
                dpy.damage_subtract(self._damage)
                self._drain(dpy, None)
        return True

    @staticmethod
    def _create_region(dpy: xdisplay.Display) -> int | None:
        """An empty XFixes region for the damage rectangles; ``None`` without XFixes
        (``damage()`` then only says whether, and the caller grabs everything)."""
        try:
            if not dpy.has_extension("XFIXES"):
                return None
            dpy.xfixes_query_version()  # the handshake XFixes requires before other requests
            region = int(dpy.display.allocate_resource_id())
            _CreateRegion(display=dpy.display, opcode=dpy.display.get_extension_major("XFIXES"),
                          region=region, rectangles=[])
            dpy.sync()
        except Exception:  # noqa: BLE001 - any failure just means "whether, not where"
            return None
        return region

    def damaged(self, region: Region | None) -> bool | None:
        """True if damage touched ``region`` (``None``: anywhere) since the last call.

        The first call returns True: nothing is known about the time before it.
        """
        if self.unavailable is not None:
            return None
        if self._dpy is None:
            return True if self._start() else None
        dpy = self._dpy
        try:
            seen, hit = self._drain(dpy, region)
            if seen:
                # reset the accumulated damage; anything drawn after this sends a new
                # event, anything between the drain and here shows up (again) next time
                dpy.damage_subtract(self._damage)
                dpy.flush()
        except (xerror.ConnectionClosedError, OSError) as exc:
            raise CaptureError(f"X display {self.display!r} closed: {exc}") from exc
        return hit

    def damage(self, region: Region | None) -> list[Region] | None:
        """The rectangles drawn since the last call, clipped to ``region`` (``None``: the
        whole screen), in screen coordinates: ``[]`` when nothing there changed, ``None``
        when that is unknown (the first call, no DAMAGE or XFixes): grab everything."""
        if self.unavailable is not None:
            return None
        if self._dpy is None:
            self._start()
            return None
        if self._parts is None:
            changed = self.damaged(region)
            return [] if changed is False else None
        dpy = self._dpy
        try:
            # what is on the socket already, without a round trip: an idle screen stops here
            if not (self._take_events(dpy) or self._pending):
                return []
            # the damage moves into our region (emptying the damage object): what is drawn
            # from now on is the next call's.  One round trip.
            dpy.damage_subtract(self._damage, X.NONE, self._parts)
            reply = _FetchRegion(display=dpy.display, opcode=dpy.display.get_extension_major("XFIXES"),
                                 region=self._parts)
            self._pending = self._take_events(dpy)
        except (xerror.ConnectionClosedError, OSError) as exc:
            raise CaptureError(f"X display {self.display!r} closed: {exc}") from exc
        data = bytes(reply.data)
        left, top, right, bottom = ((-1 << 16, -1 << 16, 1 << 16, 1 << 16) if region is None
                                    else (region.x, region.y, region.right, region.bottom))
        rects = []
        for x, y, w, h in _RECT.iter_unpack(data[: len(data) // 8 * 8]):
            # clipped with plain ints: a frame's few rectangles should not cost a Region each twice
            x0, y0, x1, y1 = max(x, left), max(y, top), min(x + w, right), min(y + h, bottom)
            if x1 > x0 and y1 > y0:
                rects.append(Region(x0, y0, x1 - x0, y1 - y0))
        return rects

    def quiet_handle(self) -> int | None:
        """The connection's file descriptor while nothing has been drawn since the last
        :meth:`damage` (no fetch pending, no event received): it turns readable when the
        server sends the next damage event, so an idle caller can sleep on it instead of
        asking every tick.  None when the next call must look anyway."""
        if self._dpy is None or self._parts is None or self._pending:
            return None
        return int(self._dpy.fileno())

    def _take_events(self, dpy: xdisplay.Display) -> bool:
        """Whether a damage event has come in (read off the socket, no round trip); the
        queue is emptied so that it never piles up."""
        seen = False
        while dpy.pending_events():
            seen = dpy.next_event().type == self._event_type or seen
        return seen

    def _drain(self, dpy: xdisplay.Display, region: Region | None) -> tuple[bool, bool]:
        """(any damage event, any touching ``region``) since the last drain."""
        # a round trip: every damage the server did before now has been delivered
        dpy.sync()
        seen = hit = False
        while dpy.pending_events():
            event = dpy.next_event()
            if event.type != self._event_type:
                continue
            seen = True
            area = event.area
            box = Region(area.x, area.y, area.width, area.height)
            hit = hit or region is None or box.intersects(region)
        return seen, hit

    def close(self) -> None:
        if self._dpy is not None:
            with contextlib.suppress(Exception):  # closing a dead connection
                self._dpy.close()
            self._dpy = None


class X11Backend:
    """The window list of one X display (see the module docstring)."""

    def __init__(self, display: str | None = None) -> None:
        self.display = display_name(display)
        self._dpy: xdisplay.Display | None = None
        self._static: dict[int, _Static] = {}
        self._toplevel: dict[int, int] = {}  # client id -> its child of the root
        self._watched: set[int] = set()  # windows we receive events about
        self._cache: tuple[list[WindowInfo], int | None] | None = None
        self._listed_at = 0.0
        self._no_wm = False  # no _NET_ACTIVE_WINDOW: nothing can be cached
        self._damage = DamageMonitor(display)
        self._hostname = socket.gethostname()

    # -- life cycle ---------------------------------------------------------------
    def open(self) -> None:
        if self._dpy is not None:
            return
        dpy = connect(self.display)
        self._dpy = dpy
        self._root = dpy.screen().root
        names = ("_NET_CLIENT_LIST_STACKING", "_NET_CLIENT_LIST", "_NET_ACTIVE_WINDOW",
                 "_NET_WM_STATE", "_NET_WM_STATE_HIDDEN", "_NET_WM_NAME", "_NET_WM_PID",
                 "UTF8_STRING", "WM_STATE")
        self._atom = {n: dpy.intern_atom(n) for n in names}
        self._relevant = {dpy.intern_atom(n) for n in _RELEVANT_PROPERTIES}
        self._root.change_attributes(event_mask=_ROOT_EVENTS)
        self._has_xres = False
        if dpy.has_extension("X-Resource"):
            with contextlib.suppress(Exception):  # unusable: fall back to _NET_WM_PID
                dpy.res_query_version()
                self._has_xres = True

    def close(self) -> None:
        self._damage.close()
        if self._dpy is not None:
            with contextlib.suppress(Exception):  # closing a dead connection
                self._dpy.close()
            self._dpy = None
        self._static.clear()
        self._toplevel.clear()
        self._watched.clear()
        self._cache = None

    def _require(self) -> xdisplay.Display:
        if self._dpy is None:
            raise CaptureError("X11Backend is not open")
        return self._dpy

    # -- queries --------------------------------------------------------------------
    def windows(self) -> list[WindowInfo]:
        return list(self._current()[0])

    def active_window(self) -> int | None:
        return self._current()[1]

    def _current(self) -> tuple[list[WindowInfo], int | None]:
        """The cached window list and focus, listed again if anything changed."""
        dpy = self._require()
        try:
            # a round trip: every event the server generated before now has arrived
            dpy.sync()
            dirty = (self._cache is None or self._no_wm
                     or time.monotonic() - self._listed_at > REFRESH_SECONDS)
            while dpy.pending_events():
                event = dpy.next_event()
                if event.type == X.PropertyNotify and event.atom not in self._relevant:
                    continue
                dirty = True
            if dirty or self._cache is None:
                # events arriving while we list stay queued: they trigger the next listing
                self._listed_at = time.monotonic()
                self._cache = (self._windows(dpy), self._read_active(dpy))
            return self._cache
        except (xerror.ConnectionClosedError, OSError) as exc:
            raise CaptureError(f"X display {self.display or '$DISPLAY'} closed: {exc}") from exc

    def _windows(self, dpy: xdisplay.Display) -> list[WindowInfo]:
        clients = self._client_list()
        children = self._root.query_tree().children  # bottom to top
        index = {child.id: i for i, child in enumerate(children)}
        by_toplevel: dict[int, list[int]] = {}
        if clients is None:  # no EWMH window manager: top-levels are the applications
            managed_toplevels = None
        else:
            for client in clients:
                top = self._toplevel_of(client, index)
                if top is not None:
                    by_toplevel.setdefault(top, []).append(client)
            managed_toplevels = by_toplevel
        # no longer listed: forget, so the caches stay as small as the desktop
        live = set(clients) if clients is not None else set(index)
        for cache in (self._static, self._toplevel):
            for wid in [w for w in cache if w not in live]:
                del cache[wid]
        self._watched &= live

        result: list[WindowInfo] = []
        for stacking, top in enumerate(children):
            try:
                attrs = top.get_attributes()
                if attrs.win_class == X.InputOnly:  # draws nothing, covers nothing
                    continue
                frame = None
                if attrs.map_state == X.IsViewable:
                    g = top.get_geometry()
                    frame = Region(g.x, g.y, g.width + 2 * g.border_width,
                                   g.height + 2 * g.border_width)
                if managed_toplevels is None:
                    if not attrs.override_redirect:
                        info = self._client_info(top.id, frame, stacking)
                        if info is not None:
                            result.append(info)
                            continue
                elif top.id in managed_toplevels:
                    infos = [self._client_info(c, frame, stacking) for c in managed_toplevels[top.id]]
                    result.extend(i for i in infos if i is not None)
                    if any(i is not None for i in infos):
                        continue
                    # its client could not be read: the frame still covers what is below
                if frame is not None:  # a menu, tooltip, panel, decoration ...
                    result.append(WindowInfo(top.id, frame, stacking=stacking, managed=False))
            except _GONE:
                continue  # destroyed while we looked: it covers nothing now
        return result

    def _client_list(self) -> list[int] | None:
        for name in ("_NET_CLIENT_LIST_STACKING", "_NET_CLIENT_LIST"):
            prop = self._root.get_full_property(self._atom[name], Xatom.WINDOW)
            if prop is not None:
                return [int(w) for w in prop.value]
        return None

    def _toplevel_of(self, client: int, index: dict[int, int]) -> int | None:
        """The root's child holding ``client`` (its window-manager frame)."""
        cached = self._toplevel.get(client)
        if cached is not None and cached in index:
            return cached
        dpy = self._require()
        wid = client
        try:
            for _ in range(64):  # a bound, should a broken tree loop
                parent = dpy.create_resource_object("window", wid).query_tree().parent
                if parent is None or parent.id in (0, self._root.id):
                    break
                wid = parent.id
        except _GONE:
            return None
        if wid not in index:
            return None
        self._toplevel[client] = wid
        return wid

    def _client_info(self, wid: int, frame: Region | None, stacking: int) -> WindowInfo | None:
        dpy = self._require()
        window = dpy.create_resource_object("window", wid)
        if wid not in self._watched:
            # before reading its state, so no change after the read goes unnoticed
            window.change_attributes(event_mask=_CLIENT_EVENTS)
            self._watched.add(wid)
        try:
            attrs = window.get_attributes()
            mapped = attrs.map_state == X.IsViewable
            # a viewable window cannot be iconic: spare the two state queries
            minimised = False if mapped else self._is_minimised(window)
            g = window.get_geometry()
            origin = self._root.translate_coords(window, 0, 0)
            geometry = Region(origin.x, origin.y, g.width, g.height)
            title = self._title(window)
            static = self._static.get(wid) or self._read_static(window)
        except _GONE:
            return None
        self._static[wid] = static
        return WindowInfo(wid, geometry, frame=frame if mapped else None, pid=static.pid,
                          process_name=static.process_name, classes=static.classes,
                          title=title, mapped=mapped, minimised=minimised, stacking=stacking)

    def _is_minimised(self, window: Any) -> bool:
        state = window.get_full_property(self._atom["_NET_WM_STATE"], Xatom.ATOM)
        if state is not None and self._atom["_NET_WM_STATE_HIDDEN"] in state.value:
            return True
        wm_state = window.get_full_property(self._atom["WM_STATE"], self._atom["WM_STATE"])
        return wm_state is not None and len(wm_state.value) > 0 and wm_state.value[0] == _ICONIC_STATE

    def _title(self, window: Any) -> str:
        prop = window.get_full_property(self._atom["_NET_WM_NAME"], self._atom["UTF8_STRING"])
        if prop is not None:
            return _text(prop.value)
        prop = window.get_full_property(Xatom.WM_NAME, X.AnyPropertyType)
        return _text(prop.value) if prop is not None else ""

    def _read_static(self, window: Any) -> _Static:
        classes: tuple[str, ...] = ()
        prop = window.get_full_property(Xatom.WM_CLASS, Xatom.STRING)
        if prop is not None:
            classes = tuple(p for p in _text(prop.value).split("\0") if p)
        pid = self._pid(window)
        name = ""
        if pid is not None:
            # imported here: a whole-screen capture (DAMAGE lives in this module) never
            # needs it (~1.6 MB, issue 14)
            import psutil  # type: ignore[import-untyped]  # noqa: PLC0415

            try:
                name = psutil.Process(pid).name()
            except (psutil.Error, OSError):
                name = ""
        return _Static(pid, name, classes)

    def _pid(self, window: Any) -> int | None:
        if self._has_xres:
            try:
                reply = self._require().res_query_client_ids(
                    [{"client": window.id, "mask": xres.LocalClientPIDMask}])
                for item in reply.ids:
                    if item.spec.mask & xres.LocalClientPIDMask and len(item.value):
                        return int(item.value[0])
            except Exception:  # noqa: BLE001, S110 - half-supported X-Resource: fall back
                pass
        # self-reported: only meaningful for a client on this machine
        machine = window.get_full_property(Xatom.WM_CLIENT_MACHINE, X.AnyPropertyType)
        if machine is not None and _text(machine.value) != self._hostname:
            return None
        prop = window.get_full_property(self._atom["_NET_WM_PID"], Xatom.CARDINAL)
        return int(prop.value[0]) if prop is not None and len(prop.value) else None

    def _read_active(self, dpy: xdisplay.Display) -> int | None:
        prop = self._root.get_full_property(self._atom["_NET_ACTIVE_WINDOW"], Xatom.WINDOW)
        if prop is not None:
            active = int(prop.value[0]) if len(prop.value) else 0
            return active or None  # 0: nothing has the focus
        # no EWMH window manager: the input focus, up to its top-level window.  Focus
        # changes send no event we listen to, so then everything is asked every time.
        self._no_wm = True
        try:
            focus = dpy.get_input_focus().focus
            if not hasattr(focus, "query_tree"):  # PointerRoot or None
                return None
            wid = focus.id
            for _ in range(64):
                parent = dpy.create_resource_object("window", wid).query_tree().parent
                if parent is None or parent.id in (0, self._root.id):
                    break
                wid = parent.id
            return wid if wid != self._root.id else None
        except _GONE:
            return None

    def damaged(self, region: Region | None) -> bool | None:
        self._require()
        return self._damage.damaged(region)

    def damage(self, region: Region | None) -> list[Region] | None:
        self._require()
        return self._damage.damage(region)


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def window_backend(display: str | None = None) -> X11Backend:
    """The window list of ``display`` (full-screen sources with window privacy rules)."""
    return X11Backend(display)


class RdpWindowSource(RdpWindowTracker):
    """RECORDING_MODE=rdp_window on X11: follows the RDP client window on ``display``.

    Pauses (``locate() -> None``) while the window is minimised, not shown, fully covered
    or gone; reports the parts other windows cover in ``Target.occluded``.
    """

    def __init__(self, display: str | None = None,
                 patterns: WindowPatterns | None = None) -> None:
        super().__init__(X11Backend(display), ScreenGrabber(display), patterns)
        self.display = display


class ActiveWindowSource(ActiveWindowTracker):
    """RECORDING_MODE=active_window on X11: the focused window (``_NET_ACTIVE_WINDOW``)."""

    def __init__(self, display: str | None = None) -> None:
        super().__init__(X11Backend(display), ScreenGrabber(display))
        self.display = display
