"""What a seek costs under keyframe settings: the CPU to decode the longest keyframe group.

    .venv/bin/python scripts/ab_x264.py --seconds 60 --keep /tmp/caps --contents text   # the capture
    .venv/bin/python scripts/bench_seek.py /tmp/caps/text-60s-i420.mkv 60 10

A seek (hls.js, an export's cut) decodes from the keyframe before its target, so the worst
seek in a file is its longest keyframe group.  Each ``INTERVAL`` (seconds,
``EncoderSettings.keyframe_interval``) encodes the I420 capture's frames through the
engine's ``SegmentWriter`` (a frame identical to the previous one skipped, as the capture
loop skips it; 10 fps capture times), then decodes every group alone with PyAV's h264
decoder on one thread and reports the slowest.  CPU times move with the machine's load:
compare rows of one run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from fastrec.engine.encoder.writer import EncoderSettings, SegmentWriter
from fastrec.engine.protocol import SegmentPolicy

FPS = 10


def _frames(capture: Path) -> list[tuple[int, np.ndarray]]:
    """The capture's changed frames, with their frame numbers."""
    out: list[tuple[int, np.ndarray]] = []
    previous: np.ndarray | None = None
    with av.open(str(capture)) as container:
        for k, frame in enumerate(container.decode(video=0)):
            pixels = frame.to_ndarray()
            if previous is None or not np.array_equal(previous, pixels):
                out.append((k, pixels.copy()))
            previous = pixels
    return out


def _groups(path: Path) -> tuple[bytes, list[list[bytes]]]:
    groups: list[list[bytes]] = []
    with av.open(str(path)) as container:
        extradata = container.streams.video[0].codec_context.extradata
        for packet in container.demux(video=0):
            if packet.size and (packet.is_keyframe or not groups):
                groups.append([])
            if packet.size:
                groups[-1].append(bytes(packet))
    return extradata, groups


def _decode_cpu(extradata: bytes, group: list[bytes]) -> float:
    decoder = av.CodecContext.create("h264", "r")
    decoder.extradata = extradata
    decoder.thread_count = 1
    start = time.process_time()
    for data in group:
        decoder.decode(av.Packet(data))
    decoder.decode(None)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("capture", type=Path, help="a lossless I420 capture (ab_x264.py --keep writes them)")
    parser.add_argument("intervals", type=float, nargs="+", help="EncoderSettings.keyframe_interval values")
    args = parser.parse_args()
    frames = _frames(args.capture)
    height, width = frames[0][1].shape[0] * 2 // 3, frames[0][1].shape[1]
    print(f"{args.capture.name}: {len(frames)} changed frames, {width}x{height}")
    print("| keyframe interval s | keyframes | file kB | longest group (frames) | its kB | worst seek, decode CPU ms |")
    print("|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for interval in args.intervals:
            out = Path(tmp) / f"seek-{interval:g}.mp4"
            settings = EncoderSettings(width, height, keyframe_interval=interval)
            with SegmentWriter("seek", settings, SegmentPolicy(), lambda part: out) as writer:
                for k, pixels in frames:
                    writer.write(pixels, 1000.0 + k / FPS)
            extradata, groups = _groups(out)
            longest = max(groups, key=len)
            worst = max(_decode_cpu(extradata, group) for group in groups)
            print(f"| {interval:g} | {len(groups)} | {out.stat().st_size / 1000:.0f} | {len(longest)} "
                  f"| {sum(map(len, longest)) / 1000:.0f} | {worst * 1000:.0f} |")


if __name__ == "__main__":
    main()
