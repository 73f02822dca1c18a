"""Which connections a policy records: the decision table (CIDR, names, users, types, first
match wins, the default) and the rule each decision names."""

from __future__ import annotations

import pytest

from fastrec.policy.decision import Decision, decide
from fastrec.policy.document import DEFAULT_POLICY, parse_policy
from fastrec.privacy.connection import clean_connection_info

POLICY = parse_policy("""\
connections:
  default: skip
  rules:
    - name: lab
      action: skip
      server: ["lab-*", "*.lab.example.com"]
    - name: break-glass
      action: record
      user: ["CORP\\\\breakglass*", "re:^admin[0-9]+$"]
    - action: skip
      ip: 10.99.0.0/16
    - name: internal rdp
      action: record
      connection_type: rdp
      ip: [10.0.0.0/8, 192.168.0.0/16, fd00::/8]
    - name: vnc from the office
      action: record
      connection_type: VNC
      ip: 172.16.5.0/24
      user: "*"
""")


def conn(**info: object) -> object:
    return clean_connection_info({"connection_type": "RDP", **info})


@pytest.mark.parametrize(("info", "record", "rule"), [
    # CIDR ranges, IPv4 and IPv6 (an IPv4 address written as IPv6 is IPv4)
    ({"ip": "10.1.2.3"}, True, "internal rdp"),
    ({"ip": "192.168.200.1"}, True, "internal rdp"),
    ({"ip": "::ffff:10.1.2.3"}, True, "internal rdp"),
    ({"ip": "fd12::1"}, True, "internal rdp"),
    ({"ip": "fe80::1"}, False, "connections.default"),
    ({"ip": "8.8.8.8"}, False, "connections.default"),
    ({"ip": "11.0.0.1"}, False, "connections.default"),
    # first match wins: 10.99/16 is inside 10/8, and its rule comes first
    ({"ip": "10.99.1.1"}, False, "connections.rules[2]"),
    # server names: globs on the name or the address, any case
    ({"ip": "10.1.2.3", "name": "LAB-07"}, False, "lab"),
    ({"ip": "db.lab.example.com"}, False, "lab"),
    ({"ip": "10.1.2.3", "name": "prod-01"}, True, "internal rdp"),
    # users: the whole value, globs or re:
    ({"ip": "8.8.8.8", "user": "corp\\BreakGlass2"}, True, "break-glass"),
    ({"ip": "8.8.8.8", "user": "admin42"}, True, "break-glass"),
    ({"ip": "8.8.8.8", "user": "admin42x"}, False, "connections.default"),
    ({"ip": "8.8.8.8", "user": "breakglass"}, False, "connections.default"),  # no CORP\ in front
    # connection types, and every matcher of a rule must match
    ({"ip": "10.1.2.3", "connection_type": "SSH"}, False, "connections.default"),
    ({"ip": "172.16.5.9", "connection_type": "vnc", "user": "bob"}, True, "vnc from the office"),
    ({"ip": "172.16.5.9", "connection_type": "vnc"}, False, "connections.default"),  # user unknown: no match
    # unknown fields match nothing; a host name is not in any network
    ({}, False, "connections.default"),
    ({"ip": "intranet.example.com"}, False, "connections.default"),
])
def test_decision_table(info: dict, record: bool, rule: str) -> None:
    decision = decide(POLICY, conn(**info), version=7)
    assert (decision.record, decision.rule, decision.version) == (record, rule, 7)


def test_a_decision_says_which_rule_of_which_version() -> None:
    internal = decide(POLICY, conn(ip="10.1.2.3"), version=3)
    assert internal == Decision(True, "internal rdp", 3, 3)
    assert internal.describe() == "rule 'internal rdp' (connections.rules[3]) of policy version 3"
    unnamed = decide(POLICY, conn(ip="10.99.0.1"), version=3)
    assert unnamed.describe() == "connections.rules[2] of policy version 3"
    default = decide(DEFAULT_POLICY, conn(ip="8.8.8.8"))
    assert default == Decision(True, "connections.default", None, 0)
    assert default.describe() == "connections.default of the default policy"
    assert default.action.value == "record"


def test_the_policy_sees_only_cleaned_details() -> None:
    # a password in a URI never reaches the matcher (nor the log line of the decision)
    details = clean_connection_info({"name": "rdp://admin:S3cret!@lab-01", "ip": "10.1.2.3",
                                     "connection_type": "RDP"})
    assert "S3cret" not in repr(details)
    assert decide(POLICY, details).rule == "internal rdp"  # "rdp://admin@lab-01" is not a lab-* name
