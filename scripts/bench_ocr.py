"""On-screen PII detection benchmark (issue 11, RECORDING_OCR_PII): what OCR costs, how
well it finds personal data, and what it adds to a recording.

    .venv/bin/python scripts/bench_ocr.py            # ~8 min
    .venv/bin/python scripts/bench_ocr.py --quick    # ~3 min
    .venv/bin/python scripts/bench_ocr.py --cost     # part 1 only

1. Cost: the OCR gate (fastrec.engine.ocr_gate with the persistent Tesseract of
   fastrec.privacy.ocr) on a rendered 1920x1080 terminal full of text - the whole frame
   (a new screen), one changed line (a key typed), a 800x600 window appearing, a scroll by
   three lines, the window switched away (the screen seen before back) - the new reading
   (strips from the changed pixels' rectangle, blocks of text remembered by their pixels)
   with two Tesseracts and with one, against the gate before it (strips from whole 16x64
   cells: ``OcrGate(exact=False)``) and the reading before blocks (full-width strips as
   sparse text, nothing remembered), interleaved in the same run.
2. Recall and precision on generated screens: fonts x sizes x themes, each screen with
   card numbers, e-mail addresses and SSNs among ordinary text and look-alikes (order
   numbers, dates, versions, Luhn-failing numbers).  Recall: items whose box is >= 90 %
   covered by masks; precision: masks that touch an item.
3. The recorder on the scripted desktop workload (benchmarks/e2e: 1920x1080 Xvfb, 10 fps)
   with RECORDING_OCR_PII off, on with the reading before blocks, with the gate before,
   and with the new reading (one and two Tesseracts): CPU of the whole process tree,
   partial verdicts, frames blocked at the delay, the longest wait, the capture loop's drops.

Prints markdown tables.  Exits non-zero only on errors, never because of a number.
"""

from __future__ import annotations

import argparse
import os
import random
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
from fastrec.engine.ocr_gate import TILE, OcrGate  # noqa: E402
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


def _gate(engine: OcrEngine, w: int, h: int, exact: bool = True) -> OcrGate:
    """The gate for ``engine``: full-width strips for the reading before blocks; with
    ``exact`` False, strips from whole cells (the gate before changed pixels' rectangles)."""
    return OcrGate(w, h, 60.0, DEFAULT_PII_RULES, tile=TILE if engine.blocks else w, exact=exact)


def _change_seconds(engine: OcrEngine, before: list[np.ndarray], after: np.ndarray,
                    exact: bool = True) -> tuple[float, int, int, int]:
    """Seconds the gate and ``engine`` take to read what changed from the screens ``before``
    (read first, in order, untimed) to ``after``; rows read, blocks read by Tesseract and reused."""
    h, w = after.shape
    engine.forget()
    gate = _gate(engine, w, h, exact)
    for screen in before:
        gate.add(_frame(screen), time.monotonic())
        _read_all(gate, engine)
    rows, read, reused = gate.stats.read_rows, engine.stats.read, engine.stats.reused
    start = time.perf_counter()
    gate.add(_frame(after), time.monotonic())
    _read_all(gate, engine)
    return (time.perf_counter() - start, gate.stats.read_rows - rows, engine.stats.read - read,
            engine.stats.reused - reused)


def cost(engines: dict[str, tuple[OcrEngine, bool]], repeat: int) -> list[str]:
    """Each change read by each engine with its gate (``exact`` or not; the first is the new
    reading, the last the reading before blocks), the median of ``repeat`` runs,
    interleaved so that the machine's load weighs on all alike."""
    w, h = 1920, 1080
    screen = _terminal(w, h)
    typed = screen.copy()
    typed[500:518, 6:406] = _terminal(400, 40, seed=1)[4:22]  # one line changes
    window = screen.copy()
    window[200:800, 500:1300] = _terminal(800, 600, size=14, seed=2)  # a window appears
    window[200:800, [500, 501, 1298, 1299]] = 128  # its frame
    window[[200, 201, 798, 799], 500:1300] = 128
    scrolled = np.vstack([screen[54:], _terminal(w, 80, seed=3)[4:58]])  # 3 lines up, 3 new
    cases = {"whole 1080p frame (new screen)": ([], screen),
             "one changed line (a key typed)": ([screen], typed),
             "800x600 window appears": ([screen], window),
             "scroll by 3 lines": ([screen], scrolled),
             "the window switched away (screen seen before)": ([screen, window], screen)}
    names = list(engines)
    rows = ["| change | rows read | blocks read / reused | " + " | ".join(f"{n}, ms" for n in names) + " | "
            + " | ".join(f"{n} / {names[0]}" for n in names[1:]) + " |",
            "|---|---:|---:|" + "---:|" * (2 * len(names) - 1)]
    for case, (before, after) in cases.items():
        times: dict[str, list[float]] = {n: [] for n in names}
        counts: dict[str, tuple[int, ...]] = {}
        for _ in range(repeat):
            for name, (engine, exact) in engines.items():
                seconds, *got = _change_seconds(engine, before, after, exact)
                times[name].append(seconds)
                counts[name] = tuple(got)
        ms = {n: 1e3 * float(np.median(t)) for n, t in times.items()}
        first = counts[names[0]]
        read = " / ".join(str(counts[n][0]) for n in names  # the new reading's and the gate before's
                          if engines[n][0].blocks and (n == names[0] or not engines[n][1]))
        rows.append(f"| {case} | {read} | {first[1]} / {first[2]} | " + " | ".join(f"{ms[n]:.0f}" for n in names)
                    + " | " + " | ".join(f"{ms[n] / ms[names[0]]:.1f}x" for n in names[1:]) + " |")
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


def recall_precision(engine: OcrEngine, screens_per_case: int, sizes: list[int],
                     summary: str = "", exact: bool = True) -> list[str]:
    """The table per font, size and theme, and per kind; with ``summary``, its last lines only
    (all and per kind), the rows labelled ``summary``."""
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
                    gate = _gate(engine, w, h, exact)
                    gate.add(_frame(screen.grey), time.monotonic())
                    engine.forget()  # every screen is new: nothing read before helps
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
    every = (f"| **all** | | | {totals['items']} | **{totals['hit'] / max(totals['items'], 1):.1%}** | "
             f"**{totals['true'] / max(totals['masks'], 1):.1%}** | |")
    kinds = [f"| {kind} | {n} | {ok / n:.0%} |" for kind, (n, ok) in sorted(by_kind.items())]
    if summary:
        return [every.replace("| **all** | | |", f"| **all, {summary}** | | |"),
                *(k.replace("| ", f"| {summary}: ", 1) for k in kinds)]
    return [*rows, every, "", "| kind | items | recall |", "|---|---:|---:|", *kinds]


# --- 3. the recorder with OCR off and on -------------------------------------------------

def recorder(seconds: float) -> list[str]:
    from e2e import runners

    from fastrec.engine.ocr_stage import OcrOptions

    rows = ["| RECORDING_OCR_PII | CPU s (whole tree) | vs off | encoded frames | capture drops | OCR reads | "
            "blocks read / reused | partial verdicts | frames blocked at the delay | longest wait s | peak PSS MB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    off = None
    runs = (("off", None),
            ("on, reading before (strips, 1 thread)", OcrOptions(max_delay=2.0, threads=1, blocks=False)),
            ("on, cells (gate before), 2 threads", OcrOptions(max_delay=2.0, threads=2, exact=False)),
            ("on, new, 1 thread", OcrOptions(max_delay=2.0, threads=1)),
            ("on, new, 2 threads (default)", OcrOptions(max_delay=2.0, threads=2)))
    with tempfile.TemporaryDirectory(prefix="fastrec-ocr-bench-") as tmp:
        for label, ocr in runs:
            print(f"   {label} ...", file=sys.stderr, flush=True)
            with runners.desktop(seconds) as (display, launched):
                result = runners.run_fastrec(display, launched, Path(tmp), seconds, "veryfast", "workload", ocr=ocr)
            if result.errors:
                raise RuntimeError(f"recording with OCR {label}: {result.errors}")
            stats = result.extra.get("ocr") or {}
            off = off or result.cpu
            blocks = f"{stats['blocks_read']} / {stats['blocks_reused']}" if ocr is not None and ocr.blocks else "-"
            rows.append(f"| {label} | {result.cpu:.2f} | {result.cpu / off:.2f}x | {result.encoded} | "
                        f"{result.dropped} | {stats.get('reads', '-')} | {blocks} | "
                        f"{stats.get('partial_records', '-')} | "
                        f"{stats.get('blocked_frames', '-')} | {stats.get('max_wait', 0):.2f} | "
                        f"{result.peak_pss / 1e6:.0f} |")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer screens and a 10 s recording (CI)")
    parser.add_argument("--seconds", type=float, default=30.0, help="recording length per case")
    parser.add_argument("--cost", action="store_true", help="the cost per change only")
    args = parser.parse_args()
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    seconds = 10.0 if args.quick else args.seconds
    out = [f"Command: `python scripts/bench_ocr.py {' '.join(sys.argv[1:])}`".replace(" `", "`").replace("  ", " "), ""]
    with OcrEngine(threads=2) as new, OcrEngine(threads=1) as one, OcrEngine(blocks=False) as before:
        print("-- OCR cost ...", file=sys.stderr, flush=True)
        out += ["### OCR cost per change (1920x1080 terminal, 15 px monospace)", ""]
        out += cost({"new, 2 threads": (new, True), "new, 1 thread": (one, True),
                     "cells, 2 threads": (new, False), "before (strips)": (before, False)},
                    1 if args.quick else 3)
        if args.cost:
            print("\n".join(out))
            return 0
        print("-- recall and precision ...", file=sys.stderr, flush=True)
        out += ["", "### Recall and precision on generated screens", ""]
        sizes = [14, 18] if args.quick else [12, 14, 16, 20]
        screens = 1 if args.quick else 3
        out += recall_precision(new, screens, sizes)
        out += recall_precision(new, screens, sizes, summary="cells", exact=False)
        out += recall_precision(before, screens, sizes, summary="before")
    print("-- recorder with OCR off and on ...", file=sys.stderr, flush=True)
    out += ["", f"### The recorder on the scripted desktop workload ({seconds:.0f} s, 1920x1080, 10 fps)", ""]
    out += recorder(seconds)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
