"""Where personal data is in text read by OCR (fastrec.privacy.ocr.pii_boxes): a match
becomes one padded box over every word it touches, with its rule's mask; the reading
errors Tesseract makes on digits lean towards masking; ordinary numbers stay unmasked.
Pure functions on OcrLine values (what OcrEngine.read returns)."""

from __future__ import annotations

import pytest

from fastrec.core.masks import MaskKind, MaskRegion
from fastrec.privacy.ocr import OcrLine, OcrWord, pii_boxes
from fastrec.privacy.pii import CustomPattern
from fastrec.privacy.pii_kinds import PiiKind
from fastrec.privacy.screen_rules import DEFAULT_PII_RULES, PiiRule


def _line(text: str, y: int = 100, height: int = 20) -> OcrLine:
    """Words 10 px apart, 10 px per character, on one row."""
    words, x = [], 0
    for word in text.split(" "):
        words.append(OcrWord(word, x, y, 10 * len(word), height))
        x += 10 * len(word) + 10
    return OcrLine(tuple(words))


def _x_range(text: str, part: str) -> tuple[int, int]:
    start = text.index(part)
    return 10 * start, 10 * (start + len(part))


@pytest.mark.parametrize(("text", "secret"), [
    ("Card number: 4111 1111 1111 1111 exp 12/28", "4111 1111 1111 1111"),
    # Tesseract reads the gap between narrow 1s as a space, or not: the regression of the
    # card shown unmasked in a recording under load
    ("Card number: 4111 1111 11111111 exp", "4111 1111 11111111"),
    ("card 4111111 111111111 on file", "4111111 111111111"),
    ("look-alike letters 4l11 1111 1111 11l1 here", "4l11 1111 1111 11l1"),
    ("mail jane.roe@example.com today", "jane.roe@example.com"),
    ("SSN 123-45-6789 on file", "123-45-6789"),
    ("IBAN GB82 WEST 1234 5698 7654 32 paid", "GB82 WEST 1234 5698 7654 32"),
])
def test_a_match_is_one_padded_box_over_its_words(text: str, secret: str):
    (box,) = pii_boxes([_line(text)], DEFAULT_PII_RULES)
    x0, x1 = _x_range(text, secret)
    pad = max(2, round(20 * 0.25))
    assert (box.x, box.width) == (x0 - pad, x1 - x0 + 2 * pad)
    assert (box.y, box.height) == (100 - pad, 20 + 2 * pad)


@pytest.mark.parametrize("text", [
    "order 123456789 shipped 2026-12-01", "call at 12:30 on 01/12/2026", "version 10.0.19045 build 4111",
    "invoice 4111 1111 1111 1112 is not a card (Luhn)", "ticket 000-00-0000 never issued",
    "host 10.0.0.5 port 3389",
])
def test_ordinary_numbers_are_not_masked(text: str):
    assert pii_boxes([_line(text)], DEFAULT_PII_RULES) == []


def test_each_rule_masks_its_kinds_with_its_mask_and_the_first_rule_wins():
    rules = (PiiRule(frozenset({PiiKind.CARD}), MaskKind.PIXELATE, (), "cards"),
             PiiRule(frozenset({PiiKind.CARD, PiiKind.EMAIL}), MaskKind.BLUR, (), "more"),
             PiiRule(frozenset({PiiKind.CUSTOM}), MaskKind.BLOCK, (CustomPattern("custom", r"EMP-\d{6}"),), "ids"))
    lines = [_line("card 4111 1111 1111 1111", 10), _line("mail a.b@example.org", 40), _line("badge EMP-123456", 70)]
    boxes = pii_boxes(lines, rules)
    assert [(b.kind, b.y) for b in boxes] == [(MaskKind.PIXELATE, 5), (MaskKind.BLUR, 35), (MaskKind.BLOCK, 65)]
    assert pii_boxes(lines, rules[2:]) == [boxes[2]]  # only what the rules ask for


def test_boxes_are_moved_and_clipped_to_the_frame():
    (box,) = pii_boxes([_line("4111 1111 1111 1111", y=0)], DEFAULT_PII_RULES, dx=5, dy=100, bounds=(150, 110))
    assert box == MaskRegion(0, 95, 150, 15, MaskKind.BLOCK)
