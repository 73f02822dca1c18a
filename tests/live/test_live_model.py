"""The live events' JSON: every message names its type, parses back to the same typed event,
keys sessions by host and id, and never carries a path or an unknown shape unnoticed."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from pydantic import ValidationError

from fastrec.live.model import (
    AlertKind,
    AlertRaised,
    EndReason,
    LiveAlert,
    LiveSession,
    LiveSessionEnded,
    LiveSessionStarted,
    LiveSessionUpdated,
    SessionsSnapshot,
    dump_event,
    parse_event,
)

NOW = datetime.now().astimezone()


def _session(host: str = "gw1", session_id: str = "42", **kw: object) -> LiveSession:
    return LiveSession(host=host, session_id=session_id, pid=100, state="recording", mode="rdp_window",
                       con_codigo=7, name="Payroll", user="alice", started_at=NOW, updated_at=NOW, **kw)


@pytest.mark.parametrize("event", [
    SessionsSnapshot(sessions=[_session()], at=NOW),
    LiveSessionStarted(session=_session()),
    LiveSessionUpdated(session=_session(paused=True, pause_reason="window minimised", occluded=False)),
    LiveSessionEnded.of(_session(), EndReason.GONE, NOW),
    AlertRaised(alert=LiveAlert(kind=AlertKind.RECORDING_ERROR, host="gw1", session_id="42",
                                message="encoder died", at=NOW)),
], ids=lambda e: e.type)
def test_every_event_is_json_with_its_type_and_parses_back(event) -> None:
    text = dump_event(event)
    data = json.loads(text)
    assert data["type"] == event.type
    assert parse_event(text) == event
    assert parse_event(data) == event


def test_shapes_a_browser_relies_on() -> None:
    ended = json.loads(dump_event(LiveSessionEnded.of(_session(), EndReason.GONE, NOW)))
    assert (ended["key"], ended["host"], ended["session_id"], ended["reason"]) == ("gw1/42", "gw1", "42",
                                                                                   "recorder gone")
    alert = json.loads(dump_event(AlertRaised(alert=LiveAlert(kind=AlertKind.DISK_NEARLY_FULL, host="gw1",
                                                              message="low", at=NOW, details={"free_bytes": 5}))))
    assert alert["alert"]["kind"] == "disk_nearly_full" and alert["alert"]["key"] is None
    assert alert["alert"]["details"] == {"free_bytes": 5}


def test_one_session_id_on_two_gateways_is_two_sessions() -> None:
    assert _session("gw1").key != _session("gw2").key
    with pytest.raises(ValidationError, match="host"):
        _session("gw1/evil")  # would make keys ambiguous


def test_the_current_file_is_a_name_never_a_path() -> None:
    assert _session(current_file="session_42_Payroll_20250101_120000.mp4").current_file
    for bad in ("/srv/rec/x.mp4", "..", "C:\\rec\\x.mp4"):
        with pytest.raises(ValidationError, match="current_file"):
            _session(current_file=bad)


def test_an_unknown_type_or_a_bad_field_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="session_paused"):
        parse_event('{"type": "session_paused"}')
    with pytest.raises(ValidationError, match="reason"):
        parse_event(json.dumps({**json.loads(dump_event(LiveSessionEnded.of(_session(), EndReason.STOPPED, NOW))),
                                "reason": "bored"}))


def test_fields_from_a_newer_recorder_are_ignored_not_fatal() -> None:
    data = json.loads(dump_event(LiveSessionUpdated(session=_session())))
    data["session"]["gpu_temperature"] = 71
    assert parse_event(data).session.session_id == "42"
