"""Import structlog without rich and without loading asyncio, in the processes fastrec owns.

structlog's import pulls in rich (for its ConsoleRenderer's pretty tracebacks) whenever rich
is installed: ~60 modules, ~0.15 CPU-s per interpreter (issue 14: the fixed cost of every
``python -m fastrec record``).  fastrec never uses that renderer: its lines are its own
(:mod:`fastrec.logs`: one console line or one JSON object, tracebacks through
``format_exc_info``), so the command-line process imports structlog with rich hidden, and
structlog falls back to plain tracebacks for a ConsoleRenderer nobody configures.  greenlet is
hidden alike: structlog imports it only for its deprecated ``threadlocal`` module, which
fastrec does not use.

structlog also runs ``import asyncio`` at module level (``structlog.stdlib`` and
``structlog._native``, for their ``a*`` logging methods): ~30 modules with ssl and socket,
~0.05 CPU-s and ~2 MB, in a ``record`` that never runs an event loop.  So asyncio is
registered deferred (:func:`fastrec.deferred_module.defer_module`): the real asyncio, run on
its first attribute read.  Nothing changes for code that uses asyncio (the ``serve``
command, the live stores): ``import asyncio`` finds that module and its first use loads it,
once; there is only ever one asyncio module.

Invariant: only the ``python -m fastrec`` / ``fastrec`` process does this
(:func:`fastrec.cli.main`), never ``import fastrec``: an application embedding fastrec that
uses structlog's ConsoleRenderer keeps its rich tracebacks and imports asyncio as it always
does.  rich and greenlet stay importable afterwards (the hiding lasts for structlog's import only).
"""

from __future__ import annotations

import sys

from fastrec.deferred_module import defer_module

# what structlog imports only to offer with it: its dev renderer's tracebacks (rich) and its
# deprecated thread-local context under greenlets (greenlet; threading.local without it)
_HIDDEN = ("rich", "greenlet")
# what structlog imports at module level but uses only inside coroutines (run on first use)
_LAZY = ("asyncio",)


def import_structlog_without_rich() -> None:
    """Import structlog, with rich hidden from it and asyncio lazy, unless structlog is
    already imported."""
    if "structlog" in sys.modules:
        return
    for name in _LAZY:
        defer_module(name)
    hidden = [name for name in _HIDDEN if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # `import rich` raises ImportError
    try:
        import structlog  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]
