"""The ``record`` command's own cost, start to exit (issue 14): its CPU, memory and modules.

``python -m fastrec record --mode full_screen --duration 0.1`` on a private 1920x1080 Xvfb,
``--runs`` times, alternating with another checkout's ``src`` when ``--compare`` names one
(e.g. main's), so that load drifts hit both alike.  A ``sitecustomize`` given to the command
only (not its capture and encoder children) writes at exit the command's own CPU
(``RUSAGE_SELF``: every thread, start-up and shutdown included), its PSS and peak RSS and its
module count; the whole tree's CPU (``os.wait4`` of the command) is given beside it.  Medians,
and this/compared ratios from the same run.

    .venv/bin/python scripts/bench_command.py --compare /tmp/main/src --runs 11

``scripts/bench_process_start.py`` measures the imports alone; ``scripts/bench_e2e.py
--startup-only`` the whole tree's fixed cost and the time to the first frame.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from bench_process_start import trees_to_measure  # noqa: E402  (scripts/ is this script's folder)

from fastrec.demo.display import VirtualDisplay  # noqa: E402

# in the command only (its children run with "fastrec-capture"/"fastrec-encoder" arguments)
_SITECUSTOMIZE = textwrap.dedent("""
    import atexit, json, os, resource, sys

    def _dump():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        pss = 0
        for line in open("/proc/self/smaps_rollup"):
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
        with open(os.environ["FASTREC_BENCH_COMMAND_OUT"], "w") as out:
            json.dump({"cpu": usage.ru_utime + usage.ru_stime, "pss_kb": pss, "maxrss_kb": usage.ru_maxrss,
                       "modules": len(sys.modules)}, out)

    if not any(arg.startswith("fastrec-") for arg in sys.argv):
        atexit.register(_dump)
""")
# (label, index in a sample of _run)
_FIGURES = (("command CPU s", 1), ("whole tree CPU s", 0), ("command PSS at exit MB", 2),
            ("command peak RSS MB", 3), ("command modules", 4))


def _run(src: Path, display: VirtualDisplay, site: Path) -> tuple[float, ...]:
    with tempfile.TemporaryDirectory(prefix="fastrec-bench-command-") as tmp:
        out = Path(tmp) / "command.json"
        env = {**display.env, "PYTHONPATH": os.pathsep.join([str(site), str(src)]),
               "FASTREC_BENCH_COMMAND_OUT": str(out)}
        proc = subprocess.Popen([sys.executable, "-m", "fastrec", "record", "--mode", "full_screen",
                                 "--display", display.display, "--duration", "0.1", "--output-dir",
                                 str(Path(tmp) / "rec")], env=env, cwd=tmp,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        if status != 0:
            raise SystemExit(f"record exited with status {status} ({src})")
        data = json.loads(out.read_text())
    return (usage.ru_utime + usage.ru_stime, data["cpu"], data["pss_kb"] / 1024, data["maxrss_kb"] / 1024,
            data["modules"])


def main() -> int:
    runs, trees = trees_to_measure(__doc__, 11, "recordings per tree (median)")
    samples: dict[str, list[tuple[float, ...]]] = {tree: [] for tree in trees}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="fastrec-bench-site-") as site, VirtualDisplay() as display:
        (Path(site) / "sitecustomize.py").write_text(_SITECUSTOMIZE)
        for _ in range(runs):
            for tree, src in trees.items():
                samples[tree].append(_run(src, display, Path(site)))
    load_after = os.getloadavg()
    print(f"`record --mode full_screen --duration 0.1`, median of {runs} runs, {os.cpu_count()} cores, "
          f"load average {load_before[0]:.1f} at the start, {load_after[0]:.1f} at the end; "
          + ", ".join(f"{name}: {src}" for name, src in trees.items()))
    print()
    print("| figure | " + " | ".join(trees) + (" | this/compared |" if len(trees) > 1 else ""))
    print("|---|" + "---:|" * (len(trees) + (len(trees) > 1)))
    for label, i in _FIGURES:
        medians = {tree: statistics.median(s[i] for s in samples[tree]) for tree in trees}
        cells = [f"{v:.0f}" if label.endswith("modules") else f"{v:.3f}" if "CPU" in label else f"{v:.1f}"
                 for v in medians.values()]
        ratio = f" {medians['this'] / medians['compared']:.2f}x |" if len(trees) > 1 else ""
        print(f"| {label} | " + " | ".join(cells) + " |" + ratio)
    print()
    for tree in trees:
        print(f"- {tree}, command CPU s per run: " + ", ".join(f"{s[1]:.2f}" for s in samples[tree]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
