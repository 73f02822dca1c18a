"""Capture-process cost per frame with and without partial grabs (issue 14), in one run.

Two capture loops record the same private 1920x1080 Xvfb at the same time, each in its own
process: one with partial grabs (RECORDING_PARTIAL_GRABS=true: X DAMAGE rectangles, XShm
sub-rectangle views, dirty-tile diff and conversion), one without (the whole screen on every
changed frame: the reference).  Both see the same workload under the same machine load, so
their ratio is the measurement; the absolute numbers move with the load.  No encoder runs:
frames go into a ring nobody reads (drop_oldest), so this is the capture process alone.

    .venv/bin/python scripts/bench_capture.py                       # typing, scroll, editor; 30 s each
    .venv/bin/python scripts/bench_capture.py --seconds 60 --workloads typing

Workloads are fastrec.demo.workload's scenarios (--workload-module runs another copy).
Prints a markdown table: capture CPU per published frame, its ratio, pixels grabbed and
converted per frame, the capture process's peak RSS and its PSS at the end.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from multiprocessing import get_context
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from fastrec.demo.display import VirtualDisplay  # noqa: E402

WIDTH, HEIGHT, FPS = 1920, 1080, 10


def _pss_mb() -> float:
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _capture(display: str, partial: bool, seconds: float, scale: float, start: Connection) -> None:
    """A capture process: the real CaptureLoop and schedule, stopped after ``seconds``."""
    import resource
    from multiprocessing import Pipe

    from fastrec.capture import open_source
    from fastrec.core.convert import i420_size, output_size
    from fastrec.engine.capture_loop import CaptureConfig, CaptureLoop, _run
    from fastrec.engine.ring import FrameRing

    config = CaptureConfig("bench", mode="full_screen", display=display, fps=FPS, scale=scale,
                           settle_seconds=0.0, partial_grabs=partial, full_policy="drop_oldest")
    supervisor, control = Pipe()
    with open_source("full_screen", display) as source:
        first = source.locate()
        out = output_size(first.region.width, first.region.height, scale)
        with FrameRing(i420_size(*out), slots=3, policy="drop_oldest") as ring:
            loop = CaptureLoop(config, source, ring, *out)
            start.send("ready")
            start.recv()  # both loops start together

            def supervise() -> None:  # reads the stats messages, says stop at the end
                deadline = time.monotonic() + seconds
                while (left := deadline - time.monotonic()) > 0:
                    if supervisor.poll(left):
                        supervisor.recv()
                supervisor.send("stop")

            thread = threading.Thread(target=supervise, daemon=True)
            cpu0 = time.process_time()
            thread.start()
            _run(loop, FPS, control)
            cpu = time.process_time() - cpu0
            thread.join()
            start.send({"cpu": cpu, "stats": asdict(loop.stats), "pss_mb": _pss_mb(),
                        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def run_workload(name: str, seconds: float, scale: float, module: str) -> dict[bool, dict[str, Any]]:
    ctx = get_context("spawn")
    with VirtualDisplay(WIDTH, HEIGHT) as display:
        cmd = ([sys.executable, module] if module.endswith(".py") else [sys.executable, "-m", module])
        workload = subprocess.Popen([*cmd, "--seconds", str(seconds + 30), "--scenario", name],
                                    env=display.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            time.sleep(2.0)  # the windows mapped and drawn
            if workload.poll() is not None:
                raise RuntimeError(f"workload {name} exited: {workload.stderr.read().decode()[-400:]}")
            pipes, procs = {}, []
            for partial in (True, False):
                mine, theirs = ctx.Pipe()
                proc = ctx.Process(target=_capture, args=(display.display, partial, seconds, scale, theirs))
                proc.start()
                pipes[partial] = mine
                procs.append(proc)
            for conn in pipes.values():
                if conn.recv() != "ready":
                    raise RuntimeError("a capture process did not start")
            for conn in pipes.values():
                conn.send("go")
            results = {partial: conn.recv() for partial, conn in pipes.items()}
            for proc in procs:
                proc.join(30)
            return results
        finally:
            workload.terminate()
            workload.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--workloads", default="typing,scroll,editor")
    parser.add_argument("--workload-module", default="fastrec.demo.workload",
                        help="module (or .py file) with --scenario typing|scroll|editor")
    args = parser.parse_args(argv)
    print(f"{WIDTH}x{HEIGHT} Xvfb, {FPS} fps, scale {args.scale}, {args.seconds:.0f} s per workload; "
          "both capture processes at once on the same screen\n")
    print("| workload | partial grabs | frames published | capture CPU-s | CPU ms / frame | vs whole grabs "
          "| partial frames | Mpx grabbed / frame | Mpx converted / frame | peak RSS MB | PSS MB at end |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.workloads.split(","):
        results = run_workload(name, args.seconds, args.scale, args.workload_module)
        ref = results[False]
        ref_per = ref["cpu"] / max(1, ref["stats"]["published"]) * 1e3
        for partial in (True, False):
            r = results[partial]
            s = r["stats"]
            frames = max(1, s["published"])
            per = r["cpu"] / frames * 1e3
            ratio = "1.00x (ref)" if not partial else f"{per / ref_per:.2f}x"
            print(f"| {name} | {'on' if partial else 'off'} | {s['published']} | {r['cpu']:.2f} | {per:.2f} | {ratio} "
                  f"| {s['partial']} | {s['grabbed_pixels'] / max(1, s['grabbed']) / 1e6:.3f} "
                  f"| {s['converted_pixels'] / frames / 1e6:.3f} | {r['maxrss_mb']:.0f} | {r['pss_mb']:.0f} |")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
