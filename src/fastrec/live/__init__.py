"""Live sessions: recorders announce what they record; the admin server shows it as it happens.

One module per job:

- :mod:`.model` - the live session, alerts, and the typed events of the live WebSocket
  (``sessions_snapshot``, ``session_started``, ``session_updated``, ``session_ended``,
  ``alert``), their JSON form.
- :mod:`.store` - the store's two sides (a recorder's writer, the server's source) and the
  choice between :mod:`.sqlite_store` (one machine: a file next to the recordings index)
  and :mod:`.redis_store` (FASTREC_REDIS_URL: several gateways, one admin server).
- :mod:`.announcer` - the recorder's side, started by RecordingManager: a report of every
  live session each second, alerts for recording errors and :mod:`.disk` nearly full.
- :mod:`.feed` - the server's side: events derived from the store, dead recorders noticed.
- :mod:`.hub` - one feed fanned out to every WebSocket subscriber.

Names are imported on first use (PEP 562): a recorder that only announces does not load
the server's side, and nothing here loads redis-py unless FASTREC_REDIS_URL is set.
"""

from __future__ import annotations

from fastrec.lazy_exports import lazy_getattr

_EXPORTS = {
    "AlertKind": "model",
    "AlertRaised": "model",
    "Announcer": "announcer",
    "DiskWatch": "disk",
    "EndReason": "model",
    "LIVE_EVENTS": "model",
    "LIVE_FILE": "sqlite_store",
    "LiveAlert": "model",
    "LiveEvent": "model",
    "LiveFeed": "feed",
    "LiveFrames": "model",
    "LiveHub": "hub",
    "LiveMessage": "hub",
    "LiveSession": "model",
    "LiveSessionEnded": "model",
    "LiveSessionStarted": "model",
    "LiveSessionUpdated": "model",
    "LiveSource": "store",
    "LiveWriter": "store",
    "SessionsSnapshot": "model",
    "SubscriberDropped": "hub",
    "Subscription": "hub",
    "dump_event": "model",
    "open_source": "store",
    "open_writer": "store",
    "parse_event": "model",
    "session_key": "model",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr("fastrec.live", {name: "." + module for name, module in _EXPORTS.items()}, globals())


def __dir__() -> list[str]:
    return __all__
