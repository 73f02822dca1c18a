"""The OCR gate: which frames may go to the encoder, and what of each is masked.

Frames (I420, the encoder's input) arrive in capture order and leave in the same order,
each once its every changed region has been read by OCR - personal data found masked - or
once it has waited :attr:`OcrGate.max_delay` seconds, with what is still unread blocked.

The frame is cut into cells: bands of :data:`BAND` rows by tiles of :data:`TILE` columns.
A cell's *version* is the arrival number of the frame in which its pixels (luma) last
changed; each cell also keeps the rectangle of the pixels that changed in it since the
version it was read in.  Reading cells means OCR of the rectangle of their changed pixels
grown to the nearest blank rows above and below (at most :data:`MARGIN` rows) and
sideways to the nearest gap between words (:func:`~fastrec.privacy.ocr_layout.column_gap`,
at most :data:`SIDE_MARGIN` columns), so every word through the change is read whole,
with the words of its line up to the longest personal data there is (a card number typed
digit by digit is judged with the digits before it), and little else.  A change of several
lines (:data:`~fastrec.privacy.ocr_layout.TALL` rows: a window shown, gone, switched) is
read inside a window's frame (a line drawn down all its rows,
:func:`~fastrec.privacy.ocr_layout.drawn_lines`) without the text beside it, and, where
no frame stops it, sideways to the real end of its lines: the blocks met are those read
before, whole, and known by their pixels (a window gone shows text read before: nothing
new to read).

Invariants, and why:

- **Nothing unread leaves.**  A frame leaves when every cell's version in it has been
  read; past its deadline the cells not yet read are blocked in it (counted in
  :attr:`GateStats.blocked_frames`).  Cells are read in the content of the oldest waiting
  frame, so a cell read is read in the version the next frame to leave shows.  A cell's
  rectangle of changed pixels only grows until it is read, so what lies outside it is
  what was read before.
- **Partial verdicts, top down.**  A strip's lines are recorded as its rows are read, top
  down (``record(..., rows=)``): the cells whose changes lie above the rows read are read
  at once, so a frame due meanwhile leaves with only the rows below blocked.  No line
  crosses the rows read, and lines side by side are recorded together.
- **A box stays until its region changes.**  Personal data found is masked in every later
  frame as long as every cell under its (padded) box keeps the version it was read in; a
  change there drops the box and makes the cells under it unread, so they are read again -
  with :data:`SIDE_MARGIN` beside them, more than the widest personal data, so what the
  box covered is read whole again.
- **Rules change without reading again.**  What was read (:class:`Reading`, lines with
  positions) is kept while it matters; new pii rules are matched against it at once.
- **Cost follows change.**  Only unread cells are read; strips with nothing on them (one
  grey level) are read without Tesseract; a large change is read in chunks of at most
  :data:`CHUNK` rows.  A version already replaced in the newest waiting frame is not read
  (under sustained change - a scroll, a video - reading every version cannot keep up):
  the frame showing it leaves at once with it blocked, and reading goes to the version
  that stays on screen.
- Luma only: a change of colour alone (same luma) does not make a cell unread; text that
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
from fastrec.core.mask_kinds import MaskKind
from fastrec.core.mask_region import MaskRegion
from fastrec.privacy.ocr import OcrLine, pii_boxes
from fastrec.privacy.ocr_layout import MAX_GAP, TALL, column_gap, drawn_lines
from fastrec.privacy.screen_rules import PiiRule

__all__ = ["BAND", "CHUNK", "MARGIN", "SIDE_MARGIN", "TILE", "GateStats", "OcrGate", "Pending", "Reading", "Strip"]

BAND: Final = 16  # rows per band
TILE: Final = 64  # columns per tile
MARGIN: Final = 32  # at most this many rows read above and below a strip's bands (a line through them)
#: at most this many columns read beside a strip's tiles: 40 characters of 12 px, more than
#: the widest personal data (an e-mail address) in the text sizes read
SIDE_MARGIN: Final = 480
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
    partial_records: int = 0  # verdicts on the top rows of a strip while the rest is read
    max_wait: float = 0.0  # seconds from capture to leaving, the longest so far


@dataclass(slots=True)
class Pending:
    """A frame waiting for its verdict: a copy of its pixels and its bands' versions."""

    frame: np.ndarray
    timestamp: float
    flags: int
    versions: np.ndarray  # bands x tiles


@dataclass(frozen=True, slots=True)
class Strip:
    """The cells of bands ``first``..``last`` and tiles ``first_tile``..``last_tile``
    (inclusive) to read, in rows ``top``..``bottom`` and columns ``left``..``right`` of a
    frame whose cell versions are ``versions``; ``pixels`` are that rectangle of its luma
    (a view on the frame's own copy: valid after the frame has left)."""

    first: int
    last: int
    top: int
    bottom: int
    versions: np.ndarray = field(repr=False, compare=False)
    pixels: np.ndarray = field(repr=False, compare=False)
    first_tile: int = 0
    last_tile: int = 0
    left: int = 0
    right: int = 0
    #: the cells (bands x tiles) this strip reads: read, once recorded, in ``versions``
    cells: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: per cell, the row its changes end above (a partial record covers the cells above its rows)
    bottoms: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(slots=True)
class Reading:
    """What one read found: its lines (frame coordinates) and the versions of the cells it
    covered, so its boxes are known to hold exactly while those cells stay unchanged."""

    band: int  # the first band and tile of the cells it covered
    tile: int
    versions: np.ndarray  # versions of those cells (bands x tiles from band, tile on)
    lines: list[OcrLine]
    boxes: list[MaskRegion] = field(default_factory=list)


class OcrGate:
    """The verdicts of one session's frames (see the module docstring)."""

    def __init__(self, width: int, height: int, max_delay: float, rules: Sequence[PiiRule] = (), *,
                 tile: int = TILE, exact: bool = True) -> None:
        """``tile``: columns per tile; the frame's width or more reads full-width strips (the
        gate before tiles, kept to measure against: scripts/bench_ocr.py).  ``exact``: a
        strip starts from the rectangle of the pixels that changed in its cells, not from
        the whole cells (False: the gate before, kept to measure against)."""
        if width < 2 or height < 2:
            raise ValueError(f"frame size must be at least 2x2, got {width}x{height}")
        if tile < 1:
            raise ValueError(f"tile must be at least 1 column, got {tile!r}")
        if not (math.isfinite(max_delay) and max_delay >= 0):
            raise ValueError(f"max_delay must be a finite number of seconds >= 0, got {max_delay!r}")
        self.width, self.height = width, height
        self.max_delay = max_delay
        self.bands = -(-height // BAND)
        self.tile = min(tile, width)
        self.tiles = -(-width // self.tile)
        self.rules: tuple[PiiRule, ...] = tuple(rules)
        self.exact = exact and self.tile < width
        self.stats = GateStats()
        self.pending: deque[Pending] = deque()
        cells = (self.bands, self.tiles)
        self._latest = np.zeros(cells, np.int64)  # versions as of the last frame in
        self._checked = np.full(cells, -1, np.int64)  # the version each cell was read in
        # per cell, the rectangle (rows top..bottom, columns left..right, exclusive ends) of
        # the pixels changed since the version it was read in: what a strip must read
        self._changes = _whole_cells(self.bands, self.tiles, self.tile, width, height)
        self._previous: np.ndarray | None = None  # luma of the last frame in
        self._arrivals = 0
        self._readings: list[Reading] = []

    # --- frames in --------------------------------------------------------------------

    def add(self, frame: np.ndarray, timestamp: float, flags: int = 0) -> None:
        """A frame arrives (``frame``: its I420 bytes, kept: pass a copy)."""
        y = self._luma(frame)
        self._arrivals += 1
        if self._previous is None:
            changed = np.ones((self.bands, self.tiles), bool)
            self._previous = y.copy()
        else:
            diff = y != self._previous
            changed = self._changed_cells(diff)
            raw = changed.copy()
            changed = self._spread(changed)
            self._note_changes(diff, raw, changed)
            self._previous[...] = y
        self._latest[changed] = self._arrivals
        self.pending.append(Pending(frame, timestamp, flags, self._latest.copy()))
        self.stats.frames += 1

    def _luma(self, frame: np.ndarray) -> np.ndarray:
        return i420_planes(frame, self.width, self.height)[0]

    def _changed_cells(self, diff: np.ndarray) -> np.ndarray:
        rows = np.logical_or.reduceat(diff, np.arange(0, self.height, BAND), axis=0)
        return np.logical_or.reduceat(rows, np.arange(0, self.width, self.tile), axis=1)

    def _note_changes(self, diff: np.ndarray, raw: np.ndarray, changed: np.ndarray) -> None:
        """Grow each changed cell's rectangle of changed pixels by this frame's change (a
        cell read in its latest version starts afresh); cells made unread by a dropped box
        (``changed`` but not ``raw``) and every cell without ``exact`` take the whole cell."""
        if not changed.any():
            return
        fresh = self._checked == self._latest  # read in the version shown until now
        whole = _whole_cells(self.bands, self.tiles, self.tile, self.width, self.height)
        if self.exact:
            found = _changed_extents(diff, self.tile)
            found[:, ~raw] = whole[:, ~raw]
        else:
            found = whole
        grown = np.stack([np.minimum(self._changes[0], found[0]), np.maximum(self._changes[1], found[1]),
                          np.minimum(self._changes[2], found[2]), np.maximum(self._changes[3], found[3])])
        self._changes[:, changed] = np.where(fresh[changed], found[:, changed], grown[:, changed])

    def _spread(self, changed: np.ndarray) -> np.ndarray:
        """``changed`` grown by every cell under a box that a change drops: the box's own
        text may lie in cells that did not change (a padded box reaches into the next line;
        a line straddles two bands; a typed key changes the end of a number), and without
        this nothing would read it again."""
        if not self._readings or not changed.any():
            return changed
        grown = True
        while grown:
            grown = False
            for reading in self._readings:
                for box in reading.boxes:
                    lo, hi, left, right = _box_cells(box, self.tile)
                    under = changed[lo:hi, left:right]
                    if under.any() and not under.all() and self._box_holds(box, reading, self._latest):
                        changed[lo:hi, left:right] = grown = True
        return changed

    def set_rules(self, rules: Sequence[PiiRule]) -> None:
        """Match ``rules`` from now on, against what was read already too."""
        self.rules = tuple(rules)
        for reading in self._readings:
            reading.boxes = self._boxes(reading.lines)

    # --- verdicts ---------------------------------------------------------------------

    def unread(self, item: Pending) -> np.ndarray:
        """Indices of the bands of ``item`` with a cell not read in its version."""
        return np.flatnonzero((self._checked != item.versions).any(axis=1))

    def next_strip(self) -> Strip | None:
        """The next rows to read for the oldest waiting frame, or None when reading would
        not help it leave: its bands are all read, or those unread have changed again in
        the newest frame waiting (reading this version would serve this frame alone: it
        leaves at once with them blocked, and the newer version is read instead)."""
        if not self.pending:
            return None
        head, newest = self.pending[0], self.pending[-1]
        todo = (self._checked != head.versions) & (head.versions == newest.versions)
        bands = np.flatnonzero(todo.any(axis=1))
        if bands.size == 0:
            return None
        first = last = int(bands[0])
        for b in bands[1:]:
            if b - last > GAP or (b - first + 1) * BAND > CHUNK:
                break
            last = int(b)
        tiles = np.flatnonzero(todo[first : last + 1].any(axis=0))
        first_tile = last_tile = int(tiles[0])
        for t in tiles[1:]:  # tiles far apart are read apart (their margins would not meet)
            if (t - last_tile) * self.tile > 2 * SIDE_MARGIN:
                break
            last_tile = int(t)
        y = self._luma(head.frame)
        cells = np.zeros_like(todo)
        span = np.s_[first : last + 1, first_tile : last_tile + 1]
        # every cell of the span unread in this frame (those changed again since too: read
        # in this frame's version, it may leave with them)
        cells[span] = self._checked[span] != head.versions[span] if self.exact else True
        changes = self._changes[:, cells]
        top, bottom = int(changes[0].min()), int(changes[1].max())
        left, right = int(changes[2].min()), int(changes[3].max())
        top, bottom = self._whole_lines(y[:, left:right], top, bottom)
        left, right = self._whole_words(y[top:bottom], left, right)
        return Strip(first, last, top, bottom, head.versions.copy(), y[top:bottom, left:right],
                     first_tile, last_tile, left, right, cells, self._changes[1].copy())

    def _whole_lines(self, y: np.ndarray, top: int, bottom: int) -> tuple[int, int]:
        """``top``..``bottom`` grown to the blank rows (one grey level, the gaps between
        lines of text) of ``y`` (the columns read) nearest above and below, by at most
        :data:`MARGIN` rows, so every line through the bands is read whole and no more
        lines than that.

        With ``exact``, in a change :data:`~fastrec.privacy.ocr_layout.TALL` rows or more
        (a window, a pane): columns of one grey level through all the rows looked at (a
        window's side frame) do not make a row busy, and blank rows at its edges (its top
        and bottom frame, its margins) are dropped and not grown across - no line goes
        through a blank row."""
        lo, hi = max(0, top - MARGIN), min(self.height, bottom + MARGIN)
        above = below = 0  # blank rows dropped at the top and the bottom
        if self.exact and bottom - top >= TALL:
            # upwards judged in the rows down to the bottom, downwards in those from the top:
            # a frame is drawn through all of them (not through the text beyond the change)
            up = _blank_rows(y[lo:bottom], True)
            down = np.concatenate([np.ones(top - lo, bool), _blank_rows(y[top:hi], True)])
            if up[top - lo :].all():
                return top, bottom  # nothing on it: read (blank) as it is
            above = _leading(up[top - lo :], bottom - top)
            below = _leading(down[top - lo : bottom - lo][::-1], bottom - top)
            top, bottom = top + above, bottom - below
        else:
            up = down = _blank_rows(y[lo:hi], False)
        if not above:
            while top > lo and not up[top - 1 - lo]:
                top -= 1
        if not below:
            while bottom < hi and not down[bottom - lo]:
                bottom += 1
        return max(lo, top - min(BORDER, above or BORDER)), min(hi, bottom + min(BORDER, below or BORDER))

    def _whole_words(self, rows: np.ndarray, left: int, right: int) -> tuple[int, int]:
        """``left``..``right`` grown sideways in ``rows`` to the nearest gap between words
        (blank columns, as wide as :func:`column_gap` says for these rows), by at most
        :data:`SIDE_MARGIN` columns: the words through the tiles are read whole, with the
        rest of their line as far as personal data can reach.

        With ``exact``: blank columns at an edge, inside, count towards the gap there (a
        window's margin), judged without the rows of one grey level between ``left`` and
        ``right`` (its top and bottom frame); a line drawn down all the rows
        (:func:`~fastrec.privacy.ocr_layout.drawn_lines`: a window's side frame) is a gap."""
        lo, hi = max(0, left - SIDE_MARGIN), min(self.width, right + SIDE_MARGIN)
        gap = column_gap(rows.shape[0])
        if self.exact and rows.shape[0] >= TALL:
            # rows of several lines (a window shown, gone, switched): stop only at a gap
            # no line's blocks are cut at, or a frame - a block cut short is not the one
            # remembered whole, and the text beside the change would be read again
            lo, hi, gap = 0, self.width, MAX_GAP
        area = rows[:, lo:hi]
        blank = (area.max(axis=0) - area.min(axis=0)) <= BLANK
        start, end = left, right
        before = after = 0
        if self.exact:
            drawn = drawn_lines(area)
            own = rows[:, start:end]
            own = own[(own.max(axis=1) - own.min(axis=1)) > BLANK]
            inside = (((own.max(axis=0) - own.min(axis=0)) <= BLANK) if own.shape[0]
                      else np.ones(end - start, bool)) | drawn[start - lo : end - lo]
            before, after = _leading(inside, gap), _leading(inside[::-1], gap)
            if drawn[start - lo : start - lo + before].any():
                before = gap
            if drawn[end - lo - after : end - lo].any():
                after = gap
        run, edge = before, False
        while left > lo and run < gap:
            left -= 1
            if self.exact and drawn[left - lo]:  # stop beside it
                left, run, edge = left + 1, gap, True
                break
            run = run + 1 if blank[left - lo] else 0
        if not edge:
            left = lo if run < gap else min(start, left + gap - BORDER)
        run, edge = after, False
        while right < hi and run < gap:
            if self.exact and drawn[right - lo]:
                run, edge = gap, True
                break
            run = run + 1 if blank[right - lo] else 0
            right += 1
        if not edge:
            right = hi if run < gap else max(end, right - gap + BORDER)
        return left, right

    def record(self, strip: Strip, lines: list[OcrLine] | None, seconds: float = 0.0,
               rows: int | None = None) -> None:
        """``lines`` were read in ``strip`` (None: it is blank): its cells are read in the
        versions of the frame it was cut from, which may have left since.

        ``rows`` (a partial verdict, :class:`~fastrec.privacy.ocr.Progress`): only the
        strip's rows above this one (strip coordinates) are read so far, ``lines`` being
        those read there since the last record: the cells whose changes lie above it are
        read, the others wait for the strip's last record (without ``rows``), which brings
        the lines not recorded yet."""
        cells = np.zeros(self._checked.shape, bool)
        if strip.cells is None or strip.bottoms is None:
            cells[strip.first : strip.last + 1, strip.first_tile : strip.last_tile + 1] = True
        else:
            cells[...] = strip.cells
            if rows is not None:
                cells &= strip.bottoms <= strip.top + rows
        self._checked[cells] = strip.versions[cells]
        if rows is not None:
            self.stats.partial_records += 1
        else:
            self.stats.read_rows += strip.bottom - strip.top
            self.stats.read_seconds += seconds
        if lines is None:
            self.stats.blank_reads += 1
            return
        if rows is None:
            self.stats.reads += 1
        shifted = [OcrLine(tuple(type(w)(w.text, w.x + strip.left, w.y + strip.top, w.width, w.height)
                                 for w in line.words)) for line in lines]
        band, tile = strip.top // BAND, strip.left // self.tile
        covered = strip.versions[band : -(-strip.bottom // BAND), tile : -(-strip.right // self.tile)]
        reading = Reading(band, tile, covered.copy(), shifted)
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
        that hold in it, and its unread cells blocked)."""
        head = self.pending.popleft()
        masks = [box for reading in self._valid(head) for box in reading.boxes]
        unread = self._checked != head.versions
        if unread.any():
            self.stats.blocked_frames += 1
            self.stats.blocked_bands += int(unread.any(axis=1).sum())
            masks += _cell_blocks(unread, self.width, self.height, self.tile)
        self.stats.max_wait = max(self.stats.max_wait, now - head.timestamp)
        return head, masks

    def _valid(self, item: Pending) -> list[Reading]:
        """The readings whose bands ``item`` shows in the version they were read in; the
        others can never hold again (versions only grow) and are forgotten."""
        keep = []
        for reading in self._readings:
            rows, cols = reading.versions.shape
            if np.array_equal(item.versions[reading.band : reading.band + rows, reading.tile : reading.tile + cols],
                              reading.versions):
                keep.append(reading)
            else:
                # a box holds while the cells under it are unchanged, even if others of
                # its reading changed: keep those boxes, on the bands they cover
                reading.boxes = [b for b in reading.boxes if self._box_holds(b, reading, item.versions)]
                if reading.boxes:
                    keep.append(reading)
        self._readings = keep
        return keep

    def _box_holds(self, box: MaskRegion, reading: Reading, versions: np.ndarray) -> bool:
        """The cells under ``box`` show, in ``versions``, what ``reading`` read."""
        rows, cols = reading.versions.shape
        lo, hi, left, right = _box_cells(box, self.tile)
        lo, hi = max(lo, reading.band), min(hi, reading.band + rows)
        left, right = max(left, reading.tile), min(right, reading.tile + cols)
        return bool(np.array_equal(versions[lo:hi, left:right],
                                   reading.versions[lo - reading.band : hi - reading.band,
                                                    left - reading.tile : right - reading.tile]))


def _blank_rows(rows: np.ndarray, drawn: bool) -> np.ndarray:
    """Which ``rows`` are of one grey level (a gap between lines); with ``drawn``, apart
    from the columns of one grey level through all of them (a window's side frame)."""
    if drawn:
        rows = rows[:, (rows.max(axis=0) - rows.min(axis=0)) > BLANK]
        if rows.shape[1] == 0:
            return np.ones(rows.shape[0], bool)
    return (rows.max(axis=1) - rows.min(axis=1)) <= BLANK


def _leading(flags: np.ndarray, limit: int) -> int:
    """How many of the first ``limit`` ``flags`` are set before the first one that is not."""
    head = flags[:limit]
    return int(head.size if head.all() else np.argmin(head))


def _whole_cells(bands: int, tiles: int, tile: int, width: int, height: int) -> np.ndarray:
    """Every cell's own rectangle: top, bottom, left, right (4 x bands x tiles)."""
    top = np.arange(bands)[:, None] * BAND + np.zeros((1, tiles), np.int64)
    left = np.zeros((bands, 1), np.int64) + np.arange(tiles)[None, :] * tile
    return np.stack([top, np.minimum(height, top + BAND), left, np.minimum(width, left + tile)])


def _changed_extents(diff: np.ndarray, tile: int) -> np.ndarray:
    """The rectangle of the pixels set in ``diff`` (height x width) in each cell: top,
    bottom, left, right (4 x bands x tiles); meaningless in cells with none set."""
    height, width = diff.shape
    bands, tiles = -(-height // BAND), -(-width // tile)
    cols = np.zeros((bands, tiles * tile), bool)  # per band, the columns changed
    cols[:, :width] = np.logical_or.reduceat(diff, np.arange(0, height, BAND), axis=0)
    cols = cols.reshape(bands, tiles, tile)
    rows = np.zeros((bands * BAND, tiles), bool)  # per tile, the rows changed
    rows[:height] = np.logical_or.reduceat(diff, np.arange(0, width, tile), axis=1)
    rows = rows.reshape(bands, BAND, tiles)
    top = np.arange(bands)[:, None] * BAND
    left = np.arange(tiles)[None, :] * tile
    return np.stack([top + rows.argmax(axis=1), top + BAND - rows[:, ::-1].argmax(axis=1),
                     left + cols.argmax(axis=2), left + tile - cols[:, :, ::-1].argmax(axis=2)])


def _box_cells(box: MaskRegion, tile: int) -> tuple[int, int, int, int]:
    """The cells a box covers: bands ``lo``..``hi`` and tiles ``left``..``right`` (exclusive)."""
    return box.y // BAND, -(-(box.y + box.height) // BAND), box.x // tile, -(-(box.x + box.width) // tile)


def _cell_blocks(cells: np.ndarray, width: int, height: int, tile: int) -> list[MaskRegion]:
    """Block masks over the ``cells`` set (bands x tiles): one per run of adjacent tiles in
    a band, runs alike in adjacent bands joined."""
    open_runs: dict[tuple[int, int], int] = {}  # (first tile, end tile) -> first band
    masks = []

    def close(run: tuple[int, int], start: int, end: int) -> None:
        left, right = run[0] * tile, min(width, run[1] * tile)
        top, bottom = start * BAND, min(height, end * BAND)
        masks.append(MaskRegion(left, top, right - left, bottom - top, MaskKind.BLOCK))

    for band in range(cells.shape[0] + 1):
        runs = set()
        if band < cells.shape[0]:
            tiles = np.flatnonzero(cells[band])
            if tiles.size:
                breaks = np.flatnonzero(np.diff(tiles) > 1)
                starts = np.concatenate(([tiles[0]], tiles[breaks + 1]))
                ends = np.concatenate((tiles[breaks], [tiles[-1]])) + 1
                runs = set(zip(starts.tolist(), ends.tolist(), strict=True))
        for run in [r for r in open_runs if r not in runs]:
            close(run, open_runs.pop(run), band)
        for run in runs:
            open_runs.setdefault(run, band)
    return sorted(masks, key=lambda m: (m.y, m.x))
