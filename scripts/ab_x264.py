"""Compare libx264 settings on identical frames: a lossless capture of the e2e workload.

    .venv/bin/python scripts/ab_x264.py                       # records the reference first
    .venv/bin/python scripts/ab_x264.py --reference ref.mkv "rc-lookahead=0" "ipratio=1.2@2"

Each variant is ``X264_PARAMS[@THREADS]``, appended to the engine's fixed parameters
(scenecut=0:keyint=infinite:bframes=0); the empty variant "" is that base alone with
x264's default lookahead.  The current default (EncoderSettings) is always included.
The frames go through the engine's own path - BGRA -> fastrec's I420, identical
frames skipped as the capture loop skips them, a keyframe every 10 s, SegmentWriter -
so only the encoder settings differ.  Per variant (each in its own process): file size,
Y-PSNR of what a player shows at every source frame time, encoder CPU, and the peak
memory the encoder added (VmHWM growth while encoding).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

BASE = "scenecut=0:keyint=infinite:bframes=0"
KEYFRAME_EVERY = 10.0
FPS = 10


def _hwm() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _source(reference: Path):
    """(seconds, I420 (h*3/2, w) array, same-as-previous) for each reference frame."""
    import av
    import numpy as np

    from fastrec.core.convert import to_i420

    previous = None
    with av.open(str(reference)) as container:
        stream = container.streams.video[0]
        for i, frame in enumerate(container.decode(stream)):
            bgra = frame.to_ndarray(format="bgra")
            same = previous is not None and np.array_equal(bgra, previous)
            previous = bgra
            yield i / FPS, to_i420(bgra).reshape(frame.height * 3 // 2, frame.width), same


def _one(reference: Path, variant: str, out: Path) -> dict[str, object]:
    import av
    import numpy as np

    from fastrec.engine.protocol import SegmentPolicy
    from fastrec.engine.encoder.writer import EncoderSettings, SegmentWriter

    params, _, threads = variant.partition("@")
    default = EncoderSettings(2, 2)
    x264 = default.x264_params if params == "default" else ":".join(p for p in (BASE, params) if p)
    with av.open(str(reference)) as c:
        width, height = c.streams.video[0].width, c.streams.video[0].height
    settings = EncoderSettings(width, height, x264_params=x264,
                               threads=int(threads) if threads else default.threads)
    cpu = 0.0
    last_key = -1e9
    hwm0 = _hwm()
    with SegmentWriter("ab", settings, SegmentPolicy(), lambda part: out) as writer:
        for t, i420, same in _source(reference):
            if same:
                continue
            key = t - last_key >= KEYFRAME_EVERY
            last_key = t if key else last_key
            c0 = time.process_time()
            writer.write(i420, 1000.0 + t, keyframe=key)
            cpu += time.process_time() - c0
    grown = _hwm() - hwm0
    # what a player shows at each source frame time: the last frame with pts <= t
    se = 0.0
    n = 0
    with av.open(str(out)) as container:
        decoded = container.decode(video=0)
        shown = next(decoded)
        upcoming = next(decoded, None)
        first = float(shown.pts * shown.time_base)
        shown_y = shown.to_ndarray(format="yuv420p")[:height].astype(np.float32)
        for t, i420, _ in _source(reference):
            while upcoming is not None and float(upcoming.pts * upcoming.time_base) - first <= t + 1e-6:
                shown_y = upcoming.to_ndarray(format="yuv420p")[:height].astype(np.float32)
                upcoming = next(decoded, None)
            se += float(np.mean((shown_y - i420[:height]) ** 2))
            n += 1
    psnr = 10 * np.log10(255.0 ** 2 / (se / n)) if se > 0 else float("inf")
    return {"variant": variant, "x264": x264, "threads": settings.threads, "bytes": out.stat().st_size,
            "psnr": psnr, "cpu": cpu, "memory": grown}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="*", help='X264_PARAMS[@THREADS]; "" = base with lookahead')
    parser.add_argument("--reference", type=Path, help="a lossless capture (default: record one)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the recorded reference")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child run
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_one(args.reference, args.variants[0], args.out)))
        return 0

    tmp = tempfile.TemporaryDirectory(prefix="fastrec-ab-")
    reference = args.reference
    if reference is None:
        from e2e import runners
        print(f"-- recording a {args.seconds:.0f} s lossless reference of the workload ...", file=sys.stderr)
        with runners.desktop(args.seconds) as (display, launched):
            reference = runners.run_reference(display, launched, Path(tmp.name), args.seconds).files[0]
    variants = ["default", *(args.variants or ["@2"])]
    rows = []
    for i, variant in enumerate(variants):
        print(f"-- {variant or '(base)'} ...", file=sys.stderr, flush=True)
        out = Path(tmp.name) / f"v{i}.mp4"
        run = subprocess.run([sys.executable, __file__, "--one", "--reference", str(reference),
                              "--out", str(out), "--", variant], capture_output=True, text=True)
        if run.returncode != 0:
            print(run.stderr, file=sys.stderr)
            return 1
        rows.append(json.loads(run.stdout.strip().splitlines()[-1]))
    ref = rows[0]
    print("| x264 parameters | threads | output kB | size vs default | Y-PSNR dB | encoder CPU s "
          "| encoder memory MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| `{r['x264']}` | {r['threads']} | {r['bytes'] / 1e3:.1f} | {r['bytes'] / ref['bytes']:.3f}x "
              f"| {r['psnr']:.2f} | {r['cpu']:.2f} | {r['memory'] / 1e6:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
