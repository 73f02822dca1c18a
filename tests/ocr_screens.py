"""Rendered screens of text for the OCR tests: I420 frames whose luma is black text on white."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fastrec.core.convert import i420_planes, i420_size

W, H = 960, 540
FONT = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 18)
LINES = ["Invoice 2026-12-01 order 123456789", "Card: 4111 1111 1111 1111 exp 12/28",
         "Contact: jane.roe@example.com", "Ordinary text stays readable"]


def text_frame(lines: list[str], top: int = 20) -> np.ndarray:
    """A W x H I420 frame showing ``lines`` (18 px DejaVu Sans, 30 px apart) from ``top``."""
    image = Image.new("L", (W, H), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((20, top + i * 30), line, fill=0, font=FONT)
    frame = np.full(i420_size(W, H), 128, np.uint8)
    i420_planes(frame, W, H)[0][...] = np.asarray(image)
    return frame
