"""The events file on its own: what a killed writer leaves is read back whole-line by
whole-line, damaged lines are skipped and named, the writer never writes through a
planted link; the rage-click rule; the Windows input source says plainly that it cannot
run here."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fastrec.events.file import EventsWriter, read_events
from fastrec.events.model import Click, EventKind, EventsHeader, KeyActivity, MouseButton
from fastrec.events.rage import RageDetector, RageRule, parse_rage_rule
from fastrec.events.source import InputUnavailable

START = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
HEADER = EventsHeader(session_id="s1", part=1, session_start=START)


def _click(t: float, x: float = 10.0) -> Click:
    return Click(at=START, t=t, button=MouseButton.LEFT, x=x, y=20.0)


def test_a_torn_last_line_and_damaged_lines_are_skipped_and_the_rest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "session_1_events.jsonl"
    writer = EventsWriter(path, HEADER)
    writer.write(_click(1.0))
    writer.write(KeyActivity(at=START, t=2.0, count=5))
    writer.write(_click(3.0, x=99.5))
    writer.close()
    with open(path, "ab") as handle:  # what a recorder killed mid-write leaves, after a bad line
        handle.write(b'{"kind": "click", "t": "soon"}\n{"at": "2026-01-02T03:04:0')
    found = read_events(path)
    assert found.header == HEADER
    assert [e.kind for e in found.events] == [EventKind.CLICK, EventKind.KEY_ACTIVITY, EventKind.CLICK]
    assert found.events[2].x == 99.5 and found.events[1].count == 5
    assert found.torn is True
    assert len(found.skipped) == 1 and found.skipped[0].startswith("line 5: not a valid event")


def test_the_writer_never_writes_through_a_planted_link_or_over_a_file(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "session_1_events.jsonl"
    link.symlink_to(victim)
    with pytest.raises(FileExistsError):
        EventsWriter(link, HEADER)
    assert victim.read_text() == "keep me"
    existing = tmp_path / "session_2_events.jsonl"
    existing.write_text("recorded before\n")
    with pytest.raises(FileExistsError):
        EventsWriter(existing, HEADER)
    assert existing.read_text() == "recorded before\n"


def test_the_file_is_private(tmp_path: Path) -> None:
    writer = EventsWriter(tmp_path / "session_1_events.jsonl", HEADER)
    writer.close()
    assert os.stat(writer.path).st_mode & 0o777 == 0o600


def test_three_clicks_on_one_spot_in_two_seconds_are_one_rage_burst() -> None:
    rage = RageDetector(parse_rage_rule("3/8px/2s"))
    assert rage.click(100, 100, 0.0, "left") is None
    assert rage.click(104, 103, 0.5, "left") is None
    burst = rage.click(101, 99, 1.0, "left")
    assert burst is not None and burst.clicks == 3 and burst.first == 0.0
    assert rage.click(100, 100, 1.3, "left") is None  # the same burst goes on: reported once
    # spread out in time, in space, or across buttons: no burst
    calm = RageDetector(RageRule(3, 8.0, 2.0))
    assert [calm.click(100, 100, t, "left") for t in (0.0, 1.5, 3.1, 4.7)] == [None] * 4
    assert [calm.click(x, 300, 10 + x / 100, "left") for x in (0, 20, 40)] == [None] * 3
    assert [calm.click(500, 500, 20 + i / 10, b) for i, b in enumerate(("left", "right", "left"))] == [None] * 3


def test_the_windows_input_hooks_say_they_are_not_available_here() -> None:
    """Only the interface and the refusal can be tested on Linux; the hooks themselves need
    a real Windows (README, "What only a real Windows can show")."""
    from fastrec.events.win32 import Win32HookSource

    with pytest.raises(InputUnavailable, match="not available on linux"):
        Win32HookSource()
