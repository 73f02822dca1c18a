"""The audit log and its enum conversions (the reference's service-layer methods)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from fastrec.server.audit import ActorType, AuditAction, AuditCodes, AuditLog, AuditStatus, DeviceType
from fastrec.server.db import ADMIN_DB_FILE, AdminDatabase


@pytest.mark.parametrize(("kind", "to_number", "to_string"), [
    (DeviceType, AuditCodes.device_type_to_number, AuditCodes.device_type_to_string),
    (ActorType, AuditCodes.actor_type_to_number, AuditCodes.actor_type_to_string),
    (AuditStatus, None, AuditCodes.status_to_string),
])
def test_every_value_round_trips(kind, to_number, to_string) -> None:
    for member in kind:
        name = member.name.lower()
        assert to_string(int(member)) == name
        if to_number is not None:
            assert to_number(name) == int(member)
            assert to_number(name.upper()) == int(member)


def test_status_to_number_and_errors_name_what_is_allowed() -> None:
    assert AuditCodes.status_to_number("denied") == 3
    with pytest.raises(ValueError, match=r"DeviceType='phone': must be one of unknown, desktop, mobile, tablet, bot"):
        AuditCodes.device_type_to_number("phone")
    with pytest.raises(ValueError, match=r"AuditStatus=9: must be one of 1, 2, 3"):
        AuditCodes.status_to_string(9)
    with pytest.raises(ValueError, match="ActorType"):
        AuditCodes.actor_type_to_string(-1)


@pytest.mark.parametrize(("agent", "device"), [
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36", DeviceType.DESKTOP),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile/15E148", DeviceType.MOBILE),
    ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)", DeviceType.TABLET),
    ("Mozilla/5.0 (Linux; Android 14; SM-X700)", DeviceType.TABLET),
    ("curl/8.5.0", DeviceType.BOT),
    (None, DeviceType.UNKNOWN),
])
def test_device_type_from_the_user_agent(agent: str | None, device: DeviceType) -> None:
    assert AuditCodes.device_type_of(agent) is device


def test_records_are_filtered_and_exported(tmp_path: Path, database_url: str | None) -> None:
    with AdminDatabase(tmp_path / ADMIN_DB_FILE, database_url=database_url) as db:
        log = AuditLog(db)
        log.record(AuditAction.LOGIN, actor="mallory", actor_type=ActorType.ANONYMOUS,
                   status=AuditStatus.FAILURE, address="10.0.0.9", user_agent="curl/8")
        log.record(AuditAction.VIEW, actor="=cmd|' /C calc'!A0", actor_type=ActorType.USER, target="rdp_1")
        log.record(AuditAction.DELETE, actor="root", actor_type=ActorType.USER, target="rdp_1",
                   details={"reason": "test data"})
        failed, total = log.query(status="failure")
        assert total == 1 and failed[0].actor == "mallory" and failed[0].address == "10.0.0.9"
        assert failed[0].device_type == "bot" and failed[0].actor_type == "anonymous"
        newest, total = log.query(target="rdp_1")
        assert total == 2 and [e.action for e in newest] == ["delete", "view"]
        rows = list(csv.DictReader(io.StringIO(log.to_csv(newest))))
        assert rows[0]["details"] == '{"reason": "test data"}'
        assert rows[1]["actor"].startswith("'=")  # a spreadsheet formula stays text
        assert json.loads(log.to_json(newest))[0]["action"] == "delete"
