"""End-to-end recorder benchmark, two suites.

``tree`` (the default; issue 14): the whole process tree of ``python -m fastrec record``
(full_screen 1080p, 10 fps, CRF 23; the command's own interpreter, start-up and shutdown
included) against ``ffmpeg -f x11grab`` + libx264 at the same CRF and preset, each on a
fresh Xvfb, on four workloads (the scripted editor, continuous typing in a full-screen
terminal-like window, a full-screen scroll, an idle screen); then the fixed start-up +
shutdown cost (the tree CPU of a 0.1 s recording), the same for one session in an embedding
application whose RecordingManager is already up (benchmarks/e2e/embedded.py), the time from
the command's start and from ``start_session_recording`` to the first frame on disk.
benchmarks/e2e/tree.py.

``engine`` (issue 3): the engine in this process (Recorder) against ffmpeg and the naive
mss + cv2.VideoWriter("mp4v") loop on the editor workload, PSNR against a lossless capture,
an idle screen and four concurrent sessions.

    .venv/bin/python scripts/bench_e2e.py                 # tree, 60 s per recording (~12 min)
    .venv/bin/python scripts/bench_e2e.py --quick         # tree, 10 s, typing and idle only
    .venv/bin/python scripts/bench_e2e.py --suite engine --presets veryfast,ultrafast

Prints markdown tables and a targets block.  Exits non-zero only on errors (a recorder
that failed, a missing tool), never because a target was not met.  How CPU, memory and
quality are measured: benchmarks/e2e/runners.py and benchmarks/e2e/quality.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from e2e import quality, runners, tree  # noqa: E402
from e2e.runners import Result  # noqa: E402

MB = 1e6
READY = tree.READY_SECONDS


def _machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os
    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{ffmpeg.replace('Copyright', '').split('(c)')[0].strip()}")


def _frames(r: Result) -> str:
    f = f"{r.captured if r.captured is not None else '?'}/{r.encoded if r.encoded is not None else '?'}/{r.dropped if r.dropped is not None else '?'}"
    if r.late:
        f += f" ({r.late} late)"
    return f


def _ratio(a: float, b: float | None) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def table(results: list[Result], ref: Result | None, title: str) -> list[str]:
    lines = [f"### {title}", "",
             "| recorder | CPU s | CPU vs ffmpeg | CPU s incl. start-up | peak MB (PSS / RSS sum) | peak PSS vs ffmpeg "
             "| output MB | MB/hour | frames captured/encoded/dropped | duration vs wall | quality (PSNR) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|"]
    for r in results:
        dur = (f"{r.duration:.1f} s / {r.wall:.1f} s ({r.duration / r.wall:.3f})"
               if r.duration is not None and r.wall else "?")
        if (r.extra.get("first_pts") or 0.0) > 0.15:
            dur += f"; first pts {r.extra['first_pts']:.2f} s"
        q = f"{r.psnr:.2f} dB" if r.psnr is not None else (r.quality_note or "not measured")
        lines.append(
            f"| {r.recorder} | {r.cpu:.2f} | {_ratio(r.cpu, ref.cpu if ref else None)} | {r.cpu_total:.2f} "
            f"| {r.peak_pss / MB:.0f} / {r.peak_rss / MB:.0f} | {_ratio(r.peak_pss, ref.peak_pss if ref else None)} "
            f"| {r.mb:.2f} | {r.mb_per_hour:.0f} | {_frames(r)} | {dur} | {q} |")
    return lines


def targets(work: dict[str, Result], idle: dict[str, Result], multi: Result | None,
            multi_status: list[dict], presets: list[str]) -> list[str]:
    preset = presets[0]
    rows: list[tuple[str, bool, str]] = []
    fr, ff = work.get(f"fastrec ({preset})"), work.get(f"ffmpeg x11grab ({preset})")
    if fr and ff:
        rows.append((f"workload CPU <= 0.5x ffmpeg ({preset})", fr.cpu <= 0.5 * ff.cpu,
                     f"{fr.cpu:.2f} s vs {ff.cpu:.2f} s = {fr.cpu / ff.cpu:.2f}x while recording "
                     f"({fr.cpu_total / ff.cpu_total:.2f}x with start-up)"))
    for other in presets[1:]:
        a, b = work.get(f"fastrec ({other})"), work.get(f"ffmpeg x11grab ({other})")
        if a and b:
            rows.append((f"workload CPU <= 0.5x ffmpeg ({other})", a.cpu <= 0.5 * b.cpu,
                         f"{a.cpu:.2f} s vs {b.cpu:.2f} s = {a.cpu / b.cpu:.2f}x while recording "
                         f"({a.cpu_total / b.cpu_total:.2f}x with start-up)"))
    if fr and ff:
        # PSS: what the processes hold together (shared pages split between them); the
        # summed RSS counts the ring and every library once per process
        rows.append(("peak memory of all fastrec processes < 150 MB (PSS)", fr.peak_pss < 150 * MB,
                     f"{fr.peak_pss / MB:.0f} MB (summed RSS {fr.peak_rss / MB:.0f} MB)"))
        rows.append(("peak memory <= 0.5x ffmpeg's (PSS)", fr.peak_pss <= 0.5 * ff.peak_pss,
                     f"{fr.peak_pss / MB:.0f} MB vs {ff.peak_pss / MB:.0f} MB = {fr.peak_pss / ff.peak_pss:.2f}x "
                     f"(summed RSS {fr.peak_rss / ff.peak_rss:.2f}x)"))
        if fr.psnr is not None and ff.psnr is not None:
            ok = fr.bytes <= ff.bytes and fr.psnr >= ff.psnr - 0.05
            rows.append(("output no larger than ffmpeg's at equal or better quality", ok,
                         f"{fr.mb:.2f} MB vs {ff.mb:.2f} MB; PSNR {fr.psnr:.2f} vs {ff.psnr:.2f} dB"))
        else:
            rows.append(("output no larger than ffmpeg's at equal or better quality", False,
                         f"{fr.mb:.2f} MB vs {ff.mb:.2f} MB; quality not measured"))
        rows.append(("no dropped frames at 10 fps (workload)", fr.dropped == 0,
                     f"{fr.dropped} dropped, {fr.late} late ticks"))
    fi, fo = idle.get(f"fastrec ({preset})"), idle.get(f"ffmpeg x11grab ({preset})")
    if fi and fo:
        rows.append(("idle-screen CPU <= 0.1x ffmpeg", fi.cpu <= 0.1 * fo.cpu,
                     f"{fi.cpu:.2f} s vs {fo.cpu:.2f} s = {fi.cpu / fo.cpu:.3f}x while recording "
                     f"({fi.cpu_total / fo.cpu_total:.2f}x with start-up)"))
        rows.append(("no dropped frames at 10 fps (idle)", fi.dropped == 0, f"{fi.dropped} dropped"))
    if multi is not None:
        per = ", ".join(f"{s['capture'].get('dropped', 0)}/{s['capture'].get('late_ticks', 0)}"
                        for s in multi_status)
        rows.append(("four concurrent 720p sessions, no dropped frames", multi.dropped == 0 and not multi.errors,
                     f"dropped/late ticks per session: {per}"))
    lines = ["### Targets", "", "| target | result | measured |", "|---|---|---|"]
    lines += [f"| {name} | {'met' if ok else 'NOT met'} | {value} |" for name, ok, value in rows]
    return lines


def _attempt(label: str, fn, errors: list[str]):
    """Run one measurement; what fails is an error of the run (noted, traceback printed)."""
    print(f"-- {label} ...", file=sys.stderr, flush=True)
    t = time.monotonic()
    try:
        r = fn()
    except Exception as exc:  # a failed recorder is an error of the run
        errors.append(f"{label}: {exc!r}")
        traceback.print_exc()
        return None
    res = r[0] if isinstance(r, tuple) else r
    if isinstance(res, Result):
        errors.extend(f"{label}: {e}" for e in res.errors)
        print(f"   done in {time.monotonic() - t:.0f} s: cpu {res.cpu:.2f} s, peak PSS {res.peak_pss / MB:.0f} MB, "
              f"{res.mb:.2f} MB; {res.cpu_note}", file=sys.stderr, flush=True)
    return r


def _report(lines: list[str], errors: list[str], tmp: tempfile.TemporaryDirectory[str]) -> int:
    """Print the tables (and the run's errors); 1 when there were errors."""
    if errors:
        lines += ["", "Errors:", ""] + [f"- {e}" for e in errors]
    print("\n".join(lines))
    tmp.cleanup()
    return 1 if errors else 0


def _median(values: list[float]) -> float | None:
    values = sorted(v for v in values if v is not None)
    return values[len(values) // 2] if values else None


def _s(value: float | None, fmt: str = ".2f") -> str:
    return "?" if value is None else f"{value:{fmt}}"


def run_tree(args: argparse.Namespace) -> int:
    """The issue-14 suite: whole-tree CPU, peak PSS, sizes, fixed cost, time to first frame."""
    seconds = 10.0 if args.quick else args.seconds
    workloads = ["typing", "idle"] if args.quick else [w.strip() for w in args.workloads.split(",") if w.strip()]
    preset = args.presets.split(",")[0].strip()
    repeats = 1 if args.quick else 3
    missing = runners.have_tools()
    if missing:
        print(f"error: missing tools: {', '.join(missing)} (run scripts/setup.sh)", file=sys.stderr)
        return 2
    # byte-compiled first, as `pip install` leaves a package: otherwise every interpreter of
    # every run compiles fastrec's sources (under PYTHONDONTWRITEBYTECODE: ~1 CPU-s a run)
    import fastrec

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(fastrec.__file__).parent)],
                   stdout=subprocess.DEVNULL, check=False)
    tmp = tempfile.TemporaryDirectory(prefix="fastrec-tree-")
    out_dir = args.keep or Path(tmp.name)
    errors: list[str] = []
    began = time.time()
    pairs: dict[str, tuple[Result | None, Result | None]] = {}
    if args.startup_only:
        workloads = []

    def attempt(label: str, fn):
        return _attempt(label, fn, errors)

    for w in workloads:
        ours = attempt(f"{w}: fastrec record", lambda w=w: _on(w, seconds, lambda d: tree.run_record(
            d, out_dir / f"fastrec_{w}", seconds, preset, w)))
        ff = attempt(f"{w}: ffmpeg", lambda w=w: _on(w, seconds, lambda d: tree.run_ffmpeg(
            d, out_dir, seconds, preset, w)))
        pairs[w] = (ours, ff)

    # the fixed cost: a 0.1 s recording of an idle screen, whole tree, and its first frame
    fixed: list[Result] = []
    for i in range(repeats):
        r = attempt(f"fixed cost: record --duration 0.1 ({i + 1}/{repeats})", lambda i=i: _on(
            "idle", 0.1, lambda d: tree.run_record(d, out_dir / f"fixed_{i}", 0.1, preset, "fixed",
                                                   watch_first_frame=True)))
        if r is not None:
            fixed.append(r)
    embedded = attempt(f"per-session cost in an embedding application, {repeats + 1} sessions", lambda: _on(
        "idle", 40, lambda d: tree.embedded_session_cost(d, out_dir / "embedded", sessions=repeats + 1)))
    api = attempt("time to first frame: start_session_recording x2 on a new manager, at once",
                  lambda: _on("editor", 10, lambda d: tree.api_first_frame(d, out_dir / "api", sessions=2)))
    api_ready = attempt(f"time to first frame: start_session_recording x{repeats}, {READY:.0f} s apart",
                        lambda: _on("editor", 10 + 4 * repeats, lambda d: tree.api_first_frame(
                            d, out_dir / "api_ready", sessions=repeats, ready=READY)))

    lines = [f"Machine: {_machine()}; {dt.datetime.fromtimestamp(began):%Y-%m-%dT%H:%M:%S}",
             f"Command: `python scripts/bench_e2e.py {' '.join(sys.argv[1:])}`".replace("  ", " "),
             f"1920x1080 Xvfb, 10 fps, CRF 23, preset {preset}, {seconds:.0f} s per recording; "
             f"fastrec: `{' '.join(tree.record_command(':N', Path('DIR'), seconds, preset)[1:])}`, whole "
             "process tree (os.wait4 rusage); ffmpeg: `-f x11grab ... -t S -c:v libx264`. "
             f"fastrec from {Path(fastrec.__file__).parent} (byte-compiled).", ""]
    if pairs:
        lines += ["| workload | fastrec CPU s | ffmpeg CPU s | CPU ratio | fastrec peak PSS MB | ffmpeg peak PSS MB "
                  "| fastrec MB | ffmpeg MB | size ratio | fastrec frames | ffmpeg frames |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for w, (a, b) in pairs.items():
        if a is None or b is None:
            lines.append(f"| {w} | {'failed' if a is None else f'{a.cpu:.2f}'} | "
                         f"{'failed' if b is None else f'{b.cpu:.2f}'} | | | | | | | | |")
            continue
        lines.append(f"| {w} | {a.cpu:.2f} | {b.cpu:.2f} | {a.cpu / b.cpu:.3f}x | {a.peak_pss / MB:.0f} | "
                     f"{b.peak_pss / MB:.0f} | {a.mb:.2f} | {b.mb:.2f} | {a.bytes / max(b.bytes, 1):.2f}x | "
                     f"{a.packets} | {b.packets} |")
    fixed_cpu = _median([r.cpu for r in fixed])
    ttff_cmd = _median([r.extra.get("first_frame_s") for r in fixed])
    fixed_pss = _median([r.peak_pss / MB for r in fixed])
    lines += ["", "| start-up | value |", "|---|---:|",
              f"| fixed start-up + shutdown: tree CPU of `record --duration 0.1` (median of {len(fixed)}) "
              f"| {_s(fixed_cpu)} CPU-s ({', '.join(f'{r.cpu:.2f}' for r in fixed)}) |",
              f"| its peak PSS | {_s(fixed_pss, '.0f')} MB |",
              f"| command start -> first frame on disk (median) | {_s(ttff_cmd)} s "
              f"({', '.join(_s(r.extra.get('first_frame_s')) for r in fixed)}) |"]
    session_cpu = _median(embedded["sessions"][1:]) if embedded else None
    if embedded is not None:
        lines += ["| a session in an embedding application already up (one RecordingManager, default settings; what "
                  "`record --duration 0.1` records): tree CPU from start to sealed, next spare included, less the "
                  f"idle manager's | {_s(session_cpu)} CPU-s (median of sessions 2-{len(embedded['sessions'])}; "
                  f"all: {', '.join(f'{c:.2f}' for c in embedded['sessions'])}) |"]
    if api is not None:
        lines += [f"| start_session_recording -> first frame on disk, the 1st session, at once after initialize() "
                  f"| {_s(api[0])} s |",
                  f"| the same, a 2nd session at once after the 1st | {_s(api[1] if len(api) > 1 else None)} s |"]
    if api_ready is not None:
        lines += [f"| start_session_recording -> first frame on disk, sessions started {READY:.0f} s after "
                  f"initialize() or the previous session (median) | {_s(_median(api_ready))} s "
                  f"({', '.join(_s(t) for t in api_ready)}) |"]
    rows: list[tuple[str, bool, str]] = []
    for w, target in (("typing", 0.3), ("editor", 0.3), ("scroll", None), ("idle", 0.05)):
        a, b = pairs.get(w, (None, None))
        if a is not None and b is not None and target is not None:
            rows.append((f"{w}: CPU <= {target}x ffmpeg", a.cpu <= target * b.cpu, f"{a.cpu / b.cpu:.3f}x"))
    peak = max((a.peak_pss for a, _ in pairs.values() if a is not None), default=None)
    if peak is not None:
        rows.append(("peak PSS of the whole tree <= 120 MB", peak <= 120 * MB, f"{peak / MB:.0f} MB (max over workloads)"))
    if fixed_cpu is not None:
        rows.append(("fixed start-up + shutdown <= 0.5 CPU-s (`record`: a whole command)", fixed_cpu <= 0.5,
                     f"{fixed_cpu:.2f} CPU-s"))
    if session_cpu is not None:
        rows.append(("fixed start-up + shutdown <= 0.5 CPU-s (a session in an embedding application)",
                     session_cpu <= 0.5, f"{session_cpu:.2f} CPU-s"))
    if api_ready:
        ttff = _median(api_ready)
        rows.append(("start_session_recording -> first frame on disk <= 0.5 s (a manager up for a while)",
                     ttff is not None and ttff <= 0.5, f"median {_s(ttff)} s"))
    for w, (a, b) in pairs.items():
        if a is not None and b is not None:
            rows.append((f"{w}: file no larger than ffmpeg's (same CRF; equal-SSIM sizes: scripts/ab_x264.py)",
                         a.bytes <= b.bytes, f"{a.bytes / max(b.bytes, 1):.2f}x"))
    lines += ["", "| target | result | measured |", "|---|---|---|"]
    lines += [f"| {name} | {'met' if ok else 'NOT met'} | {value} |" for name, ok, value in rows]
    lines += ["", "CPU accounting:", ""]
    for w, (a, b) in pairs.items():
        for r in (a, b):
            if r is not None:
                lines.append(f"- {w}, {r.recorder}: {r.cpu_note}")
    return _report(lines, errors, tmp)


def _on(workload: str, seconds: float, fn):
    with tree.desktop(workload, seconds) as display:
        return fn(display)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=("tree", "engine"), default="tree", help="what to measure (see above)")
    parser.add_argument("--workloads", default=",".join(tree.WORKLOADS),
                        help=f"tree suite: comma-separated workloads out of {', '.join(tree.WORKLOADS)}")
    parser.add_argument("--startup-only", action="store_true",
                        help="tree suite: only the fixed cost and the times to the first frame")
    parser.add_argument("--seconds", type=float, default=60.0, help="recording length per recorder")
    parser.add_argument("--idle-seconds", type=float, default=None, help="idle case length (default: --seconds, quick 10)")
    parser.add_argument("--quick", action="store_true",
                        help="short runs (tree: 10 s, typing and idle; engine: 15 s, veryfast only)")
    parser.add_argument("--presets", default="veryfast", help="comma-separated x264 presets for fastrec and ffmpeg")
    parser.add_argument("--no-quality", action="store_true", help="skip the lossless reference and PSNR")
    parser.add_argument("--keep", type=Path, default=None, help="keep the recordings in this directory")
    args = parser.parse_args()
    if args.suite == "tree":
        return run_tree(args)
    seconds = 15.0 if args.quick else args.seconds
    # as long as the workload run: a session's fixed costs (x264 set-up, the first keyframe,
    # the remux at stop) are spread over the same time in both cases
    idle_seconds = args.idle_seconds or (10.0 if args.quick else seconds)
    presets = ["veryfast"] if args.quick else [p.strip() for p in args.presets.split(",") if p.strip()]
    missing = runners.have_tools()
    if missing:
        print(f"error: missing tools: {', '.join(missing)} (run scripts/setup.sh)", file=sys.stderr)
        return 2

    tmp = tempfile.TemporaryDirectory(prefix="fastrec-e2e-")
    out_dir = args.keep or Path(tmp.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    work: dict[str, Result] = {}
    idle: dict[str, Result] = {}
    multi, multi_status = None, []
    ref = None
    began = time.time()

    def attempt(label: str, fn):
        return _attempt(label, fn, errors)

    def on_desktop(fn, idle_case=False, secs=seconds):
        def go():
            with runners.desktop(secs, idle=idle_case) as (display, launched):
                return fn(display, launched)
        return go

    # the workload: each recorder on its own fresh desktop, one after another
    if not args.no_quality:
        ref = attempt("lossless reference capture", on_desktop(
            lambda d, l: runners.run_reference(d, l, out_dir, seconds)))
    for preset in presets:
        for name, fn in ((f"fastrec ({preset})", runners.run_fastrec), (f"ffmpeg x11grab ({preset})", runners.run_ffmpeg)):
            r = attempt(f"workload: {name}", on_desktop(
                lambda d, l, fn=fn, preset=preset: fn(d, l, out_dir, seconds, preset, "workload")))
            if r:
                work[name] = r
    r = attempt("workload: naive", on_desktop(lambda d, l: runners.run_naive(d, l, out_dir, seconds, "workload")))
    if r:
        work[r.recorder] = r

    # the idle screen
    p0 = presets[0]
    for name, fn in ((f"fastrec ({p0})", runners.run_fastrec), (f"ffmpeg x11grab ({p0})", runners.run_ffmpeg)):
        r = attempt(f"idle: {name}", on_desktop(
            lambda d, l, fn=fn: fn(d, l, out_dir, idle_seconds, p0, "idle"), idle_case=True, secs=idle_seconds))
        if r:
            idle[name] = r
    r = attempt("idle: naive", on_desktop(lambda d, l: runners.run_naive(d, l, out_dir, idle_seconds, "idle"),
                                          idle_case=True, secs=idle_seconds))
    if r:
        idle[r.recorder] = r

    # four concurrent sessions
    mr = attempt("4 concurrent synthetic 720p sessions", lambda: runners.run_multi(out_dir, seconds, 4, p0))
    if mr:
        multi, multi_status = mr

    # quality against the lossless reference (after all recordings: it is CPU-heavy)
    if ref is not None and ref.files and ref.files[0].exists() and not ref.errors:
        print("-- quality: decoding the reference ...", file=sys.stderr, flush=True)
        try:
            reference = quality.Reference(ref.files[0])
            for r in work.values():
                try:
                    r.psnr, off, n = quality.psnr_against(reference, r.files[0], r.wall, r.t0 - ref.t0)
                    r.quality_note = f"offset {off:+.2f} s, {n} frames"
                    print(f"   {r.recorder}: {r.psnr:.2f} dB ({r.quality_note})", file=sys.stderr, flush=True)
                except Exception as exc:
                    r.quality_note = f"error: {exc}"
                    errors.append(f"quality {r.recorder}: {exc!r}")
            del reference
        except Exception as exc:
            errors.append(f"quality reference: {exc!r}")
            traceback.print_exc()
    elif not args.no_quality:
        errors.append("no lossless reference: quality not measured")

    ffref = work.get(f"ffmpeg x11grab ({p0})")
    lines = [f"Machine: {_machine()}; {dt.datetime.fromtimestamp(began):%Y-%m-%dT%H:%M:%S}",
             f"Command: `python scripts/bench_e2e.py {' '.join(sys.argv[1:])}`".replace("  ", " "),
             f"1920x1080 Xvfb, 10 fps, CRF 23, {seconds:.0f} s per recorder (idle: {idle_seconds:.0f} s).", ""]
    lines += table(list(work.values()), ffref, f"Scripted desktop workload ({seconds:.0f} s); ratios vs ffmpeg {p0}")
    lines += [""]
    lines += table(list(idle.values()), idle.get(f"ffmpeg x11grab ({p0})"), f"Idle screen ({idle_seconds:.0f} s)")
    lines += [""]
    if multi is not None:
        lines += [f"### Four concurrent sessions ({seconds:.0f} s)", "",
                  f"Mode \"synthetic\" (SyntheticSource 1280x720, scenario \"typing\", 10 fps, seeds 0-3) "
                  f"on one Recorder(workers=default: {multi.extra['workers']}); {multi.cpu_note}.", "",
                  "| session | grabbed | unchanged | encoded | dropped | late ticks | output MB |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for s in multi_status:
            c = s["capture"]
            size = sum(Path(p).stat().st_size for p in s["segments"] if Path(p).exists()) / MB
            lines.append(f"| {s['session_id']} | {c.get('grabbed', 0)} | {c.get('unchanged', 0)} | "
                         f"{s['encoded_frames']} | {c.get('dropped', 0)} | {c.get('late_ticks', 0)} | {size:.2f} |")
        lines.append(f"| all | {multi.captured} | | {multi.encoded} | {multi.dropped} | {multi.late} | {multi.mb:.2f} |")
        lines += ["", f"CPU while recording {multi.cpu:.2f} s over {multi.wall:.1f} s "
                  f"({100 * multi.cpu / multi.wall:.0f}% of one core); peak memory {multi.peak_rss / MB:.0f} MB RSS "
                  f"/ {multi.peak_pss / MB:.0f} MB PSS.", ""]
    for r in idle.values():
        r.quality_note = r.quality_note or "not measured (no idle reference)"
    lines += targets(work, idle, multi, multi_status, presets)
    lines += ["", "CPU accounting per recorder:", ""]
    for case, group in (("workload", work), ("idle", idle)):
        for r in group.values():
            lines.append(f"- {case}, {r.recorder}: {r.cpu_note}")
    return _report(lines, errors, tmp)


if __name__ == "__main__":
    sys.exit(main())
