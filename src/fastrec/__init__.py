"""fastrec: fast, small, privacy-safe recording of remote-desktop sessions.

The public API lives here; everything else is private unless documented.

Every name is imported on first use (PEP 562), so ``import fastrec`` costs almost nothing
and needs neither the compiled core nor the engine: the commands that only read
recordings (list, info, verify, storage, cleanup, status) run where the Cython core is
not built, and ``python -m fastrec`` installs its Ctrl-C handler before anything heavy is
imported.  The core is still never optional for what uses it: the first use of a kernel
name (``fastrec.Scaler``) raises the core's clear "compiled core is missing" ImportError.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastrec.lazy_exports import lazy_getattr

__version__ = "0.1.0"

# name -> the module that defines it
_EXPORTS = {
    "Scaler": "fastrec._ext",
    "TileDiff": "fastrec._ext",
    "i420_planes": "fastrec.core.convert",
    "i420_size": "fastrec.core.convert",
    "output_size": "fastrec.core.convert",
    "to_i420": "fastrec.core.convert",
    "MaskKind": "fastrec.core.masks",
    "MaskRegion": "fastrec.core.masks",
    "mask_bgra": "fastrec.core.masks",
    "mask_i420": "fastrec.core.masks",
    "RecordingManager": "fastrec.manager",
    "ConnectionMonitor": "fastrec.monitor",
    "configure_logging": "fastrec.logs",
    "RecordingSettings": "fastrec.settings",
    "SettingsError": "fastrec.settings",
    "load_settings": "fastrec.settings",
}

__all__ = sorted([*_EXPORTS, "__version__"])

if TYPE_CHECKING:  # what the names are, for type checkers and IDEs
    from fastrec._ext import Scaler, TileDiff
    from fastrec.core.convert import i420_planes, i420_size, output_size, to_i420
    from fastrec.core.masks import MaskKind, MaskRegion, mask_bgra, mask_i420
    from fastrec.logs import configure_logging
    from fastrec.manager import RecordingManager
    from fastrec.monitor import ConnectionMonitor
    from fastrec.settings import RecordingSettings, SettingsError, load_settings


__getattr__ = lazy_getattr("fastrec", _EXPORTS, globals())


def __dir__() -> list[str]:
    return __all__
