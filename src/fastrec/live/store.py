"""The live-state store: one interface, an embedded (SQLite) and a fleet (Redis) implementation.

Two sides, each a small interface:

- :class:`LiveWriter` - a recorder's side, synchronous (the announcer's thread calls it):
  ``publish`` the current reports of its live sessions (a session's first report starts
  it), ``end`` sessions, raise an ``alert``.  Calls may raise any exception when the
  store is unreachable; the caller (:class:`~fastrec.live.announcer.Announcer`) retries.
- :class:`LiveSource` - the admin server's side, asynchronous: ``observe()`` yields what
  the store says, as :mod:`~fastrec.live.model` events used as *observations*: first a
  :class:`~fastrec.live.model.SessionsSnapshot` (every live session now), then
  ``session_updated`` for every report (whether it starts a session is the reader's
  call: :class:`~fastrec.live.feed.LiveFeed` decides), ``session_ended``, ``alert``, and
  ``None`` whenever nothing came for a while (time to look for silent recorders).
  ``remove`` ends a session whose recorder is gone, for every reader of the store.

Which implementation: :func:`open_writer`/:func:`open_source` choose Redis when
FASTREC_REDIS_URL is set (recorders on several gateways feed one admin server), else the
SQLite file :data:`~fastrec.live.sqlite_store.LIVE_FILE` next to the recordings index in
RECORDING_OUTPUT_DIR (one machine, no set-up).  The recorders and the admin server must
see the same settings to meet.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Protocol

from fastrec.live.model import EndReason, LiveAlert, LiveEvent, LiveSession, LiveSessionEnded
from fastrec.settings import RecordingSettings

__all__ = ["LiveSource", "LiveWriter", "describe_store", "open_source", "open_writer"]


class LiveWriter(Protocol):
    """A recorder's side of the store (synchronous; may raise when the store is down)."""

    def publish(self, sessions: Sequence[LiveSession]) -> None:
        """Store these sessions' reports (a new key starts a session)."""

    def end(self, ended: Sequence[LiveSessionEnded]) -> None:
        """Take these sessions off the live list, with their reasons."""

    def alert(self, alert: LiveAlert) -> None:
        """Tell every reader about ``alert``."""

    def close(self) -> None:
        """Let go of the connection (idempotent)."""


class LiveSource(Protocol):
    """The admin server's side of the store (asynchronous)."""

    def observe(self) -> AsyncIterator[LiveEvent | None]:
        """A snapshot, then reports, ends and alerts as they come; ``None`` when idle.

        Raises when the store becomes unreachable; calling it again starts over with a
        new snapshot."""
        ...

    async def remove(self, session: LiveSession, reason: EndReason) -> None:
        """End ``session`` in the store for every reader (its recorder is gone)."""

    async def aclose(self) -> None:
        """Let go of the connection (idempotent)."""


def this_host() -> str:
    """This machine's name, as recorders announce it (the first label is not enough: two
    gateways named ``gw1.site-a`` and ``gw1.site-b`` would clash)."""
    return socket.gethostname() or "localhost"


def describe_store(settings: RecordingSettings) -> str:
    """Where live state goes, for logs (never a password)."""
    if settings.redis_url is not None:
        return f"Redis {settings.redis_url_shown} (prefix {settings.live_prefix})"
    from fastrec.live.sqlite_store import LIVE_FILE

    return f"SQLite {Path(settings.output_dir) / LIVE_FILE}"


def open_writer(settings: RecordingSettings) -> LiveWriter:
    """The writer ``settings`` call for; connects (and may raise) on first use or here."""
    if settings.redis_url is not None:
        from fastrec.live.redis_store import RedisLiveWriter

        return RedisLiveWriter(settings.redis_url, prefix=settings.live_prefix)
    from fastrec.live.sqlite_store import SqliteLiveStore

    return SqliteLiveStore(Path(settings.output_dir))


def open_source(settings: RecordingSettings) -> LiveSource:
    """The source ``settings`` call for (nothing is opened until it is observed)."""
    if settings.redis_url is not None:
        from fastrec.live.redis_store import RedisLiveSource

        return RedisLiveSource(settings.redis_url, prefix=settings.live_prefix)
    from fastrec.live.sqlite_store import SqliteLiveSource

    return SqliteLiveSource(Path(settings.output_dir))
