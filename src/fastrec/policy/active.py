"""The active policy as a recorder reads it: at every decision, from the store on disk.

A recorder (RecordingManager, and through it ``record``, ``watch`` and the connection
monitor) asks :meth:`ActivePolicyReader.current` before each session starts, so a policy
saved from the command line or the admin server applies to the next connection, with no
restart and no server running.

Invariants, and why:

- **Reading never creates anything.**  While no policy file exists the default policy
  applies (record everything, no rules) and the directory is left as it is.
- **A policy is parsed once per version** (the newest version number is read each time;
  the document only when it changed).
- **A damaged store is never a reason not to record.**  The recorder exists to record, and
  DESIGN.md holds that a damaged file in the directory never stops a session: when the
  store cannot be read, or its newest version no longer parses, the last policy this
  reader read applies (else the default), and each such read logs an error naming the file
  and the problem.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import structlog

from fastrec.policy.decision import Decision, decide
from fastrec.policy.document import DEFAULT_POLICY, Permission, Policy, parse_policy
from fastrec.policy.errors import PolicyError
from fastrec.policy.store import DEFAULT_VERSION, POLICY_FILE, PolicyStore, PolicyVersion
from fastrec.storage.database import is_postgres
from fastrec.privacy.connection import ConnectionDetails
from fastrec.roles import Role
from fastrec.storage.retention import RetentionLimits

__all__ = ["ActivePolicy", "ActivePolicyReader"]

log = structlog.get_logger("fastrec.policy")


@dataclass(frozen=True, slots=True)
class ActivePolicy:
    """A parsed policy and the version it came from (:data:`DEFAULT_VERSION` when none)."""

    policy: Policy
    version: PolicyVersion

    def decide(self, connection: ConnectionDetails) -> Decision:
        return decide(self.policy, connection, self.version.version)

    def retention_limits(self) -> RetentionLimits:
        """The retention section as limits replacing the settings' where it sets them."""
        retention = self.policy.retention
        return RetentionLimits(retention.max_file_age_days, retention.max_total_size_gb,
                               f"policy version {self.version.version}")

    def roles(self, permission: Permission) -> list[Role]:
        """The roles the permissions section lets do ``permission`` (view, export, share)."""
        return [role for role in Role if self.policy.permissions.allows(role, permission)]


DEFAULT_ACTIVE = ActivePolicy(DEFAULT_POLICY, DEFAULT_VERSION)


class ActivePolicyReader:
    """Reads the active policy of the recordings ``directory``; thread-safe."""

    def __init__(self, directory: str | Path, *, database_url: str | None = None,
                 store: PolicyStore | None = None) -> None:
        self.directory = Path(directory)
        self.database_url = database_url  # PostgreSQL (a fleet's policy), or None: the file
        self.store = store  # an open store to read (the admin server's), else one per read
        self._lock = threading.Lock()
        self._last: ActivePolicy | None = None

    def current(self) -> ActivePolicy:
        """The active policy now (see the module docstring for a store that cannot be read)."""
        with self._lock:
            path = self.directory / POLICY_FILE
            if self.store is None and not is_postgres(self.database_url) and not path.exists() \
                    and not path.is_symlink():
                self._last = DEFAULT_ACTIVE
                return self._last
            try:
                if self.store is not None:
                    version = self.store.active_or_default()
                else:
                    with PolicyStore(self.directory, database_url=self.database_url) as store:
                        version = store.active_or_default()
            except Exception as exc:  # noqa: BLE001 - any failure: the last policy read applies
                return self._fallback(f"the policy store cannot be read: {exc}")
            if self._last is not None and self._last.version == version:
                return self._last
            try:
                self._last = ActivePolicy(parse_policy(version.text), version)
            except PolicyError as exc:
                return self._fallback(f"policy version {version.version} is not valid for this fastrec: {exc}")
            return self._last

    def retention_limits(self) -> RetentionLimits:
        """The active policy's retention limits (for :class:`~fastrec.storage.retention.RotationManager`)."""
        return self.current().retention_limits()

    def _fallback(self, problem: str) -> ActivePolicy:
        active = self._last or DEFAULT_ACTIVE
        log.error(f"Recording policy unavailable; using {_which(active)}: {problem}",
                  file=str(self.directory / POLICY_FILE), problem=problem, policy_version=active.version.version)
        return active


def _which(active: ActivePolicy) -> str:
    if active.version.is_default:
        return "the default policy (record every connection)"
    return f"policy version {active.version.version}, the last one read"
