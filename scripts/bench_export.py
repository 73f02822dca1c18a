"""MP4 export speed (x realtime) of a multi-part session: records the synthetic "typing"
desktop at 1080p / 10 fps for 60 s in 10 s parts, then exports it whole (every packet
copied) and as a range starting mid-GOP (the partial first GOP re-encoded), 5 runs each,
and prints the median times.

    .venv/bin/python scripts/bench_export.py [--seconds 60] [--keep DIR]
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


def record(directory: Path, seconds: float) -> None:
    settings = load_settings(enabled=True, output_dir=str(directory), encoder_workers=1, fps=10)
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


if __name__ == "__main__":
    main()
