"""Where the text is (fastrec.privacy.ocr_layout.text_blocks): blocks cut at blank rows and
at column gaps wider than a word space, so a card number stays whole and a window's text is
apart from the text beside it; every non-background pixel in exactly one block.  Pure numpy
on rendered screens: no Tesseract."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fastrec.privacy.ocr_layout import BLANK, TALL, Block, drawn_lines, text_blocks

FONT = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 15)


def _screen(texts: list[tuple[int, int, str]], size: tuple[int, int] = (900, 300), background: int = 255,
            ink: int = 0) -> np.ndarray:
    image = Image.new("L", size, background)
    draw = ImageDraw.Draw(image)
    for x, y, text in texts:
        draw.text((x, y), text, fill=ink, font=FONT)
    return np.asarray(image).copy()


def _covered_once(grey: np.ndarray, blocks: list[Block], background: np.ndarray | int = 255) -> None:
    count = np.zeros(grey.shape, np.int32)
    for b in blocks:
        count[b.y : b.y + b.height, b.x : b.x + b.width] += 1
    ink = np.abs(grey.astype(int) - background) > BLANK  # fainter: anti-aliasing, not text
    assert count.max() == 1
    assert (count[ink] == 1).all()


def test_lines_apart_are_blocks_and_a_card_number_stays_whole():
    grey = _screen([(10, 10, "Card: 4111 1111 1111 1111 exp 12/28"), (10, 40, "second line"),
                    (600, 40, "far right")])
    blocks = text_blocks(grey)
    assert len(blocks) == 3
    first, second, right = blocks
    assert first.y < second.y == right.y and second.x < right.x  # top to bottom, then left to right
    assert first.width > 300  # the whole line: one space between the card's groups does not cut it
    _covered_once(grey, blocks)


def test_a_windows_text_beside_other_text_is_its_own_block():
    # a light window beside a dark terminal (as tall as the screen: nothing of the terminal
    # above or below it): its lines do not line up with the terminal's, so no blank row runs
    # across both; only its edge (a few blank columns) sets it apart
    terminal = _screen([(4, y, f"$ tail -f report {y} total") for y in range(2, 280, 18)],
                       background=20, ink=210)
    words = ["jane.roe@example.com", "Card 4111 1111 1111 1111", "approved", "SSN 123-45-6789 on file"]
    window = _screen([(6, y, f"{words[i % 4]} {i}") for i, y in enumerate(range(7, 280, 23))], (300, 300))
    grey = terminal.copy()
    grey[:, 400:700] = window
    grey[:, 400:402] = 128  # the window's frame
    blocks = text_blocks(grey)
    inside = [b for b in blocks if b.x >= 400]
    assert len(inside) == len(range(7, 280, 23))  # the window's lines, each its own block
    assert all(b.x + b.width < 400 for b in blocks if b.x < 400)
    assert all(b.height < TALL for b in blocks)
    background = np.full(grey.shape, 20)
    background[:, 400:700] = 255
    background[:, 400:402] = 128
    _covered_once(grey, blocks, background)


def test_a_blank_image_has_no_blocks():
    assert text_blocks(np.full((50, 80), 200, np.uint8)) == []


def test_a_frame_drawn_down_a_window_is_a_gap_and_the_spaces_between_letters_are_not():
    # a dark window whose text runs up to its 2 px frame, beside a terminal's text: the frame
    # (one level, unlike the columns beside it) parts them, however narrow; the blank
    # columns between letters and words (the background) do not cut a line
    terminal = _screen([(4, y, f"$ tail -f report {y} total {y * 7}") for y in range(2, 280, 18)],
                       background=20, ink=210)
    words = ["jane.roe@example.com and more", "Card 4111 1111 1111 1111", "approved by finance today",
             "SSN 123-45-6789 on file now"]
    window = _screen([(-1, y, f"{words[i % 4]} {i}") for i, y in enumerate(range(7, 280, 23))],
                     (300, 300), background=20, ink=210)
    grey = terminal.copy()
    grey[:, 200:500] = window
    grey[:, [198, 199]] = 128  # the window's frame, text on either side of it
    drawn = set(np.flatnonzero(drawn_lines(grey)).tolist())
    assert {198, 199} <= drawn <= {197, 198, 199, 200}  # the frame (and a blank column beside it)
    blocks = text_blocks(grey)
    assert all(b.x + b.width <= 198 or b.x >= 200 for b in blocks)  # none across the frame
    inside = [b for b in blocks if b.x >= 200]
    assert len(inside) == len(range(7, 280, 23)) and all(b.x < 205 and b.x + b.width > 400 for b in inside)
    assert not drawn_lines(grey[:TALL - 1]).any()  # a line of text is not that tall
