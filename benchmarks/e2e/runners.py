"""Run one recorder on a fresh Xvfb desktop and measure what it cost.

Each run: a new 1920x1080 Xvfb, the scripted workload (``python -m fastrec.demo.workload``)
started on it, a short settle, then the recorder for ``seconds``.  The idle case freezes the
workload (SIGSTOP) once its windows are drawn, leaving a static screen.

CPU accounting (the most accurate available for each):
* ffmpeg and the naive loop are our own children: ``os.wait4`` returns their exact
  rusage (user + system, every thread, up to exit - so the final flush counts).
* fastrec's capture process and encoder worker are multiprocessing children whose exit
  status multiprocessing reaps itself, so their rusage is not available to us; they are
  sampled with psutil every 0.2 s (last sample per pid).  The encoder worker is still
  alive when the session has finished, so its last sample is complete; the capture
  process exits after stop, so its CPU is max(last sample, the CPU it reported itself at
  exit).  The supervisor thread (which runs in the embedding app's process) is added
  from its own per-thread counters.
Memory: the peak over 0.2 s samples of the summed RSS and PSS of the recorder's
processes.  PSS counts a page shared by n processes (libraries, the shared-memory ring)
as 1/n in each, so the sum is the memory the recorder really holds; summed RSS counts
shared pages once per process.  Not ``ru_maxrss``: for a child started with
fork/vfork + exec it includes the pre-exec image, i.e. the benchmark's own Python
process (a 2.3 GB parent made ffmpeg "peak" at 2.3 GB).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import psutil

from fastrec.demo.display import VirtualDisplay
from fastrec.engine.capture_loop import CaptureConfig
from fastrec.engine.protocol import SegmentNaming, SegmentPolicy
from fastrec.engine.recorder import EncodingOptions, Recorder

from .procmon import TreeSampler, thread_cpu_seconds

WIDTH, HEIGHT, FPS, CRF = 1920, 1080, 10, 23
NAIVE = Path(__file__).with_name("naive_recorder.py")
# run as a file: the same workload whichever fastrec is measured (PYTHONPATH=another tree)
WORKLOAD = Path(__file__).resolve().parents[2] / "src" / "fastrec" / "demo" / "workload.py"


@dataclass
class Result:
    recorder: str
    case: str
    cpu: float = 0.0  # while recording: from the first frame's tick to the file closed
    cpu_total: float = 0.0  # including the recorder's start-up (process spawn, imports)
    cpu_note: str = ""
    peak_rss: int = 0
    peak_pss: int = 0
    files: list[Path] = field(default_factory=list)
    bytes: int = 0
    wall: float = 0.0
    duration: float | None = None
    packets: int | None = None
    captured: int | None = None
    encoded: int | None = None
    dropped: int | None = None
    late: int | None = None
    t0: float = 0.0  # recording start, seconds after the workload was launched (approx.)
    extra: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    psnr: float | None = None
    quality_note: str = ""

    @property
    def mb(self) -> float:
        return self.bytes / 1e6

    @property
    def mb_per_hour(self) -> float:
        return self.mb * 3600 / self.wall if self.wall > 0 else 0.0


@contextmanager
def desktop(seconds: float, idle: bool = False, scenario: str = "editor") -> Iterator[tuple[VirtualDisplay, float]]:
    """A fresh Xvfb with the workload (``scenario``: fastrec.demo.workload's) running;
    yields (display, workload launch time).  ``idle``: frozen once drawn."""
    with VirtualDisplay(WIDTH, HEIGHT) as display:
        workload = subprocess.Popen([sys.executable, str(WORKLOAD), "--seconds", str(seconds + 30),
                                     "--scenario", scenario], env=display.env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        launched = time.monotonic()
        try:
            time.sleep(2.5 if idle else 1.5)  # windows mapped (and, idle: drawn) first
            if idle:
                os.kill(workload.pid, signal.SIGSTOP)
                time.sleep(0.3)
            yield display, launched
        finally:
            if idle and workload.poll() is None:
                os.kill(workload.pid, signal.SIGCONT)
            workload.terminate()
            try:
                workload.wait(5)
            except subprocess.TimeoutExpired:
                workload.kill()
                workload.wait()


def _reap(proc: subprocess.Popen[Any], timeout: float) -> Any:
    """Wait for our child with os.wait4; returns its rusage (killing it after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage
        if time.monotonic() > deadline:
            proc.kill()
            deadline = time.monotonic() + 10
        time.sleep(0.02)


def _child_usage(result: Result, usage: Any, base: float, sampler: TreeSampler, start: str) -> None:
    """CPU (exact, from our child's rusage) and memory (sampled) of a one-process recorder."""
    result.cpu_total = usage.ru_utime + usage.ru_stime
    result.cpu = result.cpu_total - base
    result.cpu_note = (f"os.wait4 rusage {result.cpu_total:.2f} s (psutil sampled {sampler.total_cpu():.2f} s); "
                       f"start-up before {start} {base:.2f} s")
    result.peak_rss = sampler.peak_rss
    result.peak_pss = sampler.peak_pss


def probe(result: Result) -> None:
    """Output size, duration and packet count (ffprobe) of the result's files."""
    result.bytes = sum(f.stat().st_size for f in result.files if f.exists())
    duration = 0.0
    packets = 0
    for f in result.files:
        out = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0",
                              "-show_entries", "stream=nb_read_packets,duration,start_time:format=duration",
                              "-of", "json", str(f)], capture_output=True, text=True)
        if out.returncode != 0:
            result.errors.append(f"ffprobe {f.name}: {out.stderr.strip()[-300:]}")
            continue
        data = json.loads(out.stdout)
        stream = (data.get("streams") or [{}])[0]
        # the stream's own span (the format duration of a fragmented MP4 also counts the
        # first pts, which the muxer shifts by the B-frame delay)
        d = stream.get("duration")
        duration += float(d) if d not in (None, "N/A") else float(data.get("format", {}).get("duration") or 0.0)
        packets += int(stream.get("nb_read_packets") or 0)
        result.extra.setdefault("first_pts", float(stream.get("start_time") or 0.0))
    result.duration, result.packets = duration, packets


def _new_children(before: set[int]) -> list[int]:
    me = psutil.Process()
    try:
        return [p.pid for p in me.children(recursive=True) if p.pid not in before]
    except psutil.Error:
        return []


def _supervisor_native_id() -> int | None:
    for t in threading.enumerate():
        if t.name == "fastrec-supervisor" and t.is_alive():
            return t.native_id
    return None


def run_fastrec(display: VirtualDisplay, launched: float, out_dir: Path, seconds: float,
                preset: str, case: str, ocr: Any = None) -> Result:
    """``ocr``: OcrOptions for RECORDING_OCR_PII (its stage's counters go to result.extra["ocr"])."""
    result = Result(f"fastrec ({preset})", case)
    sid = f"e2e-{case}-{preset}" + ("-ocr" if ocr else "")
    naming = SegmentNaming(out_dir, f"fastrec_{case}_{preset}" + ("_ocr" if ocr else ""))
    config = CaptureConfig(sid, mode="full_screen", display=display.display, fps=FPS, ocr=ocr)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    sampler = TreeSampler(lambda: _new_children(before))
    with Recorder(workers=1) as recorder:
        sup = _supervisor_native_id()
        sup_cpu0 = thread_cpu_seconds(sup)
        with sampler:
            recorder.start(config, EncodingOptions(CRF, preset), SegmentPolicy(), naming)
            recorder.wait_started(sid)
            start = time.monotonic()
            base = sampler.cpu_snapshot()
            sup_base = thread_cpu_seconds(sup)
            result.t0 = start - launched
            time.sleep(seconds)
            recorder.stop(sid)
            result.wall = time.monotonic() - start
            status = recorder.wait(sid, timeout=120)
            time.sleep(0.3)  # one more sample with the encoder idle, after its flush
        sup_end = thread_cpu_seconds(sup)
        encoders = {status["encoder_pid"]}
    c = status["capture"]
    enc = [pid for pid in sampler.cpu if pid in encoders]
    others = [pid for pid in sampler.cpu if pid not in encoders]
    enc_cpu = sum(sampler.cpu[p] for p in enc)
    other_sampled = sum(sampler.cpu[p] for p in others)
    other_cpu = max(other_sampled, float(c.get("cpu_seconds", 0.0)))
    result.cpu_total = enc_cpu + other_cpu + (sup_end - sup_cpu0)
    base_total = sum(base.values()) + (sup_base - sup_cpu0)
    result.cpu = result.cpu_total - base_total
    def label(pid: int) -> str:
        if pid in encoders:
            return "encoder"
        return "resource tracker" if "resource_tracker" in sampler.names.get(pid, "") else "capture"

    peaks = ", ".join(f"{label(p)} {sampler.peak_by_pid.get(p, 0) / 1e6:.0f}" for p in sampler.cpu)
    result.cpu_note = (f"encoder {enc_cpu:.2f} s (self-reported {status['encoder_cpu_seconds']:.2f}), "
                       f"capture+other {other_cpu:.2f} s (sampled {other_sampled:.2f}, capture self-reported "
                       f"{c.get('cpu_seconds', 0.0):.2f}), supervisor thread {sup_end - sup_cpu0:.2f} s; "
                       f"start-up before the first tick {base_total:.2f} s; peak RSS MB per process: {peaks}")
    result.peak_rss, result.peak_pss = sampler.peak_rss, sampler.peak_pss
    result.files = [Path(p) for p in status["segments"]]
    result.captured = int(c.get("grabbed", 0))
    result.encoded = int(status["encoded_frames"])
    result.dropped = int(c.get("dropped", 0))
    result.late = int(c.get("late_ticks", 0))
    result.extra = {k: c.get(k) for k in ("ticks", "damage_skips", "grabbed", "unchanged",
                                          "published", "dropped", "late_ticks", "elapsed", "ocr")}
    result.errors += status["errors"]
    probe(result)
    return result


def _ffmpeg_cmd(display: str, out: Path, codec: list[str]) -> list[str]:
    return ["ffmpeg", "-hide_banner", "-loglevel", "info", "-y", "-f", "x11grab",
            "-draw_mouse", "0", "-framerate", str(FPS), "-video_size", f"{WIDTH}x{HEIGHT}",
            "-i", display, *codec, str(out)]


def _run_ffmpeg(name: str, case: str, display: VirtualDisplay, launched: float, out: Path,
                seconds: float, codec: list[str]) -> Result:
    result = Result(name, case)
    log = out.with_suffix(".log")
    with open(log, "wb") as err:
        start = time.monotonic()
        proc = subprocess.Popen(_ffmpeg_cmd(display.display, out, codec), stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=err, env=display.env)
        with TreeSampler(lambda: [proc.pid] if proc.returncode is None else []) as sampler:
            deadline = time.monotonic() + 10
            while b"Press [q]" not in log.read_bytes() and proc.poll() is None \
                    and time.monotonic() < deadline:
                time.sleep(0.01)
            start = time.monotonic()  # the grab loop starts now
            base = sum(sampler.cpu_snapshot().values())
            result.t0 = start - launched
            time.sleep(seconds)
            result.wall = time.monotonic() - start
            try:
                assert proc.stdin is not None
                proc.stdin.write(b"q")
                proc.stdin.flush()
                proc.stdin.close()
            except OSError:
                proc.send_signal(signal.SIGINT)
            usage = _reap(proc, 60)
            sampler.stop()
    text = log.read_text(errors="replace")
    if proc.returncode != 0:
        result.errors.append(f"ffmpeg exited {proc.returncode}: {text.strip()[-400:]}")
    _child_usage(result, usage, base, sampler, "the grab loop")
    frames = re.findall(r"frame=\s*(\d+)", text)
    drops = re.findall(r"drop=\s*(\d+)", text)
    dups = re.findall(r"dup=\s*(\d+)", text)
    result.encoded = int(frames[-1]) if frames else None
    result.dropped = int(drops[-1]) if drops else 0
    result.extra = {"dup": int(dups[-1]) if dups else 0, "drop": result.dropped}
    result.captured = (result.encoded or 0) - result.extra["dup"] + result.dropped
    result.files = [out]
    probe(result)
    return result


def run_ffmpeg(display: VirtualDisplay, launched: float, out_dir: Path, seconds: float,
               preset: str, case: str) -> Result:
    return _run_ffmpeg(f"ffmpeg x11grab ({preset})", case, display, launched,
                       out_dir / f"ffmpeg_{case}_{preset}.mp4", seconds,
                       ["-c:v", "libx264", "-crf", str(CRF), "-preset", preset, "-pix_fmt", "yuv420p"])


def run_reference(display: VirtualDisplay, launched: float, out_dir: Path, seconds: float) -> Result:
    """A lossless capture (libx264rgb -qp 0) of the workload: the quality reference."""
    return _run_ffmpeg("reference (lossless)", "workload", display, launched,
                       out_dir / "reference_lossless.mkv", seconds + 2,
                       ["-c:v", "libx264rgb", "-qp", "0", "-preset", "ultrafast"])


def run_naive(display: VirtualDisplay, launched: float, out_dir: Path, seconds: float,
              case: str) -> Result:
    result = Result("naive mss+cv2 (mp4v)", case)
    out = out_dir / f"naive_{case}.mp4"
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, str(NAIVE), str(out), "--fps", str(FPS)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=display.env)
    with TreeSampler(lambda: [proc.pid] if proc.returncode is None else []) as sampler:
        assert proc.stdout is not None and proc.stderr is not None
        ready = proc.stdout.readline()
        begun = time.monotonic()
        base = sum(sampler.cpu_snapshot().values())
        if not ready.strip().startswith(b'{"ready"'):
            result.errors.append(f"naive recorder did not start: {ready!r}")
        result.t0 = begun - launched
        time.sleep(seconds)
        result.wall = time.monotonic() - begun
        proc.send_signal(signal.SIGINT)
        rest, err = proc.stdout.read(), proc.stderr.read()
        usage = _reap(proc, 60)
        sampler.stop()
    del start
    if proc.returncode != 0:
        result.errors.append(f"naive recorder exited {proc.returncode}: {err.decode(errors='replace')[-400:]}")
    try:
        stats = json.loads(rest.strip().splitlines()[-1])
    except (ValueError, IndexError):
        stats = {}
        result.errors.append(f"naive recorder printed no stats: {rest[-200:]!r}")
    _child_usage(result, usage, base, sampler, "the first grab")
    result.captured = stats.get("captured")
    result.encoded = stats.get("written")
    result.dropped = 0  # it never skips a frame; it falls behind instead (late)
    result.late = stats.get("late")
    result.extra = stats
    result.files = [out]
    probe(result)
    return result


def run_multi(out_dir: Path, seconds: float, sessions: int = 4, preset: str = "veryfast") -> tuple[Result, list[dict[str, Any]]]:
    """``sessions`` synthetic 1280x720 "typing" sessions at 10 fps on one Recorder."""
    result = Result(f"fastrec {sessions}x synthetic 1280x720 ({preset})", "multi")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    sampler = TreeSampler(lambda: _new_children(before))
    sids = [f"e2e-multi-{i}" for i in range(sessions)]
    statuses: list[dict[str, Any]] = []
    with Recorder() as recorder:
        sup = _supervisor_native_id()
        sup_cpu0 = thread_cpu_seconds(sup)
        with sampler:
            for i, sid in enumerate(sids):
                config = CaptureConfig(sid, mode="synthetic", fps=FPS, source_options={
                    "width": 1280, "height": 720, "fps": FPS, "scenario": "typing", "seed": i})
                recorder.start(config, EncodingOptions(CRF, preset), SegmentPolicy(),
                               SegmentNaming(out_dir, f"multi_{i}"))
            for sid in sids:
                recorder.wait_started(sid)
            workers = len({recorder.status(sid)["encoder_pid"] for sid in sids})  # the ones in use
            start = time.monotonic()
            base = sum(sampler.cpu_snapshot().values()) + thread_cpu_seconds(sup) - sup_cpu0
            time.sleep(seconds)
            for sid in sids:
                recorder.stop(sid)
            result.wall = time.monotonic() - start
            statuses = [recorder.wait(sid, timeout=120) for sid in sids]
            time.sleep(0.3)
        sup_cpu = thread_cpu_seconds(sup) - sup_cpu0
    reported = sum(s["capture"].get("cpu_seconds", 0.0) for s in statuses)
    result.cpu_total = max(sampler.total_cpu(), reported) + sup_cpu
    result.cpu = result.cpu_total - base
    result.cpu_note = (f"{workers} encoder worker(s); psutil sampled {sampler.total_cpu():.2f} s, "
                       f"captures self-reported {reported:.2f} s, supervisor {sup_cpu:.2f} s, "
                       f"start-up {base:.2f} s")
    result.peak_rss, result.peak_pss = sampler.peak_rss, sampler.peak_pss
    result.files = [Path(p) for s in statuses for p in s["segments"]]
    result.captured = sum(int(s["capture"].get("grabbed", 0)) for s in statuses)
    result.encoded = sum(int(s["encoded_frames"]) for s in statuses)
    result.dropped = sum(int(s["capture"].get("dropped", 0)) for s in statuses)
    result.late = sum(int(s["capture"].get("late_ticks", 0)) for s in statuses)
    result.extra = {"workers": workers}
    for s in statuses:
        result.errors += s["errors"]
    probe(result)
    return result, statuses


def have_tools() -> list[str]:
    return [t for t in ("ffmpeg", "ffprobe", "Xvfb") if shutil.which(t) is None]
