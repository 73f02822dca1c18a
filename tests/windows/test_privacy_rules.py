"""A window rule of the recording policy on Windows (issues 10, 11): in a full_screen
recording the window the rule names is masked wherever it is -- the Win32 window list
(Wine's user32) feeding the rule, before and after each GDI grab -- while another window
beside it stays visible."""

from __future__ import annotations

from pathlib import Path

from conftest import WAIT
from polling import wait_for
from videos import decode, is_blank, shows_the_client

from fastrec import RecordingManager, load_settings
from fastrec.policy.store import PolicyStore
from fastrec.storage import iter_metadata

POLICY = """\
privacy:
  rules:
    - name: bank
      mask: block
      window: {title: "*Online Banking*"}
"""


def _crop(rgb, area) -> object:
    return rgb[area.y:area.y + area.height, area.x:area.x + area.width]


def test_a_window_rule_masks_the_bank_window_wherever_it_moves(tmp_path: Path, mstsc):
    out = tmp_path / "rec"
    with PolicyStore(out) as store:
        store.save(POLICY, author="auditor", comment="no banking on video")
    rdp = mstsc("10.0.0.5", (40, 40, 320, 240))
    bank = mstsc("bank", (500, 300, 320, 240), "/title:Online Banking - Example",
                 "/class:CoverWindow", program="cover.exe")
    places = [bank.client_area()]
    manager = RecordingManager(load_settings(enabled=True, output_dir=str(out), fps=10,
                                             encoder_workers=1),
                               mode="full_screen", cleanup_schedule=False)

    def capture() -> dict:
        assert manager.recorder is not None
        return manager.recorder.status("s")["capture"]

    try:
        assert manager.initialize()
        assert manager.start_session_recording("s", {"name": "Server"})
        wait_for(lambda: capture().get("published", 0) >= 5, WAIT, "frames")
        assert capture()["rules_version"] == 1
        bank.move(700, 120)
        wait_for(lambda: bank.client_area() != places[0], WAIT, "the bank window to move")
        places.append(bank.client_area())
        published = capture()["published"]
        wait_for(lambda: capture()["published"] >= published + 5, WAIT, "frames after the move")
        assert manager.stop_session_recording("s")
        assert manager.wait_for_session("s", WAIT)
    finally:
        manager.shutdown()
    (video,) = out.glob("*.mp4")
    frames = decode(video)
    assert len(frames) >= 10
    # a tick whose grab the move overlapped is not recorded (fail closed): a blank frame, counted
    gaps = [frame for frame in frames if is_blank(frame.rgb)]
    ((_, meta),) = iter_metadata(out)
    assert len(gaps) <= meta.capture.privacy_blocked
    assert len(frames) - len(gaps) >= 5
    for frame in frames:
        # the bank window's picture is in no frame, at either place; the RDP window is in every
        # recorded one
        assert not any(shows_the_client(_crop(frame.rgb, place)) for place in places)
        if not is_blank(frame.rgb):
            assert shows_the_client(_crop(frame.rgb, rdp.client_area()))
