"""End-to-end recorder benchmark (issue 3): fastrec against `ffmpeg -f x11grab` + libx264
(same CRF and preset) and the naive mss + cv2.VideoWriter("mp4v") loop, on the same
scripted desktop workload on a private 1920x1080 Xvfb, one recorder at a time.

    .venv/bin/python scripts/bench_e2e.py                 # 60 s per recorder (~10 min)
    .venv/bin/python scripts/bench_e2e.py --quick         # 15 s, CI
    .venv/bin/python scripts/bench_e2e.py --presets veryfast,ultrafast

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

from e2e import quality, runners  # noqa: E402
from e2e.runners import Result  # noqa: E402

MB = 1e6


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="recording length per recorder")
    parser.add_argument("--idle-seconds", type=float, default=None, help="idle case length (default: --seconds, quick 10)")
    parser.add_argument("--quick", action="store_true", help="15 s runs, veryfast only (CI)")
    parser.add_argument("--presets", default="veryfast", help="comma-separated x264 presets for fastrec and ffmpeg")
    parser.add_argument("--no-quality", action="store_true", help="skip the lossless reference and PSNR")
    parser.add_argument("--keep", type=Path, default=None, help="keep the recordings in this directory")
    args = parser.parse_args()
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
        print(f"-- {label} ...", file=sys.stderr, flush=True)
        t = time.monotonic()
        try:
            r = fn()
        except Exception as exc:  # a failed recorder is an error of the run
            errors.append(f"{label}: {exc!r}")
            traceback.print_exc()
            return None
        res = r[0] if isinstance(r, tuple) else r
        errors.extend(f"{label}: {e}" for e in res.errors)
        print(f"   done in {time.monotonic() - t:.0f} s: cpu {res.cpu:.2f} s, {res.cpu_note}",
              file=sys.stderr, flush=True)
        return r

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
    if errors:
        lines += ["", "Errors:", ""] + [f"- {e}" for e in errors]
    print("\n".join(lines))
    tmp.cleanup()
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
