"""The encoder side of the ring: H.264 (PyAV's libx264) into a fragmented MP4.

Runs in its own process.  Frames are encoded straight from their ring slot (PyAV wraps
the slot's memory; libx264 copies it into its lookahead during ``encode``), stamped with
their capture time, so the file is variable-frame-rate and plays at wall-clock speed.
Fragmented MP4 keeps the file playable up to its last fragment if the recorder dies.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from fastrec.core.convert import i420_size, tag_colours
from fastrec.engine.ring import RingClosed, RingEndpoint, RingReader

TIME_BASE = Fraction(1, 1000)  # millisecond timestamps
FRAGMENTED_MP4 = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}


@dataclass(frozen=True, slots=True)
class EncoderSettings:
    """How one stream is encoded."""

    width: int
    height: int
    crf: int = 23
    preset: str = "veryfast"
    keyframe_interval: float = 2.0  # seconds; players seek to keyframes
    fps_hint: int = 10  # x264's rate control assumes this frame rate


@dataclass(frozen=True, slots=True)
class EncodeResult:
    """What one encoder run wrote."""

    path: str
    frames: int
    keyframes: int
    first_timestamp: float | None
    last_timestamp: float | None
    bytes: int
    cpu_seconds: float = 0.0  # this encoder process's own CPU time
    error: str | None = None


def encode_ring(endpoint: RingEndpoint, path: str | Path, settings: EncoderSettings) -> EncodeResult:
    """Encode every frame the ring delivers until it is closed and drained."""
    frames = keyframes = 0
    first: float | None = None
    last: float | None = None
    last_key = float("-inf")
    size = i420_size(settings.width, settings.height)
    with RingReader(endpoint) as reader, av.open(str(path), "w", format="mp4", options=FRAGMENTED_MP4) as out:
        stream = out.add_stream("libx264", rate=settings.fps_hint)
        stream.width, stream.height, stream.pix_fmt = settings.width, settings.height, "yuv420p"
        stream.time_base = TIME_BASE
        stream.codec_context.time_base = TIME_BASE
        tag_colours(stream.codec_context)
        # scenecut off: keyframes come from the capture clock, not from content changes
        stream.options = {"crf": str(settings.crf), "preset": settings.preset,
                          "x264-params": "scenecut=0:keyint=infinite"}
        while True:
            try:
                slot = reader.read(timeout=1.0)
            except RingClosed:
                break
            if slot is None:
                continue
            with slot:
                ts = slot.header.timestamp
                first = ts if first is None else first
                if last is not None and ts <= last:
                    continue  # a clock step backwards would make the file unplayable
                pixels = np.asarray(slot.data[:size]).reshape(settings.height * 3 // 2, settings.width)
                frame = av.VideoFrame.from_numpy_buffer(pixels, format="yuv420p")
                tag_colours(frame)
                frame.pts = round((ts - first) / TIME_BASE)
                frame.time_base = TIME_BASE
                if ts - last_key >= settings.keyframe_interval:
                    frame.pict_type = av.video.frame.PictureType.I
                    last_key = ts
                    keyframes += 1
                out.mux(stream.encode(frame))
                frames += 1
                last = ts
        out.mux(stream.encode(None))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return EncodeResult(str(path), frames, keyframes, first, last, Path(path).stat().st_size,
                        usage.ru_utime + usage.ru_stime)


def _encoder_main(endpoint: RingEndpoint, path: str, settings: EncoderSettings, results: mp.Queue) -> None:
    try:
        results.put(encode_ring(endpoint, path, settings))
    except Exception as exc:  # reported to the parent, which owns the user-facing error
        results.put(EncodeResult(path, 0, 0, None, None, 0, error=f"{type(exc).__name__}: {exc}"))
        raise


class EncoderProcess:
    """One spawned encoder process reading from a ring; a context manager."""

    def __init__(self, endpoint: RingEndpoint, path: str | Path, settings: EncoderSettings) -> None:
        ctx = mp.get_context("spawn")
        self._results: mp.Queue = ctx.Queue()
        self._proc = ctx.Process(target=_encoder_main, args=(endpoint, str(path), settings, self._results),
                                 name="fastrec-encoder", daemon=True)

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    def start(self) -> EncoderProcess:
        self._proc.start()
        return self

    def result(self, timeout: float = 30.0) -> EncodeResult:
        """Wait for the encoder to finish (close the ring first) and return its result."""
        result: EncodeResult = self._results.get(timeout=timeout)
        self._proc.join(timeout)
        return result

    def __enter__(self) -> EncoderProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._proc.is_alive():
            self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
