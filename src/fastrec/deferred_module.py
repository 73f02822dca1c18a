"""A module registered in ``sys.modules`` whose code runs on its first use.

:func:`defer_module` puts an empty module object for ``name`` in ``sys.modules``, with the
import system's attributes already set (``__spec__``, ``__path__``, ``__file__``...), so that
``import name`` and ``import name.sub`` find it without running it; the first read of any
other attribute runs the module's code into that same object, which then becomes a plain
module.  Unlike :class:`importlib.util.LazyLoader`, an ``import name`` statement does not load
it: on Python 3.11 the import statement reads ``__spec__`` of a module already in
``sys.modules``, and LazyLoader loads on every attribute read.

Invariants: there is only ever one module object for ``name`` (the deferred one is the real
one, filled in place); loading happens once, under a lock (two threads reading at once wait
for the one load); while the code runs, a missing attribute raises AttributeError as during
any import (``from . import sub`` inside the package then imports the submodule).  Used by
:mod:`fastrec.plain_structlog` for asyncio, which structlog imports and never uses in
``record`` (issue 14: the command's start-up cost).
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types
from typing import Any

__all__ = ["defer_module"]

_lock = threading.RLock()


class _DeferredModule(types.ModuleType):
    """Until its first use: the import system's attributes only."""

    def __getattr__(self, attr: str) -> Any:  # only for attributes not in the module's dict
        spec = self.__dict__["__spec__"]
        with _lock:
            if type(self) is _DeferredModule and not getattr(spec, "_initializing", False):
                spec._initializing = True  # the import system's "being imported" mark
                try:
                    spec.loader.exec_module(self)
                    self.__class__ = types.ModuleType
                finally:
                    spec._initializing = False
        return types.ModuleType.__getattribute__(self, attr)


def defer_module(name: str) -> bool:
    """Register top-level module ``name`` to be run on its first use; True when done,
    False when it is already imported or cannot be found (then nothing changes)."""
    if name in sys.modules:
        return False
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
        return False
    module = importlib.util.module_from_spec(spec)  # sets __spec__, __path__, __file__, ...
    module.__class__ = _DeferredModule
    sys.modules[name] = module
    return True
