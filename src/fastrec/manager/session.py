"""What the manager keeps per session, and the status dict it reports for it.

The engine owns the life-cycle (state, errors, capture counters); the manager adds only
what is its own: who connected where, the files and their metadata.  A session's state as
the manager reports it is the engine's, except that a session the engine has finished
stays ``stopping`` until its metadata is sealed: ``is_recording`` is true until then.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastrec.engine.events import LIVE_STATES, SessionFinished, SessionState
from fastrec.manager.sealing import SessionFiles, now
from fastrec.privacy.screen_rules import ScreenRules

_MB = 1024 * 1024


@dataclass
class ManagedSession:
    session_id: str
    connection_info: dict[str, Any]
    mode: str
    started_at: datetime
    files: SessionFiles
    output_size: tuple[int, int] | None = None
    final: SessionFinished | None = None  # the engine's last word
    ended_at: datetime | None = None
    finished: threading.Event = field(default_factory=threading.Event)  # metadata sealed
    rules: ScreenRules = field(default_factory=ScreenRules)  # the privacy rules it was last sent
    told_pii: bool = False  # "pii rules need OCR" was logged for it

    def state(self, engine: dict[str, Any] | None) -> str:
        if self.finished.is_set() and self.final is not None:
            return "error" if self.files.errors else str(self.final.state)
        state = SessionState(engine["state"]) if engine is not None else SessionState.STARTING
        return str(state if state in LIVE_STATES else SessionState.STOPPING)

    @property
    def live(self) -> bool:
        return not self.finished.is_set()

    def errors(self, engine: dict[str, Any] | None) -> list[str]:
        engine_errors = list(self.final.errors) if self.final is not None else (
            list(engine["errors"]) if engine is not None else [])
        return engine_errors + self.files.errors

    def status(self, engine: dict[str, Any] | None) -> dict[str, Any]:
        """The documented per-session status dict (see RecordingManager.get_recording_status)."""
        capture = (self.final.capture if self.final is not None
                   else (engine or {}).get("capture") or {})
        files = self.files.files()
        size = self.files.size()
        end = self.ended_at or now()
        elapsed = float(capture.get("elapsed") or 0.0)
        ticks = int(capture.get("ticks", 0))
        region = capture.get("region")
        paused = bool(capture.get("paused", False)) and self.live
        pauses = capture.get("pauses") or []
        current = None if self.finished.is_set() else self.files.current()
        return {
            "session_id": self.session_id, "known": True, "state": self.state(engine),
            "is_recording": self.live, "mode": self.mode,
            "connection_info": dict(self.connection_info),
            "start_time": self.started_at.isoformat(),
            "end_time": self.ended_at.isoformat() if self.ended_at else None,
            "elapsed_seconds": round((end - self.started_at).total_seconds(), 3),
            "current_file": str(current.video) if current else None,
            "current_part": current.number if current else None,
            "files": [str(f) for f in files], "segments": len(files),
            "bytes": size, "size_mb": round(size / _MB, 3),
            "frames": {"captured": ticks, "encoded": int(capture.get("published", 0)),
                       "unchanged": int(capture.get("unchanged", 0)) + int(capture.get("damage_skips", 0)),
                       "dropped": int(capture.get("dropped", 0))},
            "fps": round(ticks / elapsed, 2) if elapsed > 0 else 0.0,
            "output_size": list(self.output_size) if self.output_size else None,
            "region": list(region) if region else None,
            "paused": paused,
            "pause_reason": str(pauses[-1][1]) if paused and pauses else None,
            "occluded": bool(capture.get("occluded", False)) and self.live,
            # privacy rules: the policy version applied (as of the last report) and the
            # ticks not recorded because a window rule's match was uncertain (fail closed)
            "privacy_rules_version": int(capture.get("rules_version", self.rules.version)),
            "privacy_blocked": int(capture.get("privacy_blocked", 0)),
            # RECORDING_OCR_PII: the OCR stage's counters (fastrec.engine.ocr_gate.GateStats)
            "ocr": dict(capture.get("ocr") or {}) or None,
            "errors": self.errors(engine),
        }
