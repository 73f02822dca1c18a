"""``python -m fastrec export SESSION --format json|mp4|pdf``: the export command.

Options: ``--from``/``--to`` (seconds from the session start, or ISO 8601 wall-clock times;
:mod:`.timerange`), ``--output FILE`` (a file, or an existing directory to put the default
name in; default: the default name in the current directory), ``--allow-unverified``
(MP4: export parts that do not verify, saying so), and the common ``--output-dir`` (the
recordings directory, RECORDING_OUTPUT_DIR, as for ``info`` and ``verify``) and
``--env-file``.  A progress line goes to standard error while the export runs, then the
written file's path to standard output.

Exit codes: 0 written; 1 no such session, parts that do not verify or cannot be joined, or
a write failure; 2 bad usage or a bad value (the option, the value and what is allowed).

Import-light like :mod:`fastrec.cli`: the export modules are imported by the handler.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fastrec.printable import printable

__all__ = ["EPILOG", "add_export_command", "export"]

EPILOG = ("exit codes: 0 written; 1 no such session, a part that does not verify (see --allow-unverified) or "
          "parts that cannot be joined, or the file cannot be written; 2 bad usage or a bad value (the option, "
          "the value and what is allowed are named)")


def add_export_command(commands: Any) -> None:
    """Add ``export`` to ``commands``."""
    parser = commands.add_parser(
        "export", help="export a session as JSON (metadata, hashes, events), MP4 (one video) or PDF (a report)",
        description="Export SESSION: json - every part's metadata, file hash and chain verdict, and its events; "
                    "mp4 - one playable video of the session or of --from/--to, joined without re-encoding "
                    "(only a partial first group of pictures is re-encoded), wall-clock start in its "
                    "creation_time; pdf - a summary report with integrity, events and thumbnails at scene "
                    "changes. Parts that do not verify are refused for mp4 unless --allow-unverified.",
        epilog=EPILOG)
    parser.add_argument("session", metavar="SESSION", help="session id")
    parser.add_argument("--format", required=True, choices=("json", "mp4", "pdf"), help="json, mp4 or pdf")
    parser.add_argument("--from", dest="start", default=None, metavar="T",
                        help="start: seconds from the session start (e.g. 90) or an ISO 8601 time "
                             "(e.g. 2026-12-01T14:03:10; no zone: local time) (mp4, pdf)")
    parser.add_argument("--to", dest="end", default=None, metavar="T", help="end, like --from (mp4, pdf)")
    parser.add_argument("--output", type=Path, default=None, metavar="FILE",
                        help="the file to write, or a directory for the default name "
                             "(default: SESSION[_range].FORMAT in the current directory)")
    parser.add_argument("--allow-unverified", action="store_true",
                        help="mp4: export parts that do not verify against their hashes and the chain (the "
                             "file's comment names them)")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="recordings directory (default RECORDING_OUTPUT_DIR, ./recordings)")
    parser.add_argument("--env-file", default=None, help="read RECORDING_* settings from this file (default ./.env)")


def export(args: argparse.Namespace) -> int:
    from fastrec.export.run import ExportRefused, export_session
    from fastrec.export.timerange import RangeError, parse_bound
    from fastrec.logs import configure_logging
    from fastrec.settings import load_settings
    from fastrec.storage.videos import use_settings_store

    overrides = {"output_dir": str(args.output_dir)} if args.output_dir is not None else {}
    settings = load_settings(args.env_file, **overrides)
    configure_logging(settings.log_format, "warning")
    use_settings_store(settings)  # parts uploaded to FASTREC_S3_URL are read from there
    try:
        first = None if args.start is None else parse_bound("--from", args.start)
        last = None if args.end is None else parse_bound("--to", args.end)
    except RangeError as exc:
        print(f"fastrec export: {printable(exc)}", file=sys.stderr)
        return 2
    shown = [-1]

    def progress(fraction: float, message: str) -> None:
        percent = int(fraction * 100)
        if percent != shown[0]:
            shown[0] = percent
            line = f"export {args.format}: {percent:3d}% {printable(message)}"[:79]
            print(f"\r{line:<79}", end="", file=sys.stderr, flush=True)  # one line, rewritten

    try:
        outcome = export_session(settings.output_dir, args.session, args.format, output=args.output,
                                 first=first, last=last, allow_unverified=args.allow_unverified,
                                 progress=progress)
    except ExportRefused as exc:
        if shown[0] >= 0:
            print(file=sys.stderr)
        print(f"fastrec export: {printable(exc)}", file=sys.stderr)
        return 2 if exc.reason == "usage" else 1
    print(file=sys.stderr)
    for note in outcome.notes:
        print(f"note: {printable(note)}", file=sys.stderr)
    print(printable(outcome.path))
    return 0
