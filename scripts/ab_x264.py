"""Compare libx264 settings on identical frames: a lossless capture of the e2e workload.

    .venv/bin/python scripts/ab_x264.py                       # records the reference first
    .venv/bin/python scripts/ab_x264.py --reference ref.mkv "rc-lookahead=0" "ipratio=1.2@2"
    .venv/bin/python scripts/ab_x264.py --reference ref.mkv "default#2" "default#5" "default#3600"

Each variant is ``X264_PARAMS[@THREADS][#KEYFRAME_SECONDS]``, appended to the engine's
fixed parameters (scenecut=0:keyint=infinite:bframes=0); the empty variant "" is that
base alone with x264's default lookahead, "default" the current EncoderSettings, which
is always included.  ``#KEYFRAME_SECONDS`` sets EncoderSettings.keyframe_interval
(default: the current one).  The frames go through the engine's own path - BGRA ->
fastrec's I420, identical frames skipped as the capture loop skips them, SegmentWriter
with its keyframes by capture time - so only the encoder settings differ.  Per variant
(each in its own process): file size and MB per hour of the reference, keyframes, Y-PSNR
of what a player shows at every source frame time, encoder CPU, the peak memory the
encoder added (VmHWM growth while encoding), and the longest seek: the CPU time to decode
the longest run from a keyframe to the next (what a player decodes, at worst, to show a
frame it seeks to).
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

    variant, _, interval = variant.partition("#")
    params, _, threads = variant.partition("@")
    default = EncoderSettings(2, 2)
    x264 = default.x264_params if params == "default" else ":".join(p for p in (BASE, params) if p)
    with av.open(str(reference)) as c:
        width, height = c.streams.video[0].width, c.streams.video[0].height
    settings = EncoderSettings(width, height, x264_params=x264,
                               threads=int(threads) if threads else default.threads,
                               keyframe_interval=float(interval) if interval else default.keyframe_interval)
    cpu = 0.0
    seconds = 0.0
    hwm0 = _hwm()
    with SegmentWriter("ab", settings, SegmentPolicy(), lambda part: out) as writer:
        for t, i420, same in _source(reference):
            seconds = t + 1.0 / FPS
            if same:
                continue
            c0 = time.process_time()
            writer.write(i420, 1000.0 + t, keyframe=False)  # the writer's keyframes by capture time
            cpu += time.process_time() - c0
    grown = _hwm() - hwm0
    keyframes, longest_seek = _seek_cost(out)
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
            "psnr": psnr, "cpu": cpu, "memory": grown, "interval": settings.keyframe_interval,
            "seconds": seconds, "keyframes": keyframes, "longest_seek": longest_seek}


def _seek_cost(path: Path) -> tuple[int, float]:
    """(keyframes, CPU seconds to decode the longest keyframe-to-keyframe run) of a file."""
    import av

    runs: list[float] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            c0 = time.process_time()
            stream.codec_context.decode(packet)
            spent = time.process_time() - c0
            if packet.is_keyframe or not runs:
                runs.append(0.0)
            runs[-1] += spent
    return len(runs), max(runs, default=0.0)


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
    print(f"{ref['seconds']:.0f} s of the workload")
    print("| x264 parameters | threads | keyframe every s | keyframes | output kB | MB/hour | size vs default "
          "| Y-PSNR dB | encoder CPU s | longest seek ms | encoder memory MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| `{r['x264']}` | {r['threads']} | {r['interval']:g} | {r['keyframes']} | {r['bytes'] / 1e3:.1f} "
              f"| {r['bytes'] / 1e6 * 3600 / r['seconds']:.1f} | {r['bytes'] / ref['bytes']:.3f}x "
              f"| {r['psnr']:.2f} | {r['cpu']:.2f} | {r['longest_seek'] * 1e3:.0f} | {r['memory'] / 1e6:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
