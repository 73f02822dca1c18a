"""Import structlog without rich, in the processes fastrec owns.

structlog's import pulls in rich (for its ConsoleRenderer's pretty tracebacks) whenever rich
is installed: ~60 modules, ~0.15 CPU-s per interpreter (issue 14: the fixed cost of every
``python -m fastrec record``).  fastrec never uses that renderer: its lines are its own
(:mod:`fastrec.logs`: one console line or one JSON object, tracebacks through
``format_exc_info``), so the command-line process imports structlog with rich hidden, and
structlog falls back to plain tracebacks for a ConsoleRenderer nobody configures.

Invariant: only the ``python -m fastrec`` / ``fastrec`` process does this
(:func:`fastrec.cli.main`), never ``import fastrec``: an application embedding fastrec that
uses structlog's ConsoleRenderer keeps its rich tracebacks.  rich itself stays importable
afterwards (the hiding lasts for structlog's import only).
"""

from __future__ import annotations

import sys

# what structlog imports only to offer with it (its dev renderer's tracebacks)
_HIDDEN = ("rich",)


def import_structlog_without_rich() -> None:
    """Import structlog, with rich hidden from it unless either is already imported."""
    if "structlog" in sys.modules:
        return
    hidden = [name for name in _HIDDEN if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # `import rich` raises ImportError
    try:
        import structlog  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]
