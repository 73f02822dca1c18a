"""Logging set-up: structlog, as a console line or as one JSON object per line.

The messages are the reference recorder's, word for word, so that log scrapers written
for it keep working; the facts in them are also structured fields::

    2026-11-21T15:51:02.120+00:00 [INFO] Recording started for session: rdp_123 session_id=rdp_123 ...
    2026-11-21T15:51:09.871+00:00 [INFO] Recording stopped for session: rdp_123 session_id=rdp_123 ...
    2026-11-21T15:51:09.871+00:00 [ERROR] Recording error for session rdp_123: Disk full session_id=rdp_123 error='Disk full'
    2026-11-21T15:51:10.002+00:00 [INFO] Cleanup completed: deleted 5 files, freed 1.20 GB deleted_files=5 ...

The recording policy's decision for each connection is ours, in the reference's words for
a refusal (``Recording not started for session ...``), with the rule that made it::

    ... [INFO] Recording policy: session rdp_7 is recorded by rule 'internal' (connections.rules[0]) of policy version 3 session_id=rdp_7 policy_decision=record policy_rule=internal policy_version=3
    ... [INFO] Recording not started for session rdp_8: excluded by connections.default of policy version 3 session_id=rdp_8 policy_decision=skip policy_rule=connections.default policy_version=3 reason=policy

With ``format="json"`` every line is ``{"timestamp": ..., "level": "info", "logger": ...,
"event": "Recording started for session: rdp_123", "session_id": "rdp_123", ...}``.

Session ids, server and user names and window titles reach the log from the embedding
application and (``watch``) from any process's command line: the console line shows
every control character in them escaped (:func:`fastrec.printable.printable`), so that
a name cannot drive the operator's terminal or forge a log line.  JSON lines need no
such care: the JSON encoder escapes control characters (and all non-ASCII) itself.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

from fastrec.printable import printable

__all__ = [
    "LOG_FORMATS",
    "configure_logging",
    "policy_decision",
    "recording_error",
    "recording_started",
    "recording_stopped",
]

LOG_FORMATS = ("console", "json")
_LEVELS = ("debug", "info", "warning", "error", "critical")


def _level_number(level: str | int) -> int:
    if isinstance(level, int) and not isinstance(level, bool):
        return level
    name = str(level).strip().lower()
    if name == "warn":
        name = "warning"
    if name not in _LEVELS:
        raise ValueError(f"level={level!r}: must be one of {', '.join(_LEVELS)}")
    return int(getattr(logging, name.upper()))


class _ConsoleLine:
    """``{timestamp} [{LEVEL}] {message} key=value ...`` -- the reference's ``[INFO] ...``."""

    def __call__(self, logger: Any, method_name: str, event_dict: dict[str, Any]) -> str:
        stamp = event_dict.pop("timestamp", None)
        level = str(event_dict.pop("level", method_name)).upper()
        event = event_dict.pop("event", "")
        event_dict.pop("logger", None)
        exc = event_dict.pop("exception", None)
        fields = " ".join(f"{printable(k)}={_value(v)}" for k, v in event_dict.items())
        line = " ".join(p for p in (stamp, f"[{level}]", printable(event), fields) if p)
        if not exc:
            return line
        # a traceback is several lines by nature, but a newline in an exception's message
        # must not start a line that passes for a record: every traceback line is indented
        return "\n".join([line, *(f"  {printable(part)}" for part in str(exc).splitlines())])


def _value(value: Any) -> str:
    """A field's value: escaped; quoted when it is a string with a space or empty."""
    text = printable(value)
    return f"'{text}'" if isinstance(value, str) and (" " in text or not text) else text


def configure_logging(format: str = "console", level: str | int = "info",
                      stream: TextIO | None = None) -> None:
    """Send every fastrec (structlog) message to ``stream`` (default: standard error).

    ``format``: ``"console"`` (one readable line per message) or ``"json"`` (one JSON
    object per line, for log shippers); ``RECORDING_LOG_FORMAT`` holds the operator's
    choice.  ``level``: ``"debug"``, ``"info"``, ``"warning"``, ``"error"``,
    ``"critical"`` or a :mod:`logging` number; messages below it are dropped.  Raises
    ``ValueError`` for any other value.  May be called again to change the set-up.
    """
    if format not in LOG_FORMATS:
        raise ValueError(f"format={format!r}: must be one of {', '.join(LOG_FORMATS)}")
    threshold = _level_number(level)
    renderer: Any = structlog.processors.JSONRenderer(default=str) if format == "json" else _ConsoleLine()
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=False),
        structlog.processors.format_exc_info,
        renderer,
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.PrintLoggerFactory(file=stream if stream is not None else sys.stderr),
        cache_logger_on_first_use=False,  # configure_logging may be called again
    )


# --- the reference's messages (one place, so they cannot drift) ---

def recording_started(log: Any, session_id: str, **fields: Any) -> None:
    """``Recording started for session: {id}``."""
    log.info(f"Recording started for session: {session_id}", session_id=session_id, **fields)


def recording_stopped(log: Any, session_id: str, **fields: Any) -> None:
    """``Recording stopped for session: {id}``."""
    log.info(f"Recording stopped for session: {session_id}", session_id=session_id, **fields)


def recording_error(log: Any, session_id: str, error: str, **fields: Any) -> None:
    """``Recording error for session {id}: {error}``."""
    log.error(f"Recording error for session {session_id}: {error}", session_id=session_id,
              error=error, **fields)


def policy_decision(log: Any, session_id: str, decision: Any) -> None:
    """The recording policy's decision for a session (a
    :class:`fastrec.policy.decision.Decision`): ``Recording policy: session {id} is
    recorded by {rule}`` or ``Recording not started for session {id}: excluded by {rule}``."""
    fields = {"session_id": session_id, "policy_decision": "record" if decision.record else "skip",
              "policy_rule": decision.rule, "policy_version": decision.version}
    if decision.record:
        log.info(f"Recording policy: session {session_id} is recorded by {decision.describe()}", **fields)
    else:
        log.info(f"Recording not started for session {session_id}: excluded by {decision.describe()}",
                 reason="policy", **fields)
