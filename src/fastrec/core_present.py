"""Whether the compiled core is built, found without loading it.

The supervisor (the ``record`` command's process, the embedding app) never loads the core:
only the capture and encoder processes run its kernels (issue 14: loading it imports numpy).
It still refuses to record without one, at once and with the core's own message, instead of
starting processes that would each fail on import: :func:`require_compiled_core`.  A core
that is there but does not load (a wrong ABI) is reported by the first process that loads
it, as that session's error.
"""

from __future__ import annotations

from importlib.machinery import PathFinder
from pathlib import Path

__all__ = ["BUILD_ERROR", "require_compiled_core"]

BUILD_ERROR = (
    "fastrec's compiled core is missing or does not load ({reason}). fastrec needs its "
    "Cython extension: install the package with `pip install .` (or `pip install -e .` "
    "in a checkout; `bash scripts/setup.sh` does all set-up), which compiles it."
)
_MODULES = ("_convert", "_diff", "_masks", "_shm")  # fastrec._ext's extension modules
_FOLDER = str(Path(__file__).resolve().parent / "_ext")


def require_compiled_core() -> None:
    """Raise the core's ImportError if one of its extension modules is not built."""
    missing = [name for name in _MODULES if PathFinder.find_spec(name, [_FOLDER]) is None]
    if missing:
        reason = f"not built: {', '.join(f'fastrec._ext.{name}' for name in missing)}"
        raise ImportError(BUILD_ERROR.format(reason=reason))
