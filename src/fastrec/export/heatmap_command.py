"""``python -m fastrec heatmap SESSION --output FILE.png``: a session's heatmap as a PNG.

Options: ``--kind clicks|scroll`` (default clicks), ``--from``/``--to`` (a time range, as
for ``export``: seconds from the session start or ISO 8601 times; :mod:`.timerange`), the
common ``--output-dir`` (the recordings directory) and ``--env-file``.  The PNG is written
atomically (0600); standard output gets its path, then the statistics (clicks: total,
points, max per point, average per point; scroll: vertical notches, average depth, the 20
buckets).  Events files that could not be read whole are named on standard error.

Exit codes: 0 written; 1 no such session, or the file cannot be written; 2 a bad value
(the option, the value and what is allowed).  Import-light: the work is imported by the
handler.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fastrec.printable import printable

__all__ = ["add_heatmap_command", "heatmap"]


def add_heatmap_command(commands: Any) -> None:
    """Add ``heatmap`` to ``commands``."""
    parser = commands.add_parser(
        "heatmap", help="draw a session's click (or scroll-depth) heatmap over its picture, as a PNG",
        description="Draw where SESSION's clicks were (radial gradients, normalised, colour-mapped) or how deep "
                    "its wheel notches were turned (20 bands) over the frame shown at the middle of the session "
                    "or of --from/--to, and print the statistics.",
        epilog="exit codes: 0 written; 1 no such session or the file cannot be written; 2 a bad value")
    parser.add_argument("session", metavar="SESSION", help="session id")
    parser.add_argument("--kind", choices=("clicks", "scroll"), default="clicks", help="clicks (default) or scroll")
    parser.add_argument("--from", dest="start", default=None, metavar="T",
                        help="start: seconds from the session start (e.g. 90) or an ISO 8601 time")
    parser.add_argument("--to", dest="end", default=None, metavar="T", help="end, like --from")
    parser.add_argument("--output", type=Path, required=True, metavar="FILE", help="the PNG file to write")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="recordings directory (default RECORDING_OUTPUT_DIR, ./recordings)")
    parser.add_argument("--env-file", default=None, help="read RECORDING_* settings from this file (default ./.env)")


def heatmap(args: argparse.Namespace) -> int:
    from fastrec.export.heatmaps import heatmap_image, resolve_range
    from fastrec.export.source import NoSuchSession, SessionSource
    from fastrec.export.timerange import RangeError, parse_bound
    from fastrec.logs import configure_logging
    from fastrec.settings import load_settings
    from fastrec.storage.files import write_private
    from fastrec.storage.videos import use_settings_store

    overrides = {"output_dir": str(args.output_dir)} if args.output_dir is not None else {}
    settings = load_settings(args.env_file, **overrides)
    configure_logging(settings.log_format, "warning")
    use_settings_store(settings)
    try:
        source = SessionSource.load(settings.output_dir, args.session, verify=False)
    except NoSuchSession as exc:
        print(f"fastrec heatmap: {printable(exc)}", file=sys.stderr)
        return 1
    try:
        first = None if args.start is None else parse_bound("--from", args.start)
        last = None if args.end is None else parse_bound("--to", args.end)
        span = resolve_range(source, first, last)
    except RangeError as exc:
        print(f"fastrec heatmap: {printable(exc)}", file=sys.stderr)
        return 2
    drawn = heatmap_image(source, span, args.kind)
    try:
        write_private(args.output, drawn.png)
    except OSError as exc:
        print(f"fastrec heatmap: {printable(args.output)}: cannot be written ({exc.strerror or exc})", file=sys.stderr)
        return 1
    for problem in drawn.stats.problems:
        print(f"note: {printable(problem)}", file=sys.stderr)
    clicks, scroll = drawn.stats.clicks, drawn.stats.scroll
    print(printable(args.output))
    print(f"clicks: {clicks.total} at {clicks.points} point(s), max per point {clicks.max_per_point}, "
          f"average per point {clicks.average_per_point:.2f}")
    depth = "-" if scroll.average_depth is None else f"{scroll.average_depth:.1f} %"
    print(f"scroll: {scroll.notches} notch(es), average depth {depth}, buckets {list(scroll.buckets)}")
    if drawn.picture_at is None:
        print("picture: none readable (drawn on a blank picture)")
    else:
        print(f"picture: the frame of {drawn.picture_at.isoformat()}")
    return 0
