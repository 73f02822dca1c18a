"""Dirty-rectangle hints, from the capture loop's tile diff through the ring to libx264.

The promise a frame's rectangles make - outside them it equals the frame published before -
is checked on the real capture loop (real converter, masks, ring), and what libx264 does
with them on real encodes decoded back: unchanged areas as without hints, and a wrong
promise would show (which proves the hints reach the encoder at all).
"""

from __future__ import annotations

import time
from pathlib import Path

import av
import numpy as np
import pytest

from fastrec.capture.base import CaptureSource, Region, Target
from fastrec.core.convert import i420_planes, i420_size
from fastrec.core.masks import MaskKind, MaskRegion
from fastrec.engine.capture_loop import CaptureConfig, CaptureLoop
from fastrec.engine.encoder import hints
from fastrec.engine.encoder.hints import MAX_RECTS, MB, RECT_BYTES, tile_rects
from fastrec.engine.encoder.writer import EncoderSettings, SegmentWriter
from fastrec.engine.protocol import SegmentPolicy
from fastrec.engine.ring import FrameRing, RingReader


class ScriptedSource(CaptureSource):
    """A capture source that shows the frames it is given, one per grab (damage unknown:
    every tick grabs the whole frame)."""

    pause_reason = ""

    def __init__(self) -> None:
        self.frame = np.zeros((8, 8, 4), np.uint8)

    def _open(self) -> None:
        pass

    def _close(self) -> None:
        pass

    def locate(self) -> Target:
        h, w = self.frame.shape[:2]
        return Target(Region(0, 0, w, h))

    def damaged(self) -> None:
        return None  # unknown: always grab

    def grab(self, target: Target) -> np.ndarray:
        return self.frame

    def windows(self) -> list:
        return []


def _changed(frame: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
    """``frame`` with ``count`` random small rectangles repainted."""
    out = frame.copy()
    h, w = out.shape[:2]
    for _ in range(count):
        x, y = int(rng.integers(0, w - 8)), int(rng.integers(0, h - 8))
        out[y : y + int(rng.integers(1, 24)), x : x + int(rng.integers(1, 40))] = rng.integers(0, 256, 4, np.uint8)
    return out


def _outside(rects: np.ndarray, width: int, height: int) -> np.ndarray:
    """Mask of the pixels outside ``rects``."""
    out = np.ones((height, width), bool)
    for x, y, w, h in rects.astype(int):
        out[y : y + h, x : x + w] = False
    return out


def _assert_unchanged_outside(before: np.ndarray, after: np.ndarray, rects: np.ndarray, w: int, h: int) -> None:
    outside = _outside(rects, w, h)
    for plane_before, plane_after, sub in zip(i420_planes(before, w, h), i420_planes(after, w, h), (1, 2, 2),
                                               strict=True):
        keep = outside[::sub, ::sub] if sub == 1 else outside[::2, ::2] & outside[1::2, 1::2]
        differ = (plane_before != plane_after) & keep
        assert not differ.any(), f"pixels changed outside the rects at {np.argwhere(differ)[:5].tolist()}"
    for x, y, rw, rh in rects.astype(int):
        assert x % MB == 0 and y % MB == 0, rects
        assert (x + rw) % MB == 0 or x + rw == w, rects
        assert (y + rh) % MB == 0 or y + rh == h, rects
        assert x + rw <= w and y + rh <= h, rects


@pytest.mark.parametrize(("size", "scale", "masks"), [
    ((320, 200), 1.0, ()),
    ((321, 203), 0.5, ()),  # shrinking: an output pixel averages several source pixels
    ((300, 180), 1.5, ()),  # enlarging: bilinear taps reach a pixel further
    ((320, 200), 1.0, (MaskRegion(100, 60, 80, 50, MaskKind.BLUR), MaskRegion(10, 10, 40, 40, MaskKind.BLOCK))),
    ((320, 200), 0.75, (MaskRegion(200, 20, 64, 64, MaskKind.PIXELATE),)),
])
def test_frames_differ_from_the_previous_one_only_inside_their_rects(size, scale, masks) -> None:
    w, h = size
    rng = np.random.default_rng(14)
    source = ScriptedSource()
    source.frame = rng.integers(0, 256, (h, w, 4), np.uint8)
    config = CaptureConfig("hints", fps=10, scale=scale, tile_size=16, masks=masks, settle_seconds=0.0)
    out_w, out_h = int(w * scale / 2 + 0.5) * 2, int(h * scale / 2 + 0.5) * 2
    with FrameRing(i420_size(out_w, out_h) + MAX_RECTS * RECT_BYTES, slots=4) as ring, \
            RingReader(ring.endpoint()) as reader:
        loop = CaptureLoop(config, source, ring, out_w, out_h)
        previous = None
        hinted = 0
        for k in range(12):
            if k == 8:  # another size: letterboxed from now on, and that frame is new throughout
                source.frame = rng.integers(0, 256, (h - 40, w, 4), np.uint8)
            elif k:
                source.frame = _changed(source.frame, rng, int(rng.integers(1, 6)))
            loop.tick(time.monotonic())
            with reader.read(timeout=1) as slot:
                frame = np.array(slot.data[: i420_size(out_w, out_h)])
                if k in (0, 8):
                    assert slot.rects is None  # a new picture: no promise
                else:
                    assert slot.rects is not None
                    _assert_unchanged_outside(previous, frame, slot.rects, out_w, out_h)
                    hinted += 1
                    if not masks or masks[0].kind is MaskKind.BLOCK:
                        assert slot.rects[:, 2].astype(int) @ slot.rects[:, 3] < out_w * out_h / 2
            previous = frame
        assert hinted == 10


def test_a_frame_after_one_the_ring_dropped_carries_no_rects() -> None:
    rng = np.random.default_rng(3)
    source = ScriptedSource()
    source.frame = rng.integers(0, 256, (128, 192, 4), np.uint8)
    config = CaptureConfig("drop", fps=10, tile_size=16, settle_seconds=0.0)
    with FrameRing(i420_size(192, 128) + MAX_RECTS * RECT_BYTES, slots=2, timeout=0) as ring, \
            RingReader(ring.endpoint()) as reader:
        loop = CaptureLoop(config, source, ring, 192, 128)
        for _ in range(3):  # the third finds both slots taken: dropped
            source.frame = _changed(source.frame, rng, 2)
            loop.tick(time.monotonic())
        assert loop.stats.dropped == 1
        for _ in range(2):
            reader.read(timeout=1).release()
        source.frame = _changed(source.frame, rng, 2)
        loop.tick(time.monotonic())
        with reader.read(timeout=1) as slot:
            assert slot.rects is None  # its tiles are relative to a frame the encoder never got
        source.frame = _changed(source.frame, rng, 2)
        loop.tick(time.monotonic())
        with reader.read(timeout=1) as slot:
            assert slot.rects is not None


def test_tile_rects_merge_runs_and_give_up_past_the_limit() -> None:
    tiles = np.zeros((3, 5), np.uint8)
    tiles[0, 1:4] = 1
    tiles[2, 0] = tiles[2, 4] = 1
    rects = tile_rects(tiles, 20, 20, 100, 50, max_fraction=1.0)  # the last row and column: partial tiles
    assert rects.tolist() == [[16, 0, 64, 32], [0, 32, 32, 18], [80, 32, 20, 18]]
    assert tile_rects(np.zeros((3, 5), np.uint8), 20, 20, 100, 50).shape == (0, 4)
    assert tile_rects(tiles, 20, 20, 100, 50, max_fraction=0.34) is not None
    assert tile_rects(tiles, 20, 20, 100, 50, max_rects=2) is None
    assert tile_rects(tiles, 20, 20, 100, 50, max_fraction=0.3) is None  # 5 of 15 tiles changed


W, H = 256, 160
T0 = 1000.0


# libx264 skips a macroblock the hints call unchanged only where the reference frame's
# quantiser was no coarser than the current one's (else it analyses it as usual): a fixed
# quantiser makes every hinted macroblock a skip, so what the hints do shows in the pictures.
FIXED_QP = EncoderSettings(2, 2).x264_params + ":qpmin=30:qpmax=30"


def _encode(tmp_path: Path, name: str, frames: list[tuple[np.ndarray, float, np.ndarray | None]],
            mb_info: bool = True, x264_params: str = FIXED_QP) -> list[np.ndarray]:
    out = tmp_path / name
    settings = EncoderSettings(W, H, mb_info=mb_info, x264_params=x264_params)
    with SegmentWriter("s", settings, SegmentPolicy(), lambda part: out) as writer:
        for pixels, t, rects in frames:
            writer.write(pixels, t, rects=rects)
    with av.open(str(out)) as container:
        return [f.to_ndarray(format="yuv420p") for f in container.decode(video=0)]


def _picture(seed: int) -> np.ndarray:
    """An I420 frame with some structure (gradients and noise), like a screen's."""
    rng = np.random.default_rng(seed)
    y = (np.add.outer(np.arange(H * 3 // 2), np.arange(W)) % 200 + 30).astype(np.uint8)
    y[: H] += rng.integers(0, 20, (H, W), np.uint8)
    return y


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0 ** 2 / max(np.mean((a.astype(float) - b.astype(float)) ** 2), 1e-9)))


pytestmark_hints = pytest.mark.skipif(not hints.available(), reason="this PyAV's FFmpeg lacks AVVideoHint")


@pytestmark_hints
def test_hinted_frames_decode_as_unhinted_ones_and_a_false_promise_would_show(tmp_path: Path) -> None:
    frames = [(_picture(0), T0, None)]
    for k in range(1, 8):
        pixels = frames[-1][0].copy()
        pixels[32:48, 16 * k : 16 * k + 16] = 255 - pixels[32:48, 16 * k : 16 * k + 16]  # one macroblock
        frames.append((pixels, T0 + k / 10, np.array([[16 * k, 32, 16, 16]], np.uint16)))
    default = EncoderSettings(2, 2).x264_params
    for params in (default, FIXED_QP):
        hinted = _encode(tmp_path, f"hinted{len(params)}.mp4", frames, x264_params=params)
        plain = _encode(tmp_path, f"plain{len(params)}.mp4", frames, mb_info=False, x264_params=params)
        assert len(hinted) == len(plain) == len(frames)  # the file plays, every frame in it
        for (pixels, _, _), a, b in zip(frames, hinted, plain, strict=True):
            assert _psnr(a, pixels) >= _psnr(b, pixels) - 0.5
    # a promise that leaves out the changed macroblock: libx264 keeps it as it was
    lying = [(p, t, None if r is None else np.array([[0, 128, 16, 16]], np.uint16)) for p, t, r in frames]
    frozen = _encode(tmp_path, "lying.mp4", lying)
    assert _psnr(frozen[-1][32:48, 112:128], frames[-1][0][32:48, 112:128]) < 20


@pytestmark_hints
def test_rects_after_a_frame_the_writer_refused_are_not_trusted(tmp_path: Path) -> None:
    # the second frame steps back in time and is refused: the third one's rects are relative
    # to it, so the change the second brought must not be frozen out by them
    first = _picture(1)
    second = first.copy()
    second[64:80, 64:80] = 255 - second[64:80, 64:80]
    third = second.copy()
    third[96:112, 160:176] = 255 - third[96:112, 160:176]
    decoded = _encode(tmp_path, "refused.mp4", [
        (first, T0 + 1.0, None),
        (second, T0 + 0.5, np.array([[64, 64, 16, 16]], np.uint16)),
        (third, T0 + 1.1, np.array([[160, 96, 16, 16]], np.uint16)),
    ])
    assert len(decoded) == 2
    assert _psnr(decoded[-1][64:80, 64:80], third[64:80, 64:80]) > 30


class _Slot:
    """A frame as RingReader.read() hands it over."""

    def __init__(self, seq: int, pixels: np.ndarray, timestamp: float, rects: np.ndarray | None) -> None:
        from fastrec.engine.ring import FrameHeader

        self.header = FrameHeader(seq, timestamp, W, H, 0, pixels.size, None if rects is None else len(rects))
        self.data, self.rects = pixels.reshape(-1), rects

    def __enter__(self) -> _Slot:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class _Reader:
    """Reads the given slots, then the ring is closed."""

    def __init__(self, slots: list[_Slot]) -> None:
        self._slots = slots

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def read(self, timeout: float | None = None) -> _Slot:
        from fastrec.engine.ring import RingClosed

        if not self._slots:
            raise RingClosed("closed")
        return self._slots.pop(0)


@pytestmark_hints
def test_the_encoder_does_not_trust_rects_across_a_frame_the_ring_dropped(tmp_path: Path, monkeypatch) -> None:
    # seq 1 was dropped by the ring (drop_oldest): seq 2's rects are relative to it, so the
    # change seq 1 brought must reach the file all the same
    from fastrec.engine.encoder import pool, worker
    from fastrec.engine.protocol import SegmentNaming

    first = _picture(2)
    second = first.copy()
    second[64:80, 64:80] = 255 - second[64:80, 64:80]
    third = second.copy()
    third[96:112, 160:176] = 255 - third[96:112, 160:176]
    slots = [_Slot(0, first, T0, None), _Slot(2, third, T0 + 0.2, np.array([[160, 96, 16, 16]], np.uint16))]
    monkeypatch.setattr(worker, "RingReader", lambda endpoint: _Reader(slots))
    settings = EncoderSettings(W, H, x264_params=FIXED_QP)
    job = pool.EncodeJob("gap", None, settings, SegmentPolicy(), SegmentNaming(tmp_path, "gap"))  # type: ignore[arg-type]
    events: list[object] = []
    worker._encode_session(job, events.append)
    assert not [e for e in events if type(e).__name__ == "EncoderFailed"], events
    with av.open(str(SegmentNaming(tmp_path, "gap").path(1))) as container:
        decoded = [f.to_ndarray(format="yuv420p") for f in container.decode(video=0)]
    assert len(decoded) == 2
    assert _psnr(decoded[-1][64:80, 64:80], third[64:80, 64:80]) > 30
