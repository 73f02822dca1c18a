"""What the supervisor tells a capture process: one session's capture settings.

Apart from :mod:`fastrec.engine.capture_loop` (numpy, the compiled core, the screen
sources) so that the supervisor - the ``record`` command's process, the embedding app -
builds and sends a session's settings without importing what only the capture process
runs (issue 14: a light supervisor).  Frozen, picklable dataclasses: they cross the process
boundary as the capture process's start arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastrec.core.mask_region import MaskRegion
from fastrec.engine.protocol import CaptureMode, FullPolicy
from fastrec.privacy.pii import CustomPattern
from fastrec.privacy.screen_rules import ScreenRules

__all__ = ["CaptureConfig", "OcrOptions"]


@dataclass(frozen=True, slots=True)
class OcrOptions:
    """The OCR stage's settings (RECORDING_OCR_*)."""

    max_delay: float = 2.0  # seconds a frame may wait for its verdict
    language: str = "eng"
    threads: int = 2  # Tesseracts reading new text at once (at most the machine's cores)
    # False: the reading before cells and blocks - full-width strips read as sparse text,
    # nothing remembered (scripts/bench_ocr.py measures against it)
    blocks: bool = True
    # False: strips from whole 16x64 cells, not the changed pixels' rectangle (the gate
    # before it, measured against)
    exact: bool = True



@dataclass(frozen=True, slots=True)
class CaptureConfig:
    """One session's capture settings."""

    session_id: str
    mode: str = CaptureMode.RDP_WINDOW
    display: str | None = None
    source_options: dict[str, Any] = field(default_factory=dict)
    fps: int = 10
    scale: float = 1.0
    tile_size: int = 64
    ring_slots: int = 3  # see RecordingSettings.ring_slots
    full_policy: str = FullPolicy.BLOCK
    ring_timeout: float = 0.5
    masks: tuple[MaskRegion, ...] = ()  # in screen coordinates
    # A window that has just appeared (first seen, restored, newly focused) shows whatever
    # was beneath it until its owner paints: other windows' pixels.  Wait this long first.
    settle_seconds: float = 0.3
    # the operator's kinds of personal data (RECORDING_PII_PATTERNS), replaced in window
    # titles and pause reasons with the built-in ones
    pii_patterns: tuple[CustomPattern, ...] = ()
    # the recording policy's privacy rules at session start (later ones come as messages)
    rules: ScreenRules = field(default_factory=ScreenRules)
    # RECORDING_OCR_PII: frames pass through an OCR stage before the encoder (None: off)
    ocr: OcrOptions | None = None
    # RECORDING_PARTIAL_GRABS: grab, diff and convert only the damaged tiles (off: the whole
    # region every changed frame - the reference the benchmark compares against)
    partial_grabs: bool = True
