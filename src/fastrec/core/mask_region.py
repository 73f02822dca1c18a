"""A privacy mask's region: where and how to hide, in a frame's pixel coordinates.

Apart from :mod:`fastrec.core.masks` (which draws regions with the compiled core and numpy)
so that what only holds or computes regions - the supervisor, the recording policy's rules,
the manager - imports neither (issue 14: the ``record`` command's process stays light).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from fastrec.checks import check_int, check_number
from fastrec.core.mask_kinds import MaskKind

__all__ = ["DEFAULT_COLOUR", "DEFAULT_STRENGTH", "REDACT_GLYPH_COLOUR", "MaskRegion", "Rgb"]

DEFAULT_STRENGTH = {MaskKind.BLOCK: 1, MaskKind.BLUR: 12, MaskKind.PIXELATE: 16, MaskKind.REDACT: 1}
DEFAULT_COLOUR = {MaskKind.BLOCK: (0, 0, 0), MaskKind.REDACT: (208, 208, 208)}
REDACT_GLYPH_COLOUR = (40, 40, 40)
Rgb = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class MaskRegion:
    """A rectangle to hide, in the pixel coordinates of the frame it applies to.

    ``strength`` is the blur radius or the pixel cell size (default per kind);
    ``colour`` the RGB fill of block and redact regions.
    """

    x: int
    y: int
    width: int
    height: int
    kind: MaskKind = MaskKind.BLOCK
    strength: int | None = None
    colour: Rgb | None = field(default=None)

    def __post_init__(self) -> None:
        for name in ("x", "y", "width", "height"):
            check_int(f"MaskRegion.{name}", getattr(self, name))
        if self.width < 0 or self.height < 0:
            raise ValueError(
                f"MaskRegion width and height must be >= 0, got {self.width}x{self.height}"
            )
        try:
            object.__setattr__(self, "kind", MaskKind(self.kind))
        except ValueError:
            allowed = ", ".join(k.value for k in MaskKind)
            raise ValueError(f"MaskRegion.kind must be one of {allowed}, got {self.kind!r}") from None
        if self.strength is not None:
            check_number("MaskRegion.strength", self.strength, 1, 1024)
        if self.colour is not None and (
            len(self.colour) != 3 or not all(0 <= int(c) <= 255 for c in self.colour)
        ):
            raise ValueError(f"MaskRegion.colour must be three values 0..255 (RGB), got {self.colour!r}")

    @property
    def effective_strength(self) -> int:
        return self.strength if self.strength is not None else DEFAULT_STRENGTH[self.kind]

    def scaled(self, sx: float, sy: float) -> MaskRegion:
        """This region in a frame scaled by ``sx``, ``sy``, rounded outwards (and one pixel
        wider when enlarging, where bilinear taps reach one source pixel further)."""
        margin = 1 if max(sx, sy) > 1.0 else 0
        x0 = math.floor(self.x * sx) - margin
        y0 = math.floor(self.y * sy) - margin
        x1 = math.ceil((self.x + self.width) * sx) + margin
        y1 = math.ceil((self.y + self.height) * sy) + margin
        strength = None
        if self.strength is not None:
            strength = max(1, round(self.strength * (sx + sy) / 2))
        return replace(self, x=x0, y=y0, width=x1 - x0, height=y1 - y0, strength=strength)
