"""The OCR gate: which frames may go to the encoder, and what of each is masked.

Frames (I420, the encoder's input) arrive in capture order and leave in the same order,
each once its every changed region has been read by OCR - personal data found masked - or
once it has waited :attr:`OcrGate.max_delay` seconds, with what is still unread blocked.

The frame is cut into horizontal bands of :data:`BAND` rows.  A band's *version* is the
arrival number of the frame in which its pixels (luma) last changed; reading a band means
OCR of full-width rows grown from the band to the nearest blank rows above and below (at
most :data:`MARGIN` rows), so every line of text through the band is read whole and little
else (personal data is matched per line: a card number typed digit by digit is judged with
the digits before it).

Invariants, and why:

- **Nothing unread leaves.**  A frame leaves when every band's version in it has been
  read; past its deadline the bands not yet read are blocked in it (counted in
  :attr:`GateStats.blocked_frames`).  Bands are read in the content of the oldest waiting
  frame, so a band read is read in the version the next frame to leave shows.
- **A box stays until its region changes.**  Personal data found is masked in every later
  frame as long as every band under its (padded) box keeps the version it was read in; a
  change there drops the box and makes the band unread, so it is read again.
- **Rules change without reading again.**  What was read (:class:`Reading`, lines with
  positions) is kept while it matters; new pii rules are matched against it at once.
- **Cost follows change.**  Only unread bands are read; strips with nothing on them (one
  grey level) are read without Tesseract; a large change is read in chunks of at most
  :data:`CHUNK` rows.  A version already replaced in the newest waiting frame is not read
  (under sustained change - a scroll, a video - reading every version cannot keep up):
  the frame showing it leaves at once with it blocked, and reading goes to the version
  that stays on screen.
- Luma only: a change of colour alone (same luma) does not make a band unread; text that
  only differs from its background in colour is not readable by Tesseract either.

Not thread-safe by itself: :mod:`fastrec.engine.ocr_stage` feeds it from one thread and
steps it from another under one lock, reading (the slow part) outside the lock.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from fastrec.core.convert import i420_planes
from fastrec.core.masks import MaskKind, MaskRegion
from fastrec.privacy.ocr import OcrLine, pii_boxes
from fastrec.privacy.screen_rules import PiiRule

__all__ = ["BAND", "CHUNK", "MARGIN", "GateStats", "OcrGate", "Pending", "Reading", "Strip"]

BAND: Final = 16  # rows per band
MARGIN: Final = 32  # at most this many rows read above and below a strip's bands (a line through them)
CHUNK: Final = 256  # at most this many band rows per read
GAP: Final = 2  # unread bands at most this far apart are read together (lines between them once)
BLANK: Final = 8  # a row whose luma varies by at most this is a gap between lines
BORDER: Final = 2  # blank rows kept around a strip: Tesseract reads glyphs touching the edge worse

Reader = Callable[[np.ndarray], list[OcrLine]]


@dataclass(slots=True)
class GateStats:
    """What the gate did: frames in and out, regions read, boxes found, frames that left
    with unread bands blocked, time spent reading, the longest wait of a frame."""

    frames: int = 0
    reads: int = 0
    blank_reads: int = 0  # strips of one grey level: nothing to read
    read_rows: int = 0
    read_seconds: float = 0.0
    found: int = 0  # personal-data boxes found (counted when read)
    blocked_frames: int = 0  # left at their deadline with bands unread (blocked)
    blocked_bands: int = 0
    max_wait: float = 0.0  # seconds from capture to leaving, the longest so far


@dataclass(slots=True)
class Pending:
    """A frame waiting for its verdict: a copy of its pixels and its bands' versions."""

    frame: np.ndarray
    timestamp: float
    flags: int
    versions: np.ndarray


@dataclass(frozen=True, slots=True)
class Strip:
    """Bands ``first``..``last`` (inclusive) to read, in rows ``top``..``bottom`` of a frame
    whose band versions are ``versions``; ``pixels`` are those rows of its luma (a view on
    the frame's own copy: valid after the frame has left)."""

    first: int
    last: int
    top: int
    bottom: int
    versions: np.ndarray = field(repr=False, compare=False)
    pixels: np.ndarray = field(repr=False, compare=False)


@dataclass(slots=True)
class Reading:
    """What one read found: its lines (frame coordinates) and the versions of the bands it
    covered, so its boxes are known to hold exactly while those bands stay unchanged."""

    top: int
    versions: np.ndarray  # versions of the bands from top // BAND on
    lines: list[OcrLine]
    boxes: list[MaskRegion] = field(default_factory=list)


class OcrGate:
    """The verdicts of one session's frames (see the module docstring)."""

    def __init__(self, width: int, height: int, max_delay: float, rules: Sequence[PiiRule] = ()) -> None:
        if width < 2 or height < 2:
            raise ValueError(f"frame size must be at least 2x2, got {width}x{height}")
        if not (math.isfinite(max_delay) and max_delay >= 0):
            raise ValueError(f"max_delay must be a finite number of seconds >= 0, got {max_delay!r}")
        self.width, self.height = width, height
        self.max_delay = max_delay
        self.bands = -(-height // BAND)
        self.rules: tuple[PiiRule, ...] = tuple(rules)
        self.stats = GateStats()
        self.pending: deque[Pending] = deque()
        self._latest = np.zeros(self.bands, np.int64)  # versions as of the last frame in
        self._checked = np.full(self.bands, -1, np.int64)  # the version each band was read in
        self._previous: np.ndarray | None = None  # luma of the last frame in
        self._arrivals = 0
        self._readings: list[Reading] = []

    # --- frames in --------------------------------------------------------------------

    def add(self, frame: np.ndarray, timestamp: float, flags: int = 0) -> None:
        """A frame arrives (``frame``: its I420 bytes, kept: pass a copy)."""
        y = self._luma(frame)
        self._arrivals += 1
        if self._previous is None:
            changed = np.ones(self.bands, bool)
            self._previous = y.copy()
        else:
            changed = self._spread(self._changed_bands(y, self._previous))
            self._previous[...] = y
        self._latest[changed] = self._arrivals
        self.pending.append(Pending(frame, timestamp, flags, self._latest.copy()))
        self.stats.frames += 1

    def _luma(self, frame: np.ndarray) -> np.ndarray:
        return i420_planes(frame, self.width, self.height)[0]

    def _changed_bands(self, y: np.ndarray, previous: np.ndarray) -> np.ndarray:
        full = (self.height // BAND) * BAND
        diff = y != previous
        changed = np.empty(self.bands, bool)
        changed[: full // BAND] = diff[:full].reshape(full // BAND, -1).any(axis=1)
        if full < self.height:
            changed[-1] = bool(diff[full:].any())
        return changed

    def _spread(self, changed: np.ndarray) -> np.ndarray:
        """``changed`` grown by every band under a box that a change drops: the box's own
        text may lie in bands that did not change (a padded box reaches into the next line;
        a line straddles two bands), and without this nothing would read it again."""
        if not self._readings or not changed.any():
            return changed
        grown = True
        while grown:
            grown = False
            for reading in self._readings:
                for box in reading.boxes:
                    lo, hi = _box_bands(box)
                    under = changed[lo:hi]
                    if under.any() and not under.all() and self._box_holds(box, reading, self._latest):
                        changed[lo:hi] = grown = True
        return changed

    def set_rules(self, rules: Sequence[PiiRule]) -> None:
        """Match ``rules`` from now on, against what was read already too."""
        self.rules = tuple(rules)
        for reading in self._readings:
            reading.boxes = self._boxes(reading.lines)

    # --- verdicts ---------------------------------------------------------------------

    def unread(self, item: Pending) -> np.ndarray:
        """Indices of the bands of ``item`` not read in its version."""
        return np.flatnonzero(self._checked != item.versions)

    def next_strip(self) -> Strip | None:
        """The next rows to read for the oldest waiting frame, or None when reading would
        not help it leave: its bands are all read, or those unread have changed again in
        the newest frame waiting (reading this version would serve this frame alone: it
        leaves at once with them blocked, and the newer version is read instead)."""
        if not self.pending:
            return None
        head, newest = self.pending[0], self.pending[-1]
        bands = np.flatnonzero((self._checked != head.versions) & (head.versions == newest.versions))
        if bands.size == 0:
            return None
        first = last = int(bands[0])
        for b in bands[1:]:
            if b - last > GAP or (b - first + 1) * BAND > CHUNK:
                break
            last = int(b)
        y = self._luma(head.frame)
        top, bottom = self._whole_lines(y, first * BAND, min(self.height, (last + 1) * BAND))
        return Strip(first, last, top, bottom, head.versions.copy(), y[top:bottom])

    def _whole_lines(self, y: np.ndarray, top: int, bottom: int) -> tuple[int, int]:
        """``top``..``bottom`` grown to the blank rows (one grey level, the gaps between
        lines of text) nearest above and below, by at most :data:`MARGIN` rows, so every
        line through the bands is read whole and no more lines than that."""
        lo, hi = max(0, top - MARGIN), min(self.height, bottom + MARGIN)
        rows = y[lo:hi]
        blank = (rows.max(axis=1) - rows.min(axis=1)) <= BLANK
        while top > lo and not blank[top - 1 - lo]:
            top -= 1
        while bottom < hi and not blank[bottom - lo]:
            bottom += 1
        return max(lo, top - BORDER), min(hi, bottom + BORDER)

    def record(self, strip: Strip, lines: list[OcrLine] | None, seconds: float = 0.0) -> None:
        """``lines`` were read in ``strip`` (None: it is blank): its bands are read in the
        versions of the frame it was cut from, which may have left since."""
        self._checked[strip.first : strip.last + 1] = strip.versions[strip.first : strip.last + 1]
        self.stats.read_rows += strip.bottom - strip.top
        self.stats.read_seconds += seconds
        if lines is None:
            self.stats.blank_reads += 1
            return
        self.stats.reads += 1
        shifted = [OcrLine(tuple(type(w)(w.text, w.x, w.y + strip.top, w.width, w.height) for w in line.words))
                   for line in lines]
        reading = Reading(strip.top, strip.versions[strip.top // BAND : -(-strip.bottom // BAND)].copy(),
                          shifted)
        reading.boxes = self._boxes(shifted)
        self.stats.found += len(reading.boxes)
        if reading.lines:
            self._readings.append(reading)

    def _boxes(self, lines: list[OcrLine]) -> list[MaskRegion]:
        return pii_boxes(lines, self.rules, bounds=(self.width, self.height)) if self.rules else []

    def due(self, now: float) -> bool:
        """The oldest waiting frame has waited as long as it may."""
        return bool(self.pending) and now >= self.pending[0].timestamp + self.max_delay

    def release(self, now: float) -> tuple[Pending, list[MaskRegion]]:
        """The oldest waiting frame leaves: it and the masks to composite on it (the boxes
        that hold in it, and its unread bands blocked)."""
        head = self.pending.popleft()
        masks = [box for reading in self._valid(head) for box in reading.boxes]
        unread = np.flatnonzero(self._checked != head.versions)
        if unread.size:
            self.stats.blocked_frames += 1
            self.stats.blocked_bands += int(unread.size)
            masks += _band_blocks(unread, self.width, self.height)
        self.stats.max_wait = max(self.stats.max_wait, now - head.timestamp)
        return head, masks

    def _valid(self, item: Pending) -> list[Reading]:
        """The readings whose bands ``item`` shows in the version they were read in; the
        others can never hold again (versions only grow) and are forgotten."""
        keep = []
        for reading in self._readings:
            first = reading.top // BAND
            if np.array_equal(item.versions[first : first + reading.versions.size], reading.versions):
                keep.append(reading)
            else:
                # a box holds while the bands under it are unchanged, even if others of
                # its reading changed: keep those boxes, on the bands they cover
                reading.boxes = [b for b in reading.boxes if self._box_holds(b, reading, item.versions)]
                if reading.boxes:
                    keep.append(reading)
        self._readings = keep
        return keep

    @staticmethod
    def _box_holds(box: MaskRegion, reading: Reading, versions: np.ndarray) -> bool:
        """The bands under ``box`` show, in ``versions``, what ``reading`` read."""
        first = reading.top // BAND
        lo, hi = _box_bands(box)
        lo, hi = max(lo, first), min(hi, first + reading.versions.size)
        return bool(np.array_equal(versions[lo:hi], reading.versions[lo - first : hi - first]))


def _box_bands(box: MaskRegion) -> tuple[int, int]:
    """The bands a box covers: ``lo``..``hi`` (exclusive)."""
    return box.y // BAND, -(-(box.y + box.height) // BAND)


def _band_blocks(bands: np.ndarray, width: int, height: int) -> list[MaskRegion]:
    """Block masks over ``bands`` (sorted indices), one per run of adjacent bands."""
    masks = []
    start = prev = int(bands[0])
    for b in [*map(int, bands[1:]), None]:
        if b is not None and b == prev + 1:
            prev = b
            continue
        top, bottom = start * BAND, min(height, (prev + 1) * BAND)
        masks.append(MaskRegion(0, top, width, bottom - top, MaskKind.BLOCK))
        if b is not None:
            start = prev = b
    return masks
