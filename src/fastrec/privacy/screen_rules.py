"""The recording policy's privacy rules as the capture process applies them to frames.

:class:`ScreenRules` is what crosses from the recorder to a session's capture process (at
start in ``CaptureConfig.rules``, later as a ``("rules", ScreenRules)`` control message when
a new policy version becomes active): plain frozen dataclasses, so it pickles small and
needs neither pydantic nor the policy store in the capture process.

Invariants, and why:

- **Coordinates are the captured region's, computed every frame.**  A region rule in
  pixels is an offset into the captured region; one in percent is a share of its current
  size, rounded outwards (floor of the start, ceiling of the end), so a resized window is
  masked at the same share and no partly covered pixel is left out.
- **A window rule masks the window's whole frame** (decorations included) where it
  intersects the captured region: its title bar may show what the rule hides.  Only shown
  application windows (mapped, not minimised) are masked; a hidden one shows nothing.
- **Window matching is the capture sources' own** (:func:`fastrec.capture.matching.compile_pattern`:
  case-insensitive shell globs or ``re:<regex>``): every matcher the rule gives must
  match, and a list matches when any of its items does.
- **On-screen personal data (pii rules) is not applied here**: it needs OCR, which runs
  in a process of its own between the capture process and the encoder when
  RECORDING_OCR_PII is on (:mod:`fastrec.engine.ocr_stage`).  :attr:`ScreenRules.pii`
  carries those rules there; without OCR the recorder says they are not applied, never
  silently counts them as applied.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from fastrec.capture.base import Region
from fastrec.capture.matching import WindowInfo, compile_pattern
from fastrec.core.mask_kinds import MaskKind
from fastrec.core.mask_region import MaskRegion
from fastrec.privacy.pii import CustomPattern
from fastrec.privacy.pii_kinds import PII_DEFAULT_MASK, PiiKind

__all__ = ["DEFAULT_PII_RULES", "PII_DEFAULT_MASK", "PiiRule", "RegionRule", "ScreenRules", "WindowRule",
           "ocr_rules", "screen_rules"]


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return compile_pattern(pattern, "window rule pattern")


def _any(patterns: tuple[str, ...], values: Iterable[str]) -> bool:
    return any(_compiled(p).search(v) for p in patterns for v in values if v)


@dataclass(frozen=True, slots=True)
class RegionRule:
    """A fixed rectangle of the captured region: pixels, or percent of its size."""

    x: float
    y: float
    width: float
    height: float
    percent: bool
    kind: MaskKind = MaskKind.BLOCK
    name: str = ""

    def region_in(self, width: int, height: int) -> Region | None:
        """This rule's rectangle in a captured region of ``width`` x ``height`` (relative to
        its top-left corner), clipped to it; ``None`` when it lies outside."""
        if self.percent:
            x0, y0 = math.floor(self.x * width / 100), math.floor(self.y * height / 100)
            x1 = math.ceil((self.x + self.width) * width / 100)
            y1 = math.ceil((self.y + self.height) * height / 100)
        else:
            x0, y0 = int(self.x), int(self.y)
            x1, y1 = x0 + int(self.width), y0 + int(self.height)
        return Region.from_edges(x0, y0, x1, y1).intersection(Region(0, 0, width, height))


@dataclass(frozen=True, slots=True)
class WindowRule:
    """A window matched by title, class and/or process name patterns."""

    titles: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    processes: tuple[str, ...] = ()
    kind: MaskKind = MaskKind.BLOCK
    name: str = ""

    def __post_init__(self) -> None:
        if not (self.titles or self.classes or self.processes):
            raise ValueError(f"WindowRule {self.name!r} needs at least one of titles, classes, processes")
        for pattern in (*self.titles, *self.classes, *self.processes):
            _compiled(pattern)  # a bad pattern fails here, in the recorder, not per frame

    def matches(self, window: WindowInfo) -> bool:
        """Every matcher given matches ``window`` (unmanaged windows never match)."""
        if not window.managed:
            return False
        return ((not self.titles or _any(self.titles, [window.title]))
                and (not self.classes or _any(self.classes, window.classes))
                and (not self.processes or _any(self.processes, [window.process_name])))


@dataclass(frozen=True, slots=True)
class PiiRule:
    """Personal data of ``kinds`` on screen (found by OCR), hidden with ``kind``;
    ``patterns`` are what ``custom`` looks for."""

    kinds: frozenset[PiiKind]
    kind: MaskKind = MaskKind.BLOCK
    patterns: tuple[CustomPattern, ...] = ()
    name: str = ""


@dataclass(frozen=True, slots=True)
class ScreenRules:
    """The privacy rules one session applies, from policy version ``version``."""

    version: int = 0
    regions: tuple[RegionRule, ...] = ()
    windows: tuple[WindowRule, ...] = ()
    pii: tuple[PiiRule, ...] = ()  # applied by the OCR stage, not by the capture process

    def __bool__(self) -> bool:
        return bool(self.regions or self.windows)

    def describe(self) -> str:
        """``policy version 3: 2 region, 1 window rule(s)`` for the capture log."""
        parts = [f"{len(self.regions)} region", f"{len(self.windows)} window"]
        text = f"policy version {self.version}: {', '.join(parts)} rule(s)"
        return text + (f", {len(self.pii)} on-screen pii rule(s)" if self.pii else "")

    @property
    def pii_names(self) -> list[str]:
        """The names of the on-screen pii rules, for logs."""
        return [rule.name for rule in self.pii]

    def matching(self, windows: Sequence[WindowInfo]) -> list[tuple[WindowInfo, MaskKind]]:
        """The shown windows a window rule matches, each with the first matching rule's mask."""
        found = []
        for window in windows:
            if not window.visible or window.bounds.is_empty:
                continue
            rule = next((r for r in self.windows if r.matches(window)), None)
            if rule is not None:
                found.append((window, rule.kind))
        return found

    def masks(self, region: Region, windows: Sequence[WindowInfo] = ()) -> list[MaskRegion]:
        """The masks for a frame of the captured ``region`` (screen coordinates), relative to
        its top-left corner: every region rule, and every matching window in ``windows``."""
        masks = []
        for rule in self.regions:
            box = rule.region_in(region.width, region.height)
            if box is not None:
                masks.append(MaskRegion(box.x, box.y, box.width, box.height, rule.kind))
        for window, kind in self.matching(windows):
            cut = window.bounds.intersection(region)
            if cut is not None:
                box = cut.relative_to(region)
                masks.append(MaskRegion(box.x, box.y, box.width, box.height, kind))
        return masks


#: what RECORDING_OCR_PII masks when the policy names no pii rule: every built-in kind
#: with its default mask
DEFAULT_PII_RULES: Final = tuple(PiiRule(frozenset({kind}), mask, (), f"default {kind}")
                                 for kind, mask in PII_DEFAULT_MASK.items() if kind is not PiiKind.CUSTOM)


def ocr_rules(rules: ScreenRules) -> tuple[PiiRule, ...]:
    """The pii rules OCR applies for ``rules``: the policy's, or :data:`DEFAULT_PII_RULES`."""
    return rules.pii or DEFAULT_PII_RULES


def screen_rules(rules: Iterable[object], version: int = 0) -> ScreenRules:
    """:class:`ScreenRules` from the policy's privacy rules
    (:meth:`fastrec.policy.document.PrivacyPolicy.effective_rules`, PrivacyRule models)."""
    regions, windows, pii = [], [], []
    for i, rule in enumerate(rules):
        name = getattr(rule, "name", None) or f"rules[{i}]"
        kind = MaskKind(rule.effective_mask)  # type: ignore[attr-defined]
        region, window = getattr(rule, "region", None), getattr(rule, "window", None)
        if region is not None:
            regions.append(RegionRule(float(region.x), float(region.y), float(region.width),
                                      float(region.height), percent=str(region.unit) == "percent",
                                      kind=kind, name=name))
        elif window is not None:
            windows.append(WindowRule(tuple(window.title), tuple(window.class_), tuple(window.process),
                                      kind=kind, name=name))
        elif getattr(rule, "pii", None):
            patterns = tuple(CustomPattern("custom", regex) for regex in getattr(rule, "patterns", ()))
            pii.append(PiiRule(frozenset(PiiKind(k) for k in rule.pii), kind, patterns, name))  # type: ignore[attr-defined]
    return ScreenRules(version, tuple(regions), tuple(windows), tuple(pii))
