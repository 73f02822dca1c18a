"""What an idle recording costs a minute, process by process and thread by thread (issue 14).

Over a long audited session the screen is mostly still, so this running cost, not the
start-up, is what a gateway recording many sessions pays.  A fresh 1920x1080 Xvfb shows the
scripted editor, frozen once drawn; ``python -m fastrec record --mode full_screen --fps 10``
records it; after a settle of ``--settle`` seconds, the CPU of each thread of the command,
its capture process and its encoder worker is read from ``/proc/PID/task/TID/stat`` at the
start and at the end of ``--seconds`` seconds, and printed as CPU-s a minute (the kernel
counts in clock ticks: 10 ms, so a figure moves by about 60 / seconds * 0.01).  Thread names
come from ``py-spy dump`` when py-spy is on PATH (Python does not give its threads' names to
the kernel); without it the threads are listed by id.

    .venv/bin/python scripts/bench_idle.py                 # 60 s
    .venv/bin/python scripts/bench_idle.py --seconds 120
    PYTHONPATH=/other/tree/src .venv/bin/python scripts/bench_idle.py   # another checkout
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.e2e import runners  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def _threads(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of ``pid``."""
    out: dict[int, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
    return out


def _names(pid: int) -> dict[int, str]:
    """Thread id -> Python thread name, from ``py-spy dump`` ({} without py-spy)."""
    spy = shutil.which("py-spy")
    if spy is None:
        return {}
    dump = subprocess.run([spy, "dump", "-p", str(pid)], capture_output=True, text=True, check=False).stdout
    names = {}
    for match in re.finditer(r'^Thread (\S+) \([^)]*\): "([^"]+)"', dump, re.MULTILINE):
        try:
            names[int(match.group(1), 0)] = match.group(2)
        except ValueError:
            continue
    return names


def _role(process: psutil.Process, root: int) -> str:
    if process.pid == root:
        return "command"
    line = " ".join(process.cmdline())
    return "capture" if "capture" in line else "encoder" if "encoder" in line else line[-40:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured idle time (default 60)")
    parser.add_argument("--settle", type=float, default=12.0, help="seconds after the start before measuring")
    args = parser.parse_args()
    missing = runners.have_tools()
    if missing:
        print(f"error: missing tools: {', '.join(missing)} (run scripts/setup.sh)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="fastrec-idle-") as tmp, \
            runners.desktop(args.settle + args.seconds + 20, idle=True) as (display, _):
        out = Path(tmp) / "rec"
        record = subprocess.Popen(
            [sys.executable, "-m", "fastrec", "record", "--mode", "full_screen", "--fps", "10", "--quality", "23",
             "--duration", str(args.settle + args.seconds + 10), "--output-dir", str(out)],
            env=display.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(args.settle)
            root = psutil.Process(record.pid)
            processes = [root, *root.children(recursive=True)]
            names = {p.pid: _names(p.pid) for p in processes}
            roles = {p.pid: _role(p, record.pid) for p in processes}
            start = {p.pid: _threads(p.pid) for p in processes}
            began = time.monotonic()
            time.sleep(args.seconds)
            end = {p.pid: _threads(p.pid) for p in processes}
            elapsed = time.monotonic() - began
        finally:
            record.terminate()
            record.wait(60)
    per_minute = 60.0 / elapsed
    print(f"Idle 1920x1080 screen, `record --mode full_screen --fps 10`, {elapsed:.0f} s measured after "
          f"{args.settle:.0f} s; CPU-s a minute (clock tick {1 / TICK * 1000:.0f} ms)\n")
    print("| process | thread | CPU-s / min |\n|---|---|---:|")
    total = 0.0
    for process in processes:
        role = roles[process.pid]
        own = 0.0
        for tid, cpu in sorted(end[process.pid].items()):
            used = (cpu - start[process.pid].get(tid, 0.0)) * per_minute
            own += used
            if used > 0:
                print(f"| {role} | {names[process.pid].get(tid, tid)} | {used:.3f} |")
        print(f"| **{role}** | all | **{own:.3f}** |")
        total += own
    print(f"| **tree** | | **{total:.3f}** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
