"""On-screen PII detection benchmark (issue 11, RECORDING_OCR_PII): what OCR costs, how
well it finds personal data, and what it adds to a recording.

    .venv/bin/python scripts/bench_ocr.py            # ~3 min
    .venv/bin/python scripts/bench_ocr.py --quick    # ~1 min

1. Cost: the OCR gate (fastrec.engine.ocr_gate with the persistent Tesseract of
   fastrec.privacy.ocr) on a rendered 1920x1080 terminal full of text - the whole frame
   (a new window, a scroll), one changed line (a key typed), a 800x600 window appearing -
   against the reference the issue measured: the ``tesseract`` command on the same pixels
   (a process and a model load per read, OMP_THREAD_LIMIT=1).
2. Recall and precision on generated screens: fonts x sizes x themes, each screen with
   card numbers, e-mail addresses and SSNs among ordinary text and look-alikes (order
   numbers, dates, versions, Luhn-failing numbers).  Recall: items whose box is >= 90 %
   covered by masks; precision: masks that touch an item.
3. The recorder on the scripted desktop workload (benchmarks/e2e: 1920x1080 Xvfb, 10 fps)
   with RECORDING_OCR_PII off and on: CPU of the whole process tree, frames blocked at the
   delay, the longest wait.

Prints markdown tables.  Exits non-zero only on errors, never because of a number.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from fastrec.core.convert import i420_planes, i420_size  # noqa: E402
from fastrec.core.masks import MaskRegion  # noqa: E402
from fastrec.engine.ocr_gate import OcrGate  # noqa: E402
from fastrec.privacy.ocr import OcrEngine  # noqa: E402
from fastrec.privacy.screen_rules import DEFAULT_PII_RULES  # noqa: E402

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = ["DejaVuSans.ttf", "DejaVuSansMono.ttf", "DejaVuSerif.ttf", "DejaVuSans-Bold.ttf"]
THEMES = {"light": (255, 0), "dark": (30, 225), "grey": (228, 70)}  # background, text luma
WORDS = ("the report was approved by finance after review of open items for the quarter "
         "customer account status pending shipment delivered invoice total due balance").split()


def _fonts() -> list[Path]:
    found = [FONT_DIR / f for f in FONTS if (FONT_DIR / f).is_file()]
    if not found:
        raise SystemExit(f"error: no DejaVu fonts in {FONT_DIR} (run scripts/setup.sh)")
    return found


def _frame(grey: np.ndarray) -> np.ndarray:
    h, w = grey.shape
    frame = np.full(i420_size(w, h), 128, np.uint8)
    i420_planes(frame, w, h)[0][...] = grey
    return frame


def _read_all(gate: OcrGate, engine: OcrEngine) -> tuple[list[MaskRegion], float]:
    start = time.perf_counter()
    while (strip := gate.next_strip()) is not None:
        pixels = strip.pixels
        t = time.perf_counter()
        lines = None if pixels.min() == pixels.max() else engine.read(pixels)
        gate.record(strip, lines, time.perf_counter() - t)
    spent = time.perf_counter() - start
    _, masks = gate.release(time.monotonic())
    return masks, spent


# --- 1. cost -----------------------------------------------------------------------------

def _terminal(width: int, height: int, size: int = 15, seed: int = 0) -> np.ndarray:
    rng = random.Random(seed)
    font = ImageFont.truetype(str(FONT_DIR / "DejaVuSansMono.ttf"), size)
    image = Image.new("L", (width, height), 20)
    draw = ImageDraw.Draw(image)
    for y in range(4, height - size, size + 3):
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 24)))
        draw.text((6, y), f"$ {line} {rng.randint(0, 99999)}", fill=210, font=font)
    return np.asarray(image)


def _tesseract_cli(grey: np.ndarray) -> float:
    with tempfile.NamedTemporaryFile(suffix=".png") as tmp:
        Image.fromarray(grey).save(tmp.name)
        start = time.perf_counter()
        subprocess.run(["tesseract", tmp.name, "-", "--psm", "11"], capture_output=True, check=True,
                       env={**os.environ, "OMP_THREAD_LIMIT": "1"})
        return time.perf_counter() - start


def cost(engine: OcrEngine, repeat: int) -> list[str]:
    w, h = 1920, 1080
    screen = _terminal(w, h)
    typed = screen.copy()
    typed[500:518, 6:406] = _terminal(400, 40, seed=1)[4:22]  # one line changes
    window = screen.copy()
    window[200:800, 500:1300] = _terminal(800, 600, size=14, seed=2)  # a window appears
    cases = {"whole 1080p frame (new screen, scroll)": (None, screen),
             "one changed line (a key typed)": (screen, typed),
             "800x600 window appears": (screen, window)}
    rows = ["| change | rows read | gate + Tesseract in process, ms | `tesseract` command on the same rows, ms | ratio |",
            "|---|---:|---:|---:|---:|"]
    for name, (before, after) in cases.items():
        times, cli_times, read_rows = [], [], 0
        for _ in range(repeat):
            gate = OcrGate(w, h, 60.0, DEFAULT_PII_RULES)
            if before is not None:
                gate.add(_frame(before), time.monotonic())
                _read_all(gate, engine)
            rows_before = gate.stats.read_rows
            gate.add(_frame(after), time.monotonic())
            strips = []
            while (strip := gate.next_strip()) is not None:
                strips.append(strip)
                gate.record(strip, None)  # find the strips, then read them timed below
            read_rows = gate.stats.read_rows - rows_before
            t = time.perf_counter()
            for strip in strips:
                engine.read(after[strip.top : strip.bottom])
            times.append(time.perf_counter() - t)
            cli_times.append(sum(_tesseract_cli(after[s.top : s.bottom]) for s in strips))
        ms, cli = 1e3 * float(np.median(times)), 1e3 * float(np.median(cli_times))
        rows.append(f"| {name} | {read_rows} | {ms:.0f} | {cli:.0f} | {cli / ms:.1f}x |")
    return rows


# --- 2. recall / precision ---------------------------------------------------------------

def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, d in enumerate(reversed(body)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return body + str((10 - total % 10) % 10)


def _pii(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(["card", "email", "ssn"])
    if kind == "card":
        number = _luhn_complete(rng.choice(["4", "51", "55", "2221"]), 16, rng)
        return kind, " ".join(number[i : i + 4] for i in range(0, 16, 4)) if rng.random() < 0.7 else number
    if kind == "email":
        user = rng.choice(["jane.roe", "j.smith", "ops-team", "mark42", "anna_k"])
        return kind, f"{user}@{rng.choice(['example.com', 'corp.example.org', 'mail.test.net'])}"
    area = rng.choice([n for n in range(1, 900) if n != 666])
    return kind, f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def _lookalike(rng: random.Random) -> str:
    number = _luhn_complete("4", 16, rng)
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)  # fails Luhn: not a card
    return rng.choice([f"order {rng.randint(10**8, 10**9 - 1)}", f"{rng.randint(2020, 2030)}-{rng.randint(1, 12):02d}-"
                       f"{rng.randint(1, 28):02d}", f"version 10.0.{rng.randint(1000, 20000)}",
                       " ".join(wrong[i : i + 4] for i in range(0, 16, 4)), f"ticket #{rng.randint(1000, 99999)}"])


@dataclass
class Screen:
    grey: np.ndarray
    items: list[tuple[str, tuple[int, int, int, int]]]  # kind, (x0, y0, x1, y1)


def _screen(font_path: Path, size: int, theme: str, rng: random.Random, w: int = 1280, h: int = 720) -> Screen:
    background, ink = THEMES[theme]
    font = ImageFont.truetype(str(font_path), size)
    image = Image.new("L", (w, h), background)
    draw = ImageDraw.Draw(image)
    items = []
    y = 12
    while y < h - 2 * size:
        x = 16
        before = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4))) + " "
        roll = rng.random()
        if roll < 0.45:
            kind, value = _pii(rng)
        elif roll < 0.75:
            kind, value = "", _lookalike(rng)
        else:
            kind, value = "", " ".join(rng.choice(WORDS) for _ in range(3))
        after = " " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
        draw.text((x, y), before + value + after, fill=ink, font=font)
        if kind:
            x0 = x + draw.textlength(before, font=font)
            box = draw.textbbox((x0, y), value, font=font)
            items.append((kind, tuple(int(v) for v in box)))
        y += int(size * 1.9)
    return Screen(np.asarray(image), items)


def _covered(box: tuple[int, int, int, int], masks: list[MaskRegion], shape: tuple[int, int]) -> float:
    canvas = np.zeros(shape, bool)
    for m in masks:
        canvas[m.y : m.y + m.height, m.x : m.x + m.width] = True
    x0, y0, x1, y1 = box
    return float(canvas[y0:y1, x0:x1].mean())


def recall_precision(engine: OcrEngine, screens_per_case: int, sizes: list[int]) -> list[str]:
    rows = ["| font | size px | theme | PII items | recall | precision | ms per 1280x720 screen |",
            "|---|---:|---|---:|---:|---:|---:|"]
    totals = {"items": 0, "hit": 0, "masks": 0, "true": 0}
    by_kind: dict[str, list[int]] = {}
    rng = random.Random(11)
    for font in _fonts():
        for size in sizes:
            for theme in THEMES:
                items = hit = n_masks = true = 0
                spent = 0.0
                for _ in range(screens_per_case):
                    screen = _screen(font, size, theme, rng)
                    h, w = screen.grey.shape
                    gate = OcrGate(w, h, 60.0, DEFAULT_PII_RULES)
                    gate.add(_frame(screen.grey), time.monotonic())
                    masks, took = _read_all(gate, engine)
                    spent += took
                    for kind, box in screen.items:
                        ok = _covered(box, masks, (h, w)) >= 0.9
                        items += 1
                        hit += ok
                        by_kind.setdefault(kind, [0, 0])
                        by_kind[kind][0] += 1
                        by_kind[kind][1] += ok
                    for m in masks:
                        n_masks += 1
                        true += any(m.x < b[2] and b[0] < m.x + m.width and m.y < b[3] and b[1] < m.y + m.height
                                    for _, b in screen.items)
                totals["items"] += items
                totals["hit"] += hit
                totals["masks"] += n_masks
                totals["true"] += true
                rows.append(f"| {font.stem} | {size} | {theme} | {items} | {hit / max(items, 1):.0%} | "
                            f"{true / max(n_masks, 1):.0%} | {1e3 * spent / screens_per_case:.0f} |")
    rows.append(f"| **all** | | | {totals['items']} | **{totals['hit'] / max(totals['items'], 1):.1%}** | "
                f"**{totals['true'] / max(totals['masks'], 1):.1%}** | |")
    rows += ["", "| kind | items | recall |", "|---|---:|---:|"]
    rows += [f"| {kind} | {n} | {ok / n:.0%} |" for kind, (n, ok) in sorted(by_kind.items())]
    return rows


# --- 3. the recorder with OCR off and on -------------------------------------------------

def recorder(seconds: float) -> list[str]:
    from e2e import runners

    from fastrec.engine.ocr_stage import OcrOptions

    rows = ["| RECORDING_OCR_PII | CPU s (whole tree) | vs off | encoded frames | OCR reads | "
            "frames blocked at the delay | longest wait s | peak PSS MB |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    off = None
    with tempfile.TemporaryDirectory(prefix="fastrec-ocr-bench-") as tmp:
        for label, ocr in (("off", None), ("on (max delay 2 s)", OcrOptions(max_delay=2.0))):
            with runners.desktop(seconds) as (display, launched):
                result = runners.run_fastrec(display, launched, Path(tmp), seconds, "veryfast", "workload", ocr=ocr)
            if result.errors:
                raise RuntimeError(f"recording with OCR {label}: {result.errors}")
            stats = result.extra.get("ocr") or {}
            off = off or result.cpu
            rows.append(f"| {label} | {result.cpu:.2f} | {result.cpu / off:.2f}x | {result.encoded} | "
                        f"{stats.get('reads', '-')} | {stats.get('blocked_frames', '-')} | "
                        f"{stats.get('max_wait', 0):.2f} | {result.peak_pss / 1e6:.0f} |")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer screens and a 10 s recording (CI)")
    parser.add_argument("--seconds", type=float, default=30.0, help="recording length per case")
    args = parser.parse_args()
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    seconds = 10.0 if args.quick else args.seconds
    out = [f"Command: `python scripts/bench_ocr.py {' '.join(sys.argv[1:])}`".replace(" `", "`").replace("  ", " "), ""]
    with OcrEngine() as engine:
        print("-- OCR cost ...", file=sys.stderr, flush=True)
        out += ["### OCR cost per change (1920x1080 terminal, 15 px monospace)", ""]
        out += cost(engine, 1 if args.quick else 3)
        print("-- recall and precision ...", file=sys.stderr, flush=True)
        out += ["", "### Recall and precision on generated screens", ""]
        out += recall_precision(engine, 1 if args.quick else 3, [14, 18] if args.quick else [12, 14, 16, 20])
    print("-- recorder with OCR off and on ...", file=sys.stderr, flush=True)
    out += ["", f"### The recorder on the scripted desktop workload ({seconds:.0f} s, 1920x1080, 10 fps)", ""]
    out += recorder(seconds)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
