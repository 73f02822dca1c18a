"""Modules imported at their first use, not where they are named.

A process that only names a heavy library - the supervisor, which builds the encoder's
settings but never encodes - should not pay for it: importing PyAV costs about 0.1 CPU-s and
20 MB of resident memory in every interpreter that does it.  :func:`lazy_module` returns a
module object whose first attribute access imports it (importlib's LazyLoader); a module
imported already is returned as it is.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """``name`` as a module that is imported when one of its attributes is first used;
    raises ModuleNotFoundError at once when it is not installed."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
