"""A tiny desktop app that embeds RecordingManager, as the WATS connection manager does.

The window title shows 🔴 while a session is being recorded (an observer of the
manager), and two buttons start and stop the recording.  Run it with::

    RECORDING_ENABLED=true python examples/tk_app.py                 # RECORDING_MODE from .env
    python examples/tk_app.py --mode synthetic --output-dir /tmp/rec  # no screen needed to record

``--start-now`` starts recording at once, ``--stop-after S`` stops it S seconds later and
``--exit-after S`` closes the app (the tests drive it that way under Xvfb).
"""

from __future__ import annotations

import argparse
import queue
import signal
import sys
import tkinter as tk
from pathlib import Path
from typing import Any

from fastrec.logs import configure_logging
from fastrec.manager import RecordingManager
from fastrec.settings import SettingsError, load_settings

TITLE = "WATS - Session recording example"
RECORDING_MARK = "🔴"


class App:
    """The window: a status line and Start/Stop buttons over one RecordingManager."""

    def __init__(self, root: tk.Tk, manager: RecordingManager, session_id: str,
                 connection_info: dict[str, Any]) -> None:
        self.root = root
        self.manager = manager
        self.session_id = session_id
        self.connection_info = connection_info
        self.events: queue.Queue[tuple[str, str, dict[str, Any]]] = queue.Queue()
        self.status = tk.StringVar(value="Not recording")
        tk.Label(root, textvariable=self.status, width=48, anchor="w").pack(padx=10, pady=(10, 4), fill="x")
        buttons = tk.Frame(root)
        buttons.pack(padx=10, pady=(0, 10))
        self.start_button = tk.Button(buttons, text="Start recording", command=self.start)
        self.start_button.pack(side="left", padx=4)
        self.stop_button = tk.Button(buttons, text="Stop recording", command=self.stop, state="disabled")
        self.stop_button.pack(side="left", padx=4)
        # observers run on the manager's thread; Tk may only be touched from this one
        manager.add_observer(lambda event, sid, details: self.events.put((event, sid, details)))
        root.protocol("WM_DELETE_WINDOW", self.close)
        self.show(False)
        self.root.after(100, self.pump)

    def show(self, recording: bool) -> None:
        self.root.title(f"{RECORDING_MARK} {TITLE}" if recording else TITLE)
        self.start_button.configure(state="disabled" if recording else "normal")
        self.stop_button.configure(state="normal" if recording else "disabled")

    def start(self) -> None:
        if self.manager.start_session_recording(self.session_id, self.connection_info):
            self.status.set(f"Starting recording of {self.session_id} ...")
            self.start_button.configure(state="disabled")
        else:
            self.status.set("Recording could not start (see the log)")

    def stop(self) -> None:
        if self.manager.stop_session_recording():
            self.status.set("Stopping ...")

    def pump(self) -> None:
        while True:
            try:
                event, sid, details = self.events.get_nowait()
            except queue.Empty:
                break
            if event == "started":
                self.status.set(f"Recording {sid}")
            elif event == "rotated":
                self.status.set(f"Recording {sid} (part {details.get('part')})")
            elif event == "error":
                self.status.set(f"Error: {details.get('error')}")
            elif event == "stopped":
                self.status.set(f"Stopped {sid}: {len(details.get('files', []))} file(s)")
        self.show(self.manager.is_recording())
        self.root.after(100, self.pump)

    def close(self) -> None:
        self.manager.shutdown()
        try:
            self.root.destroy()
        except tk.TclError:
            pass  # already destroyed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=None)
    parser.add_argument("--mode", default=None, help="full_screen, rdp_window, active_window or synthetic")
    parser.add_argument("--session-id", default="example_1")
    parser.add_argument("--start-now", action="store_true")
    parser.add_argument("--stop-after", type=float, default=None)
    parser.add_argument("--exit-after", type=float, default=None)
    args = parser.parse_args(argv)
    configure_logging("console", "info")
    overrides: dict[str, Any] = {"enabled": True}
    if args.output_dir is not None:
        overrides["output_dir"] = str(args.output_dir)
    synthetic = args.mode == "synthetic"
    if args.mode and not synthetic:
        overrides["mode"] = args.mode
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        print("\n".join(exc.messages), file=sys.stderr)
        return 2
    manager = RecordingManager(
        settings, mode="synthetic" if synthetic else None,
        source_options={"width": 320, "height": 240, "fps": settings.fps, "scenario": "typing"} if synthetic else None)
    manager.initialize()
    root = tk.Tk()
    app = App(root, manager, args.session_id,
              {"con_codigo": 1, "ip": "192.0.2.10", "name": "Example Server", "user": "demo",
               "connection_type": "RDP"})
    if args.start_now:
        root.after(0, app.start)
    if args.stop_after is not None:
        root.after(int(args.stop_after * 1000), app.stop)
    if args.exit_after is not None:
        root.after(int(args.exit_after * 1000), app.close)
    # `kill`/logout: close like the window's close button, so the files are sealed
    signal.signal(signal.SIGTERM, lambda signum, frame: root.after(0, app.close))
    try:
        root.mainloop()
    finally:
        manager.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
