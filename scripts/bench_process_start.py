"""What each process of a recording pays to start (issue 14), and what one process fewer would save.

For each role - the ``record`` command (the supervisor: its CLI, settings and manager), the
capture process, the encoder worker, and one child that would do both capture and encoding -
a fresh interpreter imports what that process imports (the children with the engine's
``OPENBLAS_NUM_THREADS=1`` and ``MALLOC_ARENA_MAX=2``), and the CPU seconds of that
interpreter (``RUSAGE_CHILDREN``) and its PSS and private memory at the end are taken; the
median of ``--runs`` runs, the roles alternating so that load drifts hit them alike.  A bare
``python -c pass`` is the reference in the same run: every figure is also given as a ratio
to it.  ``--compare DIR`` measures another checkout's ``src`` (e.g. main's) in the same run,
alternating with this one.

    .venv/bin/python scripts/bench_process_start.py                     # this checkout, 7 runs
    .venv/bin/python scripts/bench_process_start.py --compare /tmp/main/src --runs 9

Only imports: no X server, no recording.  What a role does after its imports (the X
connection, x264's set-up, the SQLite index) is in ``scripts/bench_e2e.py --startup-only``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD_ENV = {"OPENBLAS_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"}  # fastrec.engine.launch.CHILD_ENV

# role -> (code run in a fresh interpreter, whether it runs with the children's environment)
ROLES = {
    "bare interpreter (reference)": ("pass", False),
    "record command (supervisor)": (
        "import fastrec.cli as c\n"
        "getattr(c, 'import_structlog_without_rich', lambda: None)()\n"
        "c.build_parser()\n"
        "import fastrec.manager, fastrec.logs, fastrec.storage.videos", False),
    "capture process": ("import fastrec.engine.launch, fastrec.engine.capture_loop", True),
    "encoder worker": (
        "import fastrec.engine.launch, av\n"
        "try:\n    import fastrec.engine.encoder.worker\n"
        "except ImportError:\n    import fastrec.engine.encoder.pool", True),
    "one child: capture + encoder": (
        "import fastrec.engine.launch, fastrec.engine.capture_loop, av\n"
        "try:\n    import fastrec.engine.encoder.worker\n"
        "except ImportError:\n    import fastrec.engine.encoder.pool", True),
}

# appended to each role's code: its memory at the end, in kB, as one JSON line
_MEMORY = """
import json
mem = {}
for line in open('/proc/self/smaps_rollup'):
    key, _, rest = line.partition(':')
    if key in ('Pss', 'Private_Clean', 'Private_Dirty'):
        mem[key] = int(rest.split()[0])
print(json.dumps(mem))
"""


def _run(code: str, src: Path, child_env: bool) -> tuple[float, float, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    if child_env:
        env = {**CHILD_ENV, **env}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-c", code + _MEMORY], env=env, check=True,
                         capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    mem = json.loads(out.strip().splitlines()[-1])
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return cpu, mem["Pss"] / 1024, (mem["Private_Clean"] + mem["Private_Dirty"]) / 1024


def trees_to_measure(doc: str, runs: int, runs_help: str) -> tuple[int, dict[str, Path]]:
    """The command line's ``--runs`` and the trees: ``this`` checkout's src and, with
    ``--compare DIR``, ``compared``; byte-compiled as an installed package is (also
    scripts/bench_command.py's)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=runs, help=runs_help)
    parser.add_argument("--compare", type=Path, default=None, help="another checkout's src folder, measured alike")
    args = parser.parse_args()
    trees = {"this": ROOT / "src"}
    if args.compare is not None:
        trees["compared"] = args.compare.resolve()
    for src in trees.values():
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(src / "fastrec")],
                       stdout=subprocess.DEVNULL, check=False)
    return args.runs, trees


def main() -> int:
    runs, trees = trees_to_measure(__doc__, 7, "runs per role and tree (median)")
    samples: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for _ in range(runs):
        for role, (code, child_env) in ROLES.items():
            for tree, src in trees.items():
                samples.setdefault((tree, role), []).append(_run(code, src, child_env))

    def med(tree: str, role: str, i: int) -> float:
        return statistics.median(s[i] for s in samples[(tree, role)])

    try:
        load = " (load average %.1f %.1f %.1f)" % os.getloadavg()
    except OSError:
        load = ""
    print(f"Median of {runs} runs, {os.cpu_count()} cores{load}; " + ", ".join(
        f"{name}: {src}" for name, src in trees.items()))
    print()
    print("| process (imports only) | tree | CPU s | vs bare | PSS MB | private MB |")
    print("|---|---|---:|---:|---:|---:|")
    bare = "bare interpreter (reference)"
    for role in ROLES:
        for tree in trees:
            cpu = med(tree, role, 0)
            print(f"| {role} | {tree} | {cpu:.3f} | {cpu / med(tree, bare, 0):.1f}x | "
                  f"{med(tree, role, 1):.1f} | {med(tree, role, 2):.1f} |")
    if "compared" in trees:
        print()
        for role in list(ROLES)[1:]:
            print(f"- {role}: this/compared CPU {med('this', role, 0) / med('compared', role, 0):.2f}x, "
                  f"PSS {med('this', role, 1) / med('compared', role, 1):.2f}x")
    cap, enc, both = "capture process", "encoder worker", "one child: capture + encoder"
    print()
    print(f"One process fewer (capture and encoder in one child) would save at start "
          f"{med('this', cap, 0) + med('this', enc, 0) - med('this', both, 0):.3f} CPU-s and "
          f"{med('this', cap, 2) + med('this', enc, 2) - med('this', both, 2):.1f} MB of private memory "
          f"({med('this', cap, 1) + med('this', enc, 1) - med('this', both, 1):.1f} MB of standalone PSS).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
