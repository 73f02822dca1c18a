"""The policy document: what parses (the shipped examples, the default), what is refused
and on which line, with which reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from fastrec.core.masks import MaskKind
from fastrec.policy.document import (
    DEFAULT_POLICY,
    DEFAULT_POLICY_TEXT,
    MAX_DOCUMENT_CHARS,
    Action,
    PrivacyPreset,
    RegionUnit,
    decode_document,
    parse_policy,
)
from fastrec.policy.errors import PolicyError
from fastrec.policy.presets import PRESETS
from fastrec.privacy.pii_kinds import PiiKind
from fastrec.roles import Role

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "policy"


def problems(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    return [(p.line, p.path, p.message) for p in caught.value.problems]


def test_the_default_text_is_the_default_policy_and_empty_means_default() -> None:
    assert parse_policy(DEFAULT_POLICY_TEXT) == DEFAULT_POLICY
    assert parse_policy("") == DEFAULT_POLICY
    assert parse_policy("# nothing but a comment\n") == DEFAULT_POLICY
    assert parse_policy("privacy:\nretention:\n") == DEFAULT_POLICY  # empty sections: their defaults
    assert DEFAULT_POLICY.connections.default is Action.RECORD and not DEFAULT_POLICY.connections.rules
    assert DEFAULT_POLICY.permissions.allows(Role.VIEWER, "view")
    assert not DEFAULT_POLICY.permissions.allows(Role.VIEWER, "share")
    assert DEFAULT_POLICY.permissions.allows("auditor", "export")


def test_the_shipped_internal_only_example_records_rdp_to_private_addresses_only() -> None:
    policy = parse_policy((DOCS / "internal-only.yaml").read_text())
    assert policy.connections.default is Action.SKIP
    (rule,) = policy.connections.rules
    assert (rule.name, rule.action, rule.connection_type) == ("internal", Action.RECORD, ["RDP"])
    assert [str(n) for n in rule.ip] == ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]


def test_the_full_example_uses_every_section() -> None:
    policy = parse_policy((DOCS / "example.yaml").read_text())
    assert [r.name for r in policy.connections.rules] == ["lab machines", "break-glass accounts", "guest network"]
    assert policy.connections.rules[1].user == ["CORP\\breakglass*", "re:^admin[0-9]+$"]
    assert policy.connections.rules[2].connection_type == ["RDP", "VNC"]  # a list, or one value
    rules = policy.privacy.rules
    assert rules[0].region is not None and rules[0].region.unit is RegionUnit.PX
    assert rules[1].region is not None and rules[1].region.unit is RegionUnit.PERCENT
    assert rules[2].window is not None and rules[2].window.class_ == [] and rules[2].effective_mask is MaskKind.BLOCK
    assert rules[3].pii == [PiiKind.IBAN, PiiKind.CUSTOM] and rules[3].patterns == [r"\bORD-[0-9]{8}\b"]
    assert (policy.retention.max_file_age_days, policy.retention.max_total_size_gb) == (90, 200.0)
    assert policy.permissions.share == [Role.ADMIN]
    # presets come first, in the order listed, then the document's own rules
    effective = policy.privacy.effective_rules()
    assert len(effective) == sum(len(PRESETS[p]) for p in policy.privacy.presets) + len(rules)
    assert effective[-len(rules):] == tuple(rules)


def test_presets_block_highly_sensitive_data_and_redact_emails_and_phones() -> None:
    masks = {preset: {r.effective_mask for r in PRESETS[preset]} for preset in PrivacyPreset}
    assert masks == {PrivacyPreset.PASSWORDS: {MaskKind.BLOCK}, PrivacyPreset.CREDIT_CARDS: {MaskKind.BLOCK},
                     PrivacyPreset.SSN: {MaskKind.BLOCK}, PrivacyPreset.EMAILS: {MaskKind.REDACT},
                     PrivacyPreset.PHONE: {MaskKind.REDACT}}
    assert {k for r in PRESETS[PrivacyPreset.CREDIT_CARDS] for k in r.pii} == {PiiKind.CARD}
    # a rule without a mask: block, unless it is about e-mail addresses and phone numbers only
    policy = parse_policy("privacy:\n  rules:\n    - pii: [email, phone]\n    - pii: [email, ssn]\n"
                          "    - window: {process: keepassxc}\n    - pii: card\n      mask: blur\n")
    assert [r.effective_mask for r in policy.privacy.rules] == [MaskKind.REDACT, MaskKind.BLOCK, MaskKind.BLOCK,
                                                                MaskKind.BLUR]


def test_choices_are_case_insensitive_and_single_values_are_lists() -> None:
    policy = parse_policy("connections:\n  default: SKIP\n  rules:\n    - {action: Record, ip: 10.1.2.3, user: 1234}\n"
                          "privacy:\n  presets: Passwords\n  rules:\n    - {mask: Blur, region: {x: 1, y: 2, width: 3, "
                          "height: 4, unit: '%'}}\npermissions:\n  share: ADMIN\n")
    rule = policy.connections.rules[0]
    assert policy.connections.default is Action.SKIP and rule.action is Action.RECORD
    assert [str(n) for n in rule.ip] == ["10.1.2.3/32"] and rule.user == ["1234"]  # YAML's number is a name
    assert policy.privacy.presets == [PrivacyPreset.PASSWORDS]
    assert policy.privacy.rules[0].region is not None and policy.privacy.rules[0].region.unit is RegionUnit.PERCENT
    assert policy.permissions.share == [Role.ADMIN]


INVALID = """\
connections:
  defualt: skip
  rules:
    - name: internal
      action: recrod
      ip: [10.0.0.0/8, 10.0.0.1/8, 300.1.1.1]
    - action: skip
privacy:
  presets: [passwords, email]
  rules:
    - mask: smudge
      region: {x: 0.5, y: 0, width: 200, height: 40}
    - region: {x: 80, y: 0, width: 30, height: 100, unit: percent}
    - window: {}
    - pii: custom
    - region: {x: 0, y: 0, width: 5, height: 5}
      window: {title: x}
retention:
  max_file_age_days: 0
permissions:
  view: [viewer, boss]
  delete: [admin]
"""


def test_every_problem_is_reported_on_its_line_with_the_reason() -> None:
    found = problems(INVALID)
    assert found == [
        (2, "connections", "unknown key 'defualt' (allowed: default, rules)"),
        (5, "connections.rules[0].action", "must be one of record, skip, got 'recrod'"),
        (6, "connections.rules[0].ip[1]", "'10.0.0.1/8' is not an IP address or network (CIDR such as "
                                          "10.0.0.0/8): 10.0.0.1/8 has host bits set"),
        (6, "connections.rules[0].ip[2]", "'300.1.1.1' is not an IP address or network (CIDR such as "
                                          "10.0.0.0/8): '300.1.1.1' does not appear to be an IPv4 or IPv6 network"),
        (7, "connections.rules[1]", "a rule needs at least one of ip, server, user, connection_type "
                                    "(connections.default is for every connection no rule matches)"),
        (9, "privacy.presets[1]", "must be one of passwords, emails, credit_cards, ssn, phone, got 'email'"),
        (11, "privacy.rules[0].mask", "must be one of block, blur, pixelate, redact, got 'smudge'"),
        (12, "privacy.rules[0].region", "pixels are whole numbers: x (for a share of the region use unit: percent)"),
        (13, "privacy.rules[1].region", "x + width and y + height must be at most 100 (percent), got 80 + 30 "
                                        "and 0 + 100"),
        (14, "privacy.rules[2].window", "a window needs at least one of title, class, process"),
        (15, "privacy.rules[3]", "pii: custom needs patterns (regular expressions of what to find)"),
        (16, "privacy.rules[4]", "a privacy rule needs exactly one target: region, window or pii "
                                 "(found region and window)"),
        (19, "retention.max_file_age_days", "must be greater than 0, got 0"),
        (21, "permissions.view[1]", "must be one of viewer, auditor, admin, got 'boss'"),
        (22, "permissions", "unknown key 'delete' (allowed: view, export, share)"),
    ]


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ("connections:\n  default: skip\n  default: record\n", 3, "the key is written twice (first on line 2)"),
    ("connections: {default: [1,\n", 2, "expected the node content"),
    ("connections:\n\tdefault: skip\n", 2, "indent with spaces, not tabs"),
    ("ips: &nets [10.0.0.0/8]\nconnections:\n  rules:\n    - {action: skip, ip: *nets}\n", 4, "aliases (*nets)"),
    ("connections:\n  <<: {default: skip}\n", 2, "merge keys (<<) are not allowed"),
    ("connections: {default: !!python/object:os.system x}\n", 1, "could not determine a constructor"),
    ("connections: {}\n---\nprivacy: {}\n", 2, "expected a single document"),
    ("- connections\n", 1, "the document must be a mapping of connections, privacy, retention, permissions"),
    ("privacy:\n  rules:\n    - pii: custom\n      patterns: ['(']\n", 4, "is not a valid regular expression"),
    ("privacy:\n  rules:\n    - pii: custom\n      patterns: ['x*']\n", 4, "matches empty text"),
    ("connections:\n  rules:\n    - action: skip\n      user: 're:('\n", 4, "invalid regular expression"),
    ("connections:\n  rules:\n    - {name: a, action: skip, ip: 10.0.0.0/8}\n    - {name: A, action: skip, "
     "ip: 10.0.0.0/8}\n", 2, "rule names must differ: 'A' names rules[0] and rules[1]"),
    ("privacy:\n  presets: [ssn, ssn]\n", 2, "each preset once: ssn"),
    ("retention:\n  max_total_size_gb: .inf\n", 2, "finite number"),
    ("title: \x07bell\n", 1, "U+0007 is not allowed"),
])
def test_yaml_pitfalls_are_refused_with_their_line(text: str, line: int, fragment: str) -> None:
    found = problems(text)
    assert found[0][0] == line and fragment in f"{found[0][1]}: {found[0][2]}", found


def test_nesting_and_size_are_bounded() -> None:
    assert "nested deeper than" in problems("x: " + "[" * 100_000 + "]" * 100_000)[0][2]
    too_big = "# " + "x" * MAX_DOCUMENT_CHARS + "\n"
    assert problems(too_big) == [(1, "", f"the document has {len(too_big)} characters; at most "
                                         f"{MAX_DOCUMENT_CHARS} are allowed")]


def test_a_file_that_is_not_utf8_is_refused_with_the_line_of_the_bad_byte() -> None:
    assert decode_document("\ufeffconnections: {}\n".encode()) == "connections: {}\n"  # a BOM is dropped
    with pytest.raises(PolicyError) as caught:
        decode_document(b"connections:\n  default: skip\n# caf\xe9\n")
    assert str(caught.value) == "line 3: not UTF-8 text (byte 0xe9); save the file as UTF-8"


def test_a_parsed_policy_is_an_immutable_value() -> None:
    policy = parse_policy((DOCS / "internal-only.yaml").read_text())
    with pytest.raises(ValueError, match="frozen"):
        policy.connections.default = Action.RECORD  # type: ignore[misc]
    assert parse_policy((DOCS / "internal-only.yaml").read_text()) == policy


def test_the_readme_example_is_a_valid_policy() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Recording policy", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    policy = parse_policy(example)
    assert [r.name for r in policy.connections.rules] == ["internal", "lab machines", "break-glass accounts"]
    assert policy.connections.rules[2].user == ["CORP\\breakglass*", "re:^admin[0-9]+$"]
    assert len(policy.privacy.rules) == 4 and policy.permissions.share == [Role.ADMIN]
