"""RECORDING_* settings: defaults, ranges, one clear message per bad variable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import structlog

from fastrec.settings import RecordingSettings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # the developer's own RECORDING_* variables or .env must not leak into these tests
    for name in list(os.environ):
        if name.upper().startswith(("RECORDING_", "FASTREC_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


BAD_VALUES = [
    ("RECORDING_FPS", "0", "RECORDING_FPS=0: must be between 1 and 60"),
    ("RECORDING_FPS", "61", "RECORDING_FPS=61: must be between 1 and 60"),
    ("RECORDING_FPS", "ten", "RECORDING_FPS=ten: must be an integer between 1 and 60"),
    ("RECORDING_QUALITY", "70", "RECORDING_QUALITY=70: must be between 0 and 51"),
    ("RECORDING_MODE", "fullscreen",
     "RECORDING_MODE=fullscreen: must be one of full_screen, rdp_window, active_window"),
    ("RECORDING_RESOLUTION_SCALE", "abc", "RECORDING_RESOLUTION_SCALE=abc: must be a number between 0.1 and 2.0"),
    ("RECORDING_RESOLUTION_SCALE", "2.5", "RECORDING_RESOLUTION_SCALE=2.5: must be between 0.1 and 2.0"),
    ("RECORDING_RESOLUTION_SCALE", "nan", "RECORDING_RESOLUTION_SCALE=nan: must be a number between 0.1 and 2.0"),
    ("RECORDING_ENABLED", "maybe", "RECORDING_ENABLED=maybe: must be true or false (also 1/0, yes/no, on/off)"),
    ("RECORDING_AUTO_START", "2", "RECORDING_AUTO_START=2: must be true or false (also 1/0, yes/no, on/off)"),
    ("RECORDING_MAX_FILE_SIZE_MB", "0", "RECORDING_MAX_FILE_SIZE_MB=0: must be greater than 0"),
    ("RECORDING_MAX_DURATION_MINUTES", "-5", "RECORDING_MAX_DURATION_MINUTES=-5: must be greater than 0"),
    ("RECORDING_MAX_TOTAL_SIZE_GB", "0", "RECORDING_MAX_TOTAL_SIZE_GB=0: must be greater than 0"),
    ("RECORDING_MAX_FILE_AGE_DAYS", "x", "RECORDING_MAX_FILE_AGE_DAYS=x: must be an integer greater than 0"),
    ("RECORDING_CLEANUP_INTERVAL_HOURS", "0", "RECORDING_CLEANUP_INTERVAL_HOURS=0: must be between 0.1 and 8760"),
    # a busy loop of retention runs, and a timer that overflows and kills the schedule
    ("RECORDING_CLEANUP_INTERVAL_HOURS", "1e-9", "RECORDING_CLEANUP_INTERVAL_HOURS=1e-9: must be between 0.1 and 8760"),
    ("RECORDING_CLEANUP_INTERVAL_HOURS", "3e6", "RECORDING_CLEANUP_INTERVAL_HOURS=3e6: must be between 0.1 and 8760"),
    ("RECORDING_PRESET", "turbo", ("RECORDING_PRESET=turbo: must be one of ultrafast, superfast, veryfast, "
                                   "faster, fast, medium, slow, slower, veryslow, placebo")),
    ("RECORDING_KEYFRAME_INTERVAL_SECONDS", "0.1",
     "RECORDING_KEYFRAME_INTERVAL_SECONDS=0.1: must be between 0.5 and 600"),
    ("RECORDING_ENCODER_WORKERS", "33", "RECORDING_ENCODER_WORKERS=33: must be between 1 and 32"),
    ("RECORDING_TILE_SIZE", "4", "RECORDING_TILE_SIZE=4: must be between 8 and 256"),
    ("RECORDING_PARTIAL_GRABS", "maybe",
     "RECORDING_PARTIAL_GRABS=maybe: must be true or false (also 1/0, yes/no, on/off)"),
    ("RECORDING_RING_SLOTS", "1", "RECORDING_RING_SLOTS=1: must be between 2 and 64"),
    ("RECORDING_FULL_POLICY", "drop", "RECORDING_FULL_POLICY=drop: must be one of block, drop_oldest"),
    ("RECORDING_LOG_FORMAT", "xml", "RECORDING_LOG_FORMAT=xml: must be one of console, json"),
    ("RECORDING_MONITOR", "-1", "RECORDING_MONITOR=-1: must be greater than or equal to 0"),
    ("RECORDING_OUTPUT_DIR", "", "RECORDING_OUTPUT_DIR=: must not be empty"),
    ("RECORDING_LIVE_ANNOUNCE", "sometimes",
     "RECORDING_LIVE_ANNOUNCE=sometimes: must be true or false (also 1/0, yes/no, on/off)"),
    # the URL's password is never shown, even in the line that says it is wrong
    ("FASTREC_REDIS_URL", "http://admin:S3cret@cache:6379",
     "FASTREC_REDIS_URL=http://admin@cache:6379: must start with redis://, rediss://, unix://"),
    ("FASTREC_LIVE_PREFIX", "my prefix", "FASTREC_LIVE_PREFIX=my prefix: must be 1 to 64 printable characters without spaces"),
    ("FASTREC_S3_URL", "https://bucket.example/x", "FASTREC_S3_URL=https://bucket.example/x: must start with s3:// "
     "(s3://bucket/prefix)"),
    # credentials belong to the AWS environment: a URL carrying them is refused, without showing them
    ("FASTREC_S3_URL", "s3://key:S3cret@bucket/x", "FASTREC_S3_URL=s3://key@bucket/x: must name a bucket "
     "(s3://bucket/prefix; credentials come from the AWS environment, never the URL)"),
    ("FASTREC_S3_URL", "s3://bucket/a/../b", "FASTREC_S3_URL=s3://bucket/a/../b: prefix must not hold empty, "
     "'.' or '..' pieces"),
    ("FASTREC_S3_ENDPOINT_URL", "minio:9000", "FASTREC_S3_ENDPOINT_URL=minio:9000: must start with http://, https://"),
    ("FASTREC_S3_CACHE_GB", "-1", "FASTREC_S3_CACHE_GB=-1: must be between 0 and 1000000"),
    ("RECORDING_PII_PATTERNS", "emp=EMP(", "RECORDING_PII_PATTERNS=emp=EMP(: in 'emp=EMP(': "
     "CustomPattern.regex='EMP(' of pattern 'emp' does not compile (missing ), unterminated subpattern "
     "at position 3); allowed: a Python regular expression (re) of 1 to 1000 characters that matches "
     "at least one character wherever it matches"),
    ("RECORDING_PII_PATTERNS", "emp=\\d*", "RECORDING_PII_PATTERNS=emp=\\d*: in 'emp=\\\\d*': "
     "CustomPattern.regex='\\\\d*' of pattern 'emp' matches the empty string; allowed: a Python regular "
     "expression (re) of 1 to 1000 characters that matches at least one character wherever it matches"),
    ("RECORDING_PII_PATTERNS", "Emp=x", "RECORDING_PII_PATTERNS=Emp=x: in 'Emp=x': CustomPattern.name='Emp' "
     "is not allowed; allowed: 1 to 32 characters of a-z, 0-9, '_' and '-', starting with a letter, "
     "other than email, phone, card, ssn, iban"),
    ("RECORDING_PII_PATTERNS", "emp", "RECORDING_PII_PATTERNS=emp: in 'emp': not name=regex; allowed: "
     "name=regex items separated by spaces, the name 1 to 32 characters of a-z, 0-9, '_' and '-', "
     "starting with a letter, other than email, phone, card, ssn, iban"),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD_VALUES, ids=[f"{n}={v}" for n, v, _ in BAD_VALUES])
def test_bad_value_from_environment(monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.messages == [message]
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(("name", "value", "message"), BAD_VALUES, ids=[f"{n}={v}" for n, v, _ in BAD_VALUES])
def test_bad_value_from_env_file(tmp_path: Path, name: str, value: str, message: str) -> None:
    env_file = tmp_path / "custom.env"
    env_file.write_text(f"OTHER_APP_SETTING=1\n{name}={value}   # a comment\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(env_file=env_file)
    assert caught.value.messages == [message]


def test_default_env_file_in_working_directory(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("RECORDING_FPS=0\n")
    with pytest.raises(SettingsError, match="RECORDING_FPS=0: must be between 1 and 60"):
        load_settings()


def test_unwritable_output_dir_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RECORDING_ENABLED", "true")
    monkeypatch.setenv("RECORDING_OUTPUT_DIR", "/proc/x")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    [message] = caught.value.messages
    assert message.startswith("RECORDING_OUTPUT_DIR=/proc/x: cannot be written (")
    # below a regular file: mkdir fails whoever runs the test (root included)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("RECORDING_OUTPUT_DIR", str(blocker / "sub"))
    with pytest.raises(SettingsError, match=r"RECORDING_OUTPUT_DIR=.*/file/sub: cannot be written \(Not a directory\)"):
        load_settings()
    monkeypatch.setenv("RECORDING_OUTPUT_DIR", str(blocker))
    with pytest.raises(SettingsError, match=r"cannot be written \(exists and is not a directory\)"):
        load_settings()


def test_enabled_recorder_creates_private_output_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = tmp_path / "a" / "recordings"
    settings = load_settings(enabled=True, output_dir=target)
    assert settings.output_dir == target
    assert target.is_dir() and (target.stat().st_mode & 0o777) == 0o700
    assert list(target.iterdir()) == []  # the write probe is gone


def test_disabled_recorder_touches_nothing(tmp_path: Path) -> None:
    settings = load_settings(output_dir=tmp_path / "later")
    assert not (tmp_path / "later").exists()
    assert settings.output_dir == tmp_path / "later"


def test_all_errors_reported_together(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("RECORDING_QUALITY=70\nRECORDING_MODE=fullscreen\n")
    monkeypatch.setenv("RECORDING_FPS", "0")
    monkeypatch.setenv("RECORDING_RESOLUTION_SCALE", "abc")
    monkeypatch.setenv("RECORDING_ENABLED", "1")
    monkeypatch.setenv("RECORDING_OUTPUT_DIR", "/proc/x")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    messages = caught.value.messages
    assert messages[:4] == [
        "RECORDING_MODE=fullscreen: must be one of full_screen, rdp_window, active_window",
        "RECORDING_FPS=0: must be between 1 and 60",
        "RECORDING_QUALITY=70: must be between 0 and 51",
        "RECORDING_RESOLUTION_SCALE=abc: must be a number between 0.1 and 2.0",
    ]
    assert messages[4].startswith("RECORDING_OUTPUT_DIR=/proc/x: cannot be written (")
    assert len(messages) == 5
    assert str(caught.value) == "\n".join(messages)


def test_defaults() -> None:
    s = load_settings()
    assert (s.enabled, s.auto_start, s.mode) == (False, False, "rdp_window")
    assert (s.fps, s.quality, s.resolution_scale) == (10, 23, 1.0)
    assert (s.max_file_size_mb, s.max_duration_minutes) == (100, 30)
    assert (s.max_total_size_gb, s.max_file_age_days, s.cleanup_interval_hours) == (10.0, 30, 6.0)
    assert s.output_dir == Path("recordings")
    assert (s.preset, s.keyframe_interval_seconds, s.tile_size, s.ring_slots) == ("veryfast", 60.0, 64, 3)
    assert s.partial_grabs is True
    assert (s.full_policy, s.log_format, s.monitor) == ("block", "console", 0)
    assert s.encoder_workers == min(32, max(1, (os.cpu_count() or 1) - 1))


def test_reference_env_file_loads(tmp_path: Path) -> None:
    # the reference's .env snippet, inline comments included
    env = tmp_path / ".env"
    env.write_text(
        "RECORDING_ENABLED=true\n"
        "RECORDING_AUTO_START=true\n"
        "RECORDING_MODE=rdp_window               # full_screen, rdp_window, active_window\n"
        "RECORDING_FPS=10                        # Frames per second (1-60)\n"
        "RECORDING_QUALITY=23                    # H.264 quality (0-51, lower = better quality)\n"
        "RECORDING_RESOLUTION_SCALE=0.5          # Resolution scale (0.1-2.0)\n"
        "RECORDING_MAX_FILE_SIZE_MB=100          # Max file size before rotation\n"
        "RECORDING_MAX_DURATION_MINUTES=30      # Max recording duration\n"
        "RECORDING_MAX_TOTAL_SIZE_GB=10.0        # Total storage limit\n"
        "RECORDING_MAX_FILE_AGE_DAYS=7          # Auto-delete after X days\n"
        "RECORDING_CLEANUP_INTERVAL_HOURS=6      # Cleanup frequency\n"
        f"RECORDING_OUTPUT_DIR={tmp_path / 'rec'}\n"
    )
    s = load_settings()
    assert s.enabled and s.auto_start and s.resolution_scale == 0.5 and s.max_file_age_days == 7
    assert (tmp_path / "rec").is_dir()


def test_precedence_and_case(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("RECORDING_FPS=5\nRECORDING_QUALITY=30\nrecording_tile_size=32\n")
    monkeypatch.setenv("RECORDING_QUALITY", "28")
    monkeypatch.setenv("recording_mode", "FULL_SCREEN")
    s = load_settings(fps=15)
    assert (s.fps, s.quality, s.tile_size, s.mode) == (15, 28, 32, "full_screen")


def test_unknown_override_and_missing_env_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="fsp: unknown setting"):
        load_settings(fsp=10)
    with pytest.raises(SettingsError, match=r"env_file=.*nope\.env: file not found"):
        load_settings(env_file=tmp_path / "nope.env")


def test_direct_construction_raises_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECORDING_FPS", "0")
    with pytest.raises(SettingsError) as caught:
        RecordingSettings()
    assert caught.value.messages == ["RECORDING_FPS=0: must be between 1 and 60"]


def test_assignment_is_validated() -> None:
    s = load_settings()
    with pytest.raises(SettingsError, match="RECORDING_FPS=0: must be between 1 and 60"):
        s.fps = 0
    assert s.fps == 10


def test_get_recording_config_keys(tmp_path: Path) -> None:
    config = load_settings(output_dir=tmp_path / "r").get_recording_config()
    assert list(config) == [
        "enabled", "auto_start", "mode", "fps", "quality", "resolution_scale", "max_file_size_mb",
        "max_duration_minutes", "max_total_size_gb", "max_file_age_days", "cleanup_interval_hours",
        "output_dir", "preset", "keyframe_interval_seconds", "encoder_workers", "tile_size",
        "partial_grabs", "ring_slots", "full_policy", "log_format", "monitor", "live_announce", "redis_url", "live_prefix",
        "database_url", "s3_url", "s3_endpoint_url", "s3_cache_gb", "encryption_key_file", "encryption_key", "encryption_keystore",
        "pii_patterns", "ocr_pii", "ocr_max_delay", "ocr_threads",
        "input_events", "rage_clicks",
    ]
    assert config["fps"] == 10 and config["quality"] == 23 and config["resolution_scale"] == 1.0
    assert config["output_dir"] == str(tmp_path / "r")
    assert (config["live_announce"], config["redis_url"], config["live_prefix"]) == (True, None, "fastrec:live:")
    assert (config["s3_url"], config["s3_endpoint_url"], config["s3_cache_gb"]) == (None, None, 0.0)
    assert all(isinstance(v, str | int | float | bool | None) for v in config.values())


def test_validate_recording_config(tmp_path: Path) -> None:
    s = load_settings(output_dir=tmp_path / "ok")
    assert s.validate_recording_config() is True
    assert (tmp_path / "ok").is_dir()  # validation probes (and so creates) the directory
    s.output_dir = Path("/proc/x")  # allowed while disabled: nothing is written yet
    with structlog.testing.capture_logs() as logs:
        assert s.validate_recording_config() is False
    assert [e["log_level"] for e in logs] == ["error"]
    assert logs[0]["problem"].startswith("RECORDING_OUTPUT_DIR=/proc/x: cannot be written (")
    assert isinstance(RecordingSettings.model_fields["fps"].default, int)


def test_env_file_that_is_not_utf8_names_the_file_and_the_byte(tmp_path: Path) -> None:
    env = tmp_path / "app.env"
    env.write_bytes(b"RECORDING_FPS=5\nRECORDING_OUTPUT_DIR=caf\xe9\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(env_file=env)
    assert caught.value.messages == [
        f"env_file={env}: not UTF-8 text (byte 0xe9 at offset 40, line 2); save it as UTF-8"]
    (tmp_path / ".env").write_bytes(b"\xff")  # the default file, and direct construction, too
    with pytest.raises(SettingsError, match=r"env_file=\.env: not UTF-8 text \(byte 0xff at offset 0, line 1\)"):
        RecordingSettings()


@pytest.mark.parametrize("line", ["RECORDING_FPS 5", 'RECORDING_QUALITY="30', "=5"])
def test_env_file_line_that_is_not_key_value_is_an_error(tmp_path: Path, line: str) -> None:
    env = tmp_path / "app.env"
    env.write_text(f"# comment\n\nexport OTHER_APP=1\n{line}\nRECORDING_FPS=7\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(env_file=env)
    assert caught.value.messages == [
        f"env_file={env}, line 4: {line!r} is not KEY=VALUE (quotes must be closed; # starts a comment)"]


def test_presets_are_defined_once() -> None:
    from fastrec.settings import PRESETS

    assert PRESETS[:3] == ("ultrafast", "superfast", "veryfast") and len(PRESETS) == 10
    assert load_settings(preset="SLOW ").preset == "slow"


def test_s3_settings_are_read_under_their_fastrec_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("S3_URL", "s3://elsewhere/x")
    assert load_settings().s3_url is None
    monkeypatch.setenv("FASTREC_S3_URL", "s3://recordings/gateway-1/")
    monkeypatch.setenv("FASTREC_S3_ENDPOINT_URL", "http://minio:9000")
    monkeypatch.setenv("FASTREC_S3_CACHE_GB", "2.5")
    s = load_settings()
    assert (s.s3_url, s.s3_endpoint_url, s.s3_cache_gb) == ("s3://recordings/gateway-1/", "http://minio:9000", 2.5)
    assert load_settings(s3_url="s3://other").s3_url == "s3://other/"
    assert load_settings(s3_url=" ").s3_url is None  # FASTREC_S3_URL= : the local disk only


def test_redis_url_and_live_prefix_are_read_under_their_fastrec_names_only(monkeypatch: pytest.MonkeyPatch,
                                                                            tmp_path: Path) -> None:
    # REDIS_URL is common in the environment of other programs: it must not redirect live state
    monkeypatch.setenv("REDIS_URL", "redis://elsewhere:1")
    monkeypatch.setenv("RECORDING_REDIS_URL", "redis://elsewhere:2")
    assert load_settings().redis_url is None
    monkeypatch.setenv("FASTREC_REDIS_URL", "redis://:pw@cache:6379/2")
    monkeypatch.setenv("FASTREC_LIVE_PREFIX", "gw:")
    s = load_settings()
    assert (s.redis_url, s.live_prefix) == ("redis://:pw@cache:6379/2", "gw:")
    assert "pw" not in repr(s) and "pw" not in str(s.get_recording_config())
    assert s.redis_url_shown == "redis://@cache:6379/2"
    # the field name as an argument means the same variable; an empty value means unset
    assert load_settings(redis_url="redis://other:1").redis_url == "redis://other:1"
    assert load_settings(redis_url=" ").redis_url is None
    (tmp_path / ".env").write_text("FASTREC_REDIS_URL=redis://from-dotenv:6379\n")
    monkeypatch.delenv("FASTREC_REDIS_URL")
    assert load_settings().redis_url == "redis://from-dotenv:6379"
    assert load_settings().validation_messages() == []


def test_database_url_is_postgresql_or_unset_and_never_shows_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().database_url is None  # SQLite files, the default
    monkeypatch.setenv("DATABASE_URL", "postgresql://elsewhere/db")  # other programs' name: not ours
    assert load_settings().database_url is None
    monkeypatch.setenv("FASTREC_DATABASE_URL", "postgresql://fleet:s3cret@db.example:5432/fastrec")
    s = load_settings()
    assert s.database_url == "postgresql://fleet:s3cret@db.example:5432/fastrec"
    assert s.database_url_shown == "postgresql://fleet@db.example:5432/fastrec"
    assert "s3cret" not in repr(s) and "s3cret" not in str(s.get_recording_config())
    assert load_settings(database_url=" ").database_url is None
    for bad, problem in (("mysql://root:s3cret@db/x", "must start with postgresql:// or postgres://"),
                         ("postgresql://fleet:s3cret@db:notaport/x", "port 'notaport' must be between 1 and 65535"),
                         ("postgresql://fleet:s3cret@[::1/x", "is not a valid PostgreSQL URL"),
                         ("postgresql://fleet:s3cret@db/x?colour=blue", 'invalid URI query parameter: "colour"')):
        with pytest.raises(SettingsError) as caught:
            load_settings(database_url=bad)
        [line] = caught.value.messages
        assert line.startswith("FASTREC_DATABASE_URL=") and problem in line and "s3cret" not in line


def test_live_announce_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().live_announce is True
    monkeypatch.setenv("RECORDING_LIVE_ANNOUNCE", "false")
    assert load_settings().live_announce is False
    assert load_settings(live_announce=True).live_announce is True


def test_pii_patterns_from_an_env_file(tmp_path: Path) -> None:
    # unquoted in .env, backslashes and all, as an operator writes them
    env_file = tmp_path / "custom.env"
    env_file.write_text("RECORDING_PII_PATTERNS=employee_id=EMP-\\d{6} ticket=(?i)tck\\d{8}\n")
    settings = load_settings(env_file=env_file)
    assert [(p.name, p.regex) for p in settings.custom_pii_patterns()] == [
        ("employee_id", r"EMP-\d{6}"), ("ticket", r"(?i)tck\d{8}")]
    assert load_settings().custom_pii_patterns() == ()  # unset: none, the built-in kinds only


def test_input_events_and_rage_clicks_are_settings_with_one_line_errors(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.input_events is True and settings.rage_clicks == "3/8px/2s"
    assert (settings.rage_rule().count, settings.rage_rule().radius_px, settings.rage_rule().window_seconds) \
        == (3, 8.0, 2.0)
    env = tmp_path / ".env"
    env.write_text("RECORDING_INPUT_EVENTS=false\nRECORDING_RAGE_CLICKS=4/12px/1.5s\n")
    custom = load_settings(env_file=env)
    assert custom.input_events is False and custom.rage_rule().count == 4
    assert custom.rage_rule().radius_px == 12.0 and custom.rage_rule().window_seconds == 1.5
    for bad in ("3/8px", "1/8px/2s", "3/8px/0s", "lots"):
        with pytest.raises(SettingsError) as caught:
            load_settings(rage_clicks=bad)
        assert caught.value.messages == [f"RECORDING_RAGE_CLICKS={bad}: must be COUNT/RADIUSpx/SECONDSs with "
                                         "COUNT 2 to 100, RADIUS 1 to 1000 pixels and SECONDS 0.1 to 60, "
                                         "e.g. 3/8px/2s"]
    with pytest.raises(SettingsError, match="RECORDING_INPUT_EVENTS=maybe: must be true or false"):
        load_settings(input_events="maybe")
