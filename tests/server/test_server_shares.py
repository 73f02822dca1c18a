"""Share links in every store (the admin database on SQLite and on PostgreSQL; a real
redis-server on loopback): the same behaviour."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from fastrec.server.db import ADMIN_DB_FILE, AdminDatabase
from fastrec.server.shares import RedisShareStore, ShareState, ShareStore, SqliteShareStore, share_ttl
from fastrec.storage.database import PgConnection

PREFIX = "session_share_link"


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ShareStore]:
    if request.param in ("sqlite", "postgresql"):  # the admin database's table, on each back-end
        url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
        with AdminDatabase(tmp_path / ADMIN_DB_FILE, database_url=url) as db:
            yield SqliteShareStore(db)
    else:
        url = request.getfixturevalue("redis_url")
        shares = RedisShareStore(url, PREFIX)
        try:
            yield shares
        finally:
            shares.close()


def test_expiry_choices_and_the_cap() -> None:
    assert share_ttl("1h", 30 * 86400) == 3600
    assert share_ttl("never", 30 * 86400) == 30 * 86400
    assert share_ttl("30d", 7 * 86400) == 7 * 86400  # the maximum caps every choice
    with pytest.raises(ValueError, match=r"expiresIn='2h': must be one of 1h, 24h, 7d, 30d, never"):
        share_ttl("2h", 86400)


def test_a_link_opens_until_revoked(store: ShareStore) -> None:
    link, token = store.create("rdp_1", "auditor", 3600, start_at=1_700_000_000.0)
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    state, found = store.resolve(token)
    assert state is ShareState.VALID and found.session_id == "rdp_1" and found.start_at == 1_700_000_000.0
    assert store.resolve(token + "x")[0] is ShareState.UNKNOWN
    assert [x.id for x in store.list("rdp_1")] == [link.id] and store.list("rdp_2") == []
    revoked = store.revoke(link.id, "admin")
    assert revoked.revoked_by == "admin"
    assert store.resolve(token)[0] is ShareState.REVOKED
    assert store.revoke("no-such-id", "admin") is None


def test_tokens_are_stored_only_as_hashes(store: ShareStore, tmp_path: Path) -> None:
    _, token = store.create("rdp_1", "auditor", 3600)
    digest = hashlib.sha256(token.encode()).hexdigest()
    if isinstance(store, SqliteShareStore) and isinstance(store.db._db(), PgConnection):
        dump = "\n".join(map(repr, store.db.read("SELECT * FROM share_links")))
    elif isinstance(store, SqliteShareStore):
        dump = "\n".join(store.db._db().iterdump())
    else:
        client = store._redis
        dump = "\n".join(f"{k}={client.get(k) if client.type(k) == 'string' else client.hgetall(k)}"
                         for k in client.keys("*"))
        assert f"{PREFIX}:{digest}" in dump  # under SESSION_SHARE_LINK_PREFIX
    assert token not in dump and digest in dump


def test_an_expired_link_is_refused(store: ShareStore, redis_server: str) -> None:
    link, token = store.create("rdp_1", "auditor", 1)
    if isinstance(store, SqliteShareStore):
        with store.db.write() as conn:
            conn.execute("UPDATE share_links SET expires_at = ?", (time.time() - 5,))
        assert store.resolve(token)[0] is ShareState.EXPIRED
    else:
        # Redis forgets the key at its TTL: the link is then unknown, and never valid
        deadline = time.monotonic() + 10
        while store.resolve(token)[0] is ShareState.VALID and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.resolve(token)[0] is ShareState.UNKNOWN
        assert store.list() == []


def test_redis_keys_expire_with_the_link(redis_url: str) -> None:
    store = RedisShareStore(redis_url, "custom_prefix")
    try:
        _, token = store.create("rdp_9", "auditor", 3600)
        key = f"custom_prefix:{hashlib.sha256(token.encode()).hexdigest()}"
        with redis.Redis.from_url(redis_url) as client:
            assert 3590 <= client.ttl(key) <= 3600
    finally:
        store.close()
