"""Bytes at equal SSIM against ffmpeg's libx264, and encoder CPU, for libx264 settings.

    .venv/bin/python scripts/ab_x264.py                                  # default vs ffmpeg
    .venv/bin/python scripts/ab_x264.py "default" "default:psy=0" "default:aq-mode=2+hints"
    .venv/bin/python scripts/ab_x264.py --contents text --seconds 60 --reference capture.mkv ...

Contents (``--contents``, 1920x1080, 10 fps, ``--seconds`` long): lossless captures made
synthetically, frame by frame, so that every run sees the same pixels (a capture of the
screen through Xvfb would differ run to run):

- ``text``: a terminal half full of text in which one character is typed per frame, with a
  blinking cursor (DejaVu Sans Mono, anti-aliased);
- ``scroll``: a page of text, headings and coloured boxes scrolled 24 px per frame;
- ``video``: a 960x540 window on a static desktop playing ffmpeg's ``mandelbrot`` source
  (a zoom: fine detail and gradients in every frame);
- ``capture``: ``--reference FILE``, any lossless capture (e.g. of the e2e workload).

Each content is encoded both ways from the same lossless capture (``libx264rgb -qp 0``):

- ffmpeg's: ``ffmpeg -r FPS -i capture -c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv420p``
  (every frame, constant rate), its SSIM against the capture converted by the same ffmpeg;
- fastrec's, the engine's path: the capture's BGRA through fastrec's converter to I420, a
  frame identical to the previous one skipped (as the capture loop skips it), the rest into
  ``SegmentWriter`` (keyframes as the engine schedules them), one process per encode; its SSIM
  against that same I420, taking at every source frame time the frame a player shows then
  (the last with pts <= t).

Each side is compared with what its encoder was given, so the two colour conversions
(ffmpeg: BT.601 by swscale; fastrec: BT.709) do not count, only the encoders' losses.  SSIM
is ffmpeg's ``ssim`` filter on Y, in dB (-10*log10(1-SSIM)).  Every variant is encoded at
the CRFs around 23 until two bracket ffmpeg's SSIM dB; its bytes at ffmpeg's SSIM are
interpolated (log bytes linear in dB) between them: "bytes at equal SSIM".

A variant is ``X264_PARAMS[@THREADS][+hints][#KEYFRAME_SECONDS]``: ``default`` is the engine's EncoderSettings,
``default:psy=0`` appends to it, anything else replaces it (after the fixed
``scenecut=0:keyint=infinite:bframes=0``).  ``+hints`` hands libx264 the changed
macroblocks (the tile diff's rectangles, :mod:`fastrec.engine.encoder.hints`); ``+mbinfo``
sets its ``mb_info`` option without handing it any; ``#25`` sets
EncoderSettings.keyframe_interval, the longest keyframe spacing (ffmpeg's default keyint of 250
frames is 25 s at 10 fps; the engine's is 60 s, busy content every 10 s: engine/encoder/keyframes.py).  Encoder CPU is
the CPU time spent in ``SegmentWriter.write`` and its close; memory the peak RSS growth
(VmHWM) of the encoding process while encoding.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BASE = "scenecut=0:keyint=infinite:bframes=0"
FPS = 10
WIDTH, HEIGHT = 1920, 1080
REFERENCE_CRF = 23
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
SANS = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
TEXT = (
    "def record(session, settings):\n    ring = FrameRing(i420_size(w, h), slots=settings.ring_slots)\n"
    "    for frame in capture(session):  # only what changed is converted and encoded\n"
    "        if diff.compare(frame, previous, copy=True):\n            publish(ring, frame, time.monotonic())\n"
    "The quick brown fox jumps over the lazy dog. 0123456789 !@#$%^&*()[]{}<>=+-/\\|;:'\",.?\n"
)


# --- contents: lossless BGRA frames -----------------------------------------------------


def _glyphs(size: int) -> tuple[dict[str, np.ndarray], int, int]:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(FONT, size)
    left, top, right, bottom = font.getbbox("M")
    cell_w, cell_h = right, int(size * 1.25)
    out: dict[str, np.ndarray] = {}
    for c in {chr(i) for i in range(32, 127)}:
        img = Image.new("L", (cell_w, cell_h), 0)
        ImageDraw.Draw(img).text((0, 0), c, font=font, fill=255)
        out[c] = np.asarray(img, np.float32)[:, :, None] / 255.0
    return out, cell_w, cell_h


def _text(frames: int) -> Iterator[np.ndarray]:
    """A terminal: half full, one character typed per frame, a cursor blinking at 1 Hz."""
    glyphs, cw, ch = _glyphs(16)
    bg, fg = np.array([30, 30, 30, 255], np.float32), np.array([220, 220, 200, 255], np.float32)
    screen = np.empty((HEIGHT, WIDTH, 4), np.uint8)
    screen[:] = bg.astype(np.uint8)
    cols, rows = WIDTH // cw - 1, HEIGHT // ch - 1
    col = row = 0

    def put(c: str, r: int, k: int) -> None:
        y, x = 4 + r * ch, 4 + k * cw
        a = glyphs.get(c, glyphs["?"])
        screen[y : y + ch, x : x + cw] = (bg * (1 - a) + fg * a).astype(np.uint8)

    def advance(c: str) -> None:
        nonlocal col, row
        if c == "\n" or col >= cols:
            col, row = 0, row + 1
            if row >= rows:  # the terminal scrolls by a line
                screen[4 : 4 + (rows - 1) * ch] = screen[4 + ch : 4 + rows * ch].copy()
                screen[4 + (rows - 1) * ch : 4 + rows * ch] = bg.astype(np.uint8)
                row = rows - 1
            if c == "\n":
                return
        put(c, row, col)
        col += 1

    text = TEXT * 1000
    i = 0
    while row < rows // 2:  # the history already on screen
        advance(text[i])
        i += 1
    cursor = np.array([200, 200, 200, 255], np.uint8)
    for k in range(frames):
        advance(text[i])
        i += 1
        y, x = 4 + row * ch, 4 + col * cw
        under = screen[y : y + ch, x : x + cw].copy()
        if (k // (FPS // 2)) % 2 == 0:
            screen[y : y + ch, x : x + cw] = cursor
        yield screen
        screen[y : y + ch, x : x + cw] = under


def _page(height: int) -> np.ndarray:
    """A long page: paragraphs of text, headings, coloured boxes."""
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(14)
    img = Image.new("RGB", (WIDTH, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    body, head = ImageFont.truetype(SANS, 15), ImageFont.truetype(SANS, 26)
    words = TEXT.replace("\n", " ").split()
    y = 20
    while y < height:
        kind = rng.integers(0, 8)
        if kind == 0:
            draw.text((120, y), " ".join(rng.choice(words, 5)), font=head, fill=(20, 40, 90))
            y += 44
        elif kind == 1:
            colour = tuple(int(c) for c in rng.integers(60, 230, 3))
            draw.rectangle((120, y, 120 + int(rng.integers(300, 1600)), y + int(rng.integers(40, 160))), fill=colour)
            y += 180
        else:
            for _ in range(int(rng.integers(3, 9))):
                line = " ".join(rng.choice(words, int(rng.integers(12, 26))))
                draw.text((120, y), line, font=body, fill=(25, 25, 25))
                y += 21
            y += 12
    bgr = np.asarray(img)[:, :, ::-1]
    return np.concatenate([bgr, np.full((*bgr.shape[:2], 1), 255, np.uint8)], axis=2)


def _scroll(frames: int) -> Iterator[np.ndarray]:
    step = 24
    page = _page(HEIGHT + step * frames)
    for k in range(frames):
        yield page[k * step : k * step + HEIGHT]


def _video(frames: int) -> Iterator[np.ndarray]:
    """A window playing ffmpeg's mandelbrot zoom on a static desktop."""
    w, h, x, y = 960, 540, 480, 270
    desktop = np.empty((HEIGHT, WIDTH, 4), np.uint8)
    desktop[:] = (214, 214, 214, 255)
    desktop[y - 30 : y + h + 2, x - 2 : x + w + 2] = (90, 60, 40, 255)  # frame and title bar
    player = subprocess.Popen(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"mandelbrot=s={w}x{h}:r={FPS}",
                               "-frames:v", str(frames), "-f", "rawvideo", "-pix_fmt", "bgra", "-"],
                              stdout=subprocess.PIPE)
    assert player.stdout is not None
    try:
        for _ in range(frames):
            desktop[y : y + h, x : x + w] = np.frombuffer(player.stdout.read(w * h * 4), np.uint8).reshape(h, w, 4)
            yield desktop
    finally:
        player.kill()
        player.wait()


CONTENTS = {"text": _text, "scroll": _scroll, "video": _video}


def make_capture(content: str, seconds: float, out: Path) -> None:
    """A lossless capture (libx264rgb -qp 0, bgr0) of a synthetic content."""
    import av

    frames = round(seconds * FPS)
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264rgb", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "bgr0"
        stream.options = {"qp": "0", "preset": "ultrafast"}
        for bgra in CONTENTS[content](frames):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(bgra, format="bgra")))
        container.mux(stream.encode(None))


def _bgra(capture: Path) -> Iterator[np.ndarray]:
    import av

    with av.open(str(capture)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="bgra")


def write_i420(capture: Path, out: Path) -> None:
    """fastrec's I420 of every capture frame, losslessly: the SSIM reference of its side."""
    import av

    from fastrec.core.convert import to_i420

    with av.open(str(out), "w") as container:
        stream = None
        for bgra in _bgra(capture):
            h, w = bgra.shape[:2]
            if stream is None:
                stream = container.add_stream("libx264", rate=FPS)
                stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
                stream.options = {"qp": "0", "preset": "ultrafast"}
            i420 = to_i420(bgra).reshape(h * 3 // 2, w)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(i420, format="yuv420p")))
        assert stream is not None
        container.mux(stream.encode(None))


# --- SSIM ---------------------------------------------------------------------------------

_SSIM = re.compile(r"SSIM Y:([0-9.]+) \(([0-9.inf]+)\).*All:([0-9.]+) \(([0-9.inf]+)\)")


def _ssim(stderr: str) -> dict[str, float]:
    match = _SSIM.search(stderr)
    if match is None:
        raise RuntimeError(f"no SSIM in ffmpeg's output: {stderr[-500:]}")
    y, all_ = float(match[1]), float(match[3])
    return {"ssim_y": y, "db_y": _db(y), "ssim_all": all_, "db_all": _db(all_)}


def _db(ssim: float) -> float:
    return -10 * math.log10(1 - ssim) if ssim < 1 else float("inf")


# --- ffmpeg's side ------------------------------------------------------------------------


def _cpu_of(command: list[str]) -> float:
    """CPU seconds (user + system) a command took."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def ffmpeg_encode(capture: Path, crf: int, out: Path) -> dict[str, float]:
    """ffmpeg's libx264 veryfast at ``crf``: bytes, SSIM against its own conversion, CPU."""
    cpu = _cpu_of(["ffmpeg", "-v", "error", "-y", "-r", str(FPS), "-i", str(capture), "-c:v", "libx264",
                   "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p", "-threads", "1", str(out)])
    # the encoder's share: less what decoding the capture and converting it cost
    cpu -= _cpu_of(["ffmpeg", "-v", "error", "-r", str(FPS), "-i", str(capture), "-pix_fmt", "yuv420p",
                    "-threads", "1", "-f", "null", "-"])
    run = subprocess.run(["ffmpeg", "-v", "info", "-hide_banner", "-r", str(FPS), "-i", str(out), "-r", str(FPS),
                          "-i", str(capture), "-lavfi", "[1:v]format=yuv420p[r];[0:v][r]ssim", "-f", "null", "-"],
                         capture_output=True, text=True, check=True)
    return {"crf": crf, "bytes": out.stat().st_size, "cpu": cpu, **_ssim(run.stderr)}


# --- fastrec's side (a child process per encode) --------------------------------------------


def _hwm() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def parse_variant(variant: str) -> tuple[str, int | None, bool, bool, float | None]:
    """(x264 parameters, threads or None, hints, mb_info option, keyframe interval or None)
    of a variant string."""
    from fastrec.engine.encoder.writer import EncoderSettings

    variant, _, interval = variant.partition("#")
    hints = variant.endswith("+hints")
    variant = variant.removesuffix("+hints")
    option = hints or variant.endswith("+mbinfo")  # the encoder option alone: no rects given
    variant = variant.removesuffix("+mbinfo")
    params, _, threads = variant.partition("@")
    default = EncoderSettings(2, 2).x264_params
    if params == "default" or params.startswith("default:"):
        x264 = default + params[len("default"):]
    else:
        x264 = ":".join(p for p in (BASE, params.removeprefix(BASE).lstrip(":")) if p)
    return x264, int(threads) if threads else None, hints, option, float(interval) if interval else None


def fastrec_encode(capture: Path, i420_ref: Path, variant: str, crf: int, out: Path) -> dict[str, object]:
    """One encode through the engine's path, and its SSIM as a player shows it."""
    import av

    from fastrec.core.convert import Scaler, i420_planes, i420_size
    from fastrec.core.diff import DEFAULT_TILE, TileDiff
    from fastrec.engine.encoder.writer import EncoderSettings, SegmentWriter
    from fastrec.engine.protocol import SegmentPolicy

    x264, threads, hints, option, interval = parse_variant(variant)
    with av.open(str(capture)) as c:
        width, height = c.streams.video[0].width, c.streams.video[0].height
    settings = EncoderSettings(width, height, crf=crf, x264_params=x264, mb_info=option,
                               **({"threads": threads} if threads else {}),
                               **({"keyframe_interval": interval} if interval else {}))
    scaler = Scaler(width, height, width, height)
    diff = TileDiff(width, height, DEFAULT_TILE)
    previous = np.zeros((height, width, 4), np.uint8)
    i420 = np.empty(i420_size(width, height), np.uint8)
    frames = encoded = 0
    cpu = 0.0
    hwm0 = _hwm()
    rects_total = 0
    with SegmentWriter("ab", settings, SegmentPolicy(), lambda part: out) as writer:
        for k, bgra in enumerate(_bgra(capture)):
            frames += 1
            changed = diff.compare(bgra, previous, copy=True)
            if k > 0 and not changed:
                continue
            scaler.convert(previous, *i420_planes(i420, width, height))
            rects = None
            if hints and k > 0:
                from fastrec.engine.encoder.hints import tile_rects

                rects = tile_rects(diff.tiles, diff.tile_w, diff.tile_h, width, height)
                rects_total += 0 if rects is None else len(rects)
            c0 = time.process_time()
            writer.write(i420.reshape(height * 3 // 2, width), 1000.0 + k / FPS, keyframe=False, rects=rects)
            cpu += time.process_time() - c0
            encoded += 1
        c0 = time.process_time()
    cpu += time.process_time() - c0  # the flush in close
    grown = _hwm() - hwm0
    ssim = _fastrec_ssim(out, i420_ref, width, height, frames)
    return {"variant": variant, "x264": x264, "crf": crf, "threads": settings.threads, "hints": hints,
            "interval": settings.keyframe_interval,
            "bytes": out.stat().st_size, "cpu": cpu, "memory": grown, "frames": frames, "encoded": encoded,
            "rects": rects_total, **ssim}


def _fastrec_ssim(out: Path, i420_ref: Path, width: int, height: int, frames: int) -> dict[str, float]:
    """SSIM of what a player shows at each source frame time (VFR: the last frame with pts <= t)."""
    import av

    ssim = subprocess.Popen(["ffmpeg", "-v", "info", "-hide_banner", "-f", "rawvideo", "-pix_fmt", "yuv420p",
                             "-s", f"{width}x{height}", "-r", str(FPS), "-i", "-", "-r", str(FPS), "-i", str(i420_ref),
                             "-lavfi", "[0:v][1:v]ssim", "-f", "null", "-"],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=False)
    assert ssim.stdin is not None
    with av.open(str(out)) as container:
        decoded = container.decode(video=0)
        shown = next(decoded)
        first = float(shown.pts * shown.time_base)
        shown_bytes = shown.to_ndarray(format="yuv420p").tobytes()
        upcoming = next(decoded, None)
        for k in range(frames):
            t = k / FPS
            while upcoming is not None and float(upcoming.pts * upcoming.time_base) - first <= t + 1e-6:
                shown_bytes = upcoming.to_ndarray(format="yuv420p").tobytes()
                upcoming = next(decoded, None)
            ssim.stdin.write(shown_bytes)
    ssim.stdin.close()
    stderr = ssim.stderr.read().decode() if ssim.stderr else ""
    if ssim.wait() != 0:
        raise RuntimeError(stderr[-1000:])
    return _ssim(stderr)


# --- equal SSIM ---------------------------------------------------------------------------


def at_db(points: list[dict], target: float, key: str = "db_y") -> float | None:
    """Bytes at SSIM ``target`` dB, interpolated (log bytes linear in dB) between the two
    encodes that bracket it; None if none do."""
    pts = sorted(points, key=lambda p: p[key])
    for lo, hi in zip(pts, pts[1:]):
        if lo[key] <= target <= hi[key]:
            if hi[key] == lo[key]:
                return float(lo["bytes"])
            f = (target - lo[key]) / (hi[key] - lo[key])
            return math.exp(math.log(lo["bytes"]) + f * (math.log(hi["bytes"]) - math.log(lo["bytes"])))
    return None


def _child(capture: Path, i420_ref: Path, variant: str, crf: int, out: Path) -> dict[str, object]:
    run = subprocess.run([sys.executable, __file__, "--one", "--capture", str(capture), "--i420", str(i420_ref),
                          "--crf", str(crf), "--out", str(out), "--", variant], capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"variant {variant!r} at CRF {crf} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def equal_ssim(capture: Path, i420_ref: Path, variant: str, target: float, tmp: Path) -> dict[str, object]:
    """Encode ``variant`` at CRFs around 23 until two bracket ``target``; its row."""
    points: dict[int, dict] = {}

    def at(crf: int) -> dict:
        if crf not in points:
            out = tmp / "fastrec.mp4"
            out.unlink(missing_ok=True)
            points[crf] = _child(capture, i420_ref, variant, crf, out)
        return points[crf]

    # a first guess from the usual slope (~0.5 dB per CRF step), then single steps until
    # two encodes bracket the target
    first = at(REFERENCE_CRF)
    crf = min(40, max(10, REFERENCE_CRF + round((first["db_y"] - target) / 0.5)))
    for _ in range(8):
        here = at(crf)
        step = 1 if here["db_y"] > target else -1
        if at_db(list(points.values()), target) is not None:
            break
        crf += step
    # narrow a wide bracket (a first guess that jumped) to neighbouring CRFs
    for _ in range(4):
        below = max((c for c, p in points.items() if p["db_y"] >= target), default=None)
        above = min((c for c, p in points.items() if p["db_y"] < target), default=None)
        if below is None or above is None or above - below <= 1:
            break
        at(below + 1 if points[below]["db_y"] - target < target - points[above]["db_y"] else above - 1)
    base = points[REFERENCE_CRF]
    # between the two neighbouring CRFs that bracket it
    below = max((c for c, p in points.items() if p["db_y"] >= target), default=None)
    above = min((c for c, p in points.items() if p["db_y"] < target), default=None)
    near = [points[c] for c in (below, above) if c is not None]
    return {**base, "at_equal": at_db(near, target), "points": sorted(points.items())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="*", help='X264_PARAMS[@THREADS][+hints]; "default" = EncoderSettings')
    parser.add_argument("--contents", default="text,scroll,video", help="comma-separated: text, scroll, video")
    parser.add_argument("--reference", type=Path, help="a lossless capture: the 'capture' content")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each synthetic content")
    parser.add_argument("--repeat", type=int, default=0,
                        help="then encode each variant this many times more at CRF 23, interleaved: "
                             "median encoder CPU (CPU time varies run to run on a shared machine)")
    parser.add_argument("--skip-equal", action="store_true", help="only the --repeat CPU table")
    parser.add_argument("--keep", type=Path, help="keep the captures in this directory (reused when there)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child run
    parser.add_argument("--capture", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--i420", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--crf", type=int, default=REFERENCE_CRF, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(fastrec_encode(args.capture, args.i420, args.variants[0], args.crf, args.out)))
        return 0

    tmpdir = tempfile.TemporaryDirectory(prefix="fastrec-ab-")
    tmp = Path(tmpdir.name)
    keep = args.keep or tmp
    keep.mkdir(parents=True, exist_ok=True)
    contents = [c for c in args.contents.split(",") if c]
    captures: dict[str, Path] = {}
    for content in contents:
        path = keep / f"{content}-{args.seconds:g}s.mkv"
        if not path.exists():
            print(f"-- {content}: making a {args.seconds:g} s lossless capture ...", file=sys.stderr, flush=True)
            make_capture(content, args.seconds, path)
        captures[content] = path
    if args.reference is not None:
        captures["capture"] = args.reference
    variants = list(dict.fromkeys(["default", *args.variants]))
    print(f"CRF {REFERENCE_CRF} veryfast; bytes at ffmpeg's Y-SSIM (dB) interpolated between fastrec's CRFs; "
          f"{args.seconds:g} s per synthetic content, {FPS} fps, {WIDTH}x{HEIGHT}")
    print("| content | encoder | x264 parameters | hints | keyframe interval s | bytes at CRF 23 | Y-SSIM dB at CRF 23 "
          "| bytes at equal SSIM | vs ffmpeg | encoder CPU s at CRF 23 | vs ffmpeg | encoder memory MB |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for content, capture in captures.items():
        i420_ref = keep / f"{capture.stem}-i420.mkv"
        if not i420_ref.exists():
            write_i420(capture, i420_ref)
        if args.skip_equal:
            continue
        ff = ffmpeg_encode(capture, REFERENCE_CRF, tmp / "ffmpeg.mp4")
        print(f"| {content} | ffmpeg | `veryfast`, CRF {REFERENCE_CRF} | — | {250 / FPS:g} | {ff['bytes'] / 1e3:.1f} kB "
              f"| {ff['db_y']:.2f} | {ff['bytes'] / 1e3:.1f} kB | 1.000x | {ff['cpu']:.2f}  | 1.00x | — |",
              flush=True)
        for variant in variants:
            print(f"-- {content}: {variant} ...", file=sys.stderr, flush=True)
            row = equal_ssim(capture, i420_ref, variant, ff["db_y"], tmp)
            equal = row["at_equal"]
            tried = ", ".join(f"{crf}: {p['db_y']:.2f} dB {p['bytes'] / 1e3:.0f} kB" for crf, p in row["points"])
            print(f"-- {content} {variant}: CRF {tried}", file=sys.stderr, flush=True)
            eq = "—" if equal is None else f"{equal / 1e3:.1f} kB | {equal / ff['bytes']:.3f}x"
            if equal is None:
                eq += " | —"
            print(f"| {content} | fastrec | `{row['x264']}` | {'yes' if row['hints'] else 'no'} | {row['interval']:g} "
                  f"| {row['bytes'] / 1e3:.1f} kB | {row['db_y']:.2f} | {eq} | {row['cpu']:.2f} "
                  f"| {row['cpu'] / ff['cpu']:.2f}x | {row['memory'] / 1e6:.0f} |", flush=True)
    if args.repeat:
        _repeat_cpu(captures, keep, tmp, variants, args.repeat)
    return 0


def _repeat_cpu(captures: dict[str, Path], keep: Path, tmp: Path, variants: list[str], repeat: int) -> None:
    """Median encoder CPU of each variant at CRF 23 over ``repeat`` interleaved runs."""
    print(f"\nEncoder CPU at CRF {REFERENCE_CRF}, median of {repeat} interleaved runs (min-max)")
    print("| content | variant | bytes | encoded frames | hinted rectangles | encoder CPU s | vs first |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for content, capture in captures.items():
        i420_ref = keep / f"{capture.stem}-i420.mkv"
        runs: dict[str, list[dict]] = {v: [] for v in variants}
        for _ in range(repeat):
            for variant in variants:
                out = tmp / "fastrec.mp4"
                out.unlink(missing_ok=True)
                runs[variant].append(_child(capture, i420_ref, variant, REFERENCE_CRF, out))
        first = float(np.median([r["cpu"] for r in runs[variants[0]]]))
        for variant, rows in runs.items():
            cpus = sorted(r["cpu"] for r in rows)
            median = float(np.median(cpus))
            print(f"| {content} | `{variant}` | {rows[0]['bytes'] / 1e3:.1f} kB | {rows[0]['encoded']} "
                  f"| {rows[0]['rects']} | {median:.2f} ({cpus[0]:.2f}-{cpus[-1]:.2f}) | {median / first:.2f}x |",
                  flush=True)


if __name__ == "__main__":
    sys.exit(main())
