"""Privacy rules that follow the active recording policy while sessions record.

A :class:`RulesWatcher` thread looks at the policy store once a second and hands the
active version's privacy rules (:class:`~fastrec.privacy.screen_rules.ScreenRules`) to the
manager, which sends them to every live session whose rules differ: a policy saved from the
command line, the API or the admin UI reaches the next frames of sessions already
recording, with no restart.

Invariants, and why:

- **Cheap when nothing changed.**  The store is re-read only when its files changed (the
  SQLite file and its write-ahead log: size, mtime, inode), so an idle recorder costs two
  ``stat`` calls a second, and a damaged store is reported once per change, not every
  second (:class:`~fastrec.policy.active.ActivePolicyReader` logs each failed read).
- **Every tick reconciles.**  The manager compares each live session's rules with the
  current ones at every tick, not only when the version changes, so a session that started
  with an older version while the watcher was switching still gets the new rules.
- **Rules are converted once per version** (:meth:`RulesWatcher.rules_of`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import structlog

from fastrec.policy.active import ActivePolicy, ActivePolicyReader
from fastrec.policy.store import POLICY_FILE
from fastrec.privacy.screen_rules import ScreenRules, screen_rules

__all__ = ["POLL_SECONDS", "RulesWatcher"]

log = structlog.get_logger("fastrec.manager")

POLL_SECONDS = 1.0

_Signature = tuple[tuple[int, int, int] | None, ...]


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class RulesWatcher:
    """Calls ``on_tick(rules)`` every ``interval`` s on a thread of its own with the active
    policy's privacy rules (``start``/``close``)."""

    def __init__(self, reader: ActivePolicyReader, on_tick: Callable[[ScreenRules], None],
                 interval: float = POLL_SECONDS) -> None:
        self.reader = reader
        self.on_tick = on_tick
        self.interval = interval
        self._files = [reader.directory / POLICY_FILE, reader.directory / f"{POLICY_FILE}-wal"]
        self._signature: _Signature | None = None
        self._converted: tuple[int, str, ScreenRules] | None = None
        self._rules = ScreenRules()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def rules_of(self, active: ActivePolicy) -> ScreenRules:
        """The privacy rules of ``active`` (converted once per version)."""
        key = (active.version.version, active.version.sha256)
        cached = self._converted
        if cached is not None and (cached[0], cached[1]) == key:
            return cached[2]
        rules = screen_rules(active.policy.privacy.effective_rules(), active.version.version)
        self._converted = (*key, rules)
        return rules

    def current(self) -> ScreenRules:
        """The active policy's rules now, re-read only when the store's files changed."""
        signature = tuple(_stat(p) for p in self._files)
        if signature != self._signature:
            self._rules = self.rules_of(self.reader.current())
            self._signature = signature
        return self._rules

    def start(self) -> RulesWatcher:
        self._thread = threading.Thread(target=self._run, name="fastrec-policy-rules", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.on_tick(self.current())
            except Exception:  # noqa: BLE001 - a bug here must not stop later ticks
                log.exception("Privacy rules could not be updated from the recording policy")
