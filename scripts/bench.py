"""Run the benchmarks and print their table: each row as a ratio to its group's reference,
then the targets of benchmarks/README.md, met or not.

    .venv/bin/python scripts/bench.py            # full pass (a minute or two)
    .venv/bin/python scripts/bench.py --quick    # CI's short pass
    .venv/bin/python scripts/bench.py --from-json results.json

Timings never fail this script; a benchmark that errors does.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_benchmarks(quick: bool, json_path: Path) -> int:
    cmd = [sys.executable, "-m", "pytest", str(ROOT / "benchmarks"), "-q", "-p", "no:cacheprovider",
           f"--benchmark-json={json_path}", "--benchmark-max-time", "0.1" if quick else "0.5",
           "--benchmark-min-rounds", "3" if quick else "10"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:  # pytest-benchmark's own tables are noise; its errors are not
        print("\n".join((proc.stdout + proc.stderr).splitlines()[-60:]), file=sys.stderr)
    return proc.returncode


def _row_name(bench: dict) -> str:
    return (bench.get("params") or {}).get("impl") or bench["name"].split("[")[0].removeprefix("test_")


def render(data: dict) -> tuple[str, list[tuple[str, bool, str]]]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for bench in data["benchmarks"]:
        groups[bench["group"] or bench["name"]].append(bench)
    machine = data.get("machine_info", {})
    cpu = machine.get("cpu", {}).get("brand_raw", platform.processor())
    lines = [f"Machine: {cpu}, {machine.get('cpu', {}).get('count', '?')} cores, "
             f"Python {machine.get('python_version', '?')}; {data.get('datetime', '')[:19]}",
             "", "| group | implementation | median ms | speed vs reference |", "|---|---|---:|---:|"]
    medians: dict[tuple[str, str], float] = {}
    extras: dict[tuple[str, str], dict] = {}
    for group, benches in groups.items():
        refs = [b for b in benches if b.get("extra_info", {}).get("reference")]
        ref_median = refs[0]["stats"]["median"] if refs else None
        for bench in sorted(benches, key=lambda b: b["stats"]["median"]):
            median = bench["stats"]["median"]
            name = _row_name(bench)
            medians[(group, name)] = median * 1e3
            extras[(group, name)] = bench.get("extra_info", {})
            ratio = f"{ref_median / median:.2f}x" if ref_median else ""
            if bench in refs:
                ratio += " (ref)"
            lines.append(f"| {group} | {name} | {median * 1e3:.3f} | {ratio} |")
    return "\n".join(lines), _targets(medians, extras)


def _targets(ms: dict[tuple[str, str], float], extras: dict) -> list[tuple[str, bool, str]]:
    out: list[tuple[str, bool, str]] = []

    def check(label: str, ok: bool | None, detail: str) -> None:
        if ok is not None:
            out.append((label, ok, detail))

    def get(group: str, name: str) -> float | None:
        return ms.get((group, name))

    ours, ref = get("diff 1080p identical", "fastrec"), get("diff 1080p identical", "np.array_equal")
    if ours and ref:
        check("diff 1080p >= 1.5x faster than np.array_equal", ref / ours >= 1.5, f"{ref / ours:.2f}x")
    for size in ("1080p", "2160p"):
        for scale in ("1.0", "0.5"):
            g = f"scale+convert {size} x{scale}"
            ours, cv, pyav = get(g, "fastrec"), get(g, "cv2 resize+cvtColor"), get(g, "PyAV reformat")
            if ours and cv:
                check(f"{g}: no slower than cv2 resize+cvtColor", ours <= cv, f"{cv / ours:.2f}x")
            if ours and pyav:
                check(f"{g}: >= 3x faster than PyAV reformat", pyav / ours >= 3, f"{pyav / ours:.2f}x")
    ours, cv = get("blur 400x300 region", "fastrec I420"), get("blur 400x300 region", "cv2.GaussianBlur 31x31")
    if ours and cv:
        check("blur 400x300 (I420 route) >= 2x faster than cv2.GaussianBlur 31x31", cv / ours >= 2, f"{cv / ours:.2f}x")
    # issue 14: a typing frame's kernels cost a small fraction of the whole-frame ones
    for group, ours_name in (("diff+copy 1080p typing frame", "fastrec compare_part"),
                             ("convert 1080p typing frame x1.0", "fastrec convert_tiles"),
                             ("convert 1080p typing frame x0.5", "fastrec convert_tiles")):
        ours = get(group, ours_name)
        whole = get(group, "fastrec compare (whole frame)") or get(group, "fastrec convert (whole frame)")
        if ours and whole:
            check(f"{group}: dirty tiles only >= 10x faster than the whole frame", whole / ours >= 10,
                  f"{whole / ours:.0f}x")
    for (group, name), info in extras.items():
        if "one_way_median_ms" in info:
            med = info["one_way_median_ms"]
            check(f"{group}: 1080p I420 producer->consumer median < 1 ms", med < 1.0,
                  f"median {med:.3f} ms, p99 {info.get('one_way_p99_ms', float('nan')):.3f} ms")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (CI)")
    parser.add_argument("--from-json", type=Path, help="render an existing pytest-benchmark JSON")
    args = parser.parse_args(argv)
    if args.from_json:
        data = json.loads(args.from_json.read_text())
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bench.json"
            code = run_benchmarks(args.quick, path)
            if code != 0:
                print(f"benchmarks failed (pytest exit code {code})", file=sys.stderr)
                return code
            data = json.loads(path.read_text())
    table, targets = render(data)
    print(table)
    print("\n| target | met | measured |\n|---|---|---|")
    for label, ok, detail in targets:
        print(f"| {label} | {'yes' if ok else 'NO'} | {detail} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
