"""Users, roles, passwords, API tokens and browser sessions in the admin database (the
``accounts`` fixture runs each test against SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fastrec.server.accounts import AccountError, Accounts, Role, hash_secret
from fastrec.server.db import ADMIN_DB_FILE, SCHEMA_VERSION, AdminDatabase
from fastrec.storage.dbfile import DatabaseFileProblem


@pytest.fixture
def accounts(tmp_path: Path, database_url: str | None):
    """Accounts on each back-end: the SQLite file and PostgreSQL."""
    with AdminDatabase(tmp_path / ADMIN_DB_FILE, database_url=database_url) as db:
        yield Accounts(db, session_seconds=3600)


def test_passwords_are_stored_as_argon2id_hashes_only(accounts: Accounts, tmp_path: Path,
                                                     database_url: str | None) -> None:
    accounts.create_user("alice", "correct horse", Role.AUDITOR)
    stored = accounts.db.read("SELECT password_hash FROM users")[0][0]
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    if database_url is None:
        assert (tmp_path / ADMIN_DB_FILE).stat().st_mode & 0o777 == 0o600
    assert accounts.authenticate("ALICE", "correct horse").name == "alice"  # names ignore case
    assert accounts.authenticate("alice", "wrong horse") is None
    assert accounts.authenticate("nobody", "correct horse") is None


def test_bad_values_are_named(accounts: Accounts) -> None:
    with pytest.raises(AccountError, match=r"username='a b'"):
        accounts.create_user("a b", "longenough")
    with pytest.raises(AccountError, match=r"password: must be 8 to 1024 characters \(got 3\)"):
        accounts.create_user("bob", "abc")
    with pytest.raises(AccountError, match=r"role='boss': must be one of viewer, auditor, admin"):
        accounts.create_user("bob", "longenough", "boss")
    accounts.create_user("bob", "longenough")
    with pytest.raises(AccountError, match="exists"):
        accounts.create_user("Bob", "longenough")


def test_roles_include_the_ones_below() -> None:
    assert Role.ADMIN.allows(Role.AUDITOR) and Role.AUDITOR.allows(Role.VIEWER)
    assert not Role.VIEWER.allows(Role.AUDITOR) and not Role.AUDITOR.allows(Role.ADMIN)


def test_the_last_enabled_admin_stays(accounts: Accounts) -> None:
    accounts.create_user("root", "longenough", Role.ADMIN)
    for change in (lambda: accounts.delete_user("root"), lambda: accounts.update_user("root", role="viewer"),
                   lambda: accounts.update_user("root", disabled=True)):
        with pytest.raises(AccountError, match="last enabled admin"):
            change()
    accounts.create_user("second", "longenough", Role.ADMIN)
    accounts.update_user("root", role="viewer")
    assert accounts.get_user("root").role is Role.VIEWER


def test_disabling_or_a_new_password_ends_sessions(accounts: Accounts) -> None:
    user = accounts.create_user("eve", "longenough", Role.VIEWER)
    secret, session = accounts.open_session(user, "127.0.0.1", "test")
    assert accounts.session(secret).user.name == "eve"
    accounts.update_user("eve", password="anotherpass")
    assert accounts.session(secret) is None
    secret, _ = accounts.open_session(user, "127.0.0.1", "test")
    accounts.update_user("eve", disabled=True)
    assert accounts.session(secret) is None
    assert accounts.authenticate("eve", "anotherpass") is None


def test_api_tokens_are_stored_hashed_and_can_be_revoked(accounts: Accounts) -> None:
    accounts.create_user("bot", "longenough", Role.VIEWER)
    token, secret = accounts.create_token("bot", "nightly export")
    assert secret.startswith("frt_") and len(secret) > 40
    rows = accounts.db.read("SELECT token_hash FROM api_tokens")
    assert rows[0][0] == hash_secret(secret) and secret not in rows[0][0]
    assert accounts.user_for_token(secret).name == "bot"
    assert accounts.list_tokens("bot")[0].last_used_at is not None
    assert not accounts.revoke_token(token.id, "someone-else")
    assert accounts.revoke_token(token.id, "bot")
    assert accounts.user_for_token(secret) is None


def test_an_expired_session_is_refused(accounts: Accounts) -> None:
    user = accounts.create_user("sam", "longenough")
    secret, _ = accounts.open_session(user, None, None)
    with accounts.db.write() as conn:
        conn.execute("UPDATE web_sessions SET expires_at = 0")
    assert accounts.session(secret) is None


def test_a_database_of_another_program_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / ADMIN_DB_FILE
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE theirs (x)")
    before = path.read_bytes()
    with pytest.raises(DatabaseFileProblem, match="another program"):
        AdminDatabase(path)
    assert path.read_bytes() == before


def test_a_link_at_the_database_path_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    (tmp_path / ADMIN_DB_FILE).symlink_to(target)
    with pytest.raises(DatabaseFileProblem, match="symbolic link"):
        AdminDatabase(tmp_path / ADMIN_DB_FILE)
    assert target.read_bytes() == b""


def test_schema_version_is_recorded_and_reopening_keeps_data(tmp_path: Path) -> None:
    with AdminDatabase(tmp_path / ADMIN_DB_FILE) as db:
        Accounts(db).create_user("keep", "longenough")
    with AdminDatabase(tmp_path / ADMIN_DB_FILE) as db:
        assert db.read("PRAGMA user_version")[0][0] == SCHEMA_VERSION
        assert Accounts(db).get_user("keep") is not None
