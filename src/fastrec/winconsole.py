"""Windows console events that end a process without a signal: its console window closed,
the user logging off, the system shutting down.

Ctrl-C and Ctrl-Break reach Python as SIGINT and SIGBREAK, which the CLI's stop handler
takes like SIGINT/SIGTERM on POSIX.  The other three events have no signal: Windows calls
the console's control handlers on a thread of its own and terminates the process as soon
as a handler returns (or after about 5 seconds).  :class:`ConsoleCloseGuard` registers a
handler that asks the command to stop (the same event Ctrl-C sets) and then holds the
process until the command says its files are sealed, within that grace period; the engine's
processes have consoles of their own (:mod:`fastrec.engine.launch`), so they live on until
the command has stopped them.

A no-op on other platforms.  Not exercised under Wine, which cannot send these events:
only a real Windows shows it (README, Platforms).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT = 2, 5, 6
ENDING_EVENTS = frozenset({CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT})
GRACE_SECONDS = 4.5  # Windows ends the process about 5 s after a close event


class ConsoleCloseGuard:
    """While installed, a console close, logoff or shutdown sets ``stop`` and holds the
    process until ``done`` is set (at most :data:`GRACE_SECONDS`)."""

    def __init__(self, stop: threading.Event, done: threading.Event) -> None:
        self._stop, self._done = stop, done
        self._callback: Any = None

    def _handle(self, event: int) -> bool:
        if event not in ENDING_EVENTS:
            return False  # Ctrl-C, Ctrl-Break: Python's own handler turns them into signals
        self._stop.set()
        self._done.wait(GRACE_SECONDS)
        return True

    def install(self) -> None:
        if sys.platform != "win32" or self._callback is not None:
            return
        import ctypes
        from ctypes import wintypes

        kernel32 = getattr(ctypes, "WinDLL")("kernel32", use_last_error=True)  # noqa: B009
        handler_type = getattr(ctypes, "WINFUNCTYPE")(wintypes.BOOL, wintypes.DWORD)  # noqa: B009
        self._callback = handler_type(self._handle)  # kept: the handler must outlive the call
        if not kernel32.SetConsoleCtrlHandler(self._callback, True):
            self._callback = None  # no console (a service, a GUI host): nothing to guard

    def uninstall(self) -> None:
        if self._callback is None:
            return
        import ctypes

        getattr(ctypes, "WinDLL")("kernel32").SetConsoleCtrlHandler(self._callback, False)  # noqa: B009
        self._callback = None
