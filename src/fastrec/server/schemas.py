"""The JSON shapes of the admin API (what the OpenAPI schema publishes and the UI reads)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fastrec.policy.document import MAX_DOCUMENT_CHARS
from fastrec.policy.store import MAX_COMMENT
from fastrec.server.accounts import MAX_PASSWORD, Role

Text = Annotated[str, Field(max_length=2000)]
Name = Annotated[str, Field(min_length=1, max_length=64)]


class ErrorOut(BaseModel):
    """Every error of the API: one sentence naming the field, the value and what is allowed.
    An error in a document (the recording policy) also gives the ``line`` and ``column`` of
    its first problem (``detail`` lists every problem, one per line)."""

    detail: str
    line: int | None = Field(default=None, description="first problem's line in the document (from 1)")
    column: int | None = Field(default=None, description="its column (from 1)")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(Strict):
    username: Name
    password: Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD)]


class UserOut(BaseModel):
    name: str
    role: Role
    created_at: datetime
    disabled: bool


class Me(BaseModel):
    user: UserOut
    csrf_token: str | None = None


class UserCreate(Strict):
    name: Name
    password: Annotated[str, Field(min_length=8, max_length=MAX_PASSWORD)]
    role: Role = Role.VIEWER


class UserUpdate(Strict):
    role: Role | None = None
    password: Annotated[str, Field(min_length=8, max_length=MAX_PASSWORD)] | None = None
    disabled: bool | None = None


class TokenCreate(Strict):
    label: Annotated[str, Field(min_length=1, max_length=100)]


class TokenOut(BaseModel):
    id: str
    user: str
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="the secret; shown only in this response")


class ReviewOut(BaseModel):
    id: int
    user: str
    at: datetime
    note: str


class ReviewIn(Strict):
    note: Text = ""


class BookmarkIn(Strict):
    moment: datetime = Field(description="the wall-clock time of the replay moment")
    note: Annotated[str, Field(min_length=1, max_length=2000)]


class BookmarkOut(BaseModel):
    id: int
    moment: datetime
    note: str
    user: str
    created_at: datetime


class SessionOut(BaseModel):
    session_id: str
    con_codigo: str | None
    server: str | None
    user: str | None
    ip: str | None
    connection_type: str | None
    start_time: datetime
    end_time: datetime | None
    parts: int
    size_bytes: int
    recording: bool
    statuses: list[str]
    reviewed: ReviewOut | None = None


class SessionPage(BaseModel):
    total: int
    offset: int
    limit: int
    sessions: list[SessionOut]


class SegmentOut(BaseModel):
    part: int
    file: str
    start_time: datetime
    end_time: datetime | None
    status: str
    size_bytes: int | None
    sha256: str | None
    chain_hash: str | None = None
    frames: dict[str, int] = Field(default_factory=dict)
    errors: list[str] = Field(default_factory=list)
    pauses: list[dict[str, Any]] = Field(default_factory=list)
    window_titles: list[dict[str, Any]] = Field(default_factory=list)


class IntegrityPart(BaseModel):
    part: int
    file: str | None
    status: str
    problems: list[str]
    notes: list[str]


class DeletionRecordOut(BaseModel):
    """A deletion record of the session (fastrec_deletions.jsonl) and its signature's verdict."""

    parts: list[int]
    by: str
    at: datetime
    reason: str
    key_id: str | None = Field(description="the key that signed it; null: unsigned")
    signature: Literal["verified", "refused", "not checked"] = Field(
        description="verified with the server's signing keys; refused (its parts count as missing); "
                    "not checked (no signing key configured)")
    problem: str | None = None


class IntegrityOut(BaseModel):
    ok: bool
    summary: str
    parts: list[IntegrityPart]
    signatures_checked: bool = False  # False: no signing key configured on the server
    signatures: str = ""  # how the signatures were checked, or why not
    deletions: list[DeletionRecordOut] = Field(default_factory=list, description="the session's deletion records")
    deletion_log: list[str] = Field(default_factory=list, description="problems of the deletion log's own chain")


class SessionDetail(BaseModel):
    session: SessionOut
    segments: list[SegmentOut]
    integrity: IntegrityOut | None
    reviews: list[ReviewOut]
    bookmarks: list[BookmarkOut]


class DeleteRequest(Strict):
    session_ids: Annotated[list[Annotated[str, Field(min_length=1, max_length=1024)]],
                           Field(min_length=1, max_length=1000)]
    reason: Text = ""


class DeleteResult(BaseModel):
    deleted: list[str]
    not_found: list[str]
    refused: dict[str, str]


class ShareRequest(BaseModel):
    expiresIn: Literal["1h", "24h", "7d", "30d", "never"] = "24h"  # noqa: N815 - the reference's name
    startAt: datetime | None = None  # noqa: N815


class ShareOut(BaseModel):
    id: str
    session_id: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    start_at: datetime | None
    state: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None


class ShareCreated(ShareOut):
    url: str = Field(description="the link; its token is shown only in this response")
    token: str


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str | None
    actor_type: str
    action: str
    target: str | None
    status: str
    address: str | None
    user_agent: str | None
    device_type: str
    details: dict[str, Any]


class AuditPage(BaseModel):
    total: int
    offset: int
    limit: int
    entries: list[AuditOut]


class UiConfig(BaseModel):
    """What the web UI reads from the server's settings (GET /api/ui-config)."""

    ws_reconnect_base_delay: int = Field(description="ms, FASTREC_WS_RECONNECT_BASE_DELAY")
    ws_reconnect_max_delay: int = Field(description="ms, FASTREC_WS_RECONNECT_MAX_DELAY")
    ws_reconnect_max_attempts: int = Field(description="FASTREC_WS_RECONNECT_MAX_ATTEMPTS")
    idle_seconds: float
    share_expiry_choices: list[str]
    audit_actions: list[str] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=list)
    permissions: list[str] = Field(default_factory=list,
                                   description="what the signed-in user may do with recordings under the "
                                               "active recording policy: view, export, share")


# --- the recording policy ---

PolicyText = Annotated[str, Field(max_length=MAX_DOCUMENT_CHARS, description="the YAML document")]
PolicyComment = Annotated[str, Field(min_length=1, max_length=MAX_COMMENT)]
VersionNumber = Annotated[int, Field(ge=0, le=2**63 - 1, description="0 is the default policy")]


class PolicyVersionSummary(BaseModel):
    version: int = Field(description="0: the default policy (nothing saved yet)")
    created_at: datetime | None
    author: str
    comment: str
    sha256: str
    rolled_back_from: int | None = Field(description="the version this one restored, or null")
    active: bool


class PolicyVersionOut(PolicyVersionSummary):
    text: str


class PolicyCheckIn(Strict):
    text: PolicyText


class PolicyCheckOut(BaseModel):
    """A valid document, summed up (an invalid one is a 422 with the line of each problem)."""

    valid: Literal[True] = True
    default_action: Literal["record", "skip"]
    connection_rules: int
    privacy_rules: int
    presets: list[str]


class PolicySaveIn(Strict):
    text: PolicyText
    comment: PolicyComment
    base_version: VersionNumber | None = Field(
        default=None, description="the version the change was made on: refused (409) when another was saved since")


class PolicyRollbackIn(Strict):
    version: VersionNumber
    comment: PolicyComment
    base_version: VersionNumber | None = None


class PolicyDiffLine(BaseModel):
    kind: Literal["equal", "add", "remove"]
    text: str
    old: int | None = Field(description="line number in the old version")
    new: int | None = Field(description="line number in the new version")


class PolicyDiffOut(BaseModel):
    from_version: int
    to_version: int
    additions: int
    deletions: int
    lines: list[PolicyDiffLine]


class ExportRequest(Strict):
    """An export of one session: ``from``/``to`` as seconds from the session start or ISO 8601
    wall-clock times (mp4 and pdf; the JSON export is always the whole session)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    format: Literal["json", "mp4", "pdf"]
    start: Annotated[str | None, Field(default=None, alias="from", max_length=64,
                                       description="seconds from the session start (e.g. 90) or an ISO 8601 time")]
    end: Annotated[str | None, Field(default=None, alias="to", max_length=64, description="like from")]


class ExportOut(BaseModel):
    """An export job: its state, progress (percent) and, once done, where to download it."""

    id: str
    session_id: str
    format: Literal["json", "mp4", "pdf"]
    state: Literal["queued", "running", "done", "failed"]
    progress: float = Field(ge=0, le=100, description="percent done")
    message: str
    error: str | None = None
    requested_by: str
    created_at: datetime
    file_name: str | None = None
    size_bytes: int | None = None
    start: datetime | None = Field(default=None, description="wall-clock start of what the file covers")
    end: datetime | None = None
    notes: list[str] = Field(default_factory=list, description="parts let through unverified, frames re-encoded")
    download: str | None = Field(default=None, description="the file's URL once done")


class ClickStatsOut(BaseModel):
    """Clicks counted per 1 % x 1 % point of the recorded region."""

    total: int
    points: int
    max_per_point: int
    average_per_point: float
    hottest: tuple[float, float] | None = Field(default=None, description="x, y percent of the busiest point")


class ScrollDepthOut(BaseModel):
    """Vertical wheel notches by the pointer's height (percent of the region) when turned."""

    notches: int
    buckets: list[int] = Field(description="20 counts of notches: 0-5 %, 5-10 %, ... 95-100 % from the top")
    average_depth: float | None = Field(description="notch-weighted average, percent; null without notches")


class HeatmapOut(BaseModel):
    """The numbers behind a session's heatmaps (of ``from``..``to`` when given)."""

    session_id: str
    start: datetime | None = Field(description="the range's wall-clock start; null: the whole session")
    end: datetime | None
    clicks: ClickStatsOut
    scroll: ScrollDepthOut
    problems: list[str] = Field(default_factory=list, description="events files or lines that were skipped")


class EventsOut(BaseModel):
    """A session's input events in time order (see README "Input events": each has ``kind``,
    ``at``, ``t`` and its kind's fields)."""

    session_id: str
    events: list[dict[str, Any]]
    problems: list[str] = Field(default_factory=list)


class SearchHitOut(BaseModel):
    session_id: str
    server: str | None
    user: str | None
    moment: datetime = Field(description="where the replay opens")
    kind: str = Field(description="title, session, or the event kind")
    text: str
    title: str | None = Field(default=None, description="the window title shown at the moment, when known")
    replay: str = Field(description="the admin UI's replay at the moment: /replay/{id}?t=...")


class SearchOut(BaseModel):
    hits: list[SearchHitOut]
    sessions: int = Field(description="sessions the server/user/time filters selected")
    truncated: bool = Field(description="more hits than the limit")
    problems: list[str] = Field(default_factory=list)
