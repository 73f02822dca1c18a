"""Scripted desktop workloads for the demo and benchmarks.

- ``editor`` (the default): an editor window that types at human speed, scrolls, switches
  between two windows and idles;
- ``typing``: a full-screen terminal-like text widget typed into at a steady rate, with no
  pause (a few glyphs change per frame: the recorder's per-frame floor);
- ``scroll``: a full-screen text widget scrolling by one line at every tick (nearly every
  pixel changes every frame: the encoder's ceiling).

Run it on a private display: ``DISPLAY=:N python -m fastrec.demo.workload --seconds 20
[--scenario typing]``.  No window manager: the windows sit where they are placed.
"""

from __future__ import annotations

import argparse
import itertools
import tkinter as tk

TEXT = (
    "Connected to prod-db-01 as administrator.\n"
    "SELECT id, name, email FROM customers WHERE created_at > now() - interval '1 day';\n"
    "Restarting the billing service... done.\n"
    "Checking disk usage on /var/lib/postgresql: 61% used.\n"
)

# Where the editor window and its secrets bar sit on the screen (no window manager moves
# them), so the demo can mask the bar by coordinates.
EDITOR_GEOMETRY = (60, 60, 1200, 700)  # x, y, width, height
SECRET_BAR_HEIGHT = 40


def secret_bar_region() -> tuple[int, int, int, int]:
    """Screen rectangle (x, y, width, height) of the editor's secrets bar."""
    x, y, w, h = EDITOR_GEOMETRY
    return x, y + h - SECRET_BAR_HEIGHT, w, SECRET_BAR_HEIGHT

# (seconds, action): typing, scrolling, a window switch and idle stretches
SCRIPT = [(4.0, "type"), (2.0, "idle"), (2.0, "scroll"), (1.0, "switch"), (3.0, "type"),
          (4.0, "idle"), (2.0, "scroll"), (2.0, "type")]
CHARS_PER_SECOND = 8  # a steady human typist


class Workload:
    def __init__(self, root: tk.Tk, seconds: float) -> None:
        self.root = root
        self.seconds = seconds
        root.title("fastrec demo - editor")
        x, y, w, h = EDITOR_GEOMETRY
        root.geometry(f"{w}x{h}+{x}+{y}")
        secret = tk.Label(root, text="API key: sk-live-4f9a2c7e1b  Password: hunter2",
                          font=("DejaVu Sans Mono", 16), bg="#fff3b0", height=1)
        secret.place(x=0, y=h - SECRET_BAR_HEIGHT, width=w, height=SECRET_BAR_HEIGHT)
        self.text = tk.Text(root, font=("DejaVu Sans Mono", 14), wrap="none")
        self.text.place(x=0, y=0, width=w, height=h - SECRET_BAR_HEIGHT)
        for i in range(60):
            self.text.insert("end", f"{i:3d}  log line {i} - nothing to see here\n")
        self.text.mark_set("insert", "4.0")
        self.other = tk.Toplevel(root)
        self.other.title("fastrec demo - terminal")
        self.other.geometry("800x400+900+500")
        tk.Label(self.other, text="$ tail -f /var/log/syslog", font=("DejaVu Sans Mono", 14),
                 bg="black", fg="lightgreen", anchor="nw").pack(fill="both", expand=True)
        self.chars = itertools.cycle(TEXT)
        self.elapsed = 0.0

    def start(self) -> None:
        self.root.after(200, self._step, 0, 0.0)
        self.root.after(int(self.seconds * 1000), self.root.destroy)

    def _step(self, index: int, started: float) -> None:
        duration, action = SCRIPT[index % len(SCRIPT)]
        tick = 1.0 / CHARS_PER_SECOND
        if action == "type":
            self.text.insert("insert", next(self.chars))
            self.text.see("insert")
        elif action == "scroll":
            self.text.yview_scroll(1, "units")
        elif action == "switch" and started == 0.0:
            self.other.lift()
            self.other.focus_force()
        if started + tick >= duration:
            if action == "switch":
                self.root.lift()
            self.root.after(int(tick * 1000), self._step, index + 1, 0.0)
        else:
            self.root.after(int(tick * 1000), self._step, index, started + tick)


class FullScreenText:
    """A terminal-like text widget over the whole screen, typed into (``typing``) or
    scrolled (``scroll``) at ``rate`` steps per second, from the start to the end."""

    def __init__(self, root: tk.Tk, seconds: float, scenario: str, rate: float) -> None:
        self.root = root
        self.seconds = seconds
        self.scenario = scenario
        self.tick_ms = max(1, int(1000 / rate))
        root.title(f"fastrec demo - {scenario}")
        root.geometry(f"{root.winfo_screenwidth()}x{root.winfo_screenheight()}+0+0")
        self.text = tk.Text(root, font=("DejaVu Sans Mono", 13), wrap="none", bg="black",
                            fg="lightgray", insertbackground="lightgray", borderwidth=0)
        self.text.pack(fill="both", expand=True)
        lines = 4000 if scenario == "scroll" else 20
        for i in range(lines):
            self.text.insert("end", f"{i:5d}  {TEXT.splitlines()[i % 4]}\n")
        self.text.mark_set("insert", "end")
        self.chars = itertools.cycle(TEXT)

    def start(self) -> None:
        self.root.after(200, self._step)
        self.root.after(int(self.seconds * 1000), self.root.destroy)

    def _step(self) -> None:
        if self.scenario == "typing":
            self.text.insert("insert", next(self.chars))
            self.text.see("insert")
        else:
            self.text.yview_scroll(1, "units")
        self.root.after(self.tick_ms, self._step)


SCENARIOS = ("editor", "typing", "scroll")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--scenario", choices=SCENARIOS, default="editor")
    parser.add_argument("--rate", type=float, default=None,
                        help="typing: characters per second (default 12); scroll: lines per second (default 10)")
    args = parser.parse_args(argv)
    root = tk.Tk()
    if args.scenario == "editor":
        Workload(root, args.seconds).start()
    else:
        rate = args.rate or (12.0 if args.scenario == "typing" else 10.0)
        FullScreenText(root, args.seconds, args.scenario, rate).start()
    root.mainloop()


if __name__ == "__main__":
    main()
