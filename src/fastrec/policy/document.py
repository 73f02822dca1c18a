"""The recording policy document: its model, and :func:`parse_policy` (YAML text -> Policy).

One YAML document with four sections, each optional (README, "Recording policy", shows an
annotated example)::

    connections:        which connections are recorded: rules, first match wins, else default
    privacy:            privacy rules (mask + target) and presets; applied by the capture step
    retention:          max_file_age_days, max_total_size_gb (unset: the RECORDING_* settings)
    permissions:        which roles may view, export, share

Invariants, and why:

- **Refused with the line and the reason.**  Every problem is a
  :class:`~fastrec.policy.errors.PolicyProblem` on the line it was written on (the YAML
  node's mark; a model error's location is mapped back to its node by
  :class:`~fastrec.policy.yaml_lines.SourceMap`), naming the key path, the value and what
  is allowed.  All problems are reported at once.
- **Nothing unknown passes.**  Every mapping forbids keys it does not define, and the
  error names the unknown key and the allowed ones: a misspelt ``defualt: skip`` must not
  leave the default silently as it was.
- **One vocabulary.**  Mask types are :class:`fastrec.core.masks.MaskKind`, personal-data
  kinds :class:`fastrec.privacy.pii_kinds.PiiKind`, roles :class:`fastrec.roles.Role`,
  name patterns those of :func:`fastrec.capture.matching.compile_pattern` (case-insensitive
  shell globs, or ``re:<regex>``), retention limits the constraints of the RECORDING_*
  settings of the same names.
- **Highly sensitive data defaults to block**: a privacy rule without ``mask`` blocks its
  target, except a rule only on e-mail addresses and phone numbers, which are redacted
  (the reference's presets).
- The models are frozen: a parsed policy is a value that can be shared between threads.
"""

from __future__ import annotations

import ipaddress
import re
import typing
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Final

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo

from fastrec.capture.matching import compile_pattern
from fastrec.core.mask_kinds import MaskKind
from fastrec.policy.errors import PolicyError, PolicyProblem
from fastrec.privacy.pii_kinds import PII_DEFAULT_MASK, PiiKind
from fastrec.roles import Role
from fastrec.settings import RecordingSettings

if TYPE_CHECKING:
    from fastrec.policy.yaml_lines import SourceMap

__all__ = [
    "DEFAULT_POLICY",
    "DEFAULT_POLICY_TEXT",
    "MAX_DOCUMENT_CHARS",
    "PII_DEFAULT_MASK",
    "Action",
    "ConnectionPolicy",
    "ConnectionRule",
    "Permission",
    "Permissions",
    "Policy",
    "PrivacyPolicy",
    "PrivacyPreset",
    "PrivacyRule",
    "RegionTarget",
    "RegionUnit",
    "RetentionPolicy",
    "WindowTarget",
    "decode_document",
    "parse_policy",
]

MAX_DOCUMENT_CHARS: Final = 256 * 1024
"""A policy is a page or two; a bigger "document" is a mistake (or an attack on the parser)."""
_MAX_PATTERN = 256
_MAX_ITEMS = 1000


class Action(StrEnum):
    """What happens to a connection a rule matches."""

    RECORD = "record"
    SKIP = "skip"


class Permission(StrEnum):
    """What the permissions section grants."""

    VIEW = "view"
    EXPORT = "export"
    SHARE = "share"


class PrivacyPreset(StrEnum):
    """Named privacy rules like the reference's (see :mod:`fastrec.policy.presets`)."""

    PASSWORDS = "passwords"
    EMAILS = "emails"
    CREDIT_CARDS = "credit_cards"
    SSN = "ssn"
    PHONE = "phone"


class RegionUnit(StrEnum):
    PX = "px"  # pixels of the captured region
    PERCENT = "percent"  # % of the captured region's width and height ("%" is accepted too)




# --- value types ------------------------------------------------------------------------

def _one_or_many(value: Any) -> Any:
    """A single value where a list is expected is a list of one (``ip: 10.0.0.0/8``)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> Any:
    # YAML reads ``user: 1234`` as a number; a name is text whatever it looks like
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _folded(value: Any) -> Any:
    """Choices are case-insensitive: ``action: Record``, ``mask: BLOCK``."""
    return value.strip().lower() if isinstance(value, str) else value


def _pattern(value: str) -> str:
    try:
        compile_pattern(value, "pattern")  # the reason for a bad re:<regex>
    except ValueError as exc:
        raise ValueError(str(exc).removeprefix("pattern: ")) from None
    return value


def _regex(value: str) -> str:
    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from None
    if compiled.fullmatch(""):
        raise ValueError(f"{value!r} matches empty text, so it would find something everywhere")
    return value


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(value: Any) -> IPNetwork:
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return value
    if not isinstance(value, str):
        raise ValueError(f"must be an IP address or network such as 10.0.0.0/8, got {value!r}")
    try:
        return ipaddress.ip_network(value.strip())
    except ValueError as exc:  # ipaddress says why: "10.0.0.1/8 has host bits set", ...
        raise ValueError(f"{value!r} is not an IP address or network (CIDR such as 10.0.0.0/8): {exc}") from None


Name = Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]
Patterns = Annotated[list[Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=_MAX_PATTERN),
                                    AfterValidator(_pattern)]],
                     BeforeValidator(_one_or_many), Field(max_length=_MAX_ITEMS)]
Networks = Annotated[list[Annotated[IPNetwork, BeforeValidator(_network)]], BeforeValidator(_one_or_many),
                     Field(max_length=_MAX_ITEMS)]
Regexes = Annotated[list[Annotated[str, Field(min_length=1, max_length=_MAX_PATTERN), AfterValidator(_regex)]],
                    BeforeValidator(_one_or_many), Field(max_length=100)]


def _setting(name: str) -> Any:
    """The type and constraints of the RECORDING_* setting ``name``, or None (unset)."""
    info: FieldInfo = RecordingSettings.model_fields[name]
    return Annotated[(info.annotation, *info.metadata)] | None  # type: ignore[misc]


# --- the sections -------------------------------------------------------------------------

class _Section(BaseModel):
    """A mapping of the document: unknown keys are errors; an empty section (``privacy:``
    with nothing under it) means its defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False,
                              defer_build=True)  # validators built on first use, not at import (issue 14)

    @model_validator(mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any) -> Any:
        return {} if value is None else value


class ConnectionRule(_Section):
    """``action`` for connections that every given matcher matches (a list matches when any
    of its items does).  ``ip``: addresses or CIDR networks; ``server``: patterns matched
    against the connection's name and its address; ``user``, ``connection_type``: patterns
    (case-insensitive shell globs, or ``re:<regex>``).  A connection whose field is unknown
    does not match a matcher on that field."""

    name: Name | None = None
    action: Annotated[Action, BeforeValidator(_folded)]
    ip: Networks = []
    server: Patterns = []
    user: Patterns = []
    connection_type: Patterns = []

    @model_validator(mode="after")
    def _has_a_matcher(self) -> ConnectionRule:
        if not (self.ip or self.server or self.user or self.connection_type):
            raise ValueError("a rule needs at least one of ip, server, user, connection_type "
                             "(connections.default is for every connection no rule matches)")
        return self


class ConnectionPolicy(_Section):
    """Which connections are recorded: the first rule that matches decides, else ``default``."""

    default: Annotated[Action, BeforeValidator(_folded)] = Action.RECORD
    rules: Annotated[list[ConnectionRule], BeforeValidator(_one_or_many), Field(max_length=_MAX_ITEMS)] = []

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[ConnectionRule]) -> list[ConnectionRule]:
        _check_unique_names([r.name for r in rules], "rules")
        return rules


class RegionTarget(_Section):
    """A fixed rectangle of the captured region: in pixels (whole numbers) or in percent of
    its width and height (``unit: percent``)."""

    x: Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)]
    y: Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)]
    width: Annotated[float, Field(gt=0, le=100_000, allow_inf_nan=False)]
    height: Annotated[float, Field(gt=0, le=100_000, allow_inf_nan=False)]
    unit: Annotated[RegionUnit, BeforeValidator(lambda v: "percent" if v == "%" else _folded(v))] = RegionUnit.PX

    @model_validator(mode="after")
    def _in_bounds(self) -> RegionTarget:
        values = {"x": self.x, "y": self.y, "width": self.width, "height": self.height}
        if self.unit is RegionUnit.PX:
            fractional = [k for k, v in values.items() if not float(v).is_integer()]
            if fractional:
                raise ValueError(f"pixels are whole numbers: {', '.join(fractional)} "
                                 f"(for a share of the region use unit: percent)")
        elif self.x + self.width > 100 or self.y + self.height > 100:
            raise ValueError(f"x + width and y + height must be at most 100 (percent), got "
                             f"{self.x:g} + {self.width:g} and {self.y:g} + {self.height:g}")
        return self


class WindowTarget(_Section):
    """A window wherever it appears in the captured region: every given matcher must match
    (``title``, ``class`` and ``process`` are patterns; a list matches when any item does)."""

    title: Patterns = []
    class_: Patterns = Field(default=[], alias="class")
    process: Patterns = []

    @model_validator(mode="after")
    def _has_a_matcher(self) -> WindowTarget:
        if not (self.title or self.class_ or self.process):
            raise ValueError("a window needs at least one of title, class, process")
        return self


class PrivacyRule(_Section):
    """A mask (``block``, ``blur``, ``pixelate``, ``redact``) over exactly one target: a
    ``region``, a ``window`` or the personal data of the kinds in ``pii`` (with
    ``patterns``, regular expressions, for ``pii: custom``).  Without ``mask``: block,
    except on e-mail addresses and phone numbers only, which are redacted."""

    name: Name | None = None
    mask: Annotated[MaskKind | None, BeforeValidator(_folded)] = None
    region: RegionTarget | None = None
    window: WindowTarget | None = None
    pii: Annotated[list[Annotated[PiiKind, BeforeValidator(_folded)]], BeforeValidator(_one_or_many)] = []
    patterns: Regexes = []

    @model_validator(mode="after")
    def _one_target(self) -> PrivacyRule:
        targets = [name for name in ("region", "window", "pii") if getattr(self, name)]
        if len(targets) != 1:
            found = f"found {' and '.join(targets)}" if targets else "found none"
            raise ValueError(f"a privacy rule needs exactly one target: region, window or pii ({found})")
        if PiiKind.CUSTOM in self.pii and not self.patterns:
            raise ValueError("pii: custom needs patterns (regular expressions of what to find)")
        if self.patterns and PiiKind.CUSTOM not in self.pii:
            raise ValueError("patterns are for pii: custom; add custom to pii or remove patterns")
        return self

    @property
    def effective_mask(self) -> MaskKind:
        """The mask that applies: ``mask``, else block, else redact for e-mail/phone only."""
        if self.mask is not None:
            return self.mask
        if self.pii and all(PII_DEFAULT_MASK[kind] is MaskKind.REDACT for kind in self.pii):
            return MaskKind.REDACT
        return MaskKind.BLOCK


class PrivacyPolicy(_Section):
    """Privacy rules and presets.  The recorder applies :meth:`effective_rules` to frames in
    the capture process (:mod:`fastrec.privacy.screen_rules`: regions and windows; pii on
    screen waits for OCR)."""

    presets: Annotated[list[Annotated[PrivacyPreset, BeforeValidator(_folded)]], BeforeValidator(_one_or_many)] = []
    rules: Annotated[list[PrivacyRule], BeforeValidator(_one_or_many), Field(max_length=_MAX_ITEMS)] = []

    @field_validator("presets")
    @classmethod
    def _unique_presets(cls, presets: list[PrivacyPreset]) -> list[PrivacyPreset]:
        twice = sorted({p.value for p in presets if presets.count(p) > 1})
        if twice:
            raise ValueError(f"each preset once: {', '.join(twice)} is listed more than once")
        return presets

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[PrivacyRule]) -> list[PrivacyRule]:
        _check_unique_names([r.name for r in rules], "rules")
        return rules

    def effective_rules(self) -> tuple[PrivacyRule, ...]:
        """The presets' rules (in the order listed), then the document's own rules."""
        from fastrec.policy.presets import preset_rules

        return (*(rule for preset in self.presets for rule in preset_rules(preset)), *self.rules)


class RetentionPolicy(_Section):
    """How long recordings are kept: the RECORDING_* settings of the same names (and the
    same ranges); an unset limit is the setting's."""

    max_file_age_days: _setting("max_file_age_days") = None  # type: ignore[valid-type]
    max_total_size_gb: _setting("max_total_size_gb") = None  # type: ignore[valid-type]


def _roles(default: tuple[Role, ...]) -> Any:
    return Annotated[list[Annotated[Role, BeforeValidator(_folded)]], BeforeValidator(_one_or_many),
                     Field(default_factory=lambda: list(default))]


class Permissions(_Section):
    """Which roles may view, export and share recordings (the defaults are the server's:
    every role views, auditors and admins export and share)."""

    view: _roles((Role.VIEWER, Role.AUDITOR, Role.ADMIN))  # type: ignore[valid-type]
    export: _roles((Role.AUDITOR, Role.ADMIN))  # type: ignore[valid-type]
    share: _roles((Role.AUDITOR, Role.ADMIN))  # type: ignore[valid-type]

    def allows(self, role: Role | str, permission: Permission | str) -> bool:
        """True when ``role`` is listed under ``permission``."""
        return Role(role) in getattr(self, Permission(permission).value)


class Policy(_Section):
    """The whole document; every section is optional."""

    connections: ConnectionPolicy = ConnectionPolicy()
    privacy: PrivacyPolicy = PrivacyPolicy()
    retention: RetentionPolicy = RetentionPolicy()
    permissions: Permissions = Permissions()


def _check_unique_names(names: list[str | None], what: str) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name is None:
            continue
        key = name.casefold()
        if key in seen:
            raise ValueError(f"rule names must differ: {name!r} names {what}[{seen[key]}] and {what}[{i}]")
        seen[key] = i


DEFAULT_POLICY: Final = Policy()
"""What applies while no policy has been saved: record every connection, no privacy rules,
retention by the settings, the server's roles."""

DEFAULT_POLICY_TEXT: Final = """\
# fastrec recording policy: the default, in force while no policy has been saved.
# Every connection is recorded, no privacy rule applies, retention follows the
# RECORDING_* settings and the roles keep their usual rights.
# README, "Recording policy", describes every key.
connections:
  default: record     # record | skip: for connections no rule matches
  rules: []           # first match wins: [{name, action, ip, server, user, connection_type}]
privacy:
  presets: []         # passwords, emails, credit_cards, ssn, phone
  rules: []           # [{name, mask, region | window | pii}]
retention: {}         # max_file_age_days, max_total_size_gb (unset: the settings)
permissions:
  view: [viewer, auditor, admin]
  export: [auditor, admin]
  share: [auditor, admin]
"""


# --- parsing ------------------------------------------------------------------------------

def decode_document(data: bytes) -> str:
    """The text of a document file: UTF-8 (a leading BOM is dropped).  Raises
    :class:`PolicyError` with the line of the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise PolicyError([PolicyProblem(line, column, "", f"not UTF-8 text (byte 0x{data[exc.start]:02x}); "
                                                           "save the file as UTF-8")]) from None


def parse_policy(text: str) -> Policy:
    """The policy ``text`` describes.  Raises :class:`PolicyError` with every problem, each
    on its line (an empty document is the default policy)."""
    if not isinstance(text, str):
        raise TypeError(f"a policy document is text (str), got {type(text).__name__}")
    if len(text) > MAX_DOCUMENT_CHARS:
        raise PolicyError([PolicyProblem(1, 1, "", f"the document has {len(text)} characters; at most "
                                                   f"{MAX_DOCUMENT_CHARS} are allowed")])
    from fastrec.policy.yaml_lines import load_yaml  # PyYAML: only where a document is read

    data, source = load_yaml(text)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        line, column = source.locate(())
        raise PolicyError([PolicyProblem(line, column, "", "the document must be a mapping of "
                                                           f"{_allowed_keys(Policy)}, got {_shown(data)}")])
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(_problems(exc, source)) from None


def _problems(exc: ValidationError, source: SourceMap) -> list[PolicyProblem]:
    from fastrec.policy.yaml_lines import path_text

    problems = []
    for error in exc.errors(include_url=False):
        loc = tuple(p for p in error["loc"] if isinstance(p, int | str))
        kind = error["type"]
        if kind == "extra_forbidden":
            parent = loc[:-1]
            message = f"unknown key {loc[-1]!r} (allowed: {_allowed_keys(_model_at(parent))})"
            where = parent
        elif kind == "missing":
            message = f"the key {loc[-1]!r} is required"
            where = loc[:-1]
        else:
            message = _message(error)
            where = loc
        line, column = source.locate(loc)
        problems.append(PolicyProblem(line, column, path_text(where), message))
    return problems


def _message(error: Any) -> str:
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind in ("enum", "literal_error"):
        expected = str(ctx.get("expected", "")).replace("'", "")
        return f"must be one of {expected.replace(' or ', ', ')}, got {_shown(value)}"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"]))
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a mapping (key: value lines), got {_shown(value)}"
    if kind == "list_type":
        return f"must be a list, got {_shown(value)}"
    text = str(error["msg"]).replace("Input should be", "must be").replace("String should", "must")
    text = text.replace("List should", "must")
    return f"{text[:1].lower()}{text[1:]}, got {_shown(value)}"


def _shown(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _model_at(path: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The section model at a key path (list indexes skipped), for "allowed keys"."""
    current: Any = Policy
    for part in path:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = next((f for n, f in current.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return None
        current = _inner_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    """The model class inside ``X | None``, ``list[X]``, ``Annotated[X, ...]``."""
    for arg in (annotation, *_flatten(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _flatten(annotation: Any) -> list[Any]:
    out = []
    for arg in typing.get_args(annotation):
        out.append(arg)
        out.extend(_flatten(arg))
    return out


def _allowed_keys(model: type[BaseModel] | None) -> str:
    if model is None:
        return "?"
    return ", ".join(f.alias or n for n, f in model.model_fields.items())

