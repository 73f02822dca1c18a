"""Progress of a long export: one callback type, shared by the CLI and the admin server.

A :data:`Progress` callback receives the fraction done (0.0 .. 1.0, never decreasing within
one export) and a short message saying what is being done.  Exports call it from the thread
they run on; a callback that wants to cross threads (the server's job table) does its own
locking.  :func:`scaled` maps a sub-step's 0..1 onto a slice of the whole, so a format
that has several steps (the PDF: thumbnails, then the document) reports one steady line.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Progress", "no_progress", "scaled"]

Progress = Callable[[float, str], None]


def no_progress(fraction: float, message: str) -> None:
    """The callback used when the caller does not want progress."""


def scaled(progress: Progress, start: float, end: float) -> Progress:
    """A callback reporting ``start + fraction * (end - start)`` to ``progress``."""

    def report(fraction: float, message: str) -> None:
        progress(start + min(1.0, max(0.0, fraction)) * (end - start), message)

    return report
