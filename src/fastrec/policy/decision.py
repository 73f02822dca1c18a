"""Record this connection or not: :func:`decide` applies the policy's connection rules.

The rules are tried in order and the first one whose matchers all match decides; when none
does, ``connections.default`` decides.  The :class:`Decision` names the rule, so the log
line of every decision says why a connection was (or was not) recorded.

Matching (README, "Recording policy"):

- ``ip``: the connection's address is in one of the networks.  An IPv4 address written as
  IPv6 (``::ffff:10.1.2.3``) is matched as IPv4.  An ``ip`` that is a host name, or none,
  matches no network (name hosts with ``server``).
- ``server``: a pattern matches the connection's name or its address.
- ``user``, ``connection_type``: a pattern matches the whole value (``CORP\\*``).
- Patterns are :func:`fastrec.capture.matching.compile_pattern`'s: case-insensitive shell
  globs, or ``re:<regex>`` searched anywhere in the value.
- A field the connection does not have (None) matches no matcher on it.

Only the cleaned connection details (:class:`~fastrec.privacy.connection.ConnectionDetails`)
are matched: what the policy sees is exactly what may be stored, never a credential.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from fastrec.capture.matching import compile_pattern
from fastrec.policy.document import Action, ConnectionRule, IPNetwork, Policy
from fastrec.privacy.connection import ConnectionDetails

__all__ = ["DEFAULT_RULE", "Decision", "decide"]

DEFAULT_RULE = "connections.default"


@dataclass(frozen=True, slots=True)
class Decision:
    """What the policy decided for one connection.

    ``rule``: the rule that decided -- its ``name``, or ``connections.rules[i]`` when it has
    none, or ``connections.default``; ``index``: its position in ``connections.rules``
    (None for the default); ``version``: the policy version (0: the default policy).
    """

    record: bool
    rule: str
    index: int | None = None
    version: int = 0

    @property
    def action(self) -> Action:
        return Action.RECORD if self.record else Action.SKIP

    def describe(self) -> str:
        """``rule 'internal' (connections.rules[0]) of policy version 3``."""
        where = f"connections.rules[{self.index}]" if self.index is not None else DEFAULT_RULE
        rule = f"rule {self.rule!r} ({where})" if self.rule != where else where
        policy = f"policy version {self.version}" if self.version else "the default policy"
        return f"{rule} of {policy}"


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return compile_pattern(pattern, "pattern")


def _any(patterns: Sequence[str], values: Sequence[str | None]) -> bool:
    return any(_compiled(p).search(v) for p in patterns for v in values if v is not None)


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None  # a host name
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _in(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None, networks: Sequence[IPNetwork]) -> bool:
    return address is not None and any(address.version == n.version and address in n for n in networks)


def matches(rule: ConnectionRule, connection: ConnectionDetails) -> bool:
    """True when every matcher ``rule`` has matches ``connection``."""
    if rule.ip and not _in(_address(connection.ip), rule.ip):
        return False
    if rule.server and not _any(rule.server, (connection.name, connection.ip)):
        return False
    if rule.user and not _any(rule.user, (connection.user,)):
        return False
    return not (rule.connection_type and not _any(rule.connection_type, (connection.connection_type,)))


def decide(policy: Policy, connection: ConnectionDetails, version: int = 0) -> Decision:
    """Whether ``connection`` is recorded under ``policy`` (saved as ``version``), and by
    which rule."""
    for index, rule in enumerate(policy.connections.rules):
        if matches(rule, connection):
            return Decision(rule.action is Action.RECORD, rule.name or f"connections.rules[{index}]", index, version)
    return Decision(policy.connections.default is Action.RECORD, DEFAULT_RULE, None, version)
