"""The roles of the admin server's users, ordered: viewer < auditor < admin.

Shared by the server's accounts (:mod:`fastrec.server.accounts`) and the recording
policy's permissions (:mod:`fastrec.policy.document`).  It lives outside the server
package because the recorder reads the policy: importing the server (argon2, its
database) into a recorder process only to name a role would be a needless weight.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Role"]


class Role(StrEnum):
    """What a user may do; each role includes the ones before it."""

    VIEWER = "viewer"    # list recordings, watch live and replays
    AUDITOR = "auditor"  # + export, share, review, bookmark
    ADMIN = "admin"      # + delete, policy, users

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        """True when this role may do what ``needed`` may."""
        return self.rank >= needed.rank
