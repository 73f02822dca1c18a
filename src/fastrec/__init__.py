"""fastrec: fast, small, privacy-safe recording of remote-desktop sessions.

The public API lives here; everything else is private unless documented.
"""

from fastrec._ext import Scaler, TileDiff  # fails loudly when the core is not built
from fastrec.core.convert import i420_planes, i420_size, output_size, to_i420
from fastrec.core.masks import MaskKind, MaskRegion, mask_bgra, mask_i420

__version__ = "0.1.0"

__all__ = [
    "MaskKind",
    "MaskRegion",
    "Scaler",
    "TileDiff",
    "__version__",
    "i420_planes",
    "i420_size",
    "mask_bgra",
    "mask_i420",
    "output_size",
    "to_i420",
]
