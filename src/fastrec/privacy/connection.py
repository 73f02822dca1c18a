"""connection_info without secrets or personal data: an allow-list of plain, bounded,
credential-free values, personal data replaced by markers.

:func:`clean_connection_info` turns the ``connection_info`` an embedding application
(``RecordingManager.start_session_recording``) or the RDP-client monitor hands to the
recorder into :class:`ConnectionDetails`, the only form that may reach metadata, the
index, status, events and logs (DESIGN.md: "Secrets (passwords in command lines or URIs,
keys typed) never reach metadata, logs or events").

Invariants, and why:

- **Allow-list.**  Only the keys of :data:`FIELDS` are kept: the reference's
  ``con_codigo``, ``ip``, ``name``, ``user``, ``connection_type``, plus the documented
  extras ``port``, ``domain``, ``client`` (the RDP client program) and ``pid`` (its process
  id), which the monitor fills.  Every other key is dropped and its *name* reported, never
  its value: a key we do not know might hold anything, and a new field is added here on
  purpose, with its type.  Names that look secret (password, passwd, pwd, secret, token,
  key, credential, auth, cookie, ... anywhere in the name, any case: ``db_password``,
  ``apiKey``) are reported as "secret-looking" so the caller's log says why.
- **Plain values only, so the result is always JSON-serialisable.**  Text fields hold a
  ``str``; an ``int``, ``float`` or ``bool`` there is written as text (their text form is
  Python's own, runs no foreign code and holds nothing else).  ``port`` and ``pid`` hold an
  ``int`` in range (a decimal string is accepted); ``con_codigo`` an ``int`` within 64 bits
  (SQLite's integer) or text.  Anything else -- bytes, nested dicts or lists, other
  objects -- is *dropped and reported, not stringified*: ``str()`` of an arbitrary object
  runs its code and prints what it holds (a nested dict's text shows its password, bytes
  show as ``b'...'`` with whatever they carried), and bytes once crashed the manager's
  event thread.  Subclasses of str/int (``StrEnum``, ``IntEnum``) are read through the
  base type, so their own ``__str__`` never runs.
- **No credentials in any text value.**  The password of a URI's user-info goes
  (``rdp://admin:S3cret!@10.0.0.5`` -> ``rdp://admin@10.0.0.5``; everything between the
  first ``:`` after ``://`` and the last ``@`` is removed, so a password holding ``@``,
  ``/`` or spaces goes too), as does that of a bare ``user:password@host``; the values of
  password options (``/p:``, ``/password:``, ``/pth:``, ``/gp:``, ``-p secret``,
  ``-psecret``, ``--password=...``) and of ``password=...``-like pairs become
  ``[redacted]``; a ``user`` value is cut at its first ``:`` (Windows, and the RDP
  clients, never allow ``:`` in a user name, so what follows is a password).  These rules
  err towards removing too much: a stored field a little shorter than it could be is a
  nuisance, a stored password is a breach.
- **No personal data in any text value** (issue 11): after the credentials, every text
  value goes through :func:`fastrec.privacy.pii.redact_pii` with every kind - e-mail
  addresses, phone, card, social security and IBAN numbers, and the operator's
  ``pii_patterns`` (RECORDING_PII_PATTERNS) - each replaced by its marker (``[email]``,
  ``[card]``, ...; ``changed`` says "personal data replaced").  This includes ``user``:
  a user principal name (``bob@corp.example``) is an e-mail address and is stored as
  ``[email]``; the down-level form (``CORP\bob``) is kept.  The names of dropped keys
  and the reasons (which quote a refused number) are redacted too.
- **Bounded text.**  A text value is at most :data:`MAX_TEXT` characters (longer ones are
  cut, end in "…" and are reported), so one field cannot bloat every metadata file, index
  row and log line.  Credentials and personal data are removed *before* the cut, so a
  cut never leaves a password's head or the first digits of a card number behind.
- **Control characters are kept as they are.**  Newlines and terminal escapes in a name
  or a user are data, faithfully stored; escaping them is each output's job (the console
  log, ``list``, ``info``), not storage's.  Only lone surrogates (a command line that is not
  UTF-8, as psutil decodes it) are written as ``\\xNN`` escapes, since UTF-8 JSON cannot
  hold them.
- **Idempotent** for values that were not cut: cleaning a cleaned dict gives it back
  unchanged, so the monitor and the manager may both clean (credential stripping leaves
  ``[redacted]`` alone and :func:`~fastrec.privacy.pii.redact_pii` leaves its markers
  alone).  (A cut may end inside ``[redacted]``, which a second pass writes out again;
  still nothing secret.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from fastrec.privacy.pii import CustomPattern, redact_pii

__all__ = [
    "FIELDS",
    "MAX_TEXT",
    "REDACTED",
    "ConnectionDetails",
    "clean_connection_info",
    "looks_secret",
    "strip_credentials",
]

MAX_TEXT: Final = 256
"""Longest text value kept, in characters (host names stop at 253, user names well before)."""

MAX_REPORTED: Final = 32
"""At most this many dropped keys are named; the rest are counted under ``"…"``."""

REDACTED: Final = "[redacted]"

_KEY_NAME_MAX: Final = 64
_INT64: Final = 1 << 63

# --- secret-looking names --------------------------------------------------------------

# stems matched anywhere in the folded name (db_password, apiKey, x-auth-token); a false
# positive only changes the reason a key is reported under, never what is kept
_SECRET_STEMS: Final = ("pass", "pwd", "secret", "token", "key", "cred", "auth", "cookie",
                        "private", "signature", "bearer", "hash", "salt")
# short ones only as a whole word of the name (not "ping", "mapping", "shipping")
_SECRET_WORDS: Final = frozenset({"pw", "pin", "otp", "totp", "mfa", "jwt", "sso", "saml",
                                  "hmac", "nonce", "ticket", "sid"})


def looks_secret(name: str) -> bool:
    """True when a key name looks like it holds a secret: ``password``, ``db_password``,
    ``apiKey``, ``X-Auth-Token``, ``session key``, ``PIN`` ... (case-insensitive)."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    folded = re.sub(r"[^a-z0-9]+", "", words)
    if any(stem in folded for stem in _SECRET_STEMS):
        return True
    return any(word in _SECRET_WORDS for word in re.split(r"[^a-z0-9]+", words))


# --- credentials in text ---------------------------------------------------------------

_SCHEME_SEP: Final = "://"
# a password option with its value attached: /p:x  -p:x  /password:x  --password=x  /pth:x
# (FreeRDP pass-the-hash)  /gp:x (gateway password)  /assistance:x  -pw=x ...
_OPTION_ATTACHED: Final = re.compile(
    r"(?i)^([/-]{1,2}(?:p|pw|pass|passwd|password|pwd|pth|gp|gpass|gatewaypassword|"
    r"gateway-password|assistance|secret|token)[:=])(.+)$")
# rdesktop-style short option with the value glued on: -psecret (not --preset)
_OPTION_GLUED: Final = re.compile(r"^(-p)([^-:=\s].*)$")
# a password option whose value is the next argument: -p secret  --password secret
_OPTION_ALONE: Final = frozenset({"-p", "/p", "-pw", "--pw", "-pass", "--pass", "-password",
                                  "--password", "/password", "--passwd", "-passwd", "-pwd",
                                  "--pwd", "-secret", "--secret", "-token", "--token"})
# the name and separator of a key=value / key: value pair, anywhere in a text (password=x
# in a .remmina line, ?token=x in a query, /gateway:g:host,p:x); possessive and anchored
# at the start of a name, so a long text is scanned once
_PAIR_NAME: Final = re.compile(r"(?<![A-Za-z0-9_.\-])([A-Za-z0-9_.\-]++)\s*+[=:]\s*+")
_PAIR_VALUE_END: Final = re.compile(r"[\s&;,]|$")
# an option's name and separator in front of its value: /v:  -u=  --server=
_OPTION_PREFIX: Final = re.compile(r"^[/-]{1,2}[\w-]+[:=]")
_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def _drop_uri_password(text: str) -> str:
    """``scheme://user:password@host`` -> ``scheme://user@host``: from the first ``:``
    after the first ``://`` to the last ``@`` of the text (a password may hold ``@``,
    ``/``, spaces or even ``://``, so no earlier end is safe)."""
    sep = text.find(_SCHEME_SEP)
    if sep < 0:
        return text
    start = sep + len(_SCHEME_SEP)
    at = text.rfind("@", start)
    colon = text.find(":", start, at) if at >= 0 else -1
    return text[:colon] + text[at:] if colon >= 0 else text


_USERINFO_VALUE = re.compile(r"(?P<user>[^\s:@/]+):(?!//).*@(?P<host>[^@\s]+)\Z", re.S)


def _drop_userinfo_password(token: str) -> str:
    """``user:password@host`` (one argument, no scheme; also as ``/v:user:pw@host``) ->
    ``user@host``."""
    prefix = _OPTION_PREFIX.match(token)
    head = prefix.end() if prefix else 0
    if _SCHEME.match(token, head):
        return token  # a URI: _drop_uri_password's job, done already
    at = token.rfind("@", head)
    colon = token.find(":", head, at) if at >= 0 else -1
    return token[:colon] + token[at:] if colon >= 0 else token


def strip_credentials(text: str) -> str:
    """``text`` with every credential the module docstring lists removed or ``[redacted]``.

    Works on a single value (``admin:pw@host``) as on a whole command line
    (``xfreerdp /v:host /u:bob /p:pw``).  Idempotent; linear in the length of ``text``.
    """
    text = _drop_uri_password(text)
    # a whole value of the form user:password@host - the password may hold spaces, which
    # the per-word pass below would split off and keep
    whole = _USERINFO_VALUE.match(text)
    if whole is not None:
        text = f"{whole['user']}@{whole['host']}"
    parts = re.split(r"(\s+)", text)
    redact_next = False
    for i, part in enumerate(parts):
        if not part or part.isspace():
            continue
        if redact_next:
            parts[i] = REDACTED
            redact_next = False
            continue
        if part.lower() in _OPTION_ALONE:
            redact_next = True
            continue
        part = _drop_userinfo_password(part)
        for pattern in (_OPTION_ATTACHED, _OPTION_GLUED):
            part = pattern.sub(lambda m: m.group(1) + REDACTED, part)
        parts[i] = part
    return _redact_pairs("".join(parts))


def _redact_pairs(text: str) -> str:
    """The value of every pair whose name looks secret (or is FreeRDP's ``p``) ->
    ``[redacted]``, up to the next space, ``&``, ``;`` or ``,``."""
    out: list[str] = []
    pos = 0
    while (match := _PAIR_NAME.search(text, pos)) is not None:
        name = match.group(1)
        if name.lower() != "p" and not looks_secret(name):
            out.append(text[pos:match.end()])
            pos = match.end()
            continue
        end = _PAIR_VALUE_END.search(text, match.end())
        stop = end.start() if end is not None else len(text)
        out.append(text[pos:match.end()] + (REDACTED if stop > match.end() else ""))
        pos = stop
    out.append(text[pos:])
    return "".join(out)


# --- values ----------------------------------------------------------------------------

class _Rejected(ValueError):
    """A value that cannot be kept; the message says what is allowed (never the value,
    unless it is a plain number)."""


def _plain_text(value: object) -> str:
    """str, or the text of an int/float/bool; anything else is rejected (see module doc)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return str.__str__(value)  # the characters, not a subclass's __str__
    if isinstance(value, int):
        number = int.__index__(value)
        if number.bit_length() > 64:
            raise _Rejected(f"an integer of {number.bit_length()} bits is not stored as text "
                            f"(allowed: at most 64 bits)")
        return str(number)
    if isinstance(value, float):
        return float.__repr__(value)
    raise _Rejected(f"a {type(value).__name__} is not stored (allowed: str, int, float, bool "
                    f"or None)")


def _whole_number(value: object, low: int, high: int) -> int:
    """An int (or a decimal string of one) in [low, high]."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = int.__index__(value)
    elif isinstance(value, str) and 0 < len(value) <= 20 and value.strip().isdecimal():
        number = int(str.__str__(value))
    else:
        shown = "a decimal string that is not one" if isinstance(value, str) else \
            f"a {type(value).__name__}"
        raise _Rejected(f"{shown} is not stored (allowed: a whole number "
                        f"{low}-{high} or None)")
    if not low <= number <= high:
        raise _Rejected(f"{number} is not stored (allowed: {low}-{high})")
    return number


def _code(value: object) -> int | str:
    """con_codigo: the application's connection code, an int within 64 bits or text."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = int.__index__(value)
        if not -_INT64 <= number < _INT64:
            raise _Rejected(f"an integer of {number.bit_length()} bits is not stored "
                            f"(allowed: a 64-bit integer or text)")
        return number
    return _plain_text(value)


def _port(value: object) -> int:
    return _whole_number(value, 1, 65535)


def _pid(value: object) -> int:
    return _whole_number(value, 1, (1 << 31) - 1)


# field -> how its value is read; a text field's value is also stripped and bounded
_READERS: Final[dict[str, Callable[[object], int | str]]] = {
    "con_codigo": _code, "ip": _plain_text, "name": _plain_text, "user": _plain_text,
    "connection_type": _plain_text, "port": _port, "domain": _plain_text,
    "client": _plain_text, "pid": _pid,
}


def _readable(text: str) -> str:
    """Lone surrogates (undecodable bytes of a non-UTF-8 command line) -> ``\\xNN``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape") if _only_escapes(text) else \
            text.encode("utf-8", "surrogatepass")
        return raw.decode("utf-8", "backslashreplace")
    return text


def _only_escapes(text: str) -> bool:
    return all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in text)


def _clean_text(key: str, text: str, notes: list[str], patterns: Sequence[CustomPattern]) -> str:
    readable = _readable(text)
    if readable != text:
        notes.append("bytes that are not UTF-8 written as \\xNN")
    # a user is cut at ':' before anything else: "admin:p@ss" must not become "admin@ss"
    clean = strip_credentials(readable.split(":", 1)[0] if key == "user" else readable)
    if clean != readable:
        notes.append("credentials removed")
    # after the credentials: "admin:pw@example.com" leaves "admin@example.com", an address
    private = redact_pii(clean, custom=patterns)
    if private != clean:
        notes.append("personal data replaced")
        clean = private
    if len(clean) > MAX_TEXT:
        notes.append(f"cut from {len(clean)} to {MAX_TEXT} characters")
        clean = clean[: MAX_TEXT - 1] + "…"
    return clean


def _key_name(key: object, patterns: Sequence[CustomPattern]) -> str:
    """A dropped key as it may be reported: credential-free, without personal data,
    bounded, never the repr of an unknown object."""
    if not isinstance(key, str):
        return f"<{type(key).__name__} key>"
    name = redact_pii(strip_credentials(_readable(str.__str__(key))), custom=patterns)
    return name if len(name) <= _KEY_NAME_MAX else name[: _KEY_NAME_MAX - 1] + "…"


# --- the result ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ConnectionDetails:
    """connection_info as it may be stored; built by :func:`clean_connection_info`.

    The fields are :data:`FIELDS`.  ``dropped`` maps each key that was not kept to the
    reason (``"secret-looking key, not stored"``, ``"unknown key, not stored"``, or what
    was wrong with the value: ``"a bytes is not stored (allowed: str, ...)"``);
    ``changed`` maps each kept field whose value was altered to what was done
    ("credentials removed; cut from 10000 to 256 characters").  Neither ever holds a value
    that was not kept, so both may be logged.
    """

    con_codigo: int | str | None = None
    ip: str | None = None
    name: str | None = None
    user: str | None = None
    connection_type: str | None = None
    port: int | None = None
    domain: str | None = None
    client: str | None = None
    pid: int | None = None
    dropped: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}),
                                       compare=False, hash=False)
    changed: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}),
                                       compare=False, hash=False)

    def as_dict(self) -> dict[str, int | str | None]:
        """The metadata's ``connection_info``: the reference's five keys always (None when
        unknown), each extra only when it has a value."""
        out: dict[str, int | str | None] = {k: getattr(self, k) for k in REFERENCE_FIELDS}
        out.update((k, getattr(self, k)) for k in EXTRA_FIELDS if getattr(self, k) is not None)
        return out

    def summary(self) -> str:
        """One line for a log: what was dropped or changed and why, or "" when nothing was
        (e.g. ``password: secret-looking key, not stored; user: credentials removed``)."""
        return "; ".join(f"{name}: {why}" for name, why in (*self.dropped.items(),
                                                           *self.changed.items()))


REFERENCE_FIELDS: Final = ("con_codigo", "ip", "name", "user", "connection_type")
EXTRA_FIELDS: Final = ("port", "domain", "client", "pid")
FIELDS: Final = REFERENCE_FIELDS + EXTRA_FIELDS
"""Every key that may be stored, in metadata order."""


def clean_connection_info(info: Mapping[str, object], *,
                          pii_patterns: Sequence[CustomPattern] = ()) -> ConnectionDetails:
    """The storable part of ``info`` (see the module docstring for every rule).

    ``pii_patterns``: the operator's own kinds of personal data
    (:meth:`fastrec.settings.RecordingSettings.custom_pii_patterns`), replaced like the
    built-in ones.  Never raises for what ``info`` holds: a key or value that cannot be
    kept is dropped and named in ``dropped`` with the reason.  Raises ``TypeError`` only
    when ``info`` is not a mapping.  ``None`` values are kept as "unknown".
    """
    if not isinstance(info, Mapping):
        raise TypeError(f"connection_info must be a mapping (dict) of str keys, got "
                        f"{type(info).__name__}")
    kept: dict[str, int | str | None] = {}
    dropped: dict[str, str] = {}
    changed: dict[str, str] = {}
    extra = 0
    for key, value in info.items():
        if isinstance(key, str) and type(key) is not str:
            key = str.__str__(key)
        if isinstance(key, str) and key in _READERS:
            if value is None:
                kept[key] = None
                continue
            try:
                read = _READERS[key](value)
            except _Rejected as exc:
                # the reason quotes a refused number, which may be a card's
                dropped[key] = redact_pii(str(exc), custom=pii_patterns)
                continue
            if isinstance(read, str):
                notes: list[str] = []
                read = _clean_text(key, read, notes, pii_patterns)
                if notes:
                    changed[key] = "; ".join(notes)
            kept[key] = read
            continue
        name = _key_name(key, pii_patterns)
        if not isinstance(key, str):
            why = "not stored: keys are text"
        elif looks_secret(name):
            why = "secret-looking key, not stored"
        else:
            why = "unknown key, not stored"
        if len(dropped) < MAX_REPORTED:
            dropped[name] = why
        else:
            extra += 1
    if extra:
        dropped["…"] = f"{extra} more keys not stored"
    return ConnectionDetails(**kept, dropped=MappingProxyType(dropped),  # type: ignore[arg-type]
                             changed=MappingProxyType(changed))
