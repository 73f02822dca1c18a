"""On-screen text: Tesseract reads a part of a frame, :func:`pii_boxes` says where its
personal data is.

:class:`OcrEngine` keeps Tesseract loaded (tesserocr, Tesseract's C++ API in process: the
model loads once, ~0.1 s, instead of once per read) and reads 8-bit grey images - the Y
plane of the I420 frames the recorder encodes, so what is read is exactly what would be
recorded.  Tesseract releases the GIL while it recognises, so a thread feeding frames
beside it keeps running.  The model is Debian's ``tesseract-ocr-eng`` (4.1.0): the
``tessdata_fast`` English LSTM, the only engine in it (no legacy model to choose).

An image is cut into blocks of text (:mod:`fastrec.privacy.ocr_layout`); a block's lines
are remembered by its pixels, so text that moved or came back (a scroll, a window raised
again) is not read again; the new blocks are read in one pass, stacked one under the
other, as one block of text (PSM 6: measured ~1.2x faster than sparse text on a 1080p
terminal) without Tesseract's word lists (personal data is not words; ~1.1x).

Invariants, and why:

- **One OpenMP thread per Tesseract, at most ``threads`` Tesseracts.**  ``OMP_THREAD_LIMIT=1``
  is set before the library loads: Tesseract's OpenMP threads cost several times the wall
  time on a loaded 2-core machine (measured: 16-18 s instead of 2.3 s for a 1080p
  terminal).  Parallel reading is ours instead: the new blocks of a read are cut, top
  down, into runs of about equal work (:func:`_work`: the LSTM's time follows the lines'
  width over their height, not their area) and each Tesseract, in its own thread, takes
  the next run as it finishes one - they finish together, the top rows first.
- **Lines handed out top down** (:data:`Progress`): a line goes out once every block
  sharing rows with it (directly or through a block beside it) is read, so a number cut
  into blocks side by side is judged whole; the gate turns that into partial verdicts.
- **A remembered block is exactly the same pixels** (size and a 128-bit BLAKE2b of its
  bytes): the same pixels give the same text, wherever they are.
- **Boxes cover whole words, padded.**  A match is mapped back to every word it touches,
  so a card number read as four words is masked as one box; :data:`PAD` of the line height
  around it (at least 2 px) covers anti-aliasing and a misplaced box edge.
- **Reading errors lean towards masking.**  Digits are often read as look-alike letters
  (``O`` for ``0``, ``l`` for ``1``): a word that is mostly digits is also matched with
  those letters read as digits (:func:`_as_digits`); and the gaps between narrow digits
  are read as spaces or not at random (``4111 1111 11111111``), so card numbers and IBANs
  are also looked for with the gaps between digits removed (:func:`_compact`).  A match
  in any reading counts.
- **Nothing read is kept on disk or logged**: :class:`OcrLine` lives as long as the caller
  keeps it; the blocks remembered (at most ``cache_blocks``) live in the engine's memory
  and go with it; :func:`pii_boxes` returns rectangles and kinds only.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import numpy as np

from fastrec.core.mask_region import MaskRegion
from fastrec.privacy.ocr_layout import Block, text_blocks
from fastrec.privacy.pii import find_pii
from fastrec.privacy.pii_kinds import PiiKind
from fastrec.privacy.screen_rules import PiiRule

__all__ = ["EngineStats", "OcrEngine", "OcrLine", "OcrUnavailable", "OcrWord", "Progress", "check_ocr", "describe_kinds",
           "find_tessdata", "pii_boxes"]

PAD: Final = 0.25  # of a box's height, on every side
MIN_PAD: Final = 2
LANGUAGE: Final = "eng"
SMALL_TEXT: Final = 12  # px: a line whose words are at most this tall is read again at twice the size
SMALL_MARGIN: Final = 4  # px kept above and below small lines read again
SMALL_BLOCK: Final = 13  # px: a block at most this tall (a line of small text) is read at twice the size
STACK_GAP: Final = 10  # px of background between and around the blocks read together
MAX_THREADS: Final = 8
JOIN_GAP: Final = 3  # line heights: lines read side by side at most this far apart are one line
BATCHES: Final = 4  # per Tesseract: the new blocks of a read go in this many runs, top down
LINE: Final = 18  # px: the line height a tall block's work is estimated with
CACHE_BLOCKS: Final = 4096  # blocks whose lines an engine remembers (a few screens' worth)
#: Tesseract's word lists only pull a misread number towards a word: personal data is not words
NO_DICTIONARIES: Final = {name: "0" for name in ("load_system_dawg", "load_freq_dawg", "load_punc_dawg",
                                                 "load_number_dawg", "load_unambig_dawg", "load_bigram_dawg")}
#: where Debian (tesseract-ocr), Fedora/Arch, Homebrew and a source build put the models
TESSDATA_DIRS: Final = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata",
                        "/usr/share/tessdata", "/usr/local/share/tessdata", "/opt/homebrew/share/tessdata")
INSTALL_HINT: Final = ("install tesserocr (pip install 'fastrec[ocr]') and Tesseract's English model "
                       "(Debian/Ubuntu: apt install tesseract-ocr; or set TESSDATA_PREFIX to the "
                       "directory holding eng.traineddata)")
_DIGIT_LOOKALIKES: Final = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "l": "1", "I": "1",
                                          "i": "1", "|": "1", "!": "1", "Z": "2", "S": "5", "s": "5",
                                          "G": "6", "B": "8", "g": "9", "q": "9"})


_DIGIT_GAPS: Final = frozenset(" -.")
_NUMBERS: Final = frozenset({PiiKind.CARD, PiiKind.IBAN})  # judged without their grouping


@dataclass(slots=True)
class EngineStats:
    """Blocks of text an engine met, how many it remembered, how many it read."""

    blocks: int = 0
    reused: int = 0
    read: int = 0


class OcrUnavailable(RuntimeError):
    """Tesseract cannot run here: the message says what is missing and how to install it."""


@dataclass(frozen=True, slots=True)
class OcrWord:
    """A word read, with its box (x, y, width, height) in the image read."""

    text: str
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class OcrLine:
    """A line of text read: its words, left to right."""

    words: tuple[OcrWord, ...]

    @property
    def text(self) -> str:
        """The words joined by single spaces (what patterns are matched against)."""
        return " ".join(w.text for w in self.words)


def find_tessdata(language: str = LANGUAGE) -> Path:
    """The directory holding ``<language>.traineddata``: TESSDATA_PREFIX, else the usual
    places; :class:`OcrUnavailable` when there is none."""
    given = os.environ.get("TESSDATA_PREFIX")
    candidates = [Path(given)] if given else [Path(p) for p in TESSDATA_DIRS]
    for folder in candidates:
        if (folder / f"{language}.traineddata").is_file():
            return folder
    where = f"TESSDATA_PREFIX={given}" if given else ", ".join(TESSDATA_DIRS)
    raise OcrUnavailable(f"no Tesseract model {language}.traineddata in {where}: {INSTALL_HINT}")


def check_ocr(language: str = LANGUAGE) -> None:
    """Raise :class:`OcrUnavailable` (saying what to install) unless tesserocr imports and
    ``language``'s model is found; loads nothing."""
    try:
        import tesserocr  # noqa: F401
    except ImportError as exc:
        raise OcrUnavailable(f"tesserocr cannot be imported ({exc}): {INSTALL_HINT}") from None
    find_tessdata(language)


class OcrEngine:
    """A loaded Tesseract: :meth:`read` a grey image into lines of words.  Not thread-safe:
    one engine per thread.  A context manager.

    By default an image is cut into blocks of text (:func:`~fastrec.privacy.ocr_layout.text_blocks`)
    and each block's lines are remembered by its pixels (at most ``cache_blocks``, least
    recently used dropped): a block seen before - scrolled, a window moved or shown again -
    is not read again; the new blocks are read together, stacked in one image, as one block
    of text.  ``blocks=False`` reads the whole image as sparse text and remembers nothing
    (the reading before blocks, kept to measure against: scripts/bench_ocr.py)."""

    def __init__(self, language: str = LANGUAGE, *, blocks: bool = True, threads: int = 1,
                 cache_blocks: int = CACHE_BLOCKS) -> None:
        if not 1 <= threads <= MAX_THREADS:
            raise ValueError(f"threads must be 1-{MAX_THREADS}, got {threads!r}")
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # before the library loads (docstring)
        check_ocr(language)
        import tesserocr

        self._tess: Any = tesserocr
        self.blocks = blocks
        self.stats = EngineStats()
        self._cache: OrderedDict[tuple[int, int, bytes], list[OcrLine]] = OrderedDict()
        self._cache_blocks = cache_blocks
        self._apis: list[Any] = []
        self._pool: ThreadPoolExecutor | None = None
        tessdata = find_tessdata(language)
        try:
            for _ in range(threads if blocks else 1):
                if blocks:  # one block of text: the stacked lines; no dictionaries (PII is not words)
                    api = tesserocr.PyTessBaseAPI(path=str(tessdata) + os.sep, lang=language,
                                                  psm=tesserocr.PSM.SINGLE_BLOCK, variables=NO_DICTIONARIES)
                else:  # sparse text: the strips are rows of a screen
                    api = tesserocr.PyTessBaseAPI(path=str(tessdata) + os.sep, lang=language,
                                                  psm=tesserocr.PSM.SPARSE_TEXT)
                self._apis.append(api)
        except RuntimeError as exc:
            self.close()
            raise OcrUnavailable(f"Tesseract could not load {language} from {tessdata} ({exc}): "
                                 f"{INSTALL_HINT}") from None
        if len(self._apis) > 1:
            self._pool = ThreadPoolExecutor(len(self._apis) - 1, thread_name_prefix="fastrec-tesseract")

    def read(self, grey: np.ndarray, progress: Progress | None = None) -> list[OcrLine]:
        """The lines of text in ``grey`` (2-D uint8), top to bottom.

        With ``progress`` (and blocks), lines are handed out top down as soon as they are
        read: ``progress(rows, lines)`` says that every row of ``grey`` above ``rows`` is
        read, and ``lines`` are those read there since its last call - a line is handed out
        once every block beside it (sharing rows with it, or with a block beside it) is
        read, so what is matched together is handed out together.  Calls come one at a
        time, in order, from the engine's threads; only the lines not handed out are
        returned."""
        if grey.ndim != 2 or grey.dtype != np.uint8:
            raise ValueError(f"grey must be a 2-D uint8 array, got {grey.ndim}-D {grey.dtype}")
        height, width = grey.shape
        if height < 4 or width < 4:
            return []
        if self.blocks:
            return self._read_blocks(grey, progress)
        # dark on light, as Tesseract is trained: light text on a dark background (a
        # terminal) costs it a second, inverted pass per word otherwise (measured ~1.7x)
        image = np.ascontiguousarray(255 - grey if np.median(grey) < 128 else grey)
        lines = self._recognise(image)
        small = [line for line in lines if max(w.height for w in line.words) <= SMALL_TEXT]
        if not small:
            return lines
        # small text is read far better at twice the size (measured on 12 px screens: '@'
        # lost in one address of four at 1x, none at 2x): those lines' rows again, at ~3x
        # their cost, paid only where such text is
        top = max(0, min(w.y for line in small for w in line.words) - SMALL_MARGIN)
        bottom = min(height, max(w.y + w.height for line in small for w in line.words) + SMALL_MARGIN)
        again = [_shrunk(line, top) for line in self._recognise(_doubled(image[top:bottom]))]
        kept = [line for line in lines if not top <= _middle(line) < bottom]  # the rest was read again
        return sorted(kept + again, key=_middle)

    def _read_blocks(self, grey: np.ndarray, progress: Progress | None) -> list[OcrLine]:
        blocks = text_blocks(grey)
        found: list[list[OcrLine] | None] = []  # per block, its lines once known
        new: list[tuple[int, tuple[int, int, bytes], np.ndarray]] = []
        for i, block in enumerate(blocks):
            pixels = grey[block.y : block.y + block.height, block.x : block.x + block.width]
            key = (block.width, block.height, hashlib.blake2b(pixels.tobytes(), digest_size=16).digest())
            self.stats.blocks += 1
            known = self._cache.get(key)
            if known is None:
                new.append((i, key, pixels))
                found.append(None)
                continue
            self._cache.move_to_end(key)
            self.stats.reused += 1
            found.append([_moved(line, block.x, block.y) for line in known])
        rows = _rows(blocks)
        handed = 0  # rows of blocks handed to progress
        lock = threading.Lock()

        def done(indices: list[int], read: list[list[OcrLine]]) -> None:
            nonlocal handed
            with lock:
                for k, lines in zip(indices, read, strict=True):
                    i, key, _ = new[k]
                    self._cache[key] = lines
                    found[i] = [_moved(line, blocks[i].x, blocks[i].y) for line in lines]
                if progress is None:
                    return
                ready = handed
                while ready < len(rows) and all(found[i] is not None for i in rows[ready][1]):
                    ready += 1
                if ready > handed:
                    lines = [line for _, row in rows[handed:ready] for i in row for line in found[i] or ()]
                    handed = ready
                    read_to = rows[ready][0] if ready < len(rows) else grey.shape[0]
                    progress(read_to, _joined(sorted(lines, key=_middle)))

        done([], [])  # what is known at the top goes at once
        if new:
            self.stats.read += len(new)
            self._recognise_shared([p for _, _, p in new], done)
            while len(self._cache) > self._cache_blocks:
                self._cache.popitem(last=False)
        left = [line for _, row in rows[handed:] for i in row for line in found[i] or ()]
        return _joined(sorted(left, key=_middle))

    def _recognise_shared(self, images: list[np.ndarray],
                          done: Callable[[list[int], list[list[OcrLine]]], None]) -> None:
        """:meth:`_recognise_stacked` of ``images`` (top down) in runs of about equal
        :func:`_work` - :data:`BATCHES` per Tesseract - each Tesseract in its own thread
        taking the next run as it finishes one (so all finish together, and the top rows
        are read first); ``done(indices, lines)`` after each run, from the thread that read it."""
        apis = self._apis[: len(images)]
        work = np.cumsum([_work(image) for image in images])
        runs = min(len(images), BATCHES * len(apis))
        cuts = np.searchsorted(work, work[-1] * np.arange(1, runs) / runs, side="right")
        groups = [g.tolist() for g in np.split(np.arange(len(images)), cuts) if g.size]
        order = iter(range(len(groups)))
        taking = threading.Lock()

        def reader(api: Any) -> None:
            while True:
                with taking:
                    g = next(order, None)
                if g is None:
                    return
                done(groups[g], self._recognise_stacked(api, [images[i] for i in groups[g]]))

        futures = [self._pool.submit(reader, api) for api in apis[1:]] if self._pool is not None else []
        try:
            reader(apis[0])
        finally:
            for future in futures:
                future.result()

    def _recognise_stacked(self, api: Any, images: list[np.ndarray]) -> list[list[OcrLine]]:
        """Each image's lines (in its own coordinates), read in one pass: the images,
        dark on light on their own background, one under the other :data:`STACK_GAP` rows
        apart (a line of text each, mostly: one block of text to Tesseract)."""
        slots: list[tuple[int, int, int]] = []  # top row in the stack, height there, scale
        parts: list[np.ndarray] = []
        for image in images:
            # dark on light, as Tesseract is trained: light text on a dark background (a
            # terminal) costs it a second, inverted pass per word otherwise (measured ~1.7x)
            image = 255 - image if np.median(image) < 128 else image
            # small text is read far better at twice the size (measured on 12 px screens: '@'
            # lost in one address of four at 1x, none at 2x)
            scale = 2 if image.shape[0] <= SMALL_BLOCK else 1
            parts.append(_doubled(image) if scale == 2 else image)
        width = max(p.shape[1] for p in parts) + 2 * STACK_GAP
        height = sum(p.shape[0] + STACK_GAP for p in parts) + STACK_GAP
        stack = np.full((height, width), 255, np.uint8)
        top = STACK_GAP
        for part, image in zip(parts, images, strict=True):
            h, w = part.shape
            background = int(np.bincount(part.ravel(), minlength=256).argmax())
            half = STACK_GAP // 2
            stack[top - half : top + h + half, STACK_GAP - half : STACK_GAP + w + half] = background
            stack[top : top + h, STACK_GAP : STACK_GAP + w] = part
            slots.append((top, h, part.shape[0] // image.shape[0]))
            top += h + STACK_GAP
        out: list[list[OcrLine]] = [[] for _ in images]
        starts = [s[0] - STACK_GAP // 2 for s in slots]
        for line in self._recognise(stack, api):
            by_slot: dict[int, list[OcrWord]] = {}
            for w in line.words:
                i = max(0, bisect.bisect_right(starts, w.y + w.height / 2) - 1)
                slot_top, slot_height, scale = slots[i]
                x, y = (w.x - STACK_GAP) // scale, (w.y - slot_top) // scale
                by_slot.setdefault(i, []).append(
                    OcrWord(w.text, max(0, x), max(0, y), -(-w.width // scale), -(-w.height // scale)))
            for i, words in by_slot.items():
                out[i].append(OcrLine(tuple(words)))
        return out

    def _recognise(self, image: np.ndarray, api: Any = None) -> list[OcrLine]:
        height, width = image.shape
        api, tess = api or self._apis[0], self._tess
        api.SetImageBytes(image.tobytes(), width, height, 1, width)
        api.Recognize()
        word, line_level = tess.RIL.WORD, tess.RIL.TEXTLINE
        lines: list[list[OcrWord]] = []
        iterator = api.GetIterator()
        if iterator is None:
            return []
        for item in tess.iterate_level(iterator, word):
            try:
                text = item.GetUTF8Text(word)
            except RuntimeError:  # tesserocr: "No text returned" for an empty word
                continue
            box = item.BoundingBox(word)
            if not text or box is None:
                continue
            x0, y0, x1, y1 = box
            if item.IsAtBeginningOf(line_level) or not lines:
                lines.append([])
            lines[-1].append(OcrWord(text.strip(), x0, y0, x1 - x0, y1 - y0))
        return [OcrLine(tuple(w for w in ws if w.text)) for ws in lines if any(w.text for w in ws)]

    def forget(self) -> None:
        """Drop the blocks remembered: the next read reads everything (benchmarks)."""
        self._cache.clear()

    def close(self) -> None:
        """Free the models; idempotent."""
        pool, self._pool = getattr(self, "_pool", None), None
        if pool is not None:
            pool.shutdown(wait=True)
        apis, self._apis = getattr(self, "_apis", []), []
        for api in apis:
            api.End()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


Progress = Callable[[int, list[OcrLine]], None]


def _work(image: np.ndarray) -> float:
    """About how long Tesseract takes on a block: its LSTM reads each line scaled to one
    height, so the time follows the lines' width over their height (a block taller than
    :data:`LINE` holds about height / LINE lines)."""
    height, width = image.shape
    return width * height / min(height, LINE) ** 2


def _rows(blocks: list[Block]) -> list[tuple[int, list[int]]]:
    """``blocks`` (top down) as rows of blocks beside each other - sharing rows, directly
    or through another - top down: each row's first image row and its blocks' indices."""
    out: list[tuple[int, list[int]]] = []
    bottom = -1
    for i in sorted(range(len(blocks)), key=lambda i: blocks[i].y):
        block = blocks[i]
        if out and block.y < bottom:
            out[-1][1].append(i)
            bottom = max(bottom, block.y + block.height)
        else:
            out.append((block.y, [i]))
            bottom = block.y + block.height
    return out


def _middle(line: OcrLine) -> float:
    return sum(w.y + w.height / 2 for w in line.words) / len(line.words)


def _doubled(image: np.ndarray) -> np.ndarray:
    from PIL import Image

    height, width = image.shape
    return np.ascontiguousarray(Image.fromarray(image).resize((2 * width, 2 * height), Image.Resampling.BICUBIC))


def _joined(lines: list[OcrLine]) -> list[OcrLine]:
    """``lines`` (sorted by their middle) with those side by side - on the same row, at
    most :data:`JOIN_GAP` line heights apart - joined into one, left to right: a line read
    in several blocks is matched whole (a card number whose groups were cut apart)."""
    out: list[list[OcrWord]] = []
    for line in lines:
        top, bottom = min(w.y for w in line.words), max(w.y + w.height for w in line.words)
        for words in reversed(out[-4:]):  # the lines just above: the only ones that can share the row
            o_top, o_bottom = min(w.y for w in words), max(w.y + w.height for w in words)
            overlap = min(bottom, o_bottom) - max(top, o_top)
            height = max(bottom - top, o_bottom - o_top)
            if overlap * 2 < min(bottom - top, o_bottom - o_top):
                continue
            left, right = min(w.x for w in line.words), max(w.x + w.width for w in line.words)
            o_left, o_right = min(w.x for w in words), max(w.x + w.width for w in words)
            if max(left - o_right, o_left - right) <= JOIN_GAP * height:
                words.extend(line.words)
                words.sort(key=lambda w: w.x)
                break
        else:
            out.append(list(line.words))
    return [OcrLine(tuple(words)) for words in out]


def _moved(line: OcrLine, dx: int, dy: int) -> OcrLine:
    return OcrLine(tuple(OcrWord(w.text, w.x + dx, w.y + dy, w.width, w.height) for w in line.words))


def _shrunk(line: OcrLine, top: int) -> OcrLine:
    """A line read at twice the size, in the coordinates of the image it was cut from."""
    return OcrLine(tuple(OcrWord(w.text, w.x // 2, top + w.y // 2, -(-w.width // 2), -(-w.height // 2))
                         for w in line.words))


def _as_digits(text: str) -> str:
    """``text`` with look-alike letters read as digits in every word that is mostly digits
    (same length, so match offsets stay valid)."""
    out = []
    for token in text.split(" "):
        digits = sum(c.isdigit() for c in token)
        out.append(token.translate(_DIGIT_LOOKALIKES) if digits * 2 >= len(token) > 0 and digits else token)
    return " ".join(out)


def _compact(text: str) -> tuple[str, list[int]]:
    """``text`` without the spaces, dashes and dots between digits, and where each of its
    characters was in ``text``: OCR reads the gap between narrow digits as a space, or not
    (``4111 1111 11111111``), so a number's grouping is not to be trusted."""
    kept: list[int] = []
    for i, c in enumerate(text):
        if c in _DIGIT_GAPS and kept and text[kept[-1]].isdigit():
            j = i
            while j < len(text) and text[j] in _DIGIT_GAPS:
                j += 1
            if j < len(text) and text[j].isdigit():
                continue
        kept.append(i)
    return "".join(text[i] for i in kept), kept


def _spans(text: str, rule: PiiRule) -> Iterable[tuple[int, int]]:
    seen = set()
    for reading in (text, _as_digits(text)):
        found = [(m.start, m.end) for m in find_pii(reading, rule.kinds, rule.patterns)]
        numbers = rule.kinds & _NUMBERS
        if numbers:  # numbers whose grouping OCR got wrong, mapped back to the text read
            compact, where = _compact(reading)
            found += [(where[m.start], where[m.end - 1] + 1) for m in find_pii(compact, numbers)]
        for span in found:
            if span not in seen:
                seen.add(span)
                yield span


def pii_boxes(lines: Sequence[OcrLine], rules: Sequence[PiiRule], *, dx: int = 0, dy: int = 0,
              bounds: tuple[int, int] | None = None) -> list[MaskRegion]:
    """The masks over the personal data ``rules`` look for in ``lines``: each match's words
    as one padded box, with the first matching rule's mask, moved by (``dx``, ``dy``) and
    clipped to ``bounds`` (width, height) when given."""
    masks: list[MaskRegion] = []
    for line in lines:
        text = line.text
        starts, at = [], 0
        for w in line.words:
            starts.append(at)
            at += len(w.text) + 1
        covered: set[tuple[int, int]] = set()
        for rule in rules:
            for start, end in _spans(text, rule):
                words = [w for w, s in zip(line.words, starts, strict=True) if s < end and s + len(w.text) > start]
                if not words:
                    continue
                x0, y0 = min(w.x for w in words), min(w.y for w in words)
                x1, y1 = max(w.x + w.width for w in words), max(w.y + w.height for w in words)
                if (x0, x1) in covered:  # an earlier rule masks these words already
                    continue
                covered.add((x0, x1))
                pad = max(MIN_PAD, round((y1 - y0) * PAD))
                x0, y0, x1, y1 = x0 - pad + dx, y0 - pad + dy, x1 + pad + dx, y1 + pad + dy
                if bounds is not None:
                    x0, y0 = max(0, x0), max(0, y0)
                    x1, y1 = min(bounds[0], x1), min(bounds[1], y1)
                if x1 > x0 and y1 > y0:
                    masks.append(MaskRegion(x0, y0, x1 - x0, y1 - y0, rule.kind))
    return masks


def describe_kinds(rules: Sequence[PiiRule]) -> str:
    """``card, email, ssn`` - the kinds ``rules`` look for, for logs and status."""
    return ", ".join(sorted({str(k) for r in rules for k in r.kinds}))

