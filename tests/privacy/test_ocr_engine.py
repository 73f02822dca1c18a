"""The persistent Tesseract (fastrec.privacy.ocr.OcrEngine) reading blocks of text: a block
seen before - scrolled, a window moved - is known by its pixels and not read again; only
the new blocks go to Tesseract; two Tesseracts read what one reads; the reading before
blocks (blocks=False) still works.  Real Tesseract on rendered screens."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from fastrec.privacy.ocr import OcrEngine, OcrUnavailable, check_ocr, pii_boxes
from fastrec.privacy.screen_rules import DEFAULT_PII_RULES

try:
    check_ocr()
except OcrUnavailable as exc:  # scripts/setup.sh installs both: CI always runs these
    pytest.skip(f"OCR not installed: {exc}", allow_module_level=True)

FONT = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 18)
LINES = ["Invoice 2026-12-01 order 123456789", "Card: 4111 1111 1111 1111 exp 12/28",
         "Contact: jane.roe@example.com", "Ordinary text stays readable", "SSN 123-45-6789 on file"]


def _screen(lines: list[str], top: int = 10, left: int = 20, size: tuple[int, int] = (700, 200)) -> np.ndarray:
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((left, top + i * 30), line, fill=0, font=FONT)
    return np.asarray(image).copy()


def _words(lines) -> list[tuple[str, int, int]]:
    return [(w.text, w.x, w.y) for line in lines for w in line.words]


def test_a_scroll_reads_only_the_line_it_brings():
    with OcrEngine() as engine:
        first = engine.read(_screen(LINES[:4]))
        assert engine.stats.read == 4 and engine.stats.reused == 0
        scrolled = engine.read(_screen(LINES[1:5]))  # one line up, a new one at the bottom
        assert engine.stats.read == 5 and engine.stats.reused == 3
        assert [line.text for line in scrolled] == [line.text for line in first[1:]] + [scrolled[-1].text]
        assert "123-45-6789" in scrolled[-1].text
        assert _words(scrolled[:3]) == [(t, x, y - 30) for t, x, y in _words(first[1:])]  # moved up, not read
        assert len(pii_boxes(scrolled, DEFAULT_PII_RULES)) == 3  # the card, the mail, the SSN


def test_a_window_moved_sideways_is_not_read_again():
    with OcrEngine() as engine:
        before = engine.read(_screen(LINES, left=20))
        after = engine.read(_screen(LINES, left=95, top=17))
        assert engine.stats.read == len(LINES) and engine.stats.reused == len(LINES)
        assert _words(after) == [(t, x + 75, y + 7) for t, x, y in _words(before)]


def test_two_tesseracts_find_what_one_finds():
    screen = np.vstack([_screen(LINES), _screen(LINES[::-1])])
    with OcrEngine(threads=1) as one, OcrEngine(threads=2) as two:
        assert pii_boxes(one.read(screen), DEFAULT_PII_RULES) == pii_boxes(two.read(screen), DEFAULT_PII_RULES)
        assert two.stats.read == one.stats.read == 2 * len(LINES)


def test_the_reading_before_blocks_reads_and_remembers_nothing():
    with OcrEngine(blocks=False) as engine:
        lines = engine.read(_screen(LINES))
        engine.read(_screen(LINES))
        assert len(pii_boxes(lines, DEFAULT_PII_RULES)) == 3
        assert engine.stats.blocks == 0


def test_a_wrong_thread_count_names_the_field_and_the_range():
    with pytest.raises(ValueError, match="threads must be 1-8, got 0"):
        OcrEngine(threads=0)


def test_a_number_cut_into_blocks_is_judged_whole():
    # groups far enough apart to be blocks of their own (a form's four fields): the
    # lines read side by side are joined before personal data is looked for
    image = Image.new("L", (700, 60), 255)
    draw = ImageDraw.Draw(image)
    for i, group in enumerate(["4111", "1111", "1111", "1111"]):
        draw.text((20 + 70 * i, 20), group, fill=0, font=FONT)
    grey = np.asarray(image).copy()
    with OcrEngine() as engine:
        lines = engine.read(grey)
        assert engine.stats.read == 4  # four blocks
        (box,) = pii_boxes(lines, DEFAULT_PII_RULES)
        assert box.x < 20 and box.x + box.width > 20 + 70 * 3 + 40  # over all four groups


@pytest.mark.parametrize("threads", [1, 2])
def test_lines_are_handed_out_top_down_as_they_are_read(threads):
    # the partial verdicts' source: each call says every row above it is read, with the
    # lines read there; together they are what one read returns, each line once
    screen = _screen(LINES, size=(700, 170))
    with OcrEngine(threads=threads) as plain, OcrEngine(threads=threads) as engine:
        whole = [line.text for line in plain.read(screen)]
        calls: list[tuple[int, list[str]]] = []
        rest = engine.read(screen, lambda rows, lines: calls.append((rows, [line.text for line in lines])))
        assert rest == [] and len(calls) >= 2
        assert [rows for rows, _ in calls] == sorted({rows for rows, _ in calls}) and calls[-1][0] == screen.shape[0]
        assert [text for _, texts in calls for text in texts] == whole
        # a row above which all is read holds no line across it
        lines = plain.read(screen)
        for rows, _ in calls[:-1]:
            assert all(min(w.y for w in ln.words) >= rows or max(w.y + w.height for w in ln.words) <= rows
                       for ln in lines)
