"""The supervisor under faults (issue 8, bug 3): an exception while it handles a message
ends the session concerned - with its error and traceback - never the supervisor, so every
other session, and every later one, still records and finishes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from x11_windows import wait_until

from fastrec.engine import launch
from fastrec.engine.capture_loop import CaptureConfig
from fastrec.engine.events import EngineEvent, SessionError, SessionFinished
from fastrec.engine.protocol import SegmentNaming, SegmentPolicy
from fastrec.engine.recorder import EncodingOptions, Recorder

FINISH = 60  # a hang guard for waits on a state, not a timing assertion


def _config(session: str) -> CaptureConfig:
    return CaptureConfig(session, mode="synthetic", fps=10,
                         source_options={"width": 320, "height": 240, "fps": 10, "scenario": "video"})


def _start(recorder: Recorder, session: str, out: Path) -> None:
    recorder.start(_config(session), EncodingOptions(), SegmentPolicy(), SegmentNaming(out, f"s_{session}"))
    recorder.wait_started(session)
    assert wait_until(lambda: recorder.status(session)["current_file"] is not None, FINISH)


def test_a_worker_that_cannot_be_replaced_fails_its_session_not_the_supervisor(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    events: list[EngineEvent] = []
    real_start = launch.start

    def no_more_encoders(target, *args, name: str):
        if name == "fastrec-encoder":
            raise OSError(11, "Resource temporarily unavailable (fork)")
        return real_start(target, *args, name=name)

    with Recorder(workers=1, on_event=events.append) as recorder:
        _start(recorder, "first", tmp_path)
        monkeypatch.setattr(launch, "start", no_more_encoders)  # a fault injected: fork fails
        os.kill(recorder.status("first")["encoder_pid"], signal.SIGKILL)
        status = recorder.wait("first", timeout=FINISH)
        assert status["state"] == "error"
        assert any("encoder pool failed" in e and "Resource temporarily unavailable" in e
                   for e in status["errors"]), status["errors"]
        monkeypatch.setattr(launch, "start", real_start)  # the machine recovers
        _start(recorder, "second", tmp_path)  # the supervisor is still there
        recorder.stop("second")
        assert recorder.wait("second", timeout=FINISH)["state"] == "stopped"
    failed = [e for e in events if isinstance(e, SessionError) and e.session_id == "first" and e.fatal]
    assert failed and failed[0].traceback and "no_more_encoders" in failed[0].traceback
    finished = [e for e in events if isinstance(e, SessionFinished)]
    assert [e.session_id for e in finished] == ["first", "second"]


def test_a_session_stopped_while_it_looks_for_its_window_finishes(bare_display, tmp_path: Path):
    # the capture process said "stopped" before it had a ring: no encoder ever had the
    # session, and the supervisor waited for one forever
    with Recorder(workers=1) as recorder:
        config = CaptureConfig("nowin", mode="rdp_window", display=bare_display.display, fps=10)
        recorder.start(config, EncodingOptions(), SegmentPolicy(), SegmentNaming(tmp_path, "s_nowin"))
        assert wait_until(lambda: recorder.status("nowin")["capture_pid"] is not None, FINISH)
        recorder.stop("nowin")
        status = recorder.wait("nowin", timeout=FINISH)
    assert status["state"] == "stopped" and status["segments"] == [] and status["errors"] == []
    assert not list(tmp_path.iterdir())
