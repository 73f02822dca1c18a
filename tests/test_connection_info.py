"""clean_connection_info: only allowed, plain, bounded, credential-free values are stored.

What a user sees is the metadata file: every test that can writes the cleaned
connection_info into a real metadata file (storage.write_metadata) and reads the file's
text, so "the password is not there" is checked where it would leak.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastrec.privacy.connection import (
    FIELDS,
    MAX_TEXT,
    ConnectionDetails,
    clean_connection_info,
    looks_secret,
    strip_credentials,
)
from fastrec.storage.metadata import ConnectionInfo, SegmentMetadata, write_metadata

PASSWORD = "S3cret!"


def metadata_text(tmp_path: Path, details: ConnectionDetails) -> str:
    """The metadata file a session with these connection details gets, as text."""
    meta = SegmentMetadata(session_id="s1", connection_info=ConnectionInfo(**details.as_dict()),
                           start_time=datetime(2026, 11, 30, tzinfo=timezone.utc))
    path = write_metadata(tmp_path / "s1_metadata.json", meta)
    return path.read_text(encoding="utf-8")


def everything_reported(details: ConnectionDetails) -> str:
    """All a caller may store or log: the values, the dropped names and reasons, the notes."""
    return json.dumps([details.as_dict(), dict(details.dropped), dict(details.changed),
                       details.summary()])


def test_the_reference_keys_pass_unchanged(tmp_path: Path):
    given_info = {"con_codigo": 123, "ip": "192.168.1.100", "name": "Production Server",
                  "user": "administrator", "connection_type": "RDP"}
    details = clean_connection_info(given_info)
    assert details.as_dict() == given_info
    assert not details.dropped and not details.changed and details.summary() == ""
    assert json.loads(metadata_text(tmp_path, details))["connection_info"] == given_info


def test_a_password_key_is_dropped_and_named_without_its_value(tmp_path: Path):
    details = clean_connection_info({"ip": "10.0.0.5", "user": "admin", "password": PASSWORD,
                                     "db_password": PASSWORD, "apiKey": PASSWORD})
    assert details.as_dict() == {"con_codigo": None, "ip": "10.0.0.5", "name": None,
                                 "user": "admin", "connection_type": None}
    assert dict(details.dropped) == {"password": "secret-looking key, not stored",
                                     "db_password": "secret-looking key, not stored",
                                     "apiKey": "secret-looking key, not stored"}
    assert "password: secret-looking key, not stored" in details.summary()
    assert PASSWORD not in everything_reported(details)
    assert PASSWORD not in metadata_text(tmp_path, details)


@pytest.mark.parametrize("name", ["password", "Password", "PASSWD", "pwd", "secret",
                                  "client_secret", "token", "X-Auth-Token", "accessToken", "api_key", "key",
                                  "credentials", "auth", "Authorization", "cookie", "session key",
                                  "sessionKey", "db_password", "privateKey", "pin", "otp"])
def test_secret_looking_names(name: str):
    assert looks_secret(name)
    assert clean_connection_info({name: "x"}).dropped == {name: "secret-looking key, not stored"}


@pytest.mark.parametrize("name", ["user", "name", "ip", "port", "host", "mapping", "shipping",
                                  "window_title", "con_codigo"])
def test_ordinary_names_are_not_secret_looking(name: str):
    assert not looks_secret(name)


def test_unknown_keys_are_dropped_and_named(tmp_path: Path):
    details = clean_connection_info({"name": "srv", "window_title": "Desktop", 7: "x"})
    assert details.as_dict()["name"] == "srv" and "window_title" not in details.as_dict()
    assert dict(details.dropped) == {"window_title": "unknown key, not stored",
                                     "<int key>": "not stored: keys are text"}


def test_many_unknown_keys_are_counted_not_listed():
    details = clean_connection_info({f"k{i}": i for i in range(1000)})
    assert len(details.dropped) == 33 and details.dropped["…"] == "968 more keys not stored"


def test_bytes_nested_containers_and_objects_are_dropped_and_the_rest_stays_json(tmp_path: Path):
    class Credentials:
        def __str__(self) -> str:  # must never run: str() of an object may print a secret
            raise AssertionError("str() of an unknown object was called")

    details = clean_connection_info({
        "con_codigo": 5, "ip": b"10.0.0.5", "name": {"host": "srv", "password": PASSWORD},
        "user": ["admin", PASSWORD], "connection_type": Credentials(), "client": b"\xff\xfe",
        "port": 3389})
    assert details.as_dict() == {"con_codigo": 5, "ip": None, "name": None, "user": None,
                                 "connection_type": None, "port": 3389}
    assert dict(details.dropped) == {
        "ip": "a bytes is not stored (allowed: str, int, float, bool or None)",
        "name": "a dict is not stored (allowed: str, int, float, bool or None)",
        "user": "a list is not stored (allowed: str, int, float, bool or None)",
        "connection_type": "a Credentials is not stored (allowed: str, int, float, bool or None)",
        "client": "a bytes is not stored (allowed: str, int, float, bool or None)"}
    json.dumps(details.as_dict(), allow_nan=False)
    text = metadata_text(tmp_path, details)
    assert PASSWORD not in text and json.loads(text)["connection_info"]["port"] == 3389


def test_a_10kB_value_is_cut_and_reported(tmp_path: Path):
    details = clean_connection_info({"name": "n" * 10_000, "user": "u" * 10_000})
    for key in ("name", "user"):
        value = details.as_dict()[key]
        assert isinstance(value, str) and len(value) == MAX_TEXT and value.endswith("…")
        assert details.changed[key] == f"cut from 10000 to {MAX_TEXT} characters"
    assert len(metadata_text(tmp_path, details)) < 2_000


def test_credentials_go_before_the_cut():
    # the password sits at the 10 kB mark: cutting first would leave the URI without its
    # '@', and the password's head in the value
    details = clean_connection_info({"name": "rdp://admin:" + PASSWORD + "x" * 10_000 + "@srv"})
    assert details.name == "rdp://admin@srv" and details.changed["name"] == "credentials removed"


@pytest.mark.parametrize(("key", "value", "kept"), [
    ("user", "admin:" + PASSWORD, "admin"),
    ("user", "CORP\\admin:" + PASSWORD, "CORP\\admin"),
    ("user", "admin@corp:" + PASSWORD, "admin@corp"),  # a UPN is an address: tests/privacy
    ("name", "rdp://admin:" + PASSWORD + "@10.0.0.5", "rdp://admin@10.0.0.5"),
    ("name", "rdp://admin:p@ss w/rd " + PASSWORD + "@10.0.0.5:3389", "rdp://admin@10.0.0.5:3389"),
    ("ip", "admin:" + PASSWORD + "@10.0.0.5", "admin@10.0.0.5"),
    ("client", "xfreerdp /v:srv /u:bob /p:" + PASSWORD, "xfreerdp /v:srv /u:bob /p:[redacted]"),
    ("client", "xfreerdp /v:srv /password:" + PASSWORD, "xfreerdp /v:srv /password:[redacted]"),
    ("client", "xfreerdp /v:srv /pth:" + PASSWORD + " /gp:" + PASSWORD,
     "xfreerdp /v:srv /pth:[redacted] /gp:[redacted]"),
    ("client", "xfreerdp /gateway:g:gw,u:bob,p:" + PASSWORD,
     "xfreerdp /gateway:g:gw,u:bob,p:[redacted]"),
    ("client", "rdesktop -u bob -p " + PASSWORD + " srv", "rdesktop -u bob -p [redacted] srv"),
    ("client", "rdesktop -p" + PASSWORD + " srv", "rdesktop -p[redacted] srv"),
    ("client", "tool --password=" + PASSWORD, "tool --password=[redacted]"),
    ("client", "tool --password " + PASSWORD, "tool --password [redacted]"),
    ("domain", "server=srv\npassword=" + PASSWORD + "\n", "server=srv\npassword=[redacted]\n"),
    ("name", "https://srv/?user=bob&token=" + PASSWORD + "&x=1",
     "https://srv/?user=bob&token=[redacted]&x=1"),
])
def test_credentials_are_stripped_from_values(tmp_path: Path, key: str, value: str, kept: str):
    details = clean_connection_info({key: value})
    assert getattr(details, key) == kept
    assert details.changed[key] == "credentials removed"
    assert "3cret" not in everything_reported(details) + metadata_text(tmp_path, details)


def test_values_are_read_through_their_base_type(tmp_path: Path):
    class Kind(enum.StrEnum):
        RDP = "RDP"

    class Port(enum.IntEnum):
        RDP = 3389

    class Sneaky(str):
        def __str__(self) -> str:
            return "admin:" + PASSWORD

    details = clean_connection_info({"connection_type": Kind.RDP, "port": Port.RDP,
                                     "user": Sneaky("admin"), "name": 42, "ip": 1.5,
                                     "domain": True, "pid": "4242", "con_codigo": "A-1"})
    assert details.as_dict() == {"con_codigo": "A-1", "ip": "1.5", "name": "42", "user": "admin",
                                 "connection_type": "RDP", "port": 3389, "domain": "true",
                                 "pid": 4242}
    assert all(type(v) in (str, int) for v in details.as_dict().values())
    assert PASSWORD not in metadata_text(tmp_path, details)


@pytest.mark.parametrize(("key", "value", "reason"), [
    ("port", 0, "0 is not stored (allowed: 1-65535)"),
    ("port", 70000, "70000 is not stored (allowed: 1-65535)"),
    ("port", "33a", "a decimal string that is not one is not stored (allowed: a whole number "
                    "1-65535 or None)"),
    ("port", 3389.0, "a float is not stored (allowed: a whole number 1-65535 or None)"),
    ("pid", True, "a bool is not stored (allowed: a whole number 1-2147483647 or None)"),
    ("pid", -1, "-1 is not stored (allowed: 1-2147483647)"),
    ("con_codigo", 1 << 70,
     "an integer of 71 bits is not stored (allowed: a 64-bit integer or text)"),
    ("name", 10 ** 400, "an integer of 1329 bits is not stored as text (allowed: at most 64 bits)"),
])
def test_out_of_range_numbers_are_dropped_with_the_rule(key: str, value: object, reason: str):
    details = clean_connection_info({key: value})
    assert getattr(details, key) is None and details.dropped == {key: reason}


def test_control_characters_are_kept_and_non_utf8_is_escaped(tmp_path: Path):
    # escaping newlines and terminal escapes is each output's job; lone surrogates (a
    # non-UTF-8 command line as psutil decodes it) cannot be written as UTF-8 JSON at all
    details = clean_connection_info({"name": "srv\n\x1b[31mred", "user": "b\udcffb"})
    assert details.name == "srv\n\x1b[31mred" and "name" not in details.changed
    assert details.user == "b\\xffb"
    stored = json.loads(metadata_text(tmp_path, details))["connection_info"]
    assert stored["name"] == "srv\n\x1b[31mred" and stored["user"] == "b\\xffb"


def test_not_a_mapping_is_a_type_error_naming_the_type():
    with pytest.raises(TypeError, match="connection_info must be a mapping .* got str"):
        clean_connection_info("notadict")  # type: ignore[arg-type]


def test_the_extras_are_documented_fields():
    assert FIELDS == ("con_codigo", "ip", "name", "user", "connection_type", "port", "domain",
                      "client", "pid")
    names = [f.name for f in dataclasses.fields(ConnectionDetails)]
    assert names == [*FIELDS, "dropped", "changed"]
    details = clean_connection_info({"port": 3390, "domain": "CORP", "client": "xfreerdp",
                                     "pid": 77, "name": "srv"})
    assert details.as_dict() == {"con_codigo": None, "ip": None, "name": "srv", "user": None,
                                 "connection_type": None, "port": 3390, "domain": "CORP",
                                 "client": "xfreerdp", "pid": 77}


_values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=300),
                    st.binary(max_size=5), st.lists(st.integers(), max_size=2),
                    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
_TEXT_FIELDS = ("ip", "name", "user", "connection_type", "domain", "client")
_FORMS = ["rdp://admin:{}@10.0.0.5", "--connect=rdp://admin:{}@srv", "x /p:{} y", "-p {}",
          "a /password:{}", "password={}", "bob:{}@host", "--password={}", "/v:bob:{}@h"]
_planted = st.one_of(
    st.tuples(st.sampled_from(_TEXT_FIELDS), st.sampled_from(_FORMS)),
    st.tuples(st.just("user"), st.just("admin:{}")))  # user:password: only the user field
# a password: anything but the separators that end one in its form (space, & ; ,)
_passwords = st.text(st.characters(codec="utf-8").filter(lambda c: not c.isspace()
                                                         and c not in "&;,"),
                     min_size=1, max_size=20)


@settings(max_examples=400, deadline=None)
@given(info=st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=12)), _values,
                            max_size=8),
       planted=_planted, secret=_passwords)
def test_any_input_gives_json_without_the_planted_password(info, planted, secret):
    key, form = planted
    head, tail = "\u2603Zq", "Qz\u2603"  # around the password: a piece of it left shows
    info[key] = form.format(head + secret + tail)
    details = clean_connection_info(info)
    stored = details.as_dict()
    text = json.dumps(stored, allow_nan=False) + everything_reported(details)
    assert head not in text and tail not in text, (info[key], stored.get(key))
    ConnectionInfo(**stored).model_dump_json()
    assert set(stored) <= set(FIELDS)
    assert all(v is None or type(v) in (str, int) for v in stored.values())
    assert all(len(v) <= MAX_TEXT for v in stored.values() if isinstance(v, str))
    if not any("cut" in note for note in details.changed.values()):
        again = clean_connection_info(stored)
        assert again.as_dict() == stored and not again.dropped and not again.changed


def test_strip_credentials_is_linear_on_hostile_text():
    # 1 MB values of repeated separators come back at all (a regex that backtracked over
    # them would not return in any useful time), and come back right
    n = 200_000
    for unchanged in ("a:" * n, "a." * n, "a_" * n, "://" * n):
        assert strip_credentials(unchanged) == unchanged
    assert strip_credentials("rdp://a:b@" * n) == "rdp://a@"
    assert strip_credentials("@:" * n) == "@@:"  # user-info from the first ":" to the last "@"
    assert strip_credentials("-p " * n) == "-p [redacted] " * (n // 2)
    assert strip_credentials("p=1," * n) == "p=[redacted]," * n


def test_a_password_with_spaces_in_a_user_password_host_value_is_removed() -> None:
    # found in review: the value was split on whitespace first, so "my pass" kept "pass@..."
    cleaned = clean_connection_info({"ip": "admin:my secret pass@10.0.0.5"})
    assert cleaned.as_dict()["ip"] == "admin@10.0.0.5"
    assert "secret" not in json.dumps(cleaned.as_dict()) and "ip" in cleaned.changed
