"""Input events of real recordings on a private Xvfb, driven with xdotool: clicks and wheel
notches land in the part's events file at the right % of the recorded screen or window,
typed text never does (only counts per second), rage clicks become an event and a live
``alert`` on the admin server's WebSocket; the file is sealed into the integrity chain
(``verify`` sees it changed or gone), exported as JSON, deleted with its segment by
retention, and left readable by a recorder killed with SIGKILL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from polling import wait_for
from x11_windows import RDP_CLIENT_SCRIPT, needs_x

from fastrec.demo.display import VirtualDisplay
from fastrec.engine.protocol import SegmentPolicy
from fastrec.events.file import read_events, read_session_events, session_event_files
from fastrec.events.model import EventKind
from fastrec.manager import RecordingManager
from fastrec.settings import load_settings
from fastrec.storage.deletions import delete_session
from fastrec.storage.integrity import verify_session
from fastrec.storage.metadata import read_metadata
from fastrec.storage.retention import RotationManager

pytestmark = needs_x

WIDTH, HEIGHT = 640, 480
TYPED = "hunter2secret"  # lower-case letters and digits: one key press each
WAIT = 60.0  # a hang guard for a loaded machine, not a timing assertion


def xdotool(display: VirtualDisplay, *args: str) -> None:
    subprocess.run(["xdotool", *args], env=display.env, check=True, timeout=WAIT, capture_output=True)


def manager_for(out: Path, display: VirtualDisplay, mode: str = "full_screen", policy: SegmentPolicy | None = None,
                **settings: Any) -> RecordingManager:
    values: dict[str, Any] = {"enabled": True, "output_dir": str(out), "encoder_workers": 1, "fps": 10,
                              "live_announce": False}
    values.update(settings)
    return RecordingManager(load_settings(**values), mode=mode, display=display.display, cleanup_schedule=False,
                            segment_policy=policy)


def wait_recording(manager: RecordingManager, session_id: str) -> dict[str, Any]:
    """The session's status once its capture process reports a region it records."""
    def ready() -> dict[str, Any] | None:
        status = manager.get_recording_status(session_id)
        return status if status.get("region") and not status.get("paused") else None
    return wait_for(ready, WAIT, f"session {session_id} recording")


def events_of(out: Path, session_id: str) -> list[Any]:
    return read_session_events(out, session_id)[0]


def of_kind(events: list[Any], kind: EventKind) -> list[Any]:
    return [e for e in events if e.kind == kind]


@pytest.fixture(scope="module")
def clicked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One full-screen session: three clicks, five wheel notches, TYPED, and a rage burst of
    four clicks; stopped once all of it is in its events file.  Tests copy it to change it."""
    out = tmp_path_factory.mktemp("clicked") / "rec"
    with VirtualDisplay(WIDTH, HEIGHT) as display:
        manager = manager_for(out, display)
        try:
            assert manager.start_session_recording("clicks", {"name": "Payroll", "user": "alice"})
            wait_recording(manager, "clicks")
            xdotool(display, "mousemove", "64", "48", "click", "1")  # 10 %, 10 %
            xdotool(display, "mousemove", "480", "360", "click", "3")  # 75 %, 75 %
            xdotool(display, "mousemove", "320", "120", "click", "2")  # 50 %, 25 %
            xdotool(display, "mousemove", "160", "240", "click", "--repeat", "3", "5")  # down x3
            xdotool(display, "click", "--repeat", "2", "4")  # up x2
            xdotool(display, "type", "--delay", "20", TYPED)
            xdotool(display, "mousemove", "576", "432", "click", "--repeat", "4", "--delay", "100", "1")

            def all_in() -> bool:
                events = events_of(out, "clicks")
                keys = sum(e.count for e in of_kind(events, EventKind.KEY_ACTIVITY))
                return len(of_kind(events, EventKind.CLICK)) == 7 and keys == len(TYPED) \
                    and len(of_kind(events, EventKind.SCROLL)) == 5
            wait_for(all_in, WAIT, "every click, notch and key in the events file")
            assert manager.stop_session_recording("clicks")
            assert manager.wait_for_session("clicks", WAIT)
        finally:
            manager.shutdown()
    yield out


def copy_of(clicked: Path, tmp_path: Path) -> Path:
    target = tmp_path / "rec"
    shutil.copytree(clicked, target)
    return target


def test_clicks_and_scrolls_are_recorded_at_their_screen_percentages_and_keys_only_as_counts(clicked: Path) -> None:
    events = events_of(clicked, "clicks")
    clicks = of_kind(events, EventKind.CLICK)
    assert [(c.button, c.x, c.y) for c in clicks[:3]] == [("left", 10.0, 10.0), ("right", 75.0, 75.0),
                                                          ("middle", 50.0, 25.0)]
    assert [(c.button, c.x, c.y) for c in clicks[3:]] == [("left", 90.0, 90.0)] * 4
    scrolls = of_kind(events, EventKind.SCROLL)
    assert [(s.direction, s.amount, s.x, s.y) for s in scrolls] == \
        [("down", 1, 25.0, 50.0)] * 3 + [("up", 1, 25.0, 50.0)] * 2
    assert sum(e.count for e in of_kind(events, EventKind.KEY_ACTIVITY)) == len(TYPED)
    times = [e.t for e in clicks + scrolls]
    assert all(t > 0 for t in times) and clicks[0].t < scrolls[0].t < clicks[3].t  # the order they happened
    # what was typed is nowhere: not in the events file, not in any file of the session
    for path in clicked.iterdir():
        data = path.read_bytes()
        assert TYPED.encode() not in data and b"hunter" not in data, path.name
    # no key at all: key_activity lines hold a count and times only
    for (meta, path) in session_event_files(clicked, "clicks"):
        for line in path.read_text().splitlines()[1:]:
            record = json.loads(line)
            if record["kind"] == "key_activity":
                assert set(record) == {"kind", "at", "t", "count"}


def test_four_quick_clicks_on_one_spot_are_one_rage_click(clicked: Path) -> None:
    rage = of_kind(events_of(clicked, "clicks"), EventKind.RAGE_CLICK)
    assert len(rage) == 1
    assert (rage[0].button, rage[0].clicks, rage[0].x, rage[0].y) == ("left", 3, 90.0, 90.0)


def test_the_events_file_is_sealed_into_the_chain_and_verify_sees_it_changed_or_gone(
        clicked: Path, tmp_path: Path) -> None:
    out = copy_of(clicked, tmp_path)
    [(meta, path)] = session_event_files(out, "clicks")
    assert meta.events is not None and meta.events.sha256 and meta.events.size_bytes == path.stat().st_size
    assert verify_session(out, "clicks").ok
    text = path.read_text()
    path.write_text(text.replace('"x":10.0', '"x":11.0', 1))  # a click moved
    report = verify_session(out, "clicks")
    assert not report.ok and report.segments[0].status == "modified"
    assert "events file" in report.summary and path.name in report.summary
    path.unlink()
    report = verify_session(out, "clicks")
    assert report.segments[0].status == "missing" and "is gone" in report.summary


def test_the_json_export_lists_the_session_events_in_time_order(clicked: Path, tmp_path: Path) -> None:
    from fastrec.export.run import export_session

    outcome = export_session(clicked, "clicks", "json", output_dir=tmp_path)
    document = json.loads(outcome.path.read_text())
    kinds = [e["kind"] for e in document["events"]]
    assert kinds.count("click") == 7 and kinds.count("scroll") == 5 and kinds.count("rage_click") == 1
    assert document["events_file"].endswith("_events.jsonl") and document["events_problems"] == []
    assert [e["t"] for e in document["events"]] == sorted(e["t"] for e in document["events"])


def test_the_pdf_timeline_shows_the_events(clicked: Path, tmp_path: Path) -> None:
    from fastrec.export.run import export_session

    outcome = export_session(clicked, "clicks", "pdf", output_dir=tmp_path)
    text = subprocess.run(["pdftotext", "-layout", str(outcome.path), "-"], capture_output=True, text=True,
                          check=True, timeout=WAIT).stdout
    timeline = text.split("Timeline of events", 1)[1]
    assert "No input events recorded." not in timeline
    assert timeline.count("rage_click") == 1 and "key_activity" in timeline and "scroll" in timeline
    assert TYPED not in text


def test_retention_and_deletion_remove_the_events_file_with_its_segment_and_nothing_foreign(
        clicked: Path, tmp_path: Path) -> None:
    out = copy_of(clicked, tmp_path)
    [(_, events)] = session_event_files(out, "clicks")
    # an events-looking file no metadata names is somebody else's: never deleted
    foreign = out / "session_9_other_20200101_000000_events.jsonl"
    foreign.write_text("not ours\n")
    result = RotationManager(out, 10.0, 30, recording_grace_seconds=0).force_cleanup_by_age(0)
    assert events.name in result["deleted"] and not events.exists()
    assert {f["file"] for f in result["ignored"]} >= {foreign.name} and foreign.exists()
    assert not list(out.glob("session_clicks_*"))

    again = copy_of(clicked, tmp_path / "again")
    [(_, events)] = session_event_files(again, "clicks")
    record = delete_session(again, "clicks", by="root", reason="test")
    assert record is not None and not events.exists() and not list(again.glob("session_clicks_*"))


def test_a_window_recording_keeps_clicks_inside_it_its_title_focus_pauses_and_resumes(
        wm_display: VirtualDisplay, spawn_window: Callable[..., Any], tmp_path: Path) -> None:
    window = spawn_window(wm_display, "400x200+100+100", "#2040e0", process_name="xfreerdp")
    out = tmp_path / "rec"
    manager = manager_for(out, wm_display, mode="rdp_window")

    def seen(kind: EventKind, **fields: Any) -> Callable[[], bool]:
        return lambda: any(all(getattr(e, k) == v for k, v in fields.items())
                           for e in of_kind(events_of(out, "win"), kind))
    try:
        assert manager.start_session_recording("win", {"name": "Server"})
        x, y, width, height = wait_recording(manager, "win")["region"]
        xdotool(wm_display, "mousemove", str(x + width // 4), str(y + height // 2), "click", "1")
        xdotool(wm_display, "mousemove", str(x + width + 100), str(y + height + 100), "click", "1")  # outside
        xdotool(wm_display, "mousemove", str(x + width * 3 // 4), str(y + height // 4), "click", "3")
        wait_for(lambda: len(of_kind(events_of(out, "win"), EventKind.CLICK)) == 2, WAIT, "two clicks")
        other = spawn_window(wm_display, "200x100+700+500", "#e02020")  # takes the focus, covers nothing
        other.xdotool("windowactivate", sync=True)
        wait_for(seen(EventKind.FOCUS_CHANGE, focused=False), WAIT, "the focus leaving the window")
        window.xdotool("windowminimize", sync=True)
        wait_for(seen(EventKind.PAUSE), WAIT, "a pause")
        window.xdotool("windowactivate", sync=True)
        wait_for(seen(EventKind.RESUME), WAIT, "the resume")
        wait_for(seen(EventKind.FOCUS_CHANGE, focused=True), WAIT, "the focus back on the window")
        assert manager.stop_session_recording("win") and manager.wait_for_session("win", WAIT)
    finally:
        manager.shutdown()
        window.stop()
    events = events_of(out, "win")
    pause, resume = of_kind(events, EventKind.PAUSE)[0], of_kind(events, EventKind.RESUME)[0]
    assert pause.reason and pause.t <= resume.t
    clicks = of_kind(events, EventKind.CLICK)
    assert [(c.button, c.x, c.y) for c in clicks] == [("left", 25.0, 50.0), ("right", 75.0, 25.0)]
    titles = of_kind(events, EventKind.TITLE_CHANGE)
    assert titles and titles[0].title == window.title  # the window's title as the capture process reported it


def test_events_follow_the_rotated_parts_each_file_sealed_with_its_part(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    with VirtualDisplay(WIDTH, HEIGHT) as display:
        # a window whose text changes ten times a second: frames keep coming, parts rotate
        ticking = subprocess.Popen([sys.executable, "-c", RDP_CLIENT_SCRIPT], env=display.env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        manager = manager_for(out, display, policy=SegmentPolicy(max_seconds=1.0))
        try:
            assert manager.start_session_recording("parts", {"name": "srv"})
            wait_recording(manager, "parts")
            for n in range(3):  # one click per part
                part = wait_for(lambda: manager.get_recording_status("parts")["current_part"], WAIT, "a part")
                xdotool(display, "mousemove", str(100 + 200 * n), "400", "click", "1")
                wait_for(lambda: len(of_kind(events_of(out, "parts"), EventKind.CLICK)) == n + 1, WAIT, "the click")
                wait_for(lambda: (manager.get_recording_status("parts")["current_part"] or 0) > part, WAIT,
                         "the next part")
            assert manager.stop_session_recording("parts") and manager.wait_for_session("parts", WAIT)
        finally:
            manager.shutdown()
            ticking.kill()
            ticking.wait(WAIT)
    files = session_event_files(out, "parts")
    assert len(files) >= 2  # the clicks went to the parts open when they happened
    for meta, path in files:
        found = read_events(path)
        assert found.header is not None and found.header.part == meta.chain.part
        assert meta.events is not None and meta.events.sha256 and not found.torn
    clicks = of_kind(events_of(out, "parts"), EventKind.CLICK)
    assert [c.x for c in clicks] == [15.62, 46.88, 78.12]  # 100, 300, 500 of 640 px, two decimals
    assert verify_session(out, "parts").ok


def test_a_rage_click_raises_an_alert_on_the_live_websocket(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from fastrec.server.app import create_app
    from fastrec.server.config import ServerSettings

    out = tmp_path / "rec"
    out.mkdir(mode=0o700)
    app = create_app(ServerSettings(recordings_dir=out))
    with VirtualDisplay(WIDTH, HEIGHT) as display, TestClient(app) as client:
        app.state.ctx.accounts.create_user("alice", "correct horse battery", "auditor")
        assert client.post("/api/auth/login", json={"username": "alice", "password": "correct horse battery"}
                           ).status_code == 200
        manager = manager_for(out, display, live_announce=True)
        try:
            with client.websocket_connect("/admin/sessions/live") as socket:
                assert socket.receive_json()["type"] == "sessions_snapshot"
                assert manager.start_session_recording("angry", {"name": "Payroll"})
                wait_recording(manager, "angry")
                xdotool(display, "mousemove", "320", "240", "click", "--repeat", "3", "--delay", "150", "1")
                alert = None
                while alert is None:  # session updates arrive every 2 s; the test's timeout guards a hang
                    message = socket.receive_json()
                    if message["type"] == "alert" and message["alert"]["kind"] == "rage_click":
                        alert = message["alert"]
        finally:
            manager.shutdown()
    assert alert["session_id"] == "angry" and alert["details"]["clicks"] == 3
    assert alert["details"]["x_percent"] == 50.0 and alert["details"]["y_percent"] == 50.0
    assert "rage click" in alert["message"]
    assert len(of_kind(events_of(out, "angry"), EventKind.RAGE_CLICK)) == 1


HOST_SCRIPT = textwrap.dedent("""
    import sys, time
    from fastrec.manager import RecordingManager
    from fastrec.settings import load_settings
    manager = RecordingManager(load_settings(enabled=True, output_dir=sys.argv[1], encoder_workers=1, fps=10,
                                             live_announce=False),
                               mode="full_screen", display=sys.argv[2], cleanup_schedule=False)
    assert manager.start_session_recording("killed", {"name": "srv"})
    while True:
        status = manager.get_recording_status("killed")
        if status.get("region") and not status.get("paused"):
            break
        time.sleep(0.05)
    print("recording", flush=True)
    time.sleep(3600)  # until it is killed
""")


def test_a_recorder_killed_with_sigkill_leaves_a_readable_events_file_that_recovery_seals(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    with VirtualDisplay(WIDTH, HEIGHT) as display:
        env = {**display.env, "PYTHONPATH": os.pathsep.join(sys.path)}
        host = subprocess.Popen([sys.executable, "-c", HOST_SCRIPT, str(out), display.display], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            assert host.stdout is not None
            for line in host.stdout:  # log lines, then "recording" (EOF: it died, and the assert says so)
                if line.strip() == b"recording":
                    break
            assert host.poll() is None, "the recorder exited before it recorded"
            xdotool(display, "mousemove", "64", "48", "click", "--repeat", "2", "--delay", "400", "1")

            def two_clicks() -> list[Path] | None:
                files = list(out.glob("*_events.jsonl"))
                return files if files and len(of_kind(list(read_events(files[0]).events), EventKind.CLICK)) == 2 \
                    else None
            [path] = wait_for(two_clicks, WAIT, "two clicks in the events file")
            engine = psutil.Process(host.pid).children(recursive=True)  # in process groups of their own
            os.killpg(host.pid, signal.SIGKILL)
            host.wait(WAIT)
            # the engine's processes outlive the host only to finish the video they hold
            wait_for(lambda: not [p for p in engine if p.is_running() and p.status() != psutil.STATUS_ZOMBIE],
                     WAIT, "the engine's processes to finish")
        finally:
            if host.poll() is None:
                os.killpg(host.pid, signal.SIGKILL)
                host.wait(WAIT)
    found = read_events(path)
    assert found.header is not None and found.header.session_id == "killed"
    assert [(e.x, e.y) for e in found.events if e.kind == EventKind.CLICK] == [(10.0, 10.0)] * 2
    assert not found.skipped and path.read_bytes().endswith(b"\n")
    # the next recorder seals the killed one's part, its events file included
    with RecordingManager(load_settings(enabled=True, output_dir=str(out), encoder_workers=1, live_announce=False),
                          mode="synthetic", cleanup_schedule=False) as manager:
        assert manager.initialize()
    meta = read_metadata(next(out.glob("*_metadata.json")))
    assert meta.status == "interrupted" and meta.events is not None and meta.events.sha256
    report = verify_session(out, "killed")
    assert report.ok, report.summary
