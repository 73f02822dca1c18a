"""An embedding application's process, for :func:`benchmarks.e2e.tree.embedded_session_cost`.

It creates one RecordingManager with the settings' defaults (as the connection manager
does at its own start), says ``ready`` on stdout, then records one session per line read
from stdin: started, stopped 0.1 s after its first file exists (what ``record --duration
0.1`` records), its files sealed; ``done`` says so.  Nothing else runs in this process, so
its CPU and that of its children is what the recorder costs the application.

    python -m benchmarks.e2e.embedded OUTPUT_DIR DISPLAY
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from fastrec.logs import configure_logging
from fastrec.manager import RecordingManager
from fastrec.settings import load_settings

from .runners import CRF, FPS

POLL = 0.01  # the first file is looked for this often


def main(out_dir: Path, display: str) -> int:
    configure_logging("console", "warning")
    settings = load_settings(output_dir=out_dir, enabled=True, mode="full_screen", fps=FPS, quality=CRF)
    with RecordingManager(settings, display=display, cleanup_schedule=False) as manager:
        print("ready", flush=True)
        for n, _ in enumerate(sys.stdin):
            sid = f"embedded-{n}"
            if not manager.start_session_recording(sid, {"con_codigo": sid, "name": "bench"}):
                print(f"error: session {sid} did not start", flush=True)
                return 1
            while manager.is_recording(sid) and not manager.get_recording_status(sid)["current_file"]:
                time.sleep(POLL)
            time.sleep(0.1)
            manager.stop_session_recording(sid)
            manager.wait_for_session(sid, timeout=60)
            print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2]))
