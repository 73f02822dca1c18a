"""What the export tests read from an MP4: top-level boxes, ffprobe's view, decoded frames."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import numpy as np


def top_level_boxes(path: Path) -> list[str]:
    """The file's top-level box types, in order."""
    kinds: list[str] = []
    with open(path, "rb") as handle:
        while header := handle.read(8):
            size, kind = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", handle.read(8))[0]
                handle.seek(size - 16, 1)
            else:
                handle.seek(size - 8, 1)
            kinds.append(kind.decode("latin-1"))
    return kinds


def probe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_format", "-show_streams", "-of", "json",
                          str(path)], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def plays_through(path: Path) -> str:
    """ffmpeg's complaints while decoding the whole file (empty: none).

    Every frame is decoded at its own time (``-enc_time_base -1``: the file's millisecond
    time base), as a player shows a variable-frame-rate recording; ffmpeg's default puts
    the frames on a grid of the rate it guesses, and two frames closer than one grid step
    (a frame captured late, then one on time) then collide in ffmpeg's own output: "non
    monotonically increasing dts to muxer", about the null output, not the file."""
    run = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-enc_time_base", "-1", "-f", "null", "-"],
                         capture_output=True, text=True, check=False)
    return run.stderr.strip() + ("" if run.returncode == 0 else f" (exit {run.returncode})")


def frames_with_times(path: Path) -> list[tuple[float, np.ndarray]]:
    """Every decoded frame's presentation time (seconds) and its grey picture."""
    import av

    with av.open(str(path)) as container:
        return [(float(frame.time), frame.to_ndarray(format="gray").astype(np.int16))
                for frame in container.decode(video=0)]
