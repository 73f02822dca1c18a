"""Issue 14's measurements: the whole process tree of ``python -m fastrec record`` against
``ffmpeg -f x11grab`` + libx264, as a new user runs them, on a fresh Xvfb per run.

CPU: the recorder command and ffmpeg are our own children, reaped with ``os.wait4``, whose
rusage on Linux covers the child *and every descendant it reaped*: the record command joins
its capture process and encoder worker before it exits (``launch.Child.join``), so one
number is the CPU of the whole tree - the command's own interpreter, its start-up and
shutdown included - with nothing lost between samples.  (:func:`run_record` checks that
the sampled children did not outlive it, i.e. that none escaped the accounting.)
Memory: the peak of the summed PSS of the tree, sampled every 0.2 s (procmon.TreeSampler).

Time to first frame: from the moment the command is started (or ``start_session_recording``
is called on an initialized RecordingManager: :func:`api_first_frame`) until a segment on
disk holds a frame ffprobe reads; the output directory is polled every 10 ms.  The polling
and ffprobe run in this process, outside the tree measured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import psutil

from fastrec.demo.display import VirtualDisplay

from . import runners
from .procmon import TreeSampler
from .runners import CRF, FPS, HEIGHT, WIDTH, Result, _reap, probe

WORKLOADS = ("editor", "typing", "scroll", "idle")
READY_SECONDS = 4.0  # an app's manager is up this long (or idle after a session) before the next session


@contextmanager
def desktop(workload: str, seconds: float) -> Iterator[VirtualDisplay]:
    """A fresh 1920x1080 Xvfb running ``workload`` (``idle``: the editor, frozen once drawn)."""
    scenario = "editor" if workload == "idle" else workload
    with runners.desktop(seconds, idle=workload == "idle", scenario=scenario) as (display, _):
        yield display


def _tree(pid: int) -> list[int]:
    try:
        root = psutil.Process(pid)
        return [pid] + [c.pid for c in root.children(recursive=True)]
    except psutil.Error:
        return []


def _has_frame(path: Path, size: int) -> bool:
    """A frame ffprobe can read is in the first ``size`` bytes of ``path`` (a fragment with a
    sample, not just the header)."""
    with tempfile.NamedTemporaryFile(suffix=".mp4") as head:
        with open(path, "rb") as src:
            head.write(src.read(size))
        head.flush()
        out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
                              "-show_entries", "stream=nb_read_packets", "-of", "json", head.name],
                             capture_output=True, text=True)
    if out.returncode != 0:
        return False
    streams = json.loads(out.stdout or "{}").get("streams") or [{}]
    return int(streams[0].get("nb_read_packets") or 0) > 0


def _watch_first_frame(out_dir: Path, alive: Any, before: frozenset[Path] = frozenset(),
                       timeout: float = 30.0) -> float | None:
    """The monotonic time at which a file under ``out_dir`` (not in ``before``) first held a
    readable frame; None if ``alive()`` turns false or ``timeout`` passes first.  A thread
    notes when each size of each file was first seen (every 5 ms); ffprobe, slower, then
    checks those sizes in order on a copy of that many bytes, so its run time is not counted."""
    deadline = time.monotonic() + timeout
    seen: dict[tuple[Path, int], float] = {}
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.005):
            for path in set(out_dir.rglob("*.mp4")) - before:
                try:
                    seen.setdefault((path, path.stat().st_size), time.monotonic())
                except OSError:
                    continue

    poller = threading.Thread(target=poll, name="first-frame-poll", daemon=True)
    poller.start()
    checked: set[tuple[Path, int]] = set()
    try:
        while time.monotonic() < deadline and alive():
            for key in sorted(set(seen) - checked, key=seen.__getitem__):
                checked.add(key)
                if key[1] and _has_frame(*key):
                    return seen[key]
            time.sleep(0.01)
    finally:
        stop.set()
        poller.join()
    return None


def record_command(display: str, out_dir: Path, seconds: float, preset: str) -> list[str]:
    """The command a new user runs (defaults for everything not named by the issue)."""
    return [sys.executable, "-m", "fastrec", "record", "--mode", "full_screen", "--display", display,
            "--fps", str(FPS), "--quality", str(CRF), "--preset", preset, "--duration", str(seconds),
            "--output-dir", str(out_dir)]


def run_record(display: VirtualDisplay, out_dir: Path, seconds: float, preset: str, case: str,
               watch_first_frame: bool = False) -> Result:
    """``python -m fastrec record`` for ``seconds`` of recording; CPU of the whole tree."""
    result = Result(f"fastrec record ({preset})", case)
    out_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir / "record.log"
    with open(log, "wb") as sink:  # a file, not a pipe: a full pipe would stall the command
        start = time.monotonic()
        proc = subprocess.Popen(record_command(display.display, out_dir, seconds, preset), env=display.env,
                                stdout=sink, stderr=subprocess.STDOUT)
    seen: set[int] = set()

    def pids() -> list[int]:
        if proc.returncode is not None:
            return []
        tree = _tree(proc.pid)
        seen.update(tree)
        return tree

    with TreeSampler(pids) as sampler:
        if watch_first_frame:
            first = _watch_first_frame(out_dir, lambda: _running(proc.pid))
            result.extra["first_frame_s"] = None if first is None else first - start
        usage = _reap(proc, seconds + 120)
        result.wall = time.monotonic() - start
        sampler.stop()
    output = log.read_text(errors="replace")
    if proc.returncode != 0:
        result.errors.append(f"record exited {proc.returncode}: {output[-400:]}")
    left = [p for p in seen - {proc.pid} if _is_fastrec(p)]
    if left:
        result.errors.append(f"children outlived the record command (their CPU is not counted): {left}")
    result.cpu = result.cpu_total = usage.ru_utime + usage.ru_stime
    result.peak_rss, result.peak_pss = sampler.peak_rss, sampler.peak_pss
    result.cpu_note = (f"os.wait4 rusage of the tree {result.cpu_total:.2f} s (psutil sampled "
                       f"{sampler.total_cpu():.2f} s: " + ", ".join(
                           f"{_role(sampler.names.get(pid, ''), pid == proc.pid)} {cpu:.2f}"
                           for pid, cpu in sampler.cpu.items()) + "; peak PSS MB: " + ", ".join(
                           f"{_role(sampler.names.get(pid, ''), pid == proc.pid)} {pss / 1e6:.0f}"
                           for pid, pss in sampler.peak_pss_by_pid.items()) + ")")
    result.files = sorted(out_dir.rglob("*.mp4"))
    probe(result)
    return result


def _role(cmdline: str, root: bool) -> str:
    """What a process of the tree is, from its command line (launch's name argument)."""
    if root:
        return "command"
    for role in ("fastrec-capture", "fastrec-encoder", "fastrec-ocr"):
        if role in cmdline:
            return role.removeprefix("fastrec-")
    return "other"


def _running(pid: int) -> bool:
    """Our child has not exited (without reaping it: _reap's os.wait4 takes its rusage)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None


def _is_fastrec(pid: int) -> bool:
    try:
        return "fastrec" in " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return False


def run_ffmpeg(display: VirtualDisplay, out_dir: Path, seconds: float, preset: str, case: str) -> Result:
    """``ffmpeg -f x11grab ... -t seconds`` + libx264 at the same CRF and preset."""
    result = Result(f"ffmpeg x11grab ({preset})", case)
    out = out_dir / f"ffmpeg_{case}_{preset}.mp4"
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "x11grab", "-draw_mouse", "0",
           "-framerate", str(FPS), "-video_size", f"{WIDTH}x{HEIGHT}", "-i", display.display,
           "-t", str(seconds), "-c:v", "libx264", "-crf", str(CRF), "-preset", preset, "-pix_fmt", "yuv420p",
           str(out)]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=display.env)
    with TreeSampler(lambda: [proc.pid] if proc.returncode is None else []) as sampler:
        usage = _reap(proc, seconds + 60)
        result.wall = time.monotonic() - start
        sampler.stop()
    assert proc.stderr is not None
    err = proc.stderr.read()
    if proc.returncode != 0:
        result.errors.append(f"ffmpeg exited {proc.returncode}: {err.decode(errors='replace')[-400:]}")
    result.cpu = result.cpu_total = usage.ru_utime + usage.ru_stime
    result.peak_rss, result.peak_pss = sampler.peak_rss, sampler.peak_pss
    result.cpu_note = f"os.wait4 rusage {result.cpu_total:.2f} s"
    result.files = [out]
    probe(result)
    return result


def api_first_frame(display: VirtualDisplay, out_dir: Path, sessions: int = 2,
                    ready: float = 0.0) -> list[float | None]:
    """Seconds from ``start_session_recording`` to the first frame on disk, for ``sessions``
    sessions one after another on one RecordingManager, each started ``ready`` seconds after
    the manager was initialized or the session before it finished (0: at once; an embedding
    app creates its manager at its own start, long before the first connection)."""
    from fastrec.logs import configure_logging
    from fastrec.manager import RecordingManager
    from fastrec.settings import load_settings

    configure_logging("console", "warning")  # the tables, not the manager's progress
    settings = load_settings(output_dir=out_dir, enabled=True, mode="full_screen", fps=FPS, quality=CRF,
                             live_announce=False)
    times: list[float | None] = []
    with RecordingManager(settings, display=display.display, cleanup_schedule=False) as manager:
        for i in range(sessions):
            time.sleep(ready)
            sid = f"ttff-{i}"
            before = frozenset(out_dir.rglob("*.mp4"))
            start = time.monotonic()
            if not manager.start_session_recording(sid, {"con_codigo": sid, "name": "bench"}):
                times.append(None)
                continue
            first = _watch_first_frame(out_dir, lambda sid=sid: manager.is_recording(sid), before)
            times.append(None if first is None else first - start)
            manager.stop_session_recording(sid)
            manager.wait_for_session(sid, timeout=60)
    return times


def _tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and every descendant: its own, its reaped children's (rusage) and
    its live descendants'.  Read between sessions, when no child is being reaped."""
    root = psutil.Process(pid)
    t = root.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in root.children(recursive=True):
        try:
            c = child.cpu_times()
            total += c.user + c.system
        except psutil.Error:
            pass
    return total


def embedded_session_cost(display: VirtualDisplay, out_dir: Path, sessions: int = 4,
                          settle: float = 2.5) -> dict[str, Any]:
    """What one short session costs an embedding application that is already up: the CPU of
    its process tree (benchmarks/e2e/embedded.py: one RecordingManager with the default
    settings) from before ``start_session_recording`` until ``settle`` s after the session's
    files are sealed - long enough for the spare capture interpreter of the next session to
    have started, which the next session would otherwise pay - less what the idle manager costs
    in the same time (measured first, over ``settle`` s).  Each session records what
    ``record --duration 0.1`` records.  Returns {"idle_cpu_per_s", "sessions": [CPU-s ...]}."""
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    app = subprocess.Popen([sys.executable, "-m", "benchmarks.e2e.embedded", str(out_dir), display.display],
                           env=display.env, cwd=Path(__file__).resolve().parents[2], text=True,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert app.stdin is not None and app.stdout is not None
    try:
        if app.stdout.readline().strip() != "ready":
            raise RuntimeError("the embedding process did not start its manager")
        time.sleep(READY_SECONDS)  # an app's manager is up long before the first connection
        a, t0 = _tree_cpu(app.pid), time.monotonic()
        time.sleep(settle)
        b, t1 = _tree_cpu(app.pid), time.monotonic()
        idle = (b - a) / (t1 - t0)
        costs: list[float] = []
        for _ in range(sessions):
            a, t0 = _tree_cpu(app.pid), time.monotonic()
            app.stdin.write("go\n")
            app.stdin.flush()
            if (said := app.stdout.readline().strip()) != "done":
                raise RuntimeError(f"the embedded session failed: {said!r}")
            time.sleep(settle)
            b, t1 = _tree_cpu(app.pid), time.monotonic()
            costs.append(b - a - idle * (t1 - t0))
        app.stdin.close()
        _reap(app, 60)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    return {"idle_cpu_per_s": idle, "sessions": costs}

