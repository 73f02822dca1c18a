"""Share links: read-only access to one recording, without login, until the link expires.

A link carries a 32-byte token from :mod:`secrets`; only the token's SHA-256 is stored,
under ``SESSION_SHARE_LINK_PREFIX``, so neither a database copy nor a Redis dump opens a
recording.  Expiry choices are the reference's (1h, 24h, 7d, 30d, never); "never" is
capped by ``SESSION_SHARE_LINK_MAX_TTL``, so every link expires.

Two stores behind one interface (:class:`ShareStore`): SQLite in the admin database (one
machine) and Redis/Valkey with a TTL per key (``FASTREC_REDIS_URL``: every admin server of
a fleet sees the same links).  A revoked link stays stored, marked, until it would have
expired, so its page can say "revoked" rather than "unknown".
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Protocol

from fastrec.server.accounts import hash_secret, new_secret
from fastrec.server.db import AdminDatabase

__all__ = ["EXPIRY_CHOICES", "RedisShareStore", "ShareLink", "ShareState", "ShareStore", "SqliteShareStore",
           "share_ttl"]

#: the reference's expiresIn values, in seconds ("never": the configured maximum)
EXPIRY_CHOICES: dict[str, int | None] = {"1h": 3600, "24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400,
                                         "never": None}
TOKEN_BYTES = 32


class ShareState(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    UNKNOWN = "unknown"  # never issued, or expired long enough ago to be forgotten


@dataclass(frozen=True, slots=True)
class ShareLink:
    id: str
    session_id: str
    created_by: str
    created_at: float
    expires_at: float
    start_at: float | None = None     # wall clock the replay opens at
    revoked_at: float | None = None
    revoked_by: str | None = None

    def state(self, now: float | None = None) -> ShareState:
        if self.revoked_at is not None:
            return ShareState.REVOKED
        return ShareState.VALID if (now or time.time()) < self.expires_at else ShareState.EXPIRED


def share_ttl(expires_in: str, max_ttl_seconds: int) -> int:
    """Seconds a link lives for ``expires_in``; ValueError naming the allowed values."""
    if expires_in not in EXPIRY_CHOICES:
        raise ValueError(f"expiresIn={expires_in!r}: must be one of {', '.join(EXPIRY_CHOICES)}")
    ttl = EXPIRY_CHOICES[expires_in]
    return max_ttl_seconds if ttl is None else min(ttl, max_ttl_seconds)


class ShareStore(Protocol):
    def create(self, session_id: str, created_by: str, ttl_seconds: int,
               start_at: float | None = None) -> tuple[ShareLink, str]:
        """A new link and its token (returned only now)."""
        ...

    def resolve(self, token: str) -> tuple[ShareState, ShareLink | None]:
        ...

    def list(self, session_id: str | None = None) -> list[ShareLink]:
        """Links not yet forgotten (valid, expired or revoked), newest first."""
        ...

    def revoke(self, link_id: str, by: str) -> ShareLink | None:
        """Revoke a link; the link, or None when there is no such link."""
        ...

    def close(self) -> None:
        ...


def _new(session_id: str, created_by: str, ttl_seconds: int, start_at: float | None) -> tuple[ShareLink, str]:
    token = new_secret(TOKEN_BYTES)
    now = time.time()
    return ShareLink(new_secret(9), session_id, created_by, now, now + ttl_seconds, start_at), token


class SqliteShareStore:
    """Share links in the admin database; expired rows are forgotten a day after expiry."""

    KEEP_EXPIRED = 86_400

    def __init__(self, db: AdminDatabase) -> None:
        self.db = db

    def create(self, session_id: str, created_by: str, ttl_seconds: int,
               start_at: float | None = None) -> tuple[ShareLink, str]:
        link, token = _new(session_id, created_by, ttl_seconds, start_at)
        with self.db.write() as conn:
            conn.execute("DELETE FROM share_links WHERE expires_at < ?", (time.time() - self.KEEP_EXPIRED,))
            conn.execute("INSERT INTO share_links (id, token_hash, session_id, created_by, created_at, expires_at, "
                         "start_at) VALUES (?,?,?,?,?,?,?)",
                         (link.id, hash_secret(token), link.session_id, link.created_by, link.created_at,
                          link.expires_at, link.start_at))
        return link, token

    def resolve(self, token: str) -> tuple[ShareState, ShareLink | None]:
        rows = self.db.read("SELECT * FROM share_links WHERE token_hash = ?", (hash_secret(token),))
        if not rows:
            return ShareState.UNKNOWN, None
        link = _link(rows[0])
        return link.state(), link

    def list(self, session_id: str | None = None) -> list[ShareLink]:
        cutoff = time.time() - self.KEEP_EXPIRED
        if session_id is None:
            rows = self.db.read("SELECT * FROM share_links WHERE expires_at >= ? ORDER BY created_at DESC", (cutoff,))
        else:
            rows = self.db.read("SELECT * FROM share_links WHERE session_id = ? AND expires_at >= ? "
                                "ORDER BY created_at DESC", (session_id, cutoff))
        return [_link(r) for r in rows]

    def revoke(self, link_id: str, by: str) -> ShareLink | None:
        with self.db.write() as conn:
            conn.execute("UPDATE share_links SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL",
                         (time.time(), by, link_id))
            row = conn.execute("SELECT * FROM share_links WHERE id = ?", (link_id,)).fetchone()
        return None if row is None else _link(row)

    def close(self) -> None:
        pass  # the database belongs to the server


def _link(row: Any) -> ShareLink:
    return ShareLink(row["id"], row["session_id"], row["created_by"], row["created_at"], row["expires_at"],
                     row["start_at"], row["revoked_at"], row["revoked_by"])


class RedisShareStore:
    """Share links in Redis/Valkey: ``{prefix}:{token hash}`` holds the link as JSON with a TTL
    (Redis forgets it when it expires); ``{prefix}:ids`` maps link ids to token hashes for
    listing and revoking (entries whose link is gone are pruned as they are met)."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis  # only a fleet server needs it

        self.prefix = prefix
        self._redis = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5,
                                           socket_connect_timeout=5)

    def _key(self, token_hash: str) -> str:
        return f"{self.prefix}:{token_hash}"

    @property
    def _ids(self) -> str:
        return f"{self.prefix}:ids"

    def create(self, session_id: str, created_by: str, ttl_seconds: int,
               start_at: float | None = None) -> tuple[ShareLink, str]:
        link, token = _new(session_id, created_by, ttl_seconds, start_at)
        digest = hash_secret(token)
        with self._redis.pipeline() as pipe:
            pipe.set(self._key(digest), json.dumps(asdict(link)), ex=ttl_seconds)
            pipe.hset(self._ids, link.id, digest)
            pipe.execute()
        return link, token

    def resolve(self, token: str) -> tuple[ShareState, ShareLink | None]:
        raw = self._redis.get(self._key(hash_secret(token)))
        if raw is None:
            return ShareState.UNKNOWN, None
        link = ShareLink(**json.loads(raw))
        return link.state(), link

    def list(self, session_id: str | None = None) -> list[ShareLink]:
        ids: dict[str, str] = self._redis.hgetall(self._ids)
        if not ids:
            return []
        names = list(ids)
        values = self._redis.mget([self._key(ids[n]) for n in names])
        gone = [n for n, v in zip(names, values, strict=True) if v is None]
        if gone:
            self._redis.hdel(self._ids, *gone)
        links = [ShareLink(**json.loads(v)) for v in values if v is not None]
        if session_id is not None:
            links = [link for link in links if link.session_id == session_id]
        return sorted(links, key=lambda link: link.created_at, reverse=True)

    def revoke(self, link_id: str, by: str) -> ShareLink | None:
        digest = self._redis.hget(self._ids, link_id)
        if digest is None:
            return None
        raw = self._redis.get(self._key(digest))
        if raw is None:
            return None
        link = ShareLink(**json.loads(raw))
        if link.revoked_at is None:
            data = asdict(link) | {"revoked_at": time.time(), "revoked_by": by}
            self._redis.set(self._key(digest), json.dumps(data), keepttl=True, xx=True)
            link = ShareLink(**data)
        return link

    def close(self) -> None:
        self._redis.close()
