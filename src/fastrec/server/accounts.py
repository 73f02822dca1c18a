"""Users, roles, passwords, API tokens and browser sessions.

Invariants:

- Passwords are stored only as argon2id hashes (argon2-cffi's defaults); a hash made
  with older parameters is upgraded at the next successful login.  Checking an unknown
  user costs as much as checking a known one, so timing does not tell which names exist.
- API tokens and browser-session ids are 32 random bytes from :mod:`secrets`, handed out
  once and stored only as their SHA-256: a copy of the database opens nothing.
- Roles are ordered: viewer < auditor < admin; each role can do everything the ones
  below it can.  The last enabled admin cannot be removed, demoted or disabled.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from fastrec.roles import Role  # re-exported: the server's code names it from here
from fastrec.server.db import AdminDatabase
from fastrec.storage.database import DbConnection, DbRow

__all__ = ["Accounts", "AccountError", "ApiToken", "Role", "User", "WebSession", "hash_secret", "new_secret"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # argon2 takes any length; a megabyte "password" is an attack on the CPU
TOKEN_PREFIX = "frt_"


class AccountError(ValueError):
    """A request about accounts that cannot be done; the message names the field and value."""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    created_at: float
    disabled: bool


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: str
    user_name: str
    label: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None


@dataclass(frozen=True, slots=True)
class WebSession:
    user: User
    csrf_token: str
    expires_at: float


def new_secret(nbytes: int = 32) -> str:
    """A URL-safe secret of ``nbytes`` random bytes from the OS's CSPRNG."""
    return secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> str:
    """How a token is stored: its SHA-256 (a 32-byte random token needs no slow hash)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise AccountError(f"username={name!r}: must be 1-64 characters, letters, digits and . _ @ -, "
                           "starting with a letter or digit")
    return name


def check_password(password: str) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccountError(f"password: must be {MIN_PASSWORD} to {MAX_PASSWORD} characters "
                           f"(got {len(password) if isinstance(password, str) else type(password).__name__})")
    return password


def parse_role(value: str) -> Role:
    try:
        return Role(str(value).strip().lower())
    except ValueError:
        raise AccountError(f"role={value!r}: must be one of {', '.join(Role)}") from None


class Accounts:
    """Users, tokens and browser sessions in the admin database."""

    def __init__(self, db: AdminDatabase, session_seconds: float = 12 * 3600) -> None:
        self.db = db
        self.session_seconds = session_seconds
        self._hasher = PasswordHasher()
        self._dummy_hash = self._hasher.hash(new_secret())

    # --- users ---

    def create_user(self, name: str, password: str, role: Role | str = Role.VIEWER) -> User:
        """A new user; AccountError when the name is taken or a value is not allowed."""
        name, role = check_name(name), parse_role(role)
        digest = self._hasher.hash(check_password(password))
        now = time.time()
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM users WHERE name_key = ?", (name.casefold(),)).fetchone():
                raise AccountError(f"username={name!r}: a user of that name exists")
            conn.execute("INSERT INTO users (name, name_key, role, password_hash, created_at) VALUES (?,?,?,?,?)",
                         (name, name.casefold(), role.value, digest, now))
        return User(name, role, now, False)

    def get_user(self, name: str) -> User | None:
        rows = self.db.read("SELECT * FROM users WHERE name_key = ?", (str(name).casefold(),))
        return _user(rows[0]) if rows else None

    def list_users(self) -> list[User]:
        return [_user(r) for r in self.db.read("SELECT * FROM users ORDER BY name_key")]

    def count_users(self) -> int:
        return int(self.db.read("SELECT COUNT(*) FROM users")[0][0])

    def update_user(self, name: str, *, role: Role | str | None = None, password: str | None = None,
                    disabled: bool | None = None) -> User:
        """Change a user's role, password or disabled flag; their sessions end on any change
        but a role promotion."""
        user = self._existing(name)
        new_role = parse_role(role) if role is not None else user.role
        digest = self._hasher.hash(check_password(password)) if password is not None else None
        with self.db.write() as conn:
            losing_admin = user.role is Role.ADMIN and not user.disabled and (
                new_role is not Role.ADMIN or disabled)
            if losing_admin:
                self._keep_an_admin(conn, user.name)
            conn.execute("UPDATE users SET role = ?, disabled = ? WHERE name = ?",
                         (new_role.value, int(user.disabled if disabled is None else disabled), user.name))
            if digest is not None:
                conn.execute("UPDATE users SET password_hash = ? WHERE name = ?", (digest, user.name))
            if digest is not None or disabled or new_role.rank < user.role.rank:
                conn.execute("DELETE FROM web_sessions WHERE user_name = ?", (user.name,))
        updated = self.get_user(user.name)
        assert updated is not None
        return updated

    def delete_user(self, name: str) -> None:
        user = self._existing(name)
        with self.db.write() as conn:
            if user.role is Role.ADMIN and not user.disabled:
                self._keep_an_admin(conn, user.name)
            conn.execute("DELETE FROM users WHERE name = ?", (user.name,))

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when ``password`` is theirs and they are enabled; else None."""
        rows = self.db.read("SELECT * FROM users WHERE name_key = ?", (str(name).casefold(),))
        digest = rows[0]["password_hash"] if rows else self._dummy_hash
        try:
            self._hasher.verify(digest, password[:MAX_PASSWORD])
        except (VerificationError, InvalidHashError):
            return None
        if not rows:
            return None
        user = _user(rows[0])
        if user.disabled:
            return None
        if self._hasher.check_needs_rehash(digest):
            with self.db.write() as conn:
                conn.execute("UPDATE users SET password_hash = ? WHERE name = ?",
                             (self._hasher.hash(password), user.name))
        return user

    # --- API tokens ---

    def create_token(self, user_name: str, label: str) -> tuple[ApiToken, str]:
        """A new API token for ``user_name``: the record and the secret, shown only now."""
        user = self._existing(user_name)
        label = str(label).strip()
        if not 1 <= len(label) <= 100:
            raise AccountError(f"label={label!r}: must be 1 to 100 characters")
        secret = TOKEN_PREFIX + new_secret()
        token = ApiToken(new_secret(9), user.name, label, time.time(), None, None)
        with self.db.write() as conn:
            conn.execute("INSERT INTO api_tokens (id, user_name, label, token_hash, created_at) VALUES (?,?,?,?,?)",
                         (token.id, token.user_name, token.label, hash_secret(secret), token.created_at))
        return token, secret

    def list_tokens(self, user_name: str | None = None) -> list[ApiToken]:
        if user_name is None:
            rows = self.db.read("SELECT * FROM api_tokens ORDER BY created_at")
        else:
            rows = self.db.read("SELECT * FROM api_tokens WHERE user_name = ? ORDER BY created_at", (user_name,))
        return [_token(r) for r in rows]

    def revoke_token(self, token_id: str, user_name: str | None = None) -> bool:
        """Revoke a token (only ``user_name``'s when given); False when there is none."""
        sql = "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
        params: tuple[object, ...] = (time.time(), token_id)
        if user_name is not None:
            sql += " AND user_name = ?"
            params += (user_name,)
        with self.db.write() as conn:
            return conn.execute(sql, params).rowcount > 0

    def user_for_token(self, secret: str) -> User | None:
        rows = self.db.read("SELECT u.*, t.id AS token_id FROM api_tokens t JOIN users u ON u.name = t.user_name "
                            "WHERE t.token_hash = ? AND t.revoked_at IS NULL", (hash_secret(secret),))
        if not rows or rows[0]["disabled"]:
            return None
        with self.db.write() as conn:
            conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (time.time(), rows[0]["token_id"]))
        return _user(rows[0])

    # --- browser sessions ---

    def open_session(self, user: User, address: str | None, user_agent: str | None) -> tuple[str, WebSession]:
        """A new browser session: its secret id (the cookie) and the session."""
        secret, csrf = new_secret(), new_secret()
        now = time.time()
        expires = now + self.session_seconds
        with self.db.write() as conn:
            conn.execute("DELETE FROM web_sessions WHERE expires_at < ?", (now,))
            conn.execute("INSERT INTO web_sessions (id_hash, user_name, csrf_token, created_at, expires_at, address, "
                         "user_agent) VALUES (?,?,?,?,?,?,?)",
                         (hash_secret(secret), user.name, csrf, now, expires, address, (user_agent or "")[:512]))
        return secret, WebSession(user, csrf, expires)

    def session(self, secret: str) -> WebSession | None:
        """The live session of a cookie, its idle expiry pushed back; None when expired or unknown."""
        key = hash_secret(secret)
        rows = self.db.read("SELECT s.csrf_token, s.expires_at, u.* FROM web_sessions s "
                            "JOIN users u ON u.name = s.user_name WHERE s.id_hash = ?", (key,))
        now = time.time()
        if not rows or rows[0]["expires_at"] < now or rows[0]["disabled"]:
            return None
        expires = rows[0]["expires_at"]
        if expires - now < self.session_seconds - 60:  # slide at most once a minute
            expires = now + self.session_seconds
            with self.db.write() as conn:
                conn.execute("UPDATE web_sessions SET expires_at = ? WHERE id_hash = ?", (expires, key))
        return WebSession(_user(rows[0]), rows[0]["csrf_token"], expires)

    def close_session(self, secret: str) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM web_sessions WHERE id_hash = ?", (hash_secret(secret),))

    # --- internals ---

    def _existing(self, name: str) -> User:
        user = self.get_user(name)
        if user is None:
            raise AccountError(f"username={name!r}: no such user")
        return user

    @staticmethod
    def _keep_an_admin(conn: DbConnection, leaving: str) -> None:
        others = conn.execute("SELECT COUNT(*) FROM users WHERE role = ? AND disabled = 0 AND name != ?",
                              (Role.ADMIN.value, leaving)).fetchone()[0]
        if not others:
            raise AccountError(f"username={leaving!r}: the last enabled admin cannot be removed, demoted or disabled")


def _user(row: DbRow) -> User:
    return User(row["name"], Role(row["role"]), row["created_at"], bool(row["disabled"]))


def _token(r: DbRow) -> ApiToken:
    return ApiToken(r["id"], r["user_name"], r["label"], r["created_at"], r["last_used_at"], r["revoked_at"])
