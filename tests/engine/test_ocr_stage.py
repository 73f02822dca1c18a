"""The OCR stage process between two rings (fastrec.engine.ocr_stage): every frame the
capture side publishes leaves, in order, with its timestamp, masked; the end is "done"
with the counters; a stage that dies is an error on the capture side, and its ring closes
so the encoder stops - no frame goes around it.  Real processes, rings and Tesseract."""

from __future__ import annotations

import time

import numpy as np
import psutil
import pytest
from ocr_screens import H, LINES, W
from ocr_screens import text_frame as _frame
from polling import wait_until

from fastrec.core.convert import i420_planes, i420_size
from fastrec.engine.ocr_stage import OcrOptions, OcrStage
from fastrec.engine.ring import FrameRing, RingClosed, RingReader
from fastrec.privacy.ocr import OcrEngine, OcrUnavailable, check_ocr
from fastrec.privacy.screen_rules import DEFAULT_PII_RULES

try:
    check_ocr()
except OcrUnavailable as exc:  # scripts/setup.sh installs both: CI always runs these
    pytest.skip(f"OCR not installed: {exc}", allow_module_level=True)


def _publish(ring: FrameRing, frame: np.ndarray, stamp: float) -> None:
    slot = ring.acquire()
    assert slot is not None
    with slot:
        slot.data[: frame.size] = frame
        slot.publish(stamp, W, H, 0, frame.size)


def _stage(ring: FrameRing, max_delay: float = 10.0) -> OcrStage:
    return OcrStage(ring, W, H, 10, OcrOptions(max_delay=max_delay), DEFAULT_PII_RULES, 3, 5.0, "stage-test")


def test_frames_leave_in_order_with_their_timestamps_and_personal_data_masked():
    stamps = [time.monotonic() + i * 0.1 for i in range(4)]
    screens = [LINES, LINES, [*LINES, "typed 5555 5555 5555 4444"], LINES[:2]]
    with FrameRing(i420_size(W, H), slots=3, timeout=5.0) as ring:
        stage = _stage(ring)
        try:
            with RingReader(stage.endpoint) as reader:
                out = []
                for screen, stamp in zip(screens, stamps, strict=True):  # as a screen changes: one by one
                    _publish(ring, _frame(screen), stamp)
                    slot = reader.read(timeout=60)
                    assert slot is not None
                    with slot:
                        out.append((slot.header.timestamp, np.array(i420_planes(np.array(slot.data), W, H)[0])))
                ring.close()
                stats = stage.finish(60)
                with pytest.raises(RingClosed):
                    reader.read(timeout=30)
        finally:
            stage.close()
    assert [stamp for stamp, _ in out] == stamps
    with OcrEngine() as engine:
        texts = ["\n".join(line.text for line in engine.read(y)) for _, y in out]
    assert all("4111" not in t and "example.com" not in t and "5555" not in t for t in texts), texts
    assert all("Ordinary text" in t for t in texts[:3]) and "Card:" in texts[3]
    assert stats["frames"] == 4 and stats["found"] >= 3 and stats["blocked_frames"] == 0 and stats["dropped"] == 0
    assert stats["blocks_read"] >= len(LINES) + 1 and stats["blocks_reused"] >= 0  # two Tesseracts (the default)


def test_a_stage_that_dies_is_an_error_and_its_ring_closes():
    with FrameRing(i420_size(W, H), slots=3, timeout=5.0) as ring:
        stage = _stage(ring)
        try:
            with RingReader(stage.endpoint) as reader:
                psutil.Process(stage.pid).kill()  # SIGKILL; TerminateProcess on Windows
                with pytest.raises(RingClosed):  # the encoder's side: no frame will come
                    while True:
                        reader.read(timeout=30)

                def failed() -> bool:
                    try:
                        stage.poll()
                    except RuntimeError as exc:
                        assert "exited unexpectedly" in str(exc)
                        return True
                    return False

                assert wait_until(failed)
        finally:
            stage.close()


def test_without_a_model_the_stage_refuses_to_start(tmp_path, monkeypatch):
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))  # inherited by the stage process
    with FrameRing(i420_size(W, H), slots=3) as ring:
        with pytest.raises(OcrUnavailable, match="eng.traineddata"):
            _stage(ring)


@pytest.mark.skipif(not __import__("os").path.isdir("/proc/self/fd"), reason="counts /proc/self/fd")
def test_a_closed_stage_leaves_no_descriptor_behind():
    # a capture process records one session after another (issue 14): a stage's ring (the
    # memory the encoder reads) and connection must not outlive its session there
    import os

    before = sorted(os.listdir("/proc/self/fd"))
    with FrameRing(i420_size(W, H), slots=3, timeout=5.0) as ring:
        stage = _stage(ring)
        ring.close()
        stage.finish(60)
        stage.close()
    assert sorted(os.listdir("/proc/self/fd")) == before
