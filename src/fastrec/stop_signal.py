"""The stop handler of the commands that record or serve: SIGINT/SIGTERM (and Windows'
SIGBREAK, console close, logoff) set an event instead of raising.

Imports nothing but the standard library's ``signal`` and ``threading`` (and
:mod:`fastrec.winconsole`, equally light), so that ``python -m fastrec`` installs it before
it imports the CLI and everything the CLI needs: a Ctrl-C during those imports - a tenth of
a second on an idle machine, several on a loaded one - is then seen by the command, which
stops cleanly, instead of raising ``KeyboardInterrupt`` inside an import.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from fastrec.winconsole import ConsoleCloseGuard

# SIGBREAK: Ctrl-Break in a Windows console
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, *([signal.SIGBREAK] if hasattr(signal, "SIGBREAK") else []))


class StopSignal:
    """SIGINT/SIGTERM (and Windows' SIGBREAK) set :attr:`event` instead of raising
    (``record`` and ``watch``); so does a Windows console closing, or the user logging off
    (:class:`fastrec.winconsole.ConsoleCloseGuard`, which holds the process until
    :attr:`done`).

    Installed once before anything starts and kept until the command returns, so a signal
    at any moment is seen.  Only this process receives a terminal's Ctrl-C (the engine's
    processes are in sessions, on Windows consoles, of their own), and the command then
    stops its recordings and waits for their files to be sealed.
    """

    def __init__(self) -> None:
        self.event = threading.Event()
        self.done = threading.Event()  # the command has returned: its files are sealed
        self._saved: dict[int, Any] = {}
        self._console = ConsoleCloseGuard(self.event, self.done)

    def _handler(self, signum: int, frame: Any) -> None:
        self.event.set()

    def install(self) -> None:
        """Take the stop signals (idempotent)."""
        if self._saved:
            return
        self._saved = {s: signal.signal(s, self._handler) for s in STOP_SIGNALS}
        self._console.install()

    def restore(self) -> None:
        """Give the signals back their previous handlers (idempotent)."""
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)
        self._saved = {}
        self._console.uninstall()
