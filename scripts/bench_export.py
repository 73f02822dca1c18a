"""MP4 export speed (x realtime) of a multi-part session: records the synthetic "typing"
desktop at 1080p / 10 fps for 60 s in 10 s parts, then exports it whole (every packet
copied) and as a range starting mid-GOP (the partial first GOP re-encoded), 5 runs each,
and prints the median times.  ``--encrypted`` records the same desktop a second time with
encryption at rest and exports it as the admin server does (decrypted in memory, muxed into
a sealed scratch, stored sealed): its median is reported as a ratio to the plain one,
measured in the same run.

    .venv/bin/python scripts/bench_export.py [--seconds 60] [--keep DIR] [--encrypted]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from fastrec.engine.protocol import SegmentPolicy
from fastrec.export.run import export_session
from fastrec.export.timerange import parse_bound
from fastrec.logs import configure_logging
from fastrec.manager import RecordingManager
from fastrec.settings import load_settings

SESSION = "bench_export"


def record(directory: Path, seconds: float, **extra: str) -> None:
    settings = load_settings(enabled=True, output_dir=str(directory), encoder_workers=1, fps=10, **extra)
    manager = RecordingManager(settings, mode="synthetic", cleanup_schedule=False,
                               source_options={"width": 1920, "height": 1080, "fps": 10, "scenario": "typing"},
                               segment_policy=SegmentPolicy(max_seconds=10.0))
    try:
        if not manager.initialize() or not manager.start_session_recording(SESSION, {"name": "bench"}):
            sys.exit("the recorder did not start")
        threading.Event().wait(seconds)  # the recording's length: what is measured against
        manager.stop_session_recording(SESSION)
        manager.wait_for_session(SESSION, 60)
    finally:
        manager.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--keep", type=Path, default=None, help="record into (or reuse) this directory")
    parser.add_argument("--encrypted", action="store_true",
                        help="also an encrypted recording, exported sealed (ratio to the plain export)")
    args = parser.parse_args()
    configure_logging("console", "warning")  # the results, not the recorder's progress
    with tempfile.TemporaryDirectory() as scratch:
        directory = args.keep or Path(scratch) / "rec"
        if not directory.is_dir():
            record(directory, args.seconds)
        cases = {"whole session (copied)": {},
                 "range from 5.05 s (first GOP re-encoded)": {"first": parse_bound("--from", "5.05")}}
        for label, bounds in cases.items():
            times = []
            for run in range(5):
                began = time.perf_counter()
                outcome = export_session(directory, SESSION, "mp4", output=Path(scratch) / f"{run}.mp4", **bounds)
                times.append(time.perf_counter() - began)
            median = statistics.median(times)
            span = (outcome.end - outcome.start).total_seconds()
            print(f"{label}: {span:.1f} s of video in {median:.3f} s = {span / median:.0f}x realtime",
                  *outcome.notes, sep="; ")
        if args.encrypted:
            plain, sealed = _encrypted_ratio(directory, Path(scratch), args.seconds)
            print(f"whole session, encrypted and stored sealed: {sealed:.3f} s against {plain:.3f} s plain "
                  f"(runs alternated) = {sealed / plain:.2f}x the plain export")


def _encrypted_ratio(directory: Path, scratch: Path, seconds: float) -> tuple[float, float]:
    """Median times of the whole-session MP4 export of the plain recording and of an
    encrypted one of the same desktop (stored sealed), their runs alternated."""
    from fastrec.crypt.keys import add_key_to_file
    from fastrec.storage.videos import use_settings_store

    key_file = scratch / "kek"
    add_key_to_file(key_file, create=True)
    encrypted = scratch / "encrypted"
    record(encrypted, seconds, encryption_key_file=str(key_file))
    use_settings_store(load_settings(output_dir=str(encrypted), encryption_key_file=str(key_file)))
    times: dict[bool, list[float]] = {False: [], True: []}
    for run in range(5):
        for sealed in (False, True):
            began = time.perf_counter()
            export_session(encrypted if sealed else directory, SESSION, "mp4",
                           output=scratch / f"{run}-{sealed}.mp4", seal=sealed)
            times[sealed].append(time.perf_counter() - began)
    return statistics.median(times[False]), statistics.median(times[True])


if __name__ == "__main__":
    main()
