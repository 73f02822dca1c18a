"""A gateway as a host application embeds fastrec: its own process, a RecordingManager
configured by the environment alone (RECORDING_OUTPUT_DIR, FASTREC_DATABASE_URL,
FASTREC_REDIS_URL, FASTREC_S3_URL, FASTREC_S3_ENDPOINT_URL, FASTREC_SIGNING_KEY_FILE, ...,
exactly what docs/deployment.md lists for a gateway), recording a synthetic desktop.

``python _gateway_host.py`` reads one JSON command per line on standard input and answers
each with one JSON line on standard output (the fleet test drives it; a real host calls
the same methods from its own UI):

- ``{"op": "start", "session": ID, "connection": {...}}`` -> ``{"ok": bool}``
- ``{"op": "status", "session": ID}`` -> the session's recording status
- ``{"op": "stop", "session": ID}`` -> ``{"ok": bool}`` once its files are sealed
- ``{"op": "uploads"}`` -> the uploader's status (backlog, uploaded segments)
- ``{"op": "shutdown"}`` -> ``{"ok": true}``, then the process exits

It prints ``{"ready": true}`` once the manager is initialised (``false`` and exits 1 when
it cannot start).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from fastrec.engine.protocol import SegmentPolicy
from fastrec.logs import configure_logging
from fastrec.manager import RecordingManager
from fastrec.settings import load_settings

SYNTHETIC = {"width": 320, "height": 240, "fps": 10, "scenario": "typing"}
WAIT = 60.0  # a hang guard for a loaded machine


def _reply(data: Any) -> None:
    print(json.dumps(data, default=str), flush=True)


def main() -> int:
    settings = load_settings()
    configure_logging(settings.log_format, "warning", stream=sys.stderr)  # standard output is the answers'
    manager = RecordingManager(settings, mode="synthetic", source_options=SYNTHETIC,
                               segment_policy=SegmentPolicy(max_seconds=1.0), cleanup_schedule=False)
    if not manager.initialize():
        _reply({"ready": False})
        return 1
    _reply({"ready": True})
    try:
        for line in sys.stdin:
            command = json.loads(line)
            op = command["op"]
            if op == "start":
                _reply({"ok": manager.start_session_recording(command["session"], command["connection"])})
            elif op == "status":
                _reply(manager.get_recording_status(command["session"]))
            elif op == "stop":
                stopped = manager.stop_session_recording(command["session"])
                _reply({"ok": stopped and manager.wait_for_session(command["session"], WAIT)})
            elif op == "uploads":
                _reply(manager.get_recording_status()["uploads"])
            elif op == "shutdown":
                break
            else:
                _reply({"error": f"op={op!r}: allowed start, status, stop, uploads, shutdown"})
    finally:
        manager.shutdown()
    _reply({"ok": True})
    return 0


if __name__ == "__main__":
    sys.exit(main())
