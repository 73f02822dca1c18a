"""The naive recorder the reference implementation used: mss grab -> BGRA->BGR ->
cv2.VideoWriter("mp4v") at a fixed frame rate, sleeping out the rest of each interval.

    DISPLAY=:N python naive_recorder.py OUT.mp4 --fps 10

Runs until SIGINT/SIGTERM, then releases the writer (finalising the file) and prints one
JSON line of counters on stdout.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

import cv2
import mss
import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("output")
    parser.add_argument("--fps", type=int, default=10)
    args = parser.parse_args()
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    interval = 1.0 / args.fps
    captured = written = late = 0
    with mss.mss() as sct:
        mon = sct.monitors[1]
        size = (mon["width"], mon["height"])
        writer = cv2.VideoWriter(args.output, cv2.VideoWriter_fourcc(*"mp4v"), args.fps, size)
        if not writer.isOpened():
            print(json.dumps({"error": "cv2.VideoWriter did not open"}), flush=True)
            return 2
        print(json.dumps({"ready": time.time()}), flush=True)
        t0 = time.monotonic()
        while not stop:
            start = time.monotonic()
            frame = np.asarray(sct.grab(mon))
            captured += 1
            writer.write(cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR))
            written += 1
            spent = time.monotonic() - start
            if spent > interval:
                late += 1
            else:
                time.sleep(interval - spent)
        elapsed = time.monotonic() - t0
        writer.release()
    print(json.dumps({"captured": captured, "written": written, "late": late,
                      "elapsed": elapsed}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
