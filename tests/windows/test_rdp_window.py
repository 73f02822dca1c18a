"""rdp_window on Windows (issue 10): the stand-in mstsc.exe's session window is found by
process, class and title through the real Win32 API (Wine's), recorded at its size with its
content, followed when it moves or is resized, paused while it is minimised or covered, and
a window partly over it is blanked -- through RecordingManager, as the desktop connection
manager embeds it."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import WAIT
from polling import wait_for, wait_until
from videos import decode, is_blank, quadrant_colours, shows_the_client

from fastrec import RecordingManager, load_settings
from fastrec.storage import iter_metadata, verify_session


def _rdp_manager(out: Path) -> RecordingManager:
    return RecordingManager(load_settings(enabled=True, output_dir=str(out), fps=10,
                                          encoder_workers=1),
                            mode="rdp_window", cleanup_schedule=False)


def _capture(manager: RecordingManager, session_id: str) -> dict:
    """The capture process's counters for the session (sent once a second)."""
    assert manager.recorder is not None
    return manager.recorder.status(session_id)["capture"]


def test_the_mstsc_window_is_recorded_followed_and_paused_while_minimised(tmp_path: Path, mstsc):
    client = mstsc("10.0.0.5", (200, 150, 640, 480))
    out = tmp_path / "rec"
    manager = _rdp_manager(out)

    def status() -> dict:
        return manager.get_recording_status("rdp")

    def capture() -> dict:
        return _capture(manager, "rdp")

    try:
        assert manager.initialize()
        assert manager.start_session_recording("rdp", {"ip": "10.0.0.5", "name": "Server"})
        wait_for(lambda: status()["frames"]["encoded"] >= 5, WAIT, "frames of the window")
        assert status()["region"] == [200, 150, 640, 480]
        client.move(420, 180)

        def followed() -> bool:
            area = client.client_area()
            return (area.x, area.y) != (200, 150) and \
                status()["region"] == [area.x, area.y, area.width, area.height]

        wait_for(followed, WAIT, "the recording to follow the window")
        encoded = status()["frames"]["encoded"]
        wait_for(lambda: status()["frames"]["encoded"] >= encoded + 5, WAIT, "frames after the move")
        client.resize(500, 420)  # the frame: the client area gets smaller
        wait_for(lambda: (area := client.client_area()).width < 640 and
                 status()["region"] == [area.x, area.y, area.width, area.height], WAIT,
                 "the recording to follow the resize")
        encoded = status()["frames"]["encoded"]
        wait_for(lambda: status()["frames"]["encoded"] >= encoded + 5, WAIT, "frames after the resize")
        client.minimise()
        pauses = wait_for(lambda: capture()["paused"] and capture()["pauses"], WAIT,
                          "a pause while minimised")
        assert "minimised" in pauses[-1][1], pauses
        client.restore()
        shown = capture()["published"]
        wait_for(lambda: capture()["published"] > shown, WAIT, "recording again once restored")
        assert manager.stop_session_recording("rdp")
        assert manager.wait_for_session("rdp", WAIT)
    finally:
        manager.shutdown()

    (meta_path,) = [p for p, _ in iter_metadata(out)]
    meta = json.loads(meta_path.read_text())
    assert [n["text"] for n in meta["capture"]["window_titles"]][:1] == [client.title]
    assert "minimised" in meta["capture"]["pauses"][0]["text"], meta["capture"]
    (video,) = out.glob("*.mp4")
    frames = decode(video)
    assert len(frames) >= 10
    # the window's size and content in every frame -- before the move, after it, after the
    # resize (scaled to the session's size), after the pause -- but the blank ones of the
    # pause, never what was behind the window
    assert {f.rgb.shape for f in frames} == {(480, 640, 3)}
    shown = [f for f in frames if not is_blank(f.rgb)]
    assert 0 < len(frames) - len(shown) < len(frames) // 2
    assert all(shows_the_client(f.rgb) for f in shown)
    assert verify_session(out, "rdp").ok


def test_the_desktop_is_never_recorded_without_an_rdp_window(tmp_path: Path):
    out = tmp_path / "rec"
    manager = _rdp_manager(out)
    try:
        assert manager.initialize()
        assert manager.start_session_recording("none", {"name": "Server"})
        # the capture loop reports while it waits for a window; it never grabs the desktop
        wait_for(lambda: _capture(manager, "none"), WAIT, "capture counters")
        assert manager.get_recording_status("none")["frames"]["encoded"] == 0
        assert manager.stop_session_recording("none")
        assert wait_until(lambda: manager.wait_for_session("none", 1), WAIT)
    finally:
        manager.shutdown()
    assert not [p for p in out.glob("*.mp4") if decode(p)]


def test_a_window_over_the_rdp_window_is_blanked_and_a_covering_one_pauses(tmp_path: Path, mstsc):
    client = mstsc("10.0.0.5", (200, 150, 640, 480))
    out = tmp_path / "rec"
    manager = _rdp_manager(out)

    def capture() -> dict:
        return _capture(manager, "rdp")

    try:
        assert manager.initialize()
        assert manager.start_session_recording("rdp", {"ip": "10.0.0.5", "name": "Server"})
        wait_for(lambda: capture().get("published", 0) >= 5, WAIT, "frames of the window")
        # another program's window over the right half of the session: blanked, not recorded
        cover = mstsc("cover", (560, 100, 400, 600), "/class:CoverWindow", program="cover.exe")
        wait_for(lambda: capture()["occluded"], WAIT, "the covered part to be blanked")
        published = capture()["published"]
        wait_for(lambda: capture()["published"] >= published + 5, WAIT, "frames while covered")
        cover.move(100, 60)
        cover.resize(900, 700)  # now over the whole session window
        wait_for(lambda: capture()["paused"] and "covered" in capture()["pauses"][-1][1], WAIT,
                 "a pause while covered")
        assert manager.stop_session_recording("rdp")
        assert manager.wait_for_session("rdp", WAIT)
    finally:
        manager.shutdown()
    (video,) = out.glob("*.mp4")
    frames = [f for f in decode(video) if not is_blank(f.rgb)]
    partly = [f for f in frames if not shows_the_client(f.rgb)]
    assert partly, "no frame with the covered part blanked"
    for frame in partly:  # the left half is the session; the right half black, never the cover
        colours = quadrant_colours(frame.rgb)
        assert colours["top left"][0] > 200 and colours["bottom left"][2] > 200, colours
        assert max(colours["top right"]) < 40 and max(colours["bottom right"]) < 40, colours
