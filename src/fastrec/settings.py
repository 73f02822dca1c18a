"""RECORDING_* settings: read from the environment and a ``.env`` file, validated.

The variable names, ranges and defaults are the contract of the reference recorder that
the embedding app already uses (``RECORDING_ENABLED`` ... ``RECORDING_CLEANUP_INTERVAL_HOURS``);
the engine settings (``RECORDING_PRESET`` ... ``RECORDING_MONITOR``) and the live-session
ones are ours.  ``FASTREC_REDIS_URL``, ``FASTREC_LIVE_PREFIX`` and ``FASTREC_S3_*`` carry
no ``RECORDING_`` prefix because the admin server reads them too (:mod:`fastrec.live`,
:mod:`fastrec.storage.objectstore`); they are read under exactly those names (never
``REDIS_URL`` or ``RECORDING_REDIS_URL``), and a field name given as an argument
(``load_settings(redis_url=...)``) means the same variable.

The Redis URL may hold a password: it is never shown.  Error lines and
:meth:`RecordingSettings.get_recording_config` give it with the password removed, and it
is left out of the settings' ``repr``.

A bad value never surfaces as pydantic's generic report: every problem becomes one line
that names the variable, the value and what is allowed, e.g.
``RECORDING_FPS=0: must be between 1 and 60``, and all problems are reported together in
one :class:`SettingsError`.

A ``.env`` file is read strictly: a file that is not UTF-8, or a line that is not
``KEY=VALUE`` (a comment, a blank line and ``export KEY=VALUE`` are fine), is a
:class:`SettingsError` naming the file and the byte offset or line.  A setting that
silently vanished because its line was mistyped would leave the recorder running with
a default the operator never chose.
"""

from __future__ import annotations

import io
import os
import tempfile
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import annotated_types
import structlog
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from fastrec.checks import between
from fastrec.engine.protocol import RECORDING_MODES, CaptureMode, FullPolicy
from fastrec.events.rage import DEFAULT_RAGE_RULE, RageRule, parse_rage_rule
from fastrec.privacy.connection import strip_credentials
from fastrec.privacy.pii import CustomPattern, parse_custom_patterns
from fastrec.storage.database import check_database_url, shown_url
from fastrec.storage.objectstore import parse_s3_url

__all__ = [
    "CLEANUP_INTERVAL_HOURS",
    "ENV_PREFIX",
    "LIVE_PREFIX",
    "HTTP_SCHEMES",
    "REDIS_SCHEMES",
    "PRESETS",
    "default_encoder_workers",
    "env_name",
    "RecordingSettings",
    "SettingsError",
    "load_settings",
    "output_dir_problem",
    "encryption_key_value",
    "s3_endpoint_value",
    "s3_url_value",
    "validation_lines",
]

ENV_PREFIX = "RECORDING_"

log = structlog.get_logger("fastrec.settings")

# the vocabulary is the engine's (fastrec.engine.protocol); Literal gives the settings'
# one-line "must be one of" errors
RecordingMode = Literal[tuple(str(m) for m in RECORDING_MODES)]  # type: ignore[valid-type]
X264Preset = Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium",
                     "slow", "slower", "veryslow", "placebo"]
#: libx264's presets, fastest first: RECORDING_PRESET, ``record --preset``, ``demo --preset``
PRESETS: tuple[str, ...] = typing.get_args(X264Preset)
FullPolicyName = Literal[tuple(str(p) for p in FullPolicy)]  # type: ignore[valid-type]
LogFormat = Literal["console", "json"]

_MAX_WORKERS = 32
_MAX_SHOWN_VALUE = 80  # a pasted blob in a variable should not flood the error message
#: RECORDING_CLEANUP_INTERVAL_HOURS: every 6 minutes at most (each run scans the whole
#: directory and rewrites its stats file) and at least once a year (a longer wait
#: overflows the scheduler's timer)
CLEANUP_INTERVAL_HOURS = (0.1, 8760)
#: FASTREC_REDIS_URL: what redis-py's ``from_url`` accepts (TLS with rediss://)
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
#: FASTREC_S3_ENDPOINT_URL: where an S3-compatible server listens
HTTP_SCHEMES = ("http://", "https://")
#: FASTREC_LIVE_PREFIX's default: every live-session key and channel in Redis starts with it
LIVE_PREFIX = "fastrec:live:"
_PREFIX_MAX = 64


def default_encoder_workers() -> int:
    """One encoder worker per core but one, which the capture processes need (1 to 32)."""
    # leave one core to the capture process; clamp so a big machine still passes validation
    return min(_MAX_WORKERS, max(1, (os.cpu_count() or 1) - 1))


class SettingsError(ValueError):
    """One or more settings are invalid.

    ``messages`` holds one line per variable (``RECORDING_FPS=0: must be between 1 and 60``);
    ``str()`` of the error is those lines joined by newlines.
    """

    def __init__(self, messages: list[str]) -> None:
        self.messages = list(messages)
        super().__init__("\n".join(self.messages))


def output_dir_problem(path: Path) -> str | None:
    """Why ``path`` cannot hold recordings, or None when it can.

    Creates the directory (mode 0700) when it is missing and writes and removes a probe
    file: permission bits lie (root, ACLs, read-only mounts), a real write does not.
    """
    try:
        if path.exists() and not path.is_dir():
            return "exists and is not a directory"
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, probe = tempfile.mkstemp(prefix=".fastrec-probe-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


class RecordingSettings(BaseSettings):
    """All ``RECORDING_*`` settings, from the environment, a ``.env`` file, or arguments.

    Precedence: arguments, then environment variables, then the ``.env`` file, then the
    defaults.  Names are case-insensitive.  Invalid values, at construction or on
    assignment, raise :class:`SettingsError` with one line per variable.

    When ``enabled`` is true the output directory is created (0700) and probed for
    writing while loading; when recording is disabled nothing is created on disk until
    :meth:`validate_recording_config` is called.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=False,
        extra="ignore",  # the app's .env holds its own variables too
        validate_assignment=True,
        validate_default=True,
    )

    # --- the reference's variables (names, ranges and defaults are a contract) ---
    enabled: bool = False
    auto_start: bool = False
    mode: RecordingMode = CaptureMode.RDP_WINDOW.value
    fps: Annotated[int, Field(ge=1, le=60)] = 10
    quality: Annotated[int, Field(ge=0, le=51, description="H.264 CRF, lower is better")] = 23
    resolution_scale: Annotated[float, Field(ge=0.1, le=2.0, allow_inf_nan=False)] = 1.0
    max_file_size_mb: Annotated[int, Field(gt=0)] = 100
    max_duration_minutes: Annotated[int, Field(gt=0)] = 30
    max_total_size_gb: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 10.0
    max_file_age_days: Annotated[int, Field(gt=0)] = 30
    # float so that operators can schedule sub-hour cleanups; 6 reads back as 6.0
    cleanup_interval_hours: Annotated[float, Field(ge=CLEANUP_INTERVAL_HOURS[0], le=CLEANUP_INTERVAL_HOURS[1],
                                                   allow_inf_nan=False)] = 6.0
    output_dir: Path = Path("recordings")

    # --- engine settings ---
    preset: X264Preset = "veryfast"
    keyframe_interval_seconds: Annotated[float, Field(ge=0.5, le=600, allow_inf_nan=False)] = 60.0
    encoder_workers: Annotated[int, Field(ge=1, le=_MAX_WORKERS,
                                          default_factory=default_encoder_workers)]
    tile_size: Annotated[int, Field(ge=8, le=256)] = 64
    # grab, diff and convert only the tiles X DAMAGE reports drawn (X11); off: the whole
    # region on every changed frame (the reference the capture benchmark measures against)
    partial_grabs: bool = True
    # frames between capture and encoder (3 MB each at 1080p); the remux of a finished
    # segment runs beside the encoder, so the ring only absorbs encoding jitter
    ring_slots: Annotated[int, Field(ge=2, le=64)] = 3
    full_policy: FullPolicyName = FullPolicy.BLOCK.value
    log_format: LogFormat = "console"
    monitor: Annotated[int, Field(ge=0)] = 0

    # --- live sessions (fastrec.live): what the admin server shows while recording ---
    # announce this recorder's sessions (SQLite next to the index, or Redis); an embedding
    # app that wants no admin server turns it off
    live_announce: bool = True
    # Redis/Valkey for live events from several gateways; unset: SQLite on this machine
    redis_url: str | None = Field(default=None, alias="FASTREC_REDIS_URL", repr=False)
    live_prefix: str = Field(default=LIVE_PREFIX, alias="FASTREC_LIVE_PREFIX")
    # PostgreSQL for the recordings index of a fleet (postgresql://...); unset: SQLite
    # files in the output directory
    database_url: str | None = Field(default=None, alias="FASTREC_DATABASE_URL", repr=False)

    # --- object storage (fastrec.storage.objectstore): sealed segments uploaded, then read
    # from there; unset: recordings stay on the local disk.  Credentials come from boto3's
    # chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, an instance role), never here
    s3_url: str | None = Field(default=None, alias="FASTREC_S3_URL")
    # MinIO, Ceph or another S3-compatible server; unset: AWS S3 itself
    s3_endpoint_url: str | None = Field(default=None, alias="FASTREC_S3_ENDPOINT_URL", repr=False)
    # uploaded videos kept on the local disk (newest first) for fast replay; 0: none
    s3_cache_gb: Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False,
                                        alias="FASTREC_S3_CACHE_GB")] = 0.0

    # --- encryption at rest (fastrec.crypt): set either to encrypt every new segment ---
    # the key ring file (`python -m fastrec keys init-encryption`), 0600; its last key is active
    encryption_key_file: Path | None = Field(default=None, alias="FASTREC_ENCRYPTION_KEY_FILE")
    # or one key-encryption key: base64 of 32 bytes
    encryption_key: SecretStr | None = Field(default=None, alias="FASTREC_ENCRYPTION_KEY", repr=False)
    # where the session keys are kept (shredding destroys them); default <output_dir>/.keys;
    # with FASTREC_DATABASE_URL (PostgreSQL) they are in its table instead and this is not read
    encryption_keystore: Path | None = Field(default=None, alias="FASTREC_ENCRYPTION_KEYSTORE")

    # --- privacy ---
    # the operator's own kinds of personal data, replaced in window titles and connection
    # details like e-mail addresses and card numbers are (fastrec.privacy.pii):
    # "name=regex" items separated by spaces; kept as written, parsed when used
    pii_patterns: str = ""
    # read on-screen text with Tesseract and mask the personal data the policy's pii rules
    # name (every built-in kind with its default mask when it names none); a frame waits at
    # most ocr_max_delay seconds for its verdict, what is unread by then is blocked
    ocr_pii: bool = False
    ocr_max_delay: Annotated[float, Field(ge=0.1, le=30, allow_inf_nan=False)] = 2.0
    # Tesseracts reading new text at once in the OCR stage (capped at the machine's cores;
    # the stage runs at a lower priority than capture and encoding)
    ocr_threads: Annotated[int, Field(ge=1, le=8)] = 2

    # --- input events (fastrec.events): clicks, scrolls, key counts, titles, beside the video ---
    input_events: bool = True
    # rage clicks: COUNT clicks within RADIUS pixels in SECONDS (kept as written, parsed when used)
    rage_clicks: str = DEFAULT_RAGE_RULE.text

    @field_validator("mode", "preset", "full_policy", "log_format", mode="before")
    @classmethod
    def _fold_choice(cls, value: Any, info: ValidationInfo) -> Any:
        # "RDP_WINDOW" or " json " in a hand-written .env are not worth a failed start; an
        # unknown value is passed on untouched so that the error shows what was written
        if isinstance(value, str) and info.field_name is not None:
            folded = value.strip().lower()
            if folded in typing.get_args(cls.model_fields[info.field_name].annotation):
                return folded
        return value

    @field_validator("redis_url", mode="before")
    @classmethod
    def _redis_url(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None  # FASTREC_REDIS_URL= in a .env: no Redis, as when it is unset
        if isinstance(value, str) and not value.strip().lower().startswith(REDIS_SCHEMES):
            raise PydanticCustomError("redis_url_scheme", "must start with {schemes}",
                                      {"schemes": ", ".join(REDIS_SCHEMES)})
        return value.strip() if isinstance(value, str) else value

    @field_validator("database_url", mode="before")
    @classmethod
    def _database_url(cls, value: Any) -> Any:
        return database_url_value(value)

    @field_validator("s3_url", mode="before")
    @classmethod
    def _s3_url(cls, value: Any) -> Any:
        return s3_url_value(value)

    @field_validator("encryption_key_file", "encryption_key", "encryption_keystore", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("encryption_key", mode="after")
    @classmethod
    def _encryption_key(cls, value: SecretStr | None) -> SecretStr | None:
        return encryption_key_value(value)

    @field_validator("s3_endpoint_url", mode="before")
    @classmethod
    def _s3_endpoint_url(cls, value: Any) -> Any:
        return s3_endpoint_value(value)

    @field_validator("live_prefix", mode="after")
    @classmethod
    def _live_prefix(cls, value: str) -> str:
        if not 1 <= len(value) <= _PREFIX_MAX or not value.isprintable() or any(c.isspace() for c in value):
            raise PydanticCustomError("live_prefix", "must be 1 to {max} printable characters without spaces",
                                      {"max": _PREFIX_MAX})
        return value

    @field_validator("pii_patterns", mode="after")
    @classmethod
    def _pii_patterns(cls, value: str) -> str:
        try:
            parse_custom_patterns(value)
        except ValueError as exc:
            raise PydanticCustomError("pii_patterns", "{reason}", {"reason": str(exc)}) from None
        return value

    @field_validator("rage_clicks", mode="after")
    @classmethod
    def _rage_clicks(cls, value: str) -> str:
        try:
            parse_rage_rule(value)
        except ValueError as exc:
            raise PydanticCustomError("rage_clicks", "{reason}", {"reason": str(exc)}) from None
        return value.strip()

    @field_validator("output_dir", mode="before")
    @classmethod
    def _non_empty_dir(cls, value: Any) -> Any:
        # Path("") is ".", which would silently record into whatever the working directory is
        if isinstance(value, str) and not value.strip():
            raise PydanticCustomError("output_dir_empty", "must not be empty")
        return value

    @field_validator("output_dir", mode="after")
    @classmethod
    def _writable_output_dir(cls, value: Path, info: ValidationInfo) -> Path:
        value = value.expanduser()
        # only a recorder that will record touches the disk while loading its settings
        if info.data.get("enabled"):
            problem = output_dir_problem(value)
            if problem is not None:
                raise PydanticCustomError("output_dir_unwritable", "cannot be written ({reason})",
                                          {"reason": problem})
        return value

    def __init__(self, **values: Any) -> None:
        # constructed directly or through load_settings: the same one-line-per-variable error
        _check_env_files(values.get("_env_file", type(self).model_config.get("env_file")))
        # the FASTREC_* fields are read under their alias only; their field names mean the same
        values = {_ALIASES.get(name, name): value for name, value in values.items()}
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError(validation_lines(exc)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        # assignments are validated too; report them in the same words as loading does
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            raise SettingsError(validation_lines(exc)) from None

    def get_recording_config(self) -> dict[str, Any]:
        """The settings as a plain dict with the reference's lower-case keys.

        Keys: enabled, auto_start, mode, fps, quality, resolution_scale, max_file_size_mb,
        max_duration_minutes, max_total_size_gb, max_file_age_days, cleanup_interval_hours,
        output_dir (a str), preset, keyframe_interval_seconds, encoder_workers, tile_size,
        partial_grabs, ring_slots, full_policy, log_format, monitor, live_announce, redis_url (without its
        password, or None), live_prefix, database_url (without its password, or None), s3_url,
        s3_endpoint_url (without any credentials), s3_cache_gb, encryption_key_file,
        encryption_key ("(set)" or None: never the key), encryption_keystore, pii_patterns (as
        written), input_events, rage_clicks (as written).
        """
        config = self.model_dump()
        config["output_dir"] = str(self.output_dir)
        config["redis_url"] = self.redis_url_shown
        config["database_url"] = self.database_url_shown
        config["s3_endpoint_url"] = (None if self.s3_endpoint_url is None
                                     else strip_credentials(self.s3_endpoint_url))
        # whether a key is set, never the key
        config["encryption_key"] = None if self.encryption_key is None else "(set)"
        for name in ("encryption_key_file", "encryption_keystore"):
            config[name] = None if config[name] is None else str(config[name])
        return config

    def rage_rule(self) -> RageRule:
        """RECORDING_RAGE_CLICKS as a :class:`~fastrec.events.rage.RageRule` (validated
        when the settings were loaded)."""
        return parse_rage_rule(self.rage_clicks)

    def custom_pii_patterns(self) -> tuple[CustomPattern, ...]:
        """RECORDING_PII_PATTERNS as :class:`~fastrec.privacy.pii.CustomPattern` objects
        (validated when the settings were loaded)."""
        return parse_custom_patterns(self.pii_patterns)

    @property
    def redis_url_shown(self) -> str | None:
        """FASTREC_REDIS_URL with any password removed: the form logs and messages show."""
        return None if self.redis_url is None else strip_credentials(self.redis_url)

    @property
    def database_url_shown(self) -> str | None:
        """FASTREC_DATABASE_URL with any password removed: the form logs and messages show."""
        return None if self.database_url is None else shown_url(self.database_url)

    def validation_messages(self) -> list[str]:
        """Every problem with the current values, including an unwritable output directory.

        Re-validates the values as they are now (after any assignment) and always probes
        the output directory, whether or not recording is enabled.
        """
        try:
            # arguments beat every other source, so this checks exactly the current values
            type(self)(_env_file=None, **self.model_dump(by_alias=True))
        except SettingsError as exc:
            messages = exc.messages
        else:
            messages = []
        if not any(m.startswith(f"{env_name('output_dir')}=") for m in messages):
            problem = output_dir_problem(self.output_dir)
            if problem is not None:
                messages.append(f"{ENV_PREFIX}OUTPUT_DIR={self.output_dir}: cannot be written ({problem})")
        return messages

    def validate_recording_config(self) -> bool:
        """True when every setting is valid and the output directory can be written.

        Each problem is logged as an error (one line per variable); nothing is raised.
        """
        messages = self.validation_messages()
        for message in messages:
            log.error(f"Invalid recording configuration: {message}", problem=message)
        return not messages


def database_url_value(value: Any) -> str | None:
    """FASTREC_DATABASE_URL as read (recorder and admin server alike): None for SQLite,
    else the URL; a PydanticCustomError saying what is allowed."""
    try:
        return check_database_url(value)
    except ValueError as exc:
        raise PydanticCustomError("database_url", "{problem}", {"problem": str(exc)}) from None


def s3_url_value(value: Any) -> Any:
    """FASTREC_S3_URL as read (recorder and admin server alike): None when empty, else
    ``s3://bucket/prefix/``; a PydanticCustomError saying what is allowed."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None  # FASTREC_S3_URL= in a .env: local disk only, as when it is unset
    if isinstance(value, str):
        try:
            return str(parse_s3_url(value))
        except ValueError as exc:
            raise PydanticCustomError("s3_url", "{reason}", {"reason": str(exc)}) from None
    return value


def s3_endpoint_value(value: Any) -> Any:
    """FASTREC_S3_ENDPOINT_URL as read: None when empty, else an http(s) URL."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and not value.strip().lower().startswith(HTTP_SCHEMES):
        raise PydanticCustomError("s3_endpoint_url_scheme", "must start with {schemes}",
                                  {"schemes": ", ".join(HTTP_SCHEMES)})
    return value.strip() if isinstance(value, str) else value


def encryption_key_value(value: SecretStr | None) -> SecretStr | None:
    """FASTREC_ENCRYPTION_KEY as read (recorder and admin server alike): base64 of 32 bytes."""
    if value is not None:
        from fastrec.crypt.keys import KeyError_, load_key_ring  # only when a key is set

        try:
            load_key_ring(None, value.get_secret_value())
        except KeyError_ as exc:
            raise PydanticCustomError("encryption_key", "{reason}", {"reason": str(exc)}) from None
    return value


def load_settings(env_file: str | os.PathLike[str] | None = None, **overrides: Any) -> RecordingSettings:
    """Load the settings from the environment, a ``.env`` file and ``overrides``.

    ``env_file`` defaults to ``.env`` in the working directory (silently skipped when
    absent); a path given explicitly must exist.  ``overrides`` use the lower-case field
    names (``fps=15``) and win over every other source.  Raises :class:`SettingsError`
    listing every invalid variable at once.
    """
    unknown = sorted(set(overrides) - set(RecordingSettings.model_fields) - set(_ALIASES.values()))
    if unknown:
        allowed = ", ".join(RecordingSettings.model_fields)
        raise SettingsError([f"{name}: unknown setting (allowed: {allowed})" for name in unknown])
    kwargs: dict[str, Any] = dict(overrides)
    if env_file is not None:
        if not Path(env_file).is_file():
            raise SettingsError([f"env_file={env_file}: file not found"])
        kwargs["_env_file"] = env_file
    return RecordingSettings(**kwargs)


#: field name -> the variable it is read from, for the fields not named RECORDING_{FIELD}
_ALIASES: dict[str, str] = {name: info.alias for name, info in RecordingSettings.model_fields.items()
                            if info.alias is not None}


def env_name(field: str) -> str:
    """The variable a setting is read from: ``fps`` -> ``RECORDING_FPS``,
    ``redis_url`` -> ``FASTREC_REDIS_URL``."""
    return _ALIASES.get(field) or f"{ENV_PREFIX}{field.upper()}"


# --- reading .env strictly ---

def _check_env_files(env_file: Any) -> None:
    """Raise SettingsError when an existing env file is not UTF-8 or has a line that is
    not KEY=VALUE (pydantic-settings would raise UnicodeDecodeError without the file's
    name, or drop the line with a mere warning).  Missing files are the caller's concern."""
    if env_file is None:
        return
    files = [env_file] if isinstance(env_file, str | os.PathLike) else list(env_file)
    messages = [m for f in files for m in _env_file_problems(Path(f))]
    if messages:
        raise SettingsError(messages)


def _env_file_problems(path: Path) -> list[str]:
    from dotenv.parser import parse_stream  # pydantic-settings' own parser: the same grammar

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []  # the default ./.env is optional; load_settings checks an explicit one
    except OSError as exc:
        return [f"env_file={path}: cannot be read ({exc.strerror or exc})"]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return [f"env_file={path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                f"{exc.start}, line {line}); save it as UTF-8"]
    return [f"env_file={path}, line {b.original.line}: {_shown(b.original.string.rstrip())!r} is not "
            "KEY=VALUE (quotes must be closed; # starts a comment)"
            for b in parse_stream(io.StringIO(text)) if b.error]


# --- turning pydantic's errors into one line per variable ---

_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def validation_lines(exc: ValidationError, model: type[BaseSettings] | None = None,
                     name_of: typing.Callable[[str], str] | None = None) -> list[str]:
    """One message per variable, in field order, from a ValidationError.

    ``model`` (default :class:`RecordingSettings`) and ``name_of`` (field -> variable
    name, default :func:`env_name`) let other settings objects (the admin server's)
    report their problems in the same words.  A URL's password never reaches a message.
    """
    model = model or RecordingSettings
    name_of = name_of or env_name
    by_alias: dict[str, str] = {}
    for name, info in model.model_fields.items():
        for alias in (info.alias, info.validation_alias):
            if isinstance(alias, str):
                by_alias[alias.casefold()] = name
    seen: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        field = by_alias.get(field.casefold(), field)  # errors name a field by its alias
        if field in seen:
            continue  # one clear line per variable, not pydantic's per-branch details
        value = error.get("input")
        if field.endswith("_url") and isinstance(value, str):
            value = strip_credentials(value)  # a mistyped URL still holds its password
        name = name_of(field) if field else ENV_PREFIX.rstrip("_")
        seen[field] = f"{name}={_shown(value)}: {_allowed(model, field, error)}"
    order = list(model.model_fields)
    return [seen[f] for f in sorted(seen, key=lambda f: order.index(f) if f in order else len(order))]


def _shown(value: Any) -> str:
    if isinstance(value, dict):  # a model-level error carries the whole input
        return "?"
    text = str(value)
    return text if len(text) <= _MAX_SHOWN_VALUE else text[:_MAX_SHOWN_VALUE] + "..."


def _allowed(model: type[BaseSettings], field: str, error: Any) -> str:
    kind = error["type"]
    info = model.model_fields.get(field)
    if info is None:
        return str(error["msg"])
    annotation = info.annotation
    if typing.get_origin(annotation) is Literal:
        return "must be one of " + ", ".join(map(str, typing.get_args(annotation)))
    if annotation is bool:
        return "must be true or false (also 1/0, yes/no, on/off)"
    if annotation in (int, float):
        bounds = _bounds(info.metadata)
        if kind in _RANGE_ERRORS:
            return f"must be {bounds}"
        # not a number at all (or nan/inf): say which kind of number is wanted
        noun = "an integer" if annotation is int else "a number"
        return f"must be {noun} {bounds}" if bounds else f"must be {noun}"
    # our own errors ("cannot be written (...)") and anything unforeseen: pydantic's words
    return str(error["msg"])[:1].lower() + str(error["msg"])[1:]


def _bounds(metadata: list[Any]) -> str:
    """'between 1 and 60', 'greater than 0' or 'greater than or equal to 0' from Field()."""
    low: Any = None
    high: Any = None
    strict_low = False
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            low = item.ge
        elif isinstance(item, annotated_types.Gt):
            low, strict_low = item.gt, True
        elif isinstance(item, annotated_types.Le):
            high = item.le
    if low is not None and high is not None and not strict_low:
        return between(low, high)
    if low is not None:
        return f"greater than {low}" if strict_low else f"greater than or equal to {low}"
    if high is not None:
        return f"less than or equal to {high}"
    return ""
