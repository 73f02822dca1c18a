"""The admin server's settings: environment variables (and ``.env``), validated.

Names: ``FASTREC_*`` for the server's own settings, ``SESSION_SHARE_LINK_*`` as in the
reference (session-recording-features.md, "Share Links"), and the recordings directory of
the recorder's settings (``RECORDING_OUTPUT_DIR``), so the server serves exactly what the
recorders on this machine write.  Bad values raise :class:`fastrec.settings.SettingsError`
with one line per variable (``FASTREC_SERVER_PORT=0: must be between 1 and 65535``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fastrec.settings import (
    SettingsError,
    database_url_value,
    encryption_key_value,
    s3_endpoint_value,
    s3_url_value,
    validation_lines,
)
from fastrec.storage.database import shown_url

__all__ = ["DEFAULT_PORT", "ServerSettings"]

DEFAULT_PORT = 8765
_DAY_MS = 86_400_000


class ServerSettings(BaseSettings):
    """Settings of ``python -m fastrec serve``; see the README's "Admin server" section."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      case_sensitive=False, populate_by_name=True)

    host: str = Field("127.0.0.1", validation_alias="FASTREC_SERVER_HOST")
    port: Annotated[int, Field(ge=1, le=65535, validation_alias="FASTREC_SERVER_PORT")] = DEFAULT_PORT
    recordings_dir: Path = Field(Path("recordings"), validation_alias="RECORDING_OUTPUT_DIR")
    redis_url: str | None = Field(None, validation_alias="FASTREC_REDIS_URL")
    # PostgreSQL for the admin database, the index and the policy versions of a fleet
    # (postgresql://...); unset: SQLite files in the recordings directory
    database_url: str | None = Field(None, validation_alias="FASTREC_DATABASE_URL", repr=False)
    # the recorders' object store: parts uploaded there are replayed and exported from it
    s3_url: str | None = Field(None, validation_alias="FASTREC_S3_URL")
    s3_endpoint_url: str | None = Field(None, validation_alias="FASTREC_S3_ENDPOINT_URL", repr=False)
    # a fleet: the gateways' prefixes (comma-separated s3:// URLs, on FASTREC_S3_ENDPOINT_URL),
    # whose sessions this server replays, exports and verifies from the store
    s3_fleet_urls: str | None = Field(None, validation_alias="FASTREC_S3_FLEET_URLS")
    # the recorders' encryption at rest (fastrec.crypt): replay and export decrypt in memory
    encryption_key_file: Path | None = Field(None, validation_alias="FASTREC_ENCRYPTION_KEY_FILE")
    encryption_key: SecretStr | None = Field(None, validation_alias="FASTREC_ENCRYPTION_KEY", repr=False)
    # the session keys' directory; with FASTREC_DATABASE_URL (PostgreSQL) they are in its table
    encryption_keystore: Path | None = Field(None, validation_alias="FASTREC_ENCRYPTION_KEYSTORE")
    # the reference's share-link names; its max TTL is in milliseconds
    share_link_prefix: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
                                            validation_alias="SESSION_SHARE_LINK_PREFIX")] = "session_share_link"
    share_link_max_ttl: Annotated[int, Field(ge=60_000, le=3650 * _DAY_MS,
                                             validation_alias="SESSION_SHARE_LINK_MAX_TTL")] = 30 * _DAY_MS
    # a signed-in browser stays signed in this long without activity
    session_hours: Annotated[float, Field(gt=0, le=24 * 30, allow_inf_nan=False,
                                          validation_alias="FASTREC_SESSION_HOURS")] = 12.0
    # Secure cookies need HTTPS; behind a TLS proxy turn this on
    cookie_secure: bool = Field(False, validation_alias="FASTREC_COOKIE_SECURE")
    # failed logins per account or per address in LOGIN_WINDOW before logins are refused
    login_max_failures: Annotated[int, Field(ge=1, le=1000, validation_alias="FASTREC_LOGIN_MAX_FAILURES")] = 5
    login_window_seconds: Annotated[int, Field(ge=1, le=86_400, validation_alias="FASTREC_LOGIN_WINDOW_SECONDS")] = 900
    # WebSocket connection attempts per client address per minute
    ws_attempts_per_minute: Annotated[int, Field(ge=1, le=100_000,
                                                 validation_alias="FASTREC_WS_RATE_LIMIT")] = 60
    # the live page's reconnection (the reference's VITE_WS_RECONNECT_*), in milliseconds
    ws_reconnect_base_delay: Annotated[int, Field(ge=100, le=60_000,
                                                  validation_alias="FASTREC_WS_RECONNECT_BASE_DELAY")] = 1000
    ws_reconnect_max_delay: Annotated[int, Field(ge=100, le=600_000,
                                                 validation_alias="FASTREC_WS_RECONNECT_MAX_DELAY")] = 30_000
    ws_reconnect_max_attempts: Annotated[int, Field(ge=1, le=1000,
                                                    validation_alias="FASTREC_WS_RECONNECT_MAX_ATTEMPTS")] = 10
    # replay: no new frame for this long is an idle stretch the player can skip
    idle_seconds: Annotated[float, Field(ge=1, le=3600, allow_inf_nan=False,
                                         validation_alias="FASTREC_IDLE_SECONDS")] = 3.0

    # exports (JSON, MP4, PDF) running at once; more wait their turn
    export_workers: Annotated[int, Field(ge=1, le=8, validation_alias="FASTREC_EXPORT_WORKERS")] = 2

    @field_validator("s3_url", mode="before")
    @classmethod
    def _s3_url(cls, value: Any) -> Any:
        return s3_url_value(value)  # the recorder's rules: both read the same variable

    @field_validator("s3_fleet_urls", mode="before")
    @classmethod
    def _s3_fleet_urls(cls, value: Any) -> Any:
        from fastrec.storage.fleet import fleet_urls_value  # (here: the import block is the settings')

        return fleet_urls_value(value)

    @field_validator("encryption_key_file", "encryption_key", "encryption_keystore", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("encryption_key", mode="after")
    @classmethod
    def _encryption_key(cls, value: SecretStr | None) -> SecretStr | None:
        return encryption_key_value(value)  # the recorder's rules

    @field_validator("s3_endpoint_url", mode="before")
    @classmethod
    def _s3_endpoint_url(cls, value: Any) -> Any:
        return s3_endpoint_value(value)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError(validation_lines(exc, type(self), self.env_name)) from None

    @field_validator("database_url", mode="before")
    @classmethod
    def _database_url(cls, value: Any) -> Any:
        return database_url_value(value)  # the recorder's rules: both read the same variable

    @property
    def database_url_shown(self) -> str | None:
        """FASTREC_DATABASE_URL without its password (for logs and messages)."""
        return None if self.database_url is None else shown_url(self.database_url)

    @classmethod
    def env_name(cls, field: str) -> str:
        """The variable that sets ``field`` (``redis_url`` -> ``FASTREC_REDIS_URL``)."""
        info = cls.model_fields.get(field)
        alias = info.validation_alias if info is not None else None
        return alias if isinstance(alias, str) else field.upper()

    @property
    def share_link_max_ttl_seconds(self) -> int:
        return self.share_link_max_ttl // 1000
