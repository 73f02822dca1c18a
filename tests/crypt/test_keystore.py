"""The session key store, one interface with two places: a directory of this machine
(no FASTREC_DATABASE_URL) and the fleet's PostgreSQL database (a table every gateway and
admin server shares).  The same tests run on both (the ``database_url`` fixture); then a
recording made by a gateway is replayed by an admin server that has only the database,
and a shred through the database is audit-logged there."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from cli_jobs import fastrec
from encrypted_recording import encrypting_manager, key_env, record, session_parts

from fastrec.crypt.keys import KeyError_, KeyRing, LocalKek
from fastrec.crypt.keystore import (
    DatabaseKeyStore,
    KeyStore,
    SessionKey,
    SessionKeyStore,
    Shredded,
    keystore_from_settings,
)
from fastrec.server.config import ServerSettings


def _ring(*ids: str) -> KeyRing:
    return KeyRing(tuple(LocalKek(key_id, secrets.token_bytes(32)) for key_id in ids))


def _store(database_url: str | None, directory: Path, ring: KeyRing) -> KeyStore:
    """What a recorder or server with these settings opens (a fresh instance: another process)."""
    settings = SimpleNamespace(database_url=database_url, encryption_keystore=None)
    return keystore_from_settings(settings, directory, ring)


@pytest.fixture
def stores(database_url: str | None, tmp_path: Path):  # type: ignore[no-untyped-def]
    opened: list[KeyStore] = []

    def make(ring: KeyRing) -> KeyStore:
        store = _store(database_url, tmp_path / "rec", ring)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def test_the_store_is_where_the_settings_say(database_url: str | None, stores) -> None:  # type: ignore[no-untyped-def]
    store = stores(_ring("k1"))
    assert isinstance(store, DatabaseKeyStore if database_url else SessionKeyStore)
    assert ("fastrec_session_keys" in store.location) == bool(database_url)


def test_a_key_made_by_one_process_is_read_by_another_and_racing_writers_agree(stores) -> None:  # type: ignore[no-untyped-def]
    ring = _ring("k1")
    gateway, server = stores(ring), stores(ring)
    made = gateway.for_writing("s1")
    assert server.get("s1").secret == made.secret and gateway.for_writing("s1").secret == made.secret
    with pytest.raises(FileNotFoundError, match="'nobody': no key in"):
        server.get("nobody")
    racers = [stores(ring) for _ in range(4)]
    keys: list[bytes] = []
    threads = [threading.Thread(target=lambda s=s: keys.append(s.for_writing("raced").secret)) for s in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 4 and len(set(keys)) == 1


def test_rotation_wraps_new_sessions_with_the_new_key_and_old_ones_still_read(stores) -> None:  # type: ignore[no-untyped-def]
    old = _ring("k1")
    before = stores(old).for_writing("before")
    rotated = KeyRing((*old.keys, LocalKek("k2", secrets.token_bytes(32))))
    store = stores(rotated)
    after = store.for_writing("after")
    assert (before.kek_id, after.kek_id) == ("k1", "k2")
    assert store.get("before").secret == before.secret  # nothing re-encrypted
    with pytest.raises(KeyError_, match="'k2' is not in"):
        stores(old).get("after")  # a ring without the new key cannot read the new sessions


def test_shred_destroys_the_key_for_every_reader_at_once(stores) -> None:  # type: ignore[no-untyped-def]
    ring = _ring("k1")
    gateway, server = stores(ring), stores(ring)
    gateway.for_writing("gone")
    gateway.for_writing("kept")
    assert server.get("gone")  # cached by the other process
    record = gateway.shred("gone", by="cli:alice")
    assert (record.session_id, record.by, record.kek_id) == ("gone", "cli:alice", "k1")
    with pytest.raises(Shredded, match="crypto-shredded at .* by cli:alice"):
        server.get("gone")
    assert server.shred_record("gone") == record
    with pytest.raises(Shredded, match="shredded already"):
        server.shred("gone", by="cli:bob")
    with pytest.raises(Shredded):
        server.for_writing("gone")  # a shredded session is never given a new key
    with pytest.raises(FileNotFoundError):
        server.shred("never", by="cli:bob")
    assert server.get("kept").kek_id == "k1"


def test_keys_recorded_before_the_database_was_set_are_still_read_and_shredded(
        tmp_path: Path, postgres_url: str) -> None:
    ring = _ring("k1")
    local = _store(None, tmp_path / "rec", ring)
    old = local.for_writing("old")
    shared = _store(postgres_url, tmp_path / "rec", ring)
    try:
        assert isinstance(shared, DatabaseKeyStore) and shared.fallback is not None
        assert shared.get("old").secret == old.secret and shared.for_writing("old").secret == old.secret
        shared.for_writing("new")
        assert isinstance(_store(postgres_url, tmp_path / "elsewhere", ring).get("new"), SessionKey)
        with pytest.raises(FileNotFoundError):
            local.get("new")  # new keys go to the database only
        shared.shred("old", by="cli:alice")
        with pytest.raises(Shredded):
            shared.get("old")
        with pytest.raises(Shredded):
            local.get("old")
    finally:
        shared.close()


def test_a_fleet_admin_server_reads_the_gateways_keys_from_the_database_and_a_shred_there_is_audited(
        tmp_path: Path, key_file: Path, postgres_url: str, signed_in) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "rec"
    manager = encrypting_manager(out, key_file, database_url=postgres_url)
    try:
        assert manager.initialize()
        record(manager, "fleet")
    finally:
        manager.shutdown()
    assert not (out / ".keys").exists()  # the key is in the shared database, not on the gateway
    assert len(session_parts(out, "fleet")) == 1
    client = signed_in(ServerSettings(recordings_dir=out, encryption_key_file=key_file, database_url=postgres_url))
    assert client.get("/api/recordings/fleet/parts/1/video.mp4").content[4:8] == b"ftyp"
    shred = fastrec("shred", "fleet", "--yes", "--output-dir", str(out), cwd=tmp_path,
                    env={**key_env(key_file), "FASTREC_DATABASE_URL": postgres_url})
    assert shred.returncode == 0, shred.stderr
    assert client.get("/api/recordings/fleet/parts/1/video.mp4").status_code >= 400
    entries = client.get("/api/audit", params={"action": "shred"}).json()["entries"]
    kek_id = next(line.split()[0] for line in key_file.read_text().splitlines() if not line.startswith("#"))
    assert [(e["target"], e["status"], e["details"]["kek_id"]) for e in entries] == [
        ("session:fleet", "success", kek_id)]
    assert entries[0]["actor"].startswith("cli:")
