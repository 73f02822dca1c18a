"""Input on Windows through low-level hooks (``SetWindowsHookExW`` ``WH_MOUSE_LL`` and
``WH_KEYBOARD_LL``, ctypes): the same :class:`~fastrec.events.source.InputSource` as X11.

The hooks live on a thread of their own that pumps messages (low-level hooks are called
on the installing thread's message loop); :meth:`Win32HookSource.close` posts ``WM_QUIT``
to it and unhooks.  Each hook returns ``CallNextHookEx`` at once: input is observed,
never delayed or swallowed.  Times come from the hook structures' ``time`` (the
``GetTickCount`` milliseconds of the event).  The keyboard hook reads nothing of the
key: ``vkCode`` and ``scanCode`` are never touched, only the fact of a key-down.

Tested only for import and for refusing to run elsewhere ("not available" on Linux);
what only a real Windows shows is listed in the README.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import time
from ctypes import wintypes
from typing import Any

import structlog

from fastrec.events.model import MouseButton, ScrollDirection
from fastrec.events.source import InputSink, InputUnavailable, RawClick, RawKey, RawScroll, ServerClock

__all__ = ["Win32HookSource"]

log = structlog.get_logger("fastrec.events")

WH_KEYBOARD_LL, WH_MOUSE_LL = 13, 14
WM_QUIT = 0x0012
WM_KEYDOWN, WM_SYSKEYDOWN = 0x0100, 0x0104
WM_LBUTTONDOWN, WM_RBUTTONDOWN, WM_MBUTTONDOWN, WM_XBUTTONDOWN = 0x0201, 0x0204, 0x0207, 0x020B
WM_MOUSEWHEEL, WM_MOUSEHWHEEL = 0x020A, 0x020E
WHEEL_DELTA = 120
_BUTTONS = {WM_LBUTTONDOWN: MouseButton.LEFT, WM_RBUTTONDOWN: MouseButton.RIGHT,
            WM_MBUTTONDOWN: MouseButton.MIDDLE}
_START_SECONDS = 5.0


class _Point(ctypes.Structure):
    _fields_ = [("x", wintypes.LONG), ("y", wintypes.LONG)]


class _MouseHook(ctypes.Structure):  # MSLLHOOKSTRUCT
    _fields_ = [("pt", _Point), ("mouseData", wintypes.DWORD), ("flags", wintypes.DWORD),
                ("time", wintypes.DWORD), ("dwExtraInfo", ctypes.c_size_t)]


class _KeyHook(ctypes.Structure):  # KBDLLHOOKSTRUCT: only ``time`` is read
    _fields_ = [("vkCode", wintypes.DWORD), ("scanCode", wintypes.DWORD), ("flags", wintypes.DWORD),
                ("time", wintypes.DWORD), ("dwExtraInfo", ctypes.c_size_t)]


def _signed_high_word(value: int) -> int:
    high = (value >> 16) & 0xFFFF
    return high - 0x10000 if high & 0x8000 else high


class Win32HookSource:
    """Low-level mouse and keyboard hooks on a message-loop thread."""

    name = "win32-hooks"

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise InputUnavailable(f"Windows input hooks are not available on {sys.platform}")
        self._user32: Any = ctypes.WinDLL("user32", use_last_error=True)
        self._kernel32: Any = ctypes.WinDLL("kernel32", use_last_error=True)
        self._clock = ServerClock()
        self._sink: InputSink | None = None
        self._thread: threading.Thread | None = None
        self._thread_id = 0
        self._ready = threading.Event()
        self._error: str | None = None
        self._closed = False
        proc_type = ctypes.WINFUNCTYPE(ctypes.c_ssize_t, ctypes.c_int, wintypes.WPARAM, wintypes.LPARAM)
        # kept on self: a collected callback would crash the process at the next event
        self._mouse_proc = proc_type(self._on_mouse)
        self._key_proc = proc_type(self._on_key)
        self._user32.CallNextHookEx.argtypes = (wintypes.HHOOK, ctypes.c_int, wintypes.WPARAM, wintypes.LPARAM)
        self._user32.CallNextHookEx.restype = ctypes.c_ssize_t
        self._user32.SetWindowsHookExW.argtypes = (ctypes.c_int, proc_type, wintypes.HINSTANCE, wintypes.DWORD)
        self._user32.SetWindowsHookExW.restype = wintypes.HHOOK

    def start(self, sink: InputSink) -> None:
        self._sink = sink
        self._thread = threading.Thread(target=self._run, name="fastrec-input-win32", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_SECONDS) or self._error:
            raise InputUnavailable(self._error or "the input hooks did not start")

    def _run(self) -> None:
        user32 = self._user32
        self._thread_id = self._kernel32.GetCurrentThreadId()
        module = self._kernel32.GetModuleHandleW(None)
        hooks = [user32.SetWindowsHookExW(WH_MOUSE_LL, self._mouse_proc, module, 0),
                 user32.SetWindowsHookExW(WH_KEYBOARD_LL, self._key_proc, module, 0)]
        if not all(hooks):
            self._error = f"SetWindowsHookExW failed (error {ctypes.get_last_error()})"
            for hook in hooks:
                if hook:
                    user32.UnhookWindowsHookEx(hook)
            self._ready.set()
            return
        self._ready.set()
        message = wintypes.MSG()
        try:
            while user32.GetMessageW(ctypes.byref(message), None, 0, 0) > 0:
                user32.TranslateMessage(ctypes.byref(message))
                user32.DispatchMessageW(ctypes.byref(message))
        finally:
            for hook in hooks:
                user32.UnhookWindowsHookEx(hook)

    def _on_mouse(self, code: int, wparam: int, lparam: int) -> int:
        try:
            if code >= 0 and self._sink is not None:
                info = ctypes.cast(lparam, ctypes.POINTER(_MouseHook)).contents
                stamp = self._clock.stamp(int(info.time), time.monotonic())
                x, y = int(info.pt.x), int(info.pt.y)
                if wparam in _BUTTONS:
                    self._sink(RawClick(stamp, x, y, _BUTTONS[wparam]))
                elif wparam == WM_XBUTTONDOWN:
                    button = MouseButton.BACK if (info.mouseData >> 16) == 1 else MouseButton.FORWARD
                    self._sink(RawClick(stamp, x, y, button))
                elif wparam in (WM_MOUSEWHEEL, WM_MOUSEHWHEEL):
                    delta = _signed_high_word(int(info.mouseData))
                    if delta:
                        if wparam == WM_MOUSEWHEEL:
                            direction = ScrollDirection.UP if delta > 0 else ScrollDirection.DOWN
                        else:
                            direction = ScrollDirection.RIGHT if delta > 0 else ScrollDirection.LEFT
                        self._sink(RawScroll(stamp, x, y, direction, max(1, abs(delta) // WHEEL_DELTA)))
        except Exception:  # noqa: BLE001 - a hook must never raise into the system's input path
            log.exception("Mouse hook failed")
        return int(self._user32.CallNextHookEx(None, code, wparam, lparam))

    def _on_key(self, code: int, wparam: int, lparam: int) -> int:
        try:
            if code >= 0 and self._sink is not None and wparam in (WM_KEYDOWN, WM_SYSKEYDOWN):
                info = ctypes.cast(lparam, ctypes.POINTER(_KeyHook)).contents
                self._sink(RawKey(self._clock.stamp(int(info.time), time.monotonic())))
        except Exception:  # noqa: BLE001
            log.exception("Keyboard hook failed")
        return int(self._user32.CallNextHookEx(None, code, wparam, lparam))

    def active_window(self) -> tuple[int, int, int, int] | None:
        window = self._user32.GetForegroundWindow()
        if not window:
            return None
        rect = wintypes.RECT()
        if not self._user32.GetWindowRect(window, ctypes.byref(rect)):
            return None
        return (rect.left, rect.top, rect.right - rect.left, rect.bottom - rect.top)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._sink = None
        if self._thread is not None and self._thread_id:
            self._user32.PostThreadMessageW(self._thread_id, WM_QUIT, 0, 0)
            self._thread.join(_START_SECONDS)
