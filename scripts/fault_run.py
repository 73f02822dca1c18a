"""Fault run: what an operator's worst moments leave on disk (issue 8's "Done when").

Each scenario runs ``python -m fastrec record`` (synthetic screen) in a process group of
its own, as a terminal would, into a fresh directory, does something bad to it, and then
checks what a user would: how long the stop took, whether every video plays (ffprobe
decodes every frame), whether every part's metadata is sealed, and whether ``python -m
fastrec verify`` passes.

    .venv/bin/python scripts/fault_run.py            # all scenarios, prints a table
    .venv/bin/python scripts/fault_run.py --only ctrl-c-0.2s

Scenarios: Ctrl-C (SIGINT to the whole process group) 0.2 s after the start, 2 s after,
and 3 s after under overload (CPU burners on every core, 60 fps, CRF 0, preset slower);
SIGKILL of the encoder worker while it closes the last part; SIGKILL of the capture
process right after it starts.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
STOP_BOUND = 10.0  # seconds: the bound for a stop


@dataclass
class Outcome:
    scenario: str
    stop_seconds: float | None = None
    exit_code: int | None = None
    videos: int = 0
    playable: int = 0
    sealed: int = 0
    metadata: int = 0
    verify: str = "-"
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.stop_seconds is not None and self.stop_seconds <= STOP_BOUND
                and self.playable == self.videos and self.sealed == self.metadata
                and self.verify in ("ok", "nothing written"))


def _record(out: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DISPLAY", None)
    return subprocess.Popen(
        [PYTHON, "-m", "fastrec", "record", "--mode", "synthetic", "--session-id", "fault",
         "--output-dir", str(out), *extra],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)  # its own process group, as a job in a terminal


def _children(proc: subprocess.Popen[str], name: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if name in " ".join(cmd) and p.pid != proc.pid:
            found.append(p)
    return found


def _wait_for(predicate: Callable[[], object], timeout: float, step: float = 0.005) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


def _playable(video: Path) -> bool:
    probe = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                            "-show_entries", "stream=nb_read_frames", "-of", "json", str(video)],
                           capture_output=True, text=True)
    if probe.returncode != 0 or probe.stderr.strip():
        return False
    streams = json.loads(probe.stdout).get("streams") or [{}]
    return int(streams[0].get("nb_read_frames") or 0) > 0


def _check(outcome: Outcome, out: Path) -> Outcome:
    videos = sorted(out.glob("*.mp4")) if out.is_dir() else []
    outcome.videos = len(videos)
    outcome.playable = sum(_playable(v) for v in videos)
    metas = sorted(out.glob("*_metadata.json")) if out.is_dir() else []
    outcome.metadata = len(metas)
    for path in metas:
        status = json.loads(path.read_text()).get("status")
        outcome.sealed += status in ("complete", "interrupted")
        if status == "interrupted":
            outcome.notes.append(f"{path.name}: interrupted")
    if not metas:
        outcome.verify = "nothing written"
        return outcome
    verify = subprocess.run([PYTHON, "-m", "fastrec", "verify", "fault", "--output-dir", str(out)],
                            cwd=ROOT, capture_output=True, text=True)
    outcome.verify = "ok" if verify.returncode == 0 else "BROKEN: " + verify.stdout.strip().replace("\n", " | ")
    return outcome


def _finish(proc: subprocess.Popen[str], outcome: Outcome, asked: float) -> None:
    try:
        proc.wait(timeout=60)
        outcome.stop_seconds = round(time.monotonic() - asked, 2)
    except subprocess.TimeoutExpired:
        outcome.notes.append("did not stop within 60 s; killed")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    outcome.exit_code = proc.returncode
    assert proc.stdout is not None
    tail = [line for line in proc.stdout.read().splitlines() if "error" in line.lower()][-2:]
    outcome.notes += [line.strip()[:120] for line in tail]


def ctrl_c(after: float, *extra: str, name: str) -> Callable[[Path], Outcome]:
    def run(out: Path) -> Outcome:
        outcome = Outcome(name)
        proc = _record(out, *extra)
        time.sleep(after)  # the scenario is "Ctrl-C at this moment": a wall-clock instant
        asked = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        _finish(proc, outcome, asked)
        return _check(outcome, out)
    return run


@contextmanager
def _overload() -> Iterator[None]:
    burners = [subprocess.Popen([PYTHON, "-c", "while True: pass"]) for _ in range((os.cpu_count() or 2) * 2)]
    try:
        yield
    finally:
        for b in burners:
            b.kill()
            b.wait()


def ctrl_c_overloaded(out: Path) -> Outcome:
    with _overload():
        return ctrl_c(3.0, "--fps", "60", "--quality", "0", "--preset", "slower",
                      name="ctrl-c-overload")(out)


def kill_encoder_during_close(out: Path) -> Outcome:
    outcome = Outcome("kill-encoder-at-close")
    proc = _record(out, "--quality", "0", "--fps", "30")
    _wait_for(lambda: any(out.glob("*.mp4")) and any(p.stat().st_size > 3_000_000 for p in out.glob("*.mp4")), 60)
    sizes = {p: p.stat().st_size for p in out.glob("*.mp4")}
    asked = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # the clean stop flushes the encoder and appends the trailer
    # the first write of the close: the last fragments, then the mfra index, then fsync
    grown = _wait_for(lambda: [p for p in out.glob("*.mp4") if p.stat().st_size != sizes.get(p)], 20, step=0.0005)
    encoders = _children(proc, "fastrec-encoder")
    if grown and encoders:
        for p in encoders:
            p.kill()
        outcome.notes.append(f"killed the encoder while it closed {grown[0].name}")
    else:
        outcome.notes.append("missed the close (no write seen): not a valid run")
    _finish(proc, outcome, asked)
    return _check(outcome, out)


def kill_capture_after_start(out: Path) -> Outcome:
    outcome = Outcome("kill-capture-at-start")
    proc = _record(out)
    found = _wait_for(lambda: _children(proc, "fastrec-capture-"), 20, step=0.001)
    asked = time.monotonic()
    for p in found or []:
        p.kill()
    outcome.notes.append("killed the capture process" if found else "capture process not seen")
    try:
        proc.wait(timeout=30)  # the session ends in an error by itself
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGINT)
    _finish(proc, outcome, asked)
    return _check(outcome, out)


SCENARIOS: dict[str, Callable[[Path], Outcome]] = {
    "ctrl-c-0.2s": ctrl_c(0.2, name="ctrl-c-0.2s"),
    "ctrl-c-2s": ctrl_c(2.0, name="ctrl-c-2s"),
    "ctrl-c-overload": ctrl_c_overloaded,
    "kill-encoder-at-close": kill_encoder_during_close,
    "kill-capture-at-start": kill_capture_after_start,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(SCENARIOS), action="append")
    args = parser.parse_args()
    rows = []
    for name in args.only or SCENARIOS:
        with tempfile.TemporaryDirectory(prefix=f"fault-{name}-") as tmp:
            out = Path(tmp) / "rec"
            rows.append(SCENARIOS[name](out))
            print(f"{name}: done", file=sys.stderr, flush=True)
    print(f"\n| scenario | stop (s) | exit | videos playable | metadata sealed | verify | result |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r.scenario} | {r.stop_seconds} | {r.exit_code} | {r.playable}/{r.videos} | "
              f"{r.sealed}/{r.metadata} | {r.verify} | {'ok' if r.ok else 'FAILED'} |")
    for r in rows:
        for note in r.notes:
            print(f"- {r.scenario}: {note}")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
