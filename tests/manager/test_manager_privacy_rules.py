"""The recording policy's privacy rules in real recordings (issue 11): a region (pixels or
percent) and a window matched by title are hidden in every decoded frame, the window
wherever it moves; a new policy version changes the masking of a session already
recording; and when the window list cannot be read, frames are blocked, not recorded
unmasked, and the status and metadata count them.

Real parts: a private Xvfb with openbox, Tk windows, RecordingManager's capture and encoder
processes, PyAV decoding the files.  One test double, for failure injection only:
:class:`x11_windows.FlakyWindowList` (the real X11 window list, made to fail on demand).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from x11_windows import FlakyWindowList, wait_until

from fastrec.manager import RecordingManager
from fastrec.policy.store import PolicyStore
from fastrec.settings import load_settings
from fastrec.storage import iter_metadata

FINISH = 60  # a hang guard for waits on a state
GREEN, RED, BLUE = "#20a040", "#e02020", "#2040e0"


def _rgb(colour: str) -> np.ndarray:
    value = colour.lstrip("#")
    return np.array([int(value[i : i + 2], 16) for i in (0, 2, 4)], dtype=np.int16)


def _near(pixels: np.ndarray, colour: str | tuple[int, int, int], tolerance: int = 24) -> np.ndarray:
    """Which pixels (..., 3 RGB) are within ``tolerance`` of ``colour`` in every channel
    (H.264 at CRF 23 moves flat colours by a few levels)."""
    target = _rgb(colour) if isinstance(colour, str) else np.array(colour, dtype=np.int16)
    return (np.abs(pixels.astype(np.int16) - target) <= tolerance).all(axis=-1)


def _share(frame: np.ndarray, box: tuple[int, int, int, int], colour: str | tuple[int, int, int]) -> float:
    """Fraction of ``box`` (x, y, w, h; inset by 4 px against the edges' chroma blend)
    whose pixels are ``colour``."""
    x, y, w, h = box
    area = frame[y + 4 : y + h - 4, x + 4 : x + w - 4]
    return float(_near(area, colour).mean())


def _frames(out: Path) -> list[np.ndarray]:
    """Every decoded frame of every part, in recording order (RGB)."""
    frames = []
    for path in sorted(out.glob("*.mp4"), key=lambda p: (len(p.name), p.name)):
        with av.open(str(path)) as container:
            frames += [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return frames


def _save_policy(out: Path, text: str) -> int:
    with PolicyStore(out) as store:
        return store.save(text, author="test", comment="privacy rules").version


@pytest.fixture
def manager_for(tmp_path: Path, wm_display) -> Iterator:
    made: list[RecordingManager] = []

    def make(mode: str = "full_screen", **kwargs: object) -> RecordingManager:
        settings = load_settings(enabled=True, output_dir=str(tmp_path / "rec"), encoder_workers=1, fps=10)
        manager = RecordingManager(settings, mode=mode, display=wm_display.display,
                                   cleanup_schedule=False, **kwargs)  # type: ignore[arg-type]
        made.append(manager)
        return manager

    try:
        yield make
    finally:
        for manager in made:
            manager.shutdown()


def _ticks(manager: RecordingManager, sid: str) -> int:
    assert manager.recorder is not None
    return int(manager.recorder.status(sid)["capture"].get("ticks", 0))


def _more_frames(manager: RecordingManager, sid: str, count: int = 2) -> None:
    """Wait until the capture process has reported ``count`` more ticks: it has looked at
    the screen after whatever the test did before (an idle screen publishes no frame)."""
    start = _ticks(manager, sid)
    assert wait_until(lambda: _ticks(manager, sid) >= start + count, FINISH)


def _record_until_stopped(manager: RecordingManager, sid: str) -> dict:
    assert manager.stop_session_recording(sid)
    assert manager.wait_for_session(sid, FINISH)
    return manager.get_recording_status(sid)


def test_region_rules_in_pixels_and_percent_hide_that_part_of_every_frame(
        wm_display, spawn_window, manager_for, tmp_path: Path):
    spawn_window(wm_display, "1200x600+40+60", GREEN)
    out = tmp_path / "rec"
    _save_policy(out, """
privacy:
  rules:
    - {name: account number, mask: block, region: {x: 200, y: 200, width: 200, height: 100}}
    - {name: side panel, mask: redact, region: {x: 70, y: 20, width: 10, height: 20, unit: percent}}
""")
    manager = manager_for()
    assert manager.start_session_recording("regions")
    assert wait_until(lambda: manager.get_recording_status("regions")["current_file"], FINISH)
    _more_frames(manager, "regions")
    status = _record_until_stopped(manager, "regions")
    assert status["privacy_rules_version"] == 1 and status["privacy_blocked"] == 0
    frames = _frames(out)
    assert frames
    px = (200, 200, 200, 100)
    percent = (896, 144, 128, 144)  # 70 %, 20 % of 1280x720 and 10 % x 20 % of it
    for frame in frames:
        assert _share(frame, px, (0, 0, 0)) > 0.99  # block: black
        assert _share(frame, percent, (208, 208, 208)) > 0.5  # redact: a light bar (and its glyphs)
        assert _share(frame, percent, GREEN) == 0.0
        assert _share(frame, (600, 400, 200, 150), GREEN) > 0.99  # the rest is the source


@pytest.mark.parametrize("mode", ["full_screen", "rdp_window"])
def test_a_window_rule_masks_the_window_wherever_it_moves(
        mode: str, wm_display, spawn_window, manager_for, tmp_path: Path):
    # the recorded RDP client (full_screen: just another window) and a bank's window over it
    rdp = spawn_window(wm_display, "900x560+40+60", BLUE, process_name="xfreerdp")
    bank = spawn_window(wm_display, "240x160+100+140", RED, title_prefix="Online Banking - ")
    out = tmp_path / "rec"
    _save_policy(out, """
privacy:
  rules:
    - {name: bank, mask: redact, window: {title: "online banking*"}}
""")
    manager = manager_for(mode)
    sid = f"moving-{mode}"
    assert manager.start_session_recording(sid)
    assert wait_until(lambda: manager.get_recording_status(sid)["current_file"], FINISH)
    _more_frames(manager, sid)
    positions = [(100, 140), (500, 300), (300, 380), (640, 120)]
    for x, y in positions[1:]:
        bank.xdotool("windowmove", str(x), str(y), sync=True)
        _more_frames(manager, sid)
    status = _record_until_stopped(manager, sid)
    assert status["errors"] == []
    frames = _frames(out)
    assert frames
    # never the bank's pixels, in any frame, wherever it was; the RDP client's are there
    for frame in frames:
        assert _near(frame, RED).sum() < 50, "the bank window was recorded"
    assert all(_near(frame, BLUE).mean() > 0.2 for frame in frames)
    # and its mask (a redact bar) was at each place it went
    rdp_x, rdp_y = (0, 0) if mode == "full_screen" else _rdp_origin(status)
    for x, y in positions:
        box = (x - rdp_x, y - rdp_y, 36, 30)  # its top-left corner, left of the redact glyphs
        assert any(_share(f, box, (208, 208, 208)) > 0.95 for f in frames), (x, y)
    del rdp


def _rdp_origin(status: dict) -> tuple[int, int]:
    """The recorded region's top-left corner on screen (rdp_window: the client's content)."""
    region = status["region"]
    assert region, status
    return int(region[0]), int(region[1])


def test_a_new_policy_version_changes_the_masking_of_later_frames(
        wm_display, spawn_window, manager_for, tmp_path: Path):
    spawn_window(wm_display, "1200x600+40+60", GREEN)
    out = tmp_path / "rec"
    manager = manager_for()
    assert manager.start_session_recording("live")
    assert wait_until(lambda: manager.get_recording_status("live")["current_file"], FINISH)
    _more_frames(manager, "live", 1)
    assert manager.get_recording_status("live")["privacy_rules_version"] == 0  # the default policy

    _save_policy(out, "privacy: {rules: [{mask: block, region: {x: 300, y: 300, width: 300, height: 200}}]}")
    assert wait_until(lambda: manager.get_recording_status("live")["privacy_rules_version"] == 1, FINISH)
    _more_frames(manager, "live", 1)
    _save_policy(out, "privacy: {rules: []}")
    assert wait_until(lambda: manager.get_recording_status("live")["privacy_rules_version"] == 2, FINISH)
    _more_frames(manager, "live", 1)
    _record_until_stopped(manager, "live")

    box = (300, 300, 300, 200)
    masked = [_share(f, box, (0, 0, 0)) > 0.99 for f in _frames(out)]
    shown = [_share(f, box, GREEN) > 0.99 for f in _frames(out)]
    assert all(m or s for m, s in zip(masked, shown, strict=True))
    # unmasked, then masked (version 1), then unmasked again (version 2), in that order
    first, last = masked.index(True), len(masked) - 1 - masked[::-1].index(True)
    assert first > 0 and last < len(masked) - 1
    assert all(masked[first : last + 1]) and not any(masked[:first]) and not any(masked[last + 1 :])
    (meta_path, _), *_ = sorted(iter_metadata(out), key=lambda item: str(item[0]))
    notes = [n["text"] for n in json.loads(meta_path.read_text())["capture"]["privacy_rules"]]
    assert [n.split(":")[0] for n in notes] == ["policy version 0", "policy version 1", "policy version 2"]


def test_when_the_window_list_fails_frames_are_blocked_and_counted(
        wm_display, spawn_window, manager_for, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # the test double lives in tests/: the capture process must be able to import it
    tests_dir = str(Path(__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (tests_dir, os.environ.get("PYTHONPATH")) if p))
    spawn_window(wm_display, "1200x600+40+60", GREEN)
    spawn_window(wm_display, "240x160+300+200", RED, title_prefix="Online Banking - ")
    out = tmp_path / "rec"
    _save_policy(out, "privacy: {rules: [{window: {title: 'online banking*'}}]}")
    trigger = tmp_path / "fail-window-list"
    manager = manager_for(source_options={"window_backend": FlakyWindowList(wm_display.display, str(trigger))})
    assert manager.start_session_recording("flaky")
    assert wait_until(lambda: manager.get_recording_status("flaky")["current_file"], FINISH)
    _more_frames(manager, "flaky", 1)
    trigger.touch()
    assert wait_until(lambda: manager.get_recording_status("flaky")["privacy_blocked"] > 0, FINISH)
    assert manager.get_recording_status("flaky")["paused"]
    trigger.unlink()
    _more_frames(manager, "flaky", 1)
    status = _record_until_stopped(manager, "flaky")
    assert status["privacy_blocked"] > 0 and status["errors"] == []

    frames = _frames(out)
    for frame in frames:
        assert _near(frame, RED).sum() < 50, "the bank window was recorded"
    blank = [f for f in frames if _near(f, (0, 0, 0)).mean() > 0.99]
    normal = [f for f in frames if _near(f, GREEN).mean() > 0.5]
    assert blank and normal  # blocked while the list failed, recorded (masked) before and after
    metas = [json.loads(p.read_text()) for p, _ in iter_metadata(out)]
    assert sum(m["capture"]["privacy_blocked"] for m in metas) == status["privacy_blocked"]
    reasons = [p["text"] for m in metas for p in m["capture"]["pauses"]]
    assert any("window list cannot be read" in r for r in reasons), reasons


def test_on_screen_pii_rules_are_said_to_need_ocr_once_per_session(tmp_path: Path, log_stream):
    out = tmp_path / "rec"
    _save_policy(out, "privacy: {presets: [emails, ssn]}")
    settings = load_settings(enabled=True, output_dir=str(out), encoder_workers=1, fps=10)
    manager = RecordingManager(settings, mode="synthetic", cleanup_schedule=False)
    try:
        assert manager.start_session_recording("pii")
        assert wait_until(lambda: manager.get_recording_status("pii")["current_file"], FINISH)
        _save_policy(out, "privacy: {presets: [emails, ssn, phone]}")  # a new version: not said again
        assert wait_until(lambda: manager.get_recording_status("pii")["privacy_rules_version"] == 2, FINISH)
        _record_until_stopped(manager, "pii")
    finally:
        manager.shutdown()
    said = [e for e in log_stream.events() if "RECORDING_OCR_PII" in e["event"]]
    assert len(said) == 1, said
    assert said[0]["level"] == "warning" and said[0]["session_id"] == "pii"
    assert said[0]["rules"] == ["preset emails", "preset ssn"]


def test_with_ocr_on_but_no_model_nothing_is_recorded(tmp_path: Path, monkeypatch, log_stream):
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path / "nothing-here"))
    settings = load_settings(enabled=True, output_dir=str(tmp_path / "rec"), encoder_workers=1, ocr_pii=True)
    manager = RecordingManager(settings, mode="synthetic", cleanup_schedule=False)
    try:
        assert manager.initialize() is False  # fail closed: never recorded unread
        assert manager.start_session_recording("unread") is False
    finally:
        manager.shutdown()
    said = [e["event"] for e in log_stream.events() if e["level"] == "error"]
    assert any("RECORDING_OCR_PII=true" in e and "eng.traineddata" in e and "tesseract-ocr" in e for e in said), said
    assert not list((tmp_path / "rec").glob("*.mp4"))
