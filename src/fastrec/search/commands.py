"""``python -m fastrec search``: find the moments of recordings by title, server, user,
time range and event kind (:mod:`fastrec.search.finder` says what a hit is).

Options: ``--title TEXT`` (in the window title, ignoring case), ``--server``, ``--user``
(whole values, ignoring case), ``--since``/``--until`` (ISO 8601 times; no zone: local
time), ``--event KIND`` (click, scroll, key_activity, title_change, focus_change, pause,
resume, rage_click), ``--limit N`` (default 100), ``--base-url URL`` (the admin server's
address: replay links printed in full), ``--json``, and the common ``--output-dir`` and
``--env-file``.  Each hit is printed on one line: the moment, the session, the server and
user, what matched, and the replay link that opens at that moment.

Exit codes: 0 searched (with or without hits); 1 the index cannot be read; 2 a bad value
(the option, the value and what is allowed).  Import-light: the work is imported by the
handler.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from fastrec.printable import printable

__all__ = ["add_search_command", "search"]

EVENT_KINDS = ("click", "scroll", "key_activity", "title_change", "focus_change", "pause", "resume", "rage_click")


def add_search_command(commands: Any) -> None:
    """Add ``search`` to ``commands``."""
    parser = commands.add_parser(
        "search", help="find recordings and moments by window title, server, user, time and event kind",
        description="Find the moments of recordings: where a window title containing --title was shown, every "
                    "--event of a kind (while such a title was shown, with both), or the sessions of "
                    "--server/--user/--since/--until. Newest first, each with a link that opens the replay there.",
        epilog="exit codes: 0 searched (with or without hits); 1 the index cannot be read; 2 a bad value")
    parser.add_argument("--title", default=None, help="text in the window title (ignoring case)")
    parser.add_argument("--server", default=None, help="the server (connection) name, whole, ignoring case")
    parser.add_argument("--user", default=None, help="the user, whole, ignoring case")
    parser.add_argument("--since", default=None, metavar="TIME", help="from this ISO 8601 time (no zone: local)")
    parser.add_argument("--until", default=None, metavar="TIME", help="up to this ISO 8601 time")
    parser.add_argument("--event", default=None, choices=EVENT_KINDS, metavar="KIND",
                        help=f"events of this kind ({', '.join(EVENT_KINDS)})")
    parser.add_argument("--limit", type=int, default=100, help="at most this many hits (1-1000, default 100)")
    parser.add_argument("--base-url", default="", metavar="URL",
                        help="the admin server's address (e.g. https://rec.example:8080): full replay links")
    parser.add_argument("--json", action="store_true", help="print the hits as JSON")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="recordings directory (default RECORDING_OUTPUT_DIR, ./recordings)")
    parser.add_argument("--env-file", default=None, help="read RECORDING_* settings from this file (default ./.env)")


def search(args: argparse.Namespace) -> int:
    from fastrec.events.model import EventKind
    from fastrec.logs import configure_logging
    from fastrec.search.finder import MAX_LIMIT, SearchQuery, parse_moment, search_recordings
    from fastrec.settings import load_settings
    from fastrec.storage.index import INDEX_FILE, IndexUnavailable, RecordingIndex

    overrides = {"output_dir": str(args.output_dir)} if args.output_dir is not None else {}
    settings = load_settings(args.env_file, **overrides)
    configure_logging(settings.log_format, "warning")
    try:
        since, until = parse_moment("--since", args.since), parse_moment("--until", args.until)
        if not 1 <= args.limit <= MAX_LIMIT:
            raise ValueError(f"--limit={args.limit}: must be between 1 and {MAX_LIMIT}")
        if since is not None and until is not None and since > until:
            raise ValueError(f"--since={args.since!r} is after --until={args.until!r}: the range is empty")
    except ValueError as exc:
        print(f"fastrec search: {printable(exc)}", file=sys.stderr)
        return 2
    query = SearchQuery(title=args.title or None, server=args.server, user=args.user, since=since, until=until,
                        event=None if args.event is None else EventKind(args.event), limit=args.limit)
    if not Path(settings.output_dir).is_dir():
        print(f"fastrec search: no recordings directory {printable(settings.output_dir)}", file=sys.stderr)
        return 1
    try:
        with RecordingIndex(Path(settings.output_dir) / INDEX_FILE, settings.output_dir,
                            database_url=settings.database_url) as index:
            result = search_recordings(index, query)
    except IndexUnavailable as exc:
        print(f"fastrec search: {printable(exc)}", file=sys.stderr)
        return 1
    base = args.base_url.rstrip("/")
    for problem in result.problems:
        print(f"note: {printable(problem)}", file=sys.stderr)
    if args.json:
        print(json.dumps({"sessions": result.sessions, "truncated": result.truncated, "hits": [
            {"session_id": h.session_id, "server": h.server, "user": h.user, "moment": h.moment.isoformat(),
             "kind": h.kind, "text": h.text, "title": h.title, "replay": base + h.replay_path()}
            for h in result.hits]}, ensure_ascii=False, indent=2))
        return 0
    if not result.hits:
        print(f"no matches ({result.sessions} session(s) searched)")
        return 0
    for h in result.hits:
        print(f"{h.moment.astimezone():%Y-%m-%d %H:%M:%S}  {printable(h.session_id)}  "
              f"{printable(h.server or '-')}/{printable(h.user or '-')}  {h.kind}: {printable(h.text)}  "
              f"{printable(base + h.replay_path())}")
    if result.truncated:
        print(f"(more than {query.limit} hits: narrow the search or raise --limit)")
    return 0
