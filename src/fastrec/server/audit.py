"""The audit log: who did what, when, from where — and the enum conversions it stores.

The reference (session-recording-features.md, "Audit Service Refactoring") keeps device
type, actor type and status as numbers in storage and strings at the API, converted in one
service layer; here that layer is :class:`AuditCodes`, used by :class:`AuditLog` alone.
An unknown string or number is a clear ``ValueError``, never a silent default.

The log is append-only through this API: nothing here updates or deletes an entry.
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Any

from fastrec.server.db import AdminDatabase

__all__ = ["ActorType", "AuditAction", "AuditCodes", "AuditEntry", "AuditLog", "AuditStatus", "DeviceType"]


class DeviceType(IntEnum):
    UNKNOWN = 0
    DESKTOP = 1
    MOBILE = 2
    TABLET = 3
    BOT = 4


class ActorType(IntEnum):
    ANONYMOUS = 0
    USER = 1
    API_TOKEN = 2
    SHARE_LINK = 3
    SYSTEM = 4


class AuditStatus(IntEnum):
    SUCCESS = 1
    FAILURE = 2
    DENIED = 3


class AuditAction(StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    VIEW = "view"
    EXPORT = "export"
    EXPORT_REQUESTED = "export.requested"  # an export job started (details: job, format, from, to)
    EXPORT_DOWNLOADED = "export.downloaded"  # its file fetched (details: job, format, bytes)
    SHARE_CREATE = "share.create"
    SHARE_ACCESS = "share.access"
    SHARE_REVOKE = "share.revoke"
    REVIEW = "review"
    BOOKMARK = "bookmark"
    DELETE = "delete"
    USER_CREATE = "user.create"
    USER_UPDATE = "user.update"
    USER_DELETE = "user.delete"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    POLICY_SAVE = "policy.save"  # a new recording-policy version (details: version, comment, +/- lines)
    SHRED = "shred"  # a session's encryption key destroyed: its recordings unrecoverable (details: kek_id)
    POLICY_ROLLBACK = "policy.rollback"  # an old version made active again as a new one


class AuditCodes:
    """String <-> number conversions of the stored enums (the reference's service methods)."""

    @staticmethod
    def _to_number(kind: type[IntEnum], value: str) -> int:
        try:
            return int(kind[str(value).strip().upper().replace("-", "_")])
        except KeyError:
            allowed = ", ".join(m.name.lower() for m in kind)
            raise ValueError(f"{kind.__name__}={value!r}: must be one of {allowed}") from None

    @staticmethod
    def _to_string(kind: type[IntEnum], value: int) -> str:
        try:
            return kind(value).name.lower()
        except ValueError:
            allowed = ", ".join(str(int(m)) for m in kind)
            raise ValueError(f"{kind.__name__}={value!r}: must be one of {allowed}") from None

    @classmethod
    def device_type_to_number(cls, value: str) -> int:
        return cls._to_number(DeviceType, value)

    @classmethod
    def device_type_to_string(cls, value: int) -> str:
        return cls._to_string(DeviceType, value)

    @classmethod
    def actor_type_to_number(cls, value: str) -> int:
        return cls._to_number(ActorType, value)

    @classmethod
    def actor_type_to_string(cls, value: int) -> str:
        return cls._to_string(ActorType, value)

    @classmethod
    def status_to_number(cls, value: str) -> int:
        return cls._to_number(AuditStatus, value)

    @classmethod
    def status_to_string(cls, value: int) -> str:
        return cls._to_string(AuditStatus, value)

    @staticmethod
    def device_type_of(user_agent: str | None) -> DeviceType:
        """A coarse device type from a User-Agent header (what an auditor filters by)."""
        ua = (user_agent or "").lower()
        if not ua:
            return DeviceType.UNKNOWN
        if any(word in ua for word in ("bot", "crawler", "spider", "curl/", "python-", "httpx", "wget")):
            return DeviceType.BOT
        if "ipad" in ua or "tablet" in ua or ("android" in ua and "mobile" not in ua):
            return DeviceType.TABLET
        if "mobile" in ua or "iphone" in ua:
            return DeviceType.MOBILE
        return DeviceType.DESKTOP


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit record as the API shows it (enums as strings, time as ISO 8601)."""

    id: int
    at: str
    actor: str | None
    actor_type: str
    action: str
    target: str | None
    status: str
    address: str | None
    user_agent: str | None
    device_type: str
    details: dict[str, Any]


EXPORT_COLUMNS = tuple(AuditEntry.__slots__)  # type: ignore[attr-defined]


class AuditLog:
    """Append and query audit records in the admin database."""

    def __init__(self, db: AdminDatabase) -> None:
        self.db = db

    def record(self, action: AuditAction, *, actor: str | None, actor_type: ActorType,
               status: AuditStatus = AuditStatus.SUCCESS, target: str | None = None,
               address: str | None = None, user_agent: str | None = None,
               details: dict[str, Any] | None = None) -> int:
        """Append one record; returns its id."""
        with self.db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO audit_log (at, actor, actor_type, action, target, status, address, user_agent, "
                "device_type, details) VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING id",
                (time.time(), actor, int(actor_type), str(action), target, int(status), address,
                 (user_agent or None) and user_agent[:512], int(AuditCodes.device_type_of(user_agent)),
                 json.dumps(details or {}, sort_keys=True)))
            return int(cursor.fetchone()[0])

    def query(self, *, since: datetime | None = None, until: datetime | None = None,
              actor: str | None = None, action: str | None = None, target: str | None = None,
              status: str | None = None, limit: int = 100, offset: int = 0) -> tuple[list[AuditEntry], int]:
        """Entries matching every given filter, newest first, and the total that match."""
        clauses: list[str] = []
        params: list[Any] = []
        if since is not None:
            clauses.append("at >= ?")
            params.append(since.timestamp())
        if until is not None:
            clauses.append("at <= ?")
            params.append(until.timestamp())
        for column, value in (("actor", actor), ("action", action), ("target", target)):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if status:
            clauses.append("status = ?")
            params.append(AuditCodes.status_to_number(status))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        total = int(self.db.read(f"SELECT COUNT(*) FROM audit_log {where}", params)[0][0])
        rows = self.db.read(f"SELECT * FROM audit_log {where} ORDER BY id DESC LIMIT ? OFFSET ?",
                            [*params, limit, offset])
        return [_entry(r) for r in rows], total

    @staticmethod
    def to_csv(entries: list[AuditEntry]) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        for entry in entries:
            row = asdict(entry)
            row["details"] = json.dumps(row["details"], sort_keys=True)
            # a cell starting with = + - @ is a formula in a spreadsheet: keep it text
            writer.writerow([_safe_cell(row[c]) for c in EXPORT_COLUMNS])
        return out.getvalue()

    @staticmethod
    def to_json(entries: list[AuditEntry]) -> str:
        return json.dumps([asdict(e) for e in entries], indent=1)


def _safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row["id"], at=datetime.fromtimestamp(row["at"], UTC).isoformat(timespec="milliseconds"),
        actor=row["actor"], actor_type=AuditCodes.actor_type_to_string(row["actor_type"]),
        action=row["action"], target=row["target"], status=AuditCodes.status_to_string(row["status"]),
        address=row["address"], user_agent=row["user_agent"],
        device_type=AuditCodes.device_type_to_string(row["device_type"]),
        details=json.loads(row["details"] or "{}"))
