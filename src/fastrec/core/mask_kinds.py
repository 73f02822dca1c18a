"""How a masked region is hidden: the one vocabulary of mask kinds.

Apart from :mod:`fastrec.core.masks` (which draws them with the compiled core) so that
what only names a kind - the recording policy, the commands that read it - works without
the compiled core.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["MaskKind"]


class MaskKind(StrEnum):
    """How a region is hidden."""

    BLOCK = "block"  # solid fill
    BLUR = "blur"  # strong blur (repeated box blur)
    PIXELATE = "pixelate"  # cells of their mean colour
    REDACT = "redact"  # light bar with a row of asterisks
