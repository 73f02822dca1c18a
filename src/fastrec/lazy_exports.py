"""PEP 562 lazy exports: a package names what it offers, each name imported on first use.

One implementation for every package that keeps its import light (``fastrec``,
``fastrec.capture``, ``fastrec.storage``, ``fastrec.live``): importing the package imports
none of the modules behind its names, so a process imports only the modules it uses
(issue 14: each of a recording's processes pays only for what it runs).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_getattr(package: str, exports: dict[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: ``exports`` maps each name to the module
    that defines it (absolute, or relative to ``package`` when it starts with a dot); the
    value is imported on first use and kept in ``namespace`` (the package's globals)."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module, package) if module.startswith(".") else import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
