"""fastrec: fast, small, privacy-safe recording of remote-desktop sessions.

The public API lives here; everything else is private unless documented.
"""

from fastrec._ext import Scaler, TileDiff  # fails loudly when the core is not built
from fastrec.core.convert import i420_planes, i420_size, output_size, to_i420
from fastrec.core.masks import MaskKind, MaskRegion, mask_bgra, mask_i420

__version__ = "0.1.0"

# the recorder's API, imported on first use: `import fastrec` stays light (no engine, no av)
_LAZY = {
    "RecordingManager": "fastrec.manager",
    "ConnectionMonitor": "fastrec.monitor",
    "configure_logging": "fastrec.logs",
    "RecordingSettings": "fastrec.settings",
    "SettingsError": "fastrec.settings",
    "load_settings": "fastrec.settings",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fastrec' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

__all__ = [
    "ConnectionMonitor",
    "MaskKind",
    "MaskRegion",
    "RecordingManager",
    "RecordingSettings",
    "Scaler",
    "SettingsError",
    "TileDiff",
    "__version__",
    "configure_logging",
    "i420_planes",
    "i420_size",
    "load_settings",
    "mask_bgra",
    "mask_i420",
    "output_size",
    "to_i420",
]
