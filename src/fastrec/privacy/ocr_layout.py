"""Where the text is in a grey image: :func:`text_blocks` cuts it into blocks of text -
lines, or the parts of a line far apart (a window's text beside a terminal's) - at the
rows and columns of one grey level between them.

Why: OCR is read and remembered per block (:class:`fastrec.privacy.ocr.OcrEngine`), keyed
by the block's pixels, so text that moved (a scroll, a window moved or raised again) is
found by its content wherever it is now and is not read again; only new blocks go to
Tesseract.

Invariants, and why:

- **Every pixel that is not background is in exactly one block**; blocks do not overlap
  and are separated by blank rows or by at least a gap of blank columns, so a block read
  alone is read as it would be in place.
- **A gap that splits a line is wider than a word space** (:func:`column_gap`: 1.5 times
  the line's height - a space is at most ~0.8 of it, bearings included - at least
  :data:`MIN_GAP` and at most :data:`MAX_GAP` px), so a card number or an address, whose
  parts are one space apart, mostly stays in one block.  Matching does not rely on it:
  the engine joins the lines read in blocks side by side before personal data is looked for.
- **A tall block is cut at a narrow gap** (:data:`TALL_GAP` through all of its
  :data:`TALL` or more rows): lines that do not line up with each other (a window's text
  beside a terminal's) leave no blank row between them; a gap that runs through all of
  them is a window's edge or a table's column, not a word space.
- A row or column is blank when it is of one grey level (within :data:`BLANK`), whatever
  the level: a window's frame counts as a gap.  Known limit: a glyph that is one vertical
  stroke as tall as its block (``l``, ``|``) standing alone between wide spaces is taken
  for part of the gap and not read; personal data is never such a lone stroke.
- Pure numpy: no Tesseract needed (the Windows suite imports it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

__all__ = ["BLANK", "MAX_GAP", "MIN_GAP", "TALL", "Block", "column_gap", "drawn_lines", "text_blocks"]

BLANK: Final = 8  # a row or column whose luma varies by at most this carries no text
MIN_GAP: Final = 12  # px of blank columns that split a line, at least
MAX_GAP: Final = 24  # ... and at most (a multi-line block's height says nothing of its spaces)
TALL: Final = 72  # px: a block this tall holds several lines not separated by blank rows
TALL_GAP: Final = 4  # px of blank columns through all of a tall block split it (a window's edge)
DRAWN: Final = 0.9  # of the rows: a column of one level beside another this often is a drawn line
_MAX_DEPTH: Final = 6  # row and column cuts alternate at most this often


@dataclass(frozen=True, slots=True)
class Block:
    """A rectangle of text in the image: columns ``x``..``x + width``, rows ``y``..``y + height``."""

    x: int
    y: int
    width: int
    height: int


def column_gap(height: int) -> int:
    """Blank columns that split a block ``height`` rows tall (module docstring)."""
    if height >= TALL:
        return TALL_GAP
    return min(MAX_GAP, max(MIN_GAP, round(1.5 * height)))


def drawn_lines(grey: np.ndarray) -> np.ndarray:
    """The columns of ``grey`` that are a line drawn down all of its rows, when it is
    :data:`TALL` rows or more: one grey level through them, and a column beside them of
    another level in :data:`DRAWN` of the rows (a window's side frame, a table's rule).
    Text draws no such column (a glyph is not that tall; the blank columns between
    letters are the background, like most of the rows beside them); each is a gap
    between blocks by itself, however narrow."""
    height, width = grey.shape
    if height < TALL or width < 2:
        return np.zeros(width, bool)
    flat = (grey.max(axis=0) - grey.min(axis=0)) <= BLANK
    where = np.flatnonzero(flat)
    if where.size == 0:
        return flat
    level = grey[0, where].astype(np.int16)
    drawn = np.zeros(width, bool)
    for side in (-1, 1):
        beside = where + side
        inside = (beside >= 0) & (beside < width)
        apart = np.abs(grey[:, beside[inside]].astype(np.int16) - level[inside]) > BLANK
        drawn[where[inside]] |= apart.mean(axis=0) >= DRAWN
    return drawn


def text_blocks(grey: np.ndarray) -> list[Block]:
    """The blocks of text in ``grey`` (2-D uint8), top to bottom then left to right."""
    if grey.ndim != 2:
        raise ValueError(f"grey must be a 2-D array, got {grey.ndim}-D")
    blocks: list[Block] = []
    _cut(grey, 0, 0, grey.shape[1], grey.shape[0], True, 0, blocks)
    blocks.sort(key=lambda b: (b.y, b.x))
    return blocks


def _runs(busy: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """Start/end of the runs of ``busy`` entries, runs closer than ``gap`` joined."""
    where = np.flatnonzero(busy)
    if where.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(where) > gap)
    starts = np.concatenate(([where[0]], where[breaks + 1]))
    ends = np.concatenate((where[breaks], [where[-1]])) + 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _parted(run: tuple[int, int], drawn: np.ndarray, busy: np.ndarray) -> list[tuple[int, int]]:
    """``run`` (start, end) cut at the ``drawn`` columns in it, each part trimmed to its busy columns."""
    start, end = run
    cuts = drawn[(drawn >= start) & (drawn < end)]
    parts = []
    for a, b in zip([start, *(cuts + 1).tolist()], [*cuts.tolist(), end], strict=True):
        where = np.flatnonzero(busy[a:b])
        if where.size:
            parts.append((a + int(where[0]), a + int(where[-1]) + 1))
    return parts


def _cut(grey: np.ndarray, x: int, y: int, width: int, height: int, rows: bool, depth: int,
         out: list[Block]) -> None:
    """Cut the rectangle at blank rows (``rows``) or wide blank column gaps, then the other
    way inside each piece, until neither cuts it any more."""
    area = grey[y : y + height, x : x + width]
    if rows:
        busy = (area.max(axis=1) - area.min(axis=1)) > BLANK
        pieces = [(x, y + a, width, b - a) for a, b in _runs(busy, 1)]
    else:
        busy = (area.max(axis=0) - area.min(axis=0)) > BLANK
        runs = _runs(busy, column_gap(height))
        drawn = np.flatnonzero(drawn_lines(area))
        if drawn.size:  # each line drawn down the piece parts the runs it falls in
            runs = [part for run in runs for part in _parted(run, drawn, busy)]
        pieces = [(x + a, y, b - a, height) for a, b in runs]
    if not pieces:
        return
    if len(pieces) == 1 and depth > 0 and pieces[0] == (x, y, width, height):
        out.append(Block(x, y, width, height))  # neither way cuts it: a block
        return
    if depth >= _MAX_DEPTH:
        out.extend(Block(*p) for p in pieces)
        return
    for piece in pieces:
        _cut(grey, *piece, not rows, depth + 1, out)
