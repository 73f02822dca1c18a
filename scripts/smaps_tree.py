"""What the peak memory of ``python -m fastrec record``'s process tree is made of.

Runs one recording (``benchmarks/e2e``'s command and desktop: a fresh 1920x1080 Xvfb with a
scripted workload) and samples every process of the tree (``/proc/PID/smaps_rollup``, every
0.2 s).  At the tree's peak it reads every process's ``/proc/PID/smaps`` and sums PSS by mapping:
the heap, anonymous memory, each shared library, shared memory (the ring's memfd, the XShm
segment), the stack.  Prints the peak of the tree's summed PSS, the output file's bytes, and
each process's PSS at that moment (and its own peak) with that breakdown.

    PYTHONPATH=src .venv/bin/python scripts/smaps_tree.py --workload typing --seconds 60
    PYTHONPATH=/other/tree/src .venv/bin/python scripts/smaps_tree.py   # another checkout

Numbers are in MB (10^6 bytes).  Not part of CI.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks.e2e

import psutil  # noqa: E402

from benchmarks.e2e import tree  # noqa: E402

_SO_VERSION = re.compile(r"(\.cpython-[^.]*)?\.so(\.[0-9.]+)?$")


def _kind(name: str) -> str:
    """The bucket a mapping's PSS is summed into."""
    if not name:
        return "anon"
    if name in ("[heap]", "[stack]", "[vvar]", "[vdso]"):
        return name
    if name.startswith("/memfd:fastrec-ring"):
        return "ring (memfd)"
    if name.startswith("/memfd:") or name.startswith("/dev/shm/"):
        return "shm " + name.split(" ")[0]
    if name.startswith("/SYSV"):
        return "XShm (SysV)"
    if ".so" in name:
        base = _SO_VERSION.sub("", name.rsplit("/", 1)[-1])
        if "/numpy" in name:
            return "numpy .so"
        if "/av/" in name:
            return "PyAV .so"
        if "/fastrec/" in name:
            return "fastrec .so"
        if "/lib-dynload/" in name:
            return "python lib-dynload"
        return base
    if "python" in name.rsplit("/", 1)[-1]:
        return "python binary"
    return name


def breakdown(pid: int) -> dict[str, int]:
    """PSS in bytes by mapping kind (see :func:`_kind`)."""
    out: dict[str, int] = defaultdict(int)
    name = ""
    with open(f"/proc/{pid}/smaps") as smaps:
        for line in smaps:
            first = line.split(maxsplit=5)
            if not first:
                continue
            if "-" in first[0] and not first[0].endswith(":"):  # a mapping's first line
                name = first[5].strip() if len(first) > 5 else ""
            elif first[0] == "Pss:":
                out[_kind(name)] += int(first[1]) * 1024
    return dict(out)


def pss(pid: int) -> tuple[int, int]:
    """PSS and private (USS: pages no other process maps) bytes of ``pid``."""
    values = {"Pss:": 0, "Private_Clean:": 0, "Private_Dirty:": 0}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            key = line.split(maxsplit=1)[0]
            if key in values:
                values[key] = int(line.split()[1]) * 1024
    return values["Pss:"], values["Private_Clean:"] + values["Private_Dirty:"]


def measure(workload: str, seconds: float, out_dir: Path) -> dict[str, object]:
    peaks: dict[int, int] = {}  # each process's own peak PSS
    at_peak: dict[int, tuple[int, dict[str, int]]] = {}  # each process at the tree's peak
    roles: dict[int, str] = {}
    tree_peak = uss_at_peak = 0
    stop = threading.Event()
    with tree.desktop(workload, seconds) as display:
        out_dir.mkdir(parents=True, exist_ok=True)
        cmd = tree.record_command(display.display, out_dir, seconds, "veryfast")
        with open(out_dir / "record.log", "wb") as log:
            proc = subprocess.Popen(cmd, env=display.env, stdout=log, stderr=subprocess.STDOUT)

        def sample() -> None:
            nonlocal tree_peak, at_peak, uss_at_peak
            while not stop.wait(0.2):
                now: dict[int, int] = {}
                private = 0
                for pid in tree._tree(proc.pid):
                    try:
                        now[pid], own = pss(pid)
                        private += own
                        if pid not in roles:
                            roles[pid] = tree._role(" ".join(psutil.Process(pid).cmdline()), pid == proc.pid)
                    except (OSError, psutil.Error):
                        continue
                    peaks[pid] = max(peaks.get(pid, 0), now[pid])
                total = sum(now.values())
                if total > tree_peak + 256 * 1024:  # a new peak of the tree: what is it made of
                    parts = {}
                    for pid in now:
                        try:
                            parts[pid] = (now[pid], breakdown(pid))
                        except OSError:
                            continue
                    at_peak = parts
                    uss_at_peak = private
                tree_peak = max(tree_peak, total)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        proc.wait(seconds + 120)
        stop.set()
        sampler.join()
    files = sorted(out_dir.rglob("*.mp4"))
    summary = [line for line in (out_dir / "record.log").read_text(errors="replace").splitlines()
               if line.startswith("session ")]
    return {"workload": workload, "seconds": seconds, "returncode": proc.returncode,
            "summary": summary[-1] if summary else "",
            "tree_peak_pss": tree_peak, "tree_uss_at_peak": uss_at_peak, "bytes": sum(f.stat().st_size for f in files),
            "processes": {f"{roles.get(pid, '?')} {pid}": {"pss_at_tree_peak": value, "own_peak_pss": peaks[pid],
                                                           "by_mapping": parts}
                          for pid, (value, parts) in at_peak.items()}}


def report(result: dict[str, object], top: int) -> None:
    print(f"{result['workload']} {result['seconds']:.0f} s: tree peak PSS {result['tree_peak_pss'] / 1e6:.1f} MB "
          f"(private {result['tree_uss_at_peak'] / 1e6:.1f} MB of it: pages no other process maps), "
          f"output {result['bytes']} bytes, exit {result['returncode']}")
    print(f"  {result['summary']}")
    for name, proc in result["processes"].items():  # type: ignore[union-attr]
        parts = sorted(proc["by_mapping"].items(), key=lambda kv: -kv[1])
        shown = ", ".join(f"{k} {v / 1e6:.1f}" for k, v in parts[:top])
        rest = sum(v for _, v in parts[top:])
        print(f"  {name}: {proc['pss_at_tree_peak'] / 1e6:.1f} MB (own peak {proc['own_peak_pss'] / 1e6:.1f}) "
              f"= {shown}, other {rest / 1e6:.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", default="typing", choices=tree.WORKLOADS)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--top", type=int, default=12, help="mappings shown per process")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smaps-tree-") as tmp:
        result = measure(args.workload, args.seconds, Path(tmp) / "out")
    report(result, args.top)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0 if result["returncode"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
