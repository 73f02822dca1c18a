"""`python -m fastrec`: the command line.

Commands: ``demo`` (``--serve``: then the admin server over it), ``record``, ``status``,
``list``, ``info``, ``verify``, ``storage``, ``cleanup``, ``watch``, ``recover``, ``serve``
(the admin server), ``users`` (its accounts; :mod:`fastrec.server.commands`) and
``policy`` (the recording policy; :mod:`fastrec.policy.commands`) and ``export`` (a session
as JSON, MP4 or PDF; :mod:`fastrec.export.commands`), ``heatmap`` (a session's click or
scroll heatmap as a PNG; :mod:`fastrec.export.heatmap_command`), ``search`` (moments of
recordings by title, server, user, time, event; :mod:`fastrec.search.commands`) (``python -m fastrec COMMAND --help``
for each).

Exit codes: 0 success, 1 runtime failure (the message says what failed; ``verify``: the
chain is broken; ``record``: the recording ended in an error; ``serve``: the server could
not start), 2 bad usage or bad values (the message names the option or RECORDING_* /
FASTREC_* variable, the value and what is allowed; ``users``, ``policy``: a refused change or an
invalid policy document, each problem with its line), 130
interrupted (Ctrl-C in a command other than ``record``, ``watch``, ``demo`` and ``serve``,
which stop cleanly instead, exit 0).  Settings come from the environment and ``.env``
(``--env-file``), options win over both.

Ctrl-C: ``python -m fastrec`` installs the SIGINT/SIGTERM handler of the stoppable commands
(:mod:`fastrec.stop_signal`) before it imports this module (the ``fastrec`` entry point:
:func:`main`, first of all), and the handler only sets an event; the engine's processes run in sessions of their own (:mod:`fastrec.engine.launch`), so a terminal's
Ctrl-C reaches this process alone, at any moment, and the command stops the recording and
seals its files.  ``serve`` hands the signals to uvicorn while it runs; the handler covers
the moments before and after (uvicorn raises the signal again once it has shut down, which
then only sets the event).

Every untrusted string (names, users, titles, file names, values in messages) is printed
through :func:`fastrec.printable.printable`: a name cannot drive the terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastrec.checks import bounded_option as _bounded
from fastrec.crypt.commands import add_crypt_commands, shred
from fastrec.engine.protocol import RECORDING_MODES, CaptureMode
from fastrec.export.commands import add_export_command, export
from fastrec.export.heatmap_command import add_heatmap_command, heatmap
from fastrec.search.commands import add_search_command, search
from fastrec.policy.commands import add_policy_commands, policy
from fastrec.plain_structlog import import_structlog_without_rich
from fastrec.printable import printable
from fastrec.stop_signal import StopSignal
from fastrec.server.commands import add_server_commands, add_server_options, serve, users
from fastrec.storage.commands import add_db_command, db
from fastrec.storage.key_commands import add_keys_command, keys

if TYPE_CHECKING:
    from fastrec.settings import RecordingSettings
    from fastrec.storage import RotationManager


def _presets() -> tuple[str, ...]:
    from fastrec.settings import PRESETS  # pydantic: only once the Ctrl-C handler is in place

    return PRESETS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fastrec", description="fastrec session recorder")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="record a scripted desktop on a private Xvfb screen and report the cost",
        description="Start a private Xvfb screen, run a scripted editor workload on it, record it "
                    "through the frame core and the encoder, and print file, size, frames and CPU.")
    demo.add_argument("--seconds", type=_bounded(float, 1, 3600), default=20.0, help="recording length (default 20)")
    demo.add_argument("--fps", type=_bounded(int, 1, 60), default=10, help="frames per second, 1-60 (default 10)")
    demo.add_argument("--quality", type=_bounded(int, 0, 51), default=23, help="H.264 CRF, 0-51 (default 23)")
    demo.add_argument("--scale", type=_bounded(float, 0.1, 2.0), default=1.0, help="resolution scale, 0.1-2.0 (default 1.0)")
    demo.add_argument("--preset", choices=_presets(), default="veryfast", metavar="PRESET",
                      help=f"libx264 preset: {', '.join(_presets())} (default veryfast)")
    demo.add_argument("--output-dir", type=Path, default=Path("recordings"), help="where to write (default ./recordings)")
    demo.add_argument("--serve", action="store_true",
                      help="then serve the recording with the admin server (creates user admin with a random "
                           "password when there is none) and print its replay URL and a 24 h share link")
    add_server_options(demo)
    demo.epilog = ("exit codes: 0 done (Ctrl-C ends the recording early, sealed, and stops the server); 1 the "
                   "recording or the server could not start; 2 bad usage or a bad value (the option or "
                   "variable, the value and what is allowed are named)")
    add_commands(commands)
    add_server_commands(commands)
    add_policy_commands(commands)
    add_export_command(commands)
    add_heatmap_command(commands)
    add_search_command(commands)
    add_db_command(commands)
    # one `keys` command: the signing key ring's actions and the encryption keys'
    add_crypt_commands(commands, add_keys_command(commands))
    return parser


def _demo(args: argparse.Namespace) -> int:
    from fastrec.demo.run import run_demo
    from fastrec.logs import configure_logging

    configure_logging("console", "warning")  # the report, not the recorder's progress, on the screen

    settings = None
    if args.serve:  # a bad FASTREC_* value is reported before anything is recorded
        from fastrec.server.commands import server_settings

        settings = server_settings(args)

    def progress(line: str) -> None:
        print(f"\r{line}", end="", file=sys.stderr, flush=True)

    stop: threading.Event = args.stop
    report = run_demo(args.seconds, args.output_dir, args.fps, args.quality, args.scale, args.preset, progress,
                      stop)
    print(file=sys.stderr)
    print("\n".join(printable(line) for line in report.summary().splitlines()), flush=True)
    if settings is None or stop.is_set():
        return 0
    if not report.files:
        print("fastrec demo: nothing was recorded, so there is nothing to serve", file=sys.stderr)
        return 1
    from fastrec.server.commands import serve_demo

    return serve_demo(args, settings, report.session_id)


# --- recording and storage commands -----------------------------------------------------

_RECORD_MODES = tuple(str(m) for m in (*RECORDING_MODES, CaptureMode.SYNTHETIC))


def _common(parser: argparse.ArgumentParser, *, json_output: bool = False) -> None:
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="recordings directory (default RECORDING_OUTPUT_DIR, ./recordings)")
    parser.add_argument("--env-file", default=None, help="read RECORDING_* settings from this file (default ./.env)")
    parser.add_argument("--log-format", choices=("console", "json"), default=None,
                        help="log lines on standard error (default RECORDING_LOG_FORMAT)")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="warning",
                        help="least important log lines shown (default warning)")
    if json_output:
        parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def add_commands(commands: Any) -> None:
    """Add record, status, list, info, verify, storage, cleanup and watch to ``commands``."""
    record = commands.add_parser(
        "record", help="record the screen, a window or the RDP client until Ctrl-C or --duration",
        description="Record one session. A live line on standard error shows elapsed time, "
                    "capture rate, frames, size and dropped frames. Ctrl-C (or SIGTERM) stops "
                    "cleanly: the last part is sealed and its metadata written. Exit 0 when the "
                    "recording ended normally, 1 when it ended in an error, 2 for bad values.")
    record.add_argument("--mode", choices=_RECORD_MODES, default=None,
                        help="what to record (default RECORDING_MODE; synthetic: a generated desktop)")
    record.add_argument("--display", default=None, help="X display to record, e.g. :1 (default $DISPLAY)")
    record.add_argument("--fps", type=_bounded(int, 1, 60), default=None, help="frames per second, 1-60")
    record.add_argument("--quality", type=_bounded(int, 0, 51), default=None, help="H.264 CRF, 0-51 (lower is better)")
    record.add_argument("--scale", type=_bounded(float, 0.1, 2.0), default=None, help="resolution scale, 0.1-2.0")
    record.add_argument("--preset", choices=_presets(), default=None, metavar="PRESET",
                        help=f"libx264 preset: {', '.join(_presets())} (default RECORDING_PRESET)")
    record.add_argument("--duration", type=_bounded(float, 0.1, 7 * 86400), default=None,
                        help="stop after this many seconds (default: until Ctrl-C)")
    record.add_argument("--session-id", default=None, help="session id (default rec_{con-codigo}_{epoch})")
    record.add_argument("--con-codigo", default=None, help="connection code (metadata con_codigo; in the file name)")
    record.add_argument("--server", default=None, help="server name (metadata name; in the file name)")
    record.add_argument("--ip", default=None, help="server address (metadata ip)")
    record.add_argument("--user", default=None, help="user name (metadata user)")
    record.add_argument("--connection-type", default="RDP", help="connection type (default RDP)")
    _common(record)

    status = commands.add_parser("status", help="settings, storage and the recordings in progress",
                                 description="Show the recording settings, the storage use and the "
                                             "segments still being recorded (status recording).")
    _common(status, json_output=True)

    listing = commands.add_parser("list", help="a table of the recorded segments (from the index)",
                                  description="List recorded segments, oldest first, from the SQLite "
                                              "index (rebuilt from the metadata files when missing).")
    listing.add_argument("--session", default=None, help="only this session id")
    listing.add_argument("--server", default=None, help="only this server name (case-insensitive)")
    listing.add_argument("--user", default=None, help="only this user (case-insensitive)")
    listing.add_argument("--rebuild", action="store_true", help="rebuild the index from the metadata files first")
    _common(listing, json_output=True)

    info = commands.add_parser("info", help="the metadata of one session's segments",
                               description="Print the metadata of every segment of SESSION.")
    info.add_argument("session", metavar="SESSION", help="session id")
    _common(info, json_output=True)

    verify = commands.add_parser("verify", help="check a session's files against their hashes and the chain",
                                 description="Check every part of SESSION: size, SHA-256, the hash chain "
                                             "between parts and, with FASTREC_SIGNING_KEY_FILE or "
                                             "FASTREC_SIGNING_KEY set, each metadata file's signature (the "
                                             "report says when they were not checked). Parts deleted by "
                                             "retention or an admin are reported as deleted. Exit 0 when "
                                             "intact, 1 when a part is modified, missing, reordered, unsealed "
                                             "or unsigned (each is printed).")
    verify.add_argument("session", metavar="SESSION", help="session id")
    _common(verify, json_output=True)

    storage = commands.add_parser("storage", help="how much the recordings take and how full the quota is",
                                  description="Print get_storage_info(): size, quota use, counts, "
                                              "oldest/newest, free disk space.")
    _common(storage, json_output=True)

    cleanup = commands.add_parser(
        "cleanup", help="delete old recordings / keep under the size quota",
        description="Without options: delete segments older than RECORDING_MAX_FILE_AGE_DAYS, then the "
                    "oldest until under RECORDING_MAX_TOTAL_SIZE_GB. With --older-than and/or "
                    "--max-total-gb only those limits apply. A segment being recorded is never deleted.")
    cleanup.add_argument("--dry-run", action="store_true", help="only report what would be deleted")
    cleanup.add_argument("--older-than", type=_bounded(float, 0, 100000), default=None, metavar="DAYS",
                         help="delete finished segments older than DAYS (0: all finished segments)")
    cleanup.add_argument("--max-total-gb", type=_bounded(float, 0, 1e9), default=None, metavar="GB",
                         help="delete the oldest segments until the total is at most GB")
    _common(cleanup, json_output=True)

    watch = commands.add_parser(
        "watch", help="record every RDP connection (xfreerdp, rdesktop, remmina, mstsc) until Ctrl-C",
        description="Watch for RDP client processes with a window; record each connection from the "
                    "moment its window appears until its process exits. Runs until Ctrl-C or SIGTERM.")
    watch.add_argument("--display", default=None, help="X display the clients run on (default $DISPLAY)")
    watch.add_argument("--mode", choices=[str(m) for m in RECORDING_MODES], default=None,
                       help="what to record per connection (default RECORDING_MODE)")
    watch.add_argument("--poll-interval", type=_bounded(float, 0.1, 60), default=1.0,
                       help="seconds between looks at the process list (default 1)")
    _common(watch)

    recover = commands.add_parser(
        "recover", help="seal the parts a killed recorder left in status recording",
        description="Find parts whose metadata says 'recording' but whose recorder is gone (its "
                    "process ended, or nothing was written for 15 minutes when that cannot be "
                    "checked), cut each back to its last whole fragment, and seal it as "
                    "'interrupted' in its session's hash chain. Prints what it sealed.")
    recover.add_argument("--dry-run", action="store_true", help="only report what would be sealed")
    _common(recover, json_output=True)

    exits = {
        "record": "1 the recording ended in an error or recorded nothing (or the recording policy excludes "
                  "the connection)",
        "verify": "1 a part is modified, missing, reordered, unsealed or unsigned (with a signing key "
                  "configured), or the session has no parts",
        "info": "1 no such session",
        "cleanup": "1 a file could not be deleted",
        "watch": "1 the recorder could not start",
        "status": "1 the index cannot be read", "list": "1 the index cannot be read",
        "storage": "1 the directory cannot be read",
        "recover": "1 a part could not be sealed",
    }
    for name, failure in exits.items():
        commands.choices[name].epilog = (f"exit codes: 0 success; {failure}; 2 bad usage or a bad value "
                                         "(the option or RECORDING_* variable, the value and what is "
                                         "allowed are named)")


def _settings(args: argparse.Namespace, *, recording: bool = False, **overrides: Any) -> Any:
    from fastrec.logs import configure_logging
    from fastrec.settings import load_settings
    from fastrec.storage.videos import use_settings_store

    if args.output_dir is not None:
        overrides["output_dir"] = str(args.output_dir)
    if recording:
        overrides["enabled"] = True  # the operator asked for a recording: that is the switch
    settings = load_settings(args.env_file, **{k: v for k, v in overrides.items() if v is not None})
    configure_logging(args.log_format or settings.log_format, args.log_level)
    if not recording:  # verify, cleanup ...: parts uploaded to FASTREC_S3_URL are read there
        use_settings_store(settings)
    return settings


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _mb(size: int | None) -> str:
    return "-" if size is None else f"{size / (1024 * 1024):.2f}"


FIRST_FRAME_GRACE = 5.0  # seconds a Ctrl-C during start-up waits for the first frame


def _record(args: argparse.Namespace) -> int:
    from fastrec.manager import RecordingManager

    mode = args.mode
    settings = _settings(args, recording=True, fps=args.fps, quality=args.quality,
                         resolution_scale=args.scale, preset=args.preset,
                         mode=mode if mode not in (None, "synthetic") else None)
    mode = mode or settings.mode
    source_options: dict[str, Any] = {}
    if mode == "synthetic":
        source_options = {"width": 640, "height": 360, "fps": settings.fps, "scenario": "typing"}
    session_id = args.session_id or f"rec_{args.con_codigo or 'cli'}_{int(time.time())}"
    connection = {"con_codigo": args.con_codigo, "ip": args.ip, "name": args.server or args.ip,
                  "user": args.user, "connection_type": args.connection_type}
    stop: threading.Event = args.stop
    manager = RecordingManager(settings, mode=mode, display=args.display, source_options=source_options,
                               cleanup_schedule=False)
    try:
        if not manager.initialize():
            print(f"fastrec record: the recorder could not start (see the log above; output "
                  f"directory {printable(settings.output_dir)})", file=sys.stderr)
            return 1
        decision = manager.policy_decision(connection)
        if not decision.record:
            print(f"fastrec record: session {printable(session_id)} not recorded: the recording policy "
                  f"excludes this connection ({printable(decision.describe())}; python -m fastrec policy show)",
                  file=sys.stderr)
            return 1
        if not manager.start_session_recording(session_id, connection):
            print(f"fastrec record: session {printable(session_id)} could not be started", file=sys.stderr)
            return 1
        begun = time.monotonic()
        started: float | None = None  # --duration counts from the first frame, not the start-up
        asked: float | None = None  # when Ctrl-C/SIGTERM came
        tty = sys.stderr.isatty()
        next_line = 0.0
        while manager.is_recording(session_id):
            now = time.monotonic()
            if started is None and manager.get_recording_status(session_id)["current_file"]:
                started = now
            if asked is None and stop.is_set():
                asked = now
                if started is None:
                    print(f"{chr(10) if tty else ''}stopping as soon as the first frame is recorded "
                          f"(at most {FIRST_FRAME_GRACE:.0f} s)", file=sys.stderr, flush=True)
            # a stop asked for during start-up takes effect at the first frame, so what was
            # started ends as a sealed, playable file - but within FIRST_FRAME_GRACE: a window
            # that is found and then minimised sends no frame, and a stop is always honoured
            if asked is not None and (started is not None or now - asked >= FIRST_FRAME_GRACE):
                print(f"{chr(10) if tty else ''}stopping: sealing the last part", file=sys.stderr, flush=True)
                break
            if started is not None and args.duration is not None and now - started >= args.duration:
                break
            if now >= next_line:
                next_line = now + (0.5 if tty else 1.0)
                st = manager.get_recording_status(session_id)
                line = (f"REC {st['state']:<9} {now - (started or begun):7.1f} s  {st['fps']:5.1f} fps  "
                        f"{st['frames']['encoded']:6d} frames  {st['size_mb']:8.2f} MB  "
                        f"{st['frames']['dropped']} dropped")
                print(f"\r{line}" if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
            if asked is not None:
                time.sleep(0.02)  # stop requested, waiting for the first frame
                continue
            # Sleep until the next thing due - the status line, the end of --duration, the
            # next look for the first frame - or Ctrl-C, which wakes it at once.  A session
            # ending on its own is seen at the next of these, within a second.  (Waking 20
            # times a second cost an idle recording 0.2 CPU-s a minute.)
            due = next_line if started is not None else min(next_line, now + 0.05)
            if started is not None and args.duration is not None:
                due = min(due, started + args.duration)
            stop.wait(max(0.0, due - time.monotonic()))
        manager.stop_session_recording(session_id)
        if not manager.wait_for_session(session_id, timeout=60):
            print(f"\nfastrec record: session {printable(session_id)} did not finish within 60 s",
                  file=sys.stderr)
            return 1
        if tty and asked is None:
            print(file=sys.stderr)
        st = manager.get_recording_status(session_id)
    finally:
        manager.shutdown()
    print(f"session {printable(session_id)}: {st['state']}, {st['segments']} file(s), {st['size_mb']:.2f} MB, "
          f"{st['frames']['encoded']} frames encoded, {st['frames']['dropped']} dropped, "
          f"{st['elapsed_seconds']:.1f} s")
    for path in st["files"]:
        print(f"  {printable(path)}")
    for error in st["errors"]:
        print(f"  error: {printable(error)}")
    return 0 if st["state"] == "stopped" and st["segments"] else 1


def _open_index(settings: Any, rebuild: bool = False) -> Any:
    from fastrec.storage import INDEX_FILE, RecordingIndex

    index = RecordingIndex(Path(settings.output_dir) / INDEX_FILE, settings.output_dir,
                           database_url=settings.database_url)
    if rebuild:
        index.rebuild()
    return index


def _status(args: argparse.Namespace) -> int:
    settings = _settings(args)
    config = settings.get_recording_config()
    storage = _rotation(settings).get_storage_info()
    live = []
    if Path(settings.output_dir).is_dir():
        with _open_index(settings) as index:
            live = [e for e in index.search() if e.status == "recording"]
    if args.json:
        _print_json({"settings": config, "storage": storage,
                     "recording": [{"session_id": e.session_id, "part": e.part, "file": str(e.path),
                                    "start_time": e.start_time.isoformat()} for e in live]})
        return 0
    print(f"recording {'enabled' if settings.enabled else 'disabled'} (RECORDING_ENABLED), "
          f"auto-start {'on' if settings.auto_start else 'off'}, mode {settings.mode}")
    print(f"fps {settings.fps}, quality {settings.quality}, scale {settings.resolution_scale}, "
          f"preset {settings.preset}, rotate at {settings.max_file_size_mb} MB / "
          f"{settings.max_duration_minutes} min")
    print(f"output {printable(storage['output_dir'])}: {storage['total_size_gb']:.3f} GB of "
          f"{storage['max_total_size_gb']} GB ({storage['size_usage_percent']}%), "
          f"{storage['session_count']} session(s), {storage['segment_count']} segment(s)")
    if live:
        print("being recorded:")
        for e in live:
            print(f"  {printable(e.session_id)} part {e.part}  since {e.start_time:%Y-%m-%d %H:%M:%S}  "
                  f"{printable(e.path.name)}")
    else:
        print("nothing is being recorded")
    return 0


def _is_text(value: str) -> bool:
    """False for an argument holding bytes that are not UTF-8 (``surrogateescape``): no
    stored name can equal it, and SQLite cannot even be asked."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _list(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not Path(settings.output_dir).is_dir():
        print(f"no recordings in {printable(settings.output_dir)}")
        return 0
    filters = {"session": args.session, "server": args.server, "user": args.user}
    asked = {k: v for k, v in filters.items() if v is not None}
    with _open_index(settings, args.rebuild) as index:
        entries = [] if not all(map(_is_text, asked.values())) else index.search(
            session_id=args.session, server=args.server, user=args.user)
    if args.json:
        _print_json([{"session_id": e.session_id, "part": e.part, "file": str(e.path),
                      "start_time": e.start_time, "end_time": e.end_time, "server": e.server,
                      "ip": e.ip, "user": e.user, "connection_type": e.connection_type,
                      "con_codigo": e.con_codigo, "status": e.status, "size_bytes": e.size_bytes,
                      "sha256": e.sha256} for e in entries])
        return 0
    if not entries:
        if asked:
            shown = " ".join(f"--{k} '{printable(v)}'" for k, v in asked.items())
            print(f"no recordings match ({shown}) in {printable(settings.output_dir)}")
        else:
            print(f"no recordings in {printable(settings.output_dir)}")
        return 0
    rows = [("SESSION", "PART", "START", "SECONDS", "SERVER", "USER", "IP", "MB", "STATUS", "FILE")]
    for e in entries:
        seconds = f"{(e.end_time - e.start_time).total_seconds():.1f}" if e.end_time else "-"
        rows.append((printable(e.session_id), str(e.part), f"{e.start_time:%Y-%m-%d %H:%M:%S}", seconds,
                     printable(e.server or "-"), printable(e.user or "-"), printable(e.ip or "-"),
                     _mb(e.size_bytes), printable(e.status), printable(e.path.name)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _session_metadata(settings: Any, session_id: str) -> list[Any]:
    from fastrec.storage import MetadataError, iter_metadata

    found = [m for _, m in iter_metadata(settings.output_dir)
             if not isinstance(m, MetadataError) and m.session_id == session_id]
    return sorted(found, key=lambda m: (m.chain.part, m.start_time))


def _info(args: argparse.Namespace) -> int:
    settings = _settings(args)
    metas = _session_metadata(settings, args.session)
    if not metas:
        print(f"fastrec info: no session '{printable(args.session)}' in {printable(settings.output_dir)}",
              file=sys.stderr)
        return 1
    if args.json:
        _print_json([json.loads(m.to_json()) for m in metas])
        return 0
    first = metas[0]
    c = first.connection_info
    r = first.recorder_settings
    print(f"session {printable(args.session)}: {len(metas)} part(s)")
    print(f"  connection: con_codigo={printable(c.con_codigo)} name={printable(c.name)} ip={printable(c.ip)} "
          f"user={printable(c.user)} type={printable(c.connection_type)}")
    print(f"  settings: fps={r.fps} quality={r.quality} scale={r.resolution_scale} "
          f"max_file_size_mb={r.max_file_size_mb} max_duration_minutes={r.max_duration_minutes}")
    for m in metas:
        duration = f"{m.duration_seconds:.1f} s" if m.duration_seconds is not None else "-"
        print(f"  part {m.chain.part}: {printable(m.file.name)}  {m.start_time:%Y-%m-%d %H:%M:%S}  {duration}  "
              f"{_mb(m.file.size_bytes)} MB  {m.frames.encoded} frames  {printable(m.status)}  "
              f"capture {printable(m.capture.mode)} {list(m.capture.region) if m.capture.region else '-'}  "
              f"sha256 {printable((m.file.sha256 or '-')[:16])}")
        for error in m.errors:
            print(f"    error: {printable(error)}")
        # a window title is whatever the recorded application (or the remote side) set
        for note in m.capture.window_titles:
            print(f"    window at {note.at_seconds:.1f} s: {printable(note.text)}")
        for note in m.capture.pauses:
            print(f"    paused at {note.at_seconds:.1f} s: {printable(note.text)}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from fastrec.storage import verify_session

    settings = _settings(args)
    report = verify_session(settings.output_dir, args.session)
    if args.json:
        _print_json({"session_id": report.session_id, "ok": report.ok, "unreadable": list(report.unreadable),
                     "signatures_checked": report.signatures_checked, "signatures": report.signatures,
                     "deletion_log": list(report.deletion_log),
                     "segments": [{"part": s.part, "file": s.file, "status": s.status,
                                   "problems": list(s.problems), "notes": list(s.notes)}
                                  for s in report.segments]})
    else:
        print(_printable_report(report).summary)
    return 0 if report.ok else 1


def _printable_report(report: Any) -> Any:
    """``report`` with every name in it escaped, so that its summary can be printed."""
    from dataclasses import replace

    return replace(report, session_id=printable(report.session_id), directory=printable(report.directory),
                   unreadable=tuple(map(printable, report.unreadable)),
                   deletion_log=tuple(map(printable, report.deletion_log)), signatures=printable(report.signatures),
                   segments=tuple(replace(s, file=None if s.file is None else printable(s.file),
                                          problems=tuple(map(printable, s.problems)),
                                          notes=tuple(map(printable, s.notes)))  # who deleted, why: typed text
                                  for s in report.segments))


def _rotation(settings: RecordingSettings, **kwargs: Any) -> RotationManager:
    """Retention of the settings' directory, the active recording policy's limits over the
    settings' where its retention section sets them (as the recorder applies them)."""
    from fastrec.policy.active import ActivePolicyReader
    from fastrec.storage import RotationManager

    policy = ActivePolicyReader(settings.output_dir, database_url=settings.database_url)
    return RotationManager.from_settings(settings, limits=policy.retention_limits, **kwargs)


def _storage(args: argparse.Namespace) -> int:
    info = _rotation(_settings(args)).get_storage_info()
    if args.json:
        _print_json(info)
        return 0
    for key, value in info.items():
        print(f"{key:20} {printable(value)}")
    return 0


def _cleanup(args: argparse.Namespace) -> int:
    from fastrec.storage import RotationManager
    from fastrec.storage.videos import store_for

    settings = _settings(args)
    index = _open_index(settings) if Path(settings.output_dir).is_dir() else None
    on_deleted = index.remove if index is not None else None
    try:
        if args.older_than is None and args.max_total_gb is None:
            rotation = _rotation(settings, on_deleted=on_deleted)
        else:
            # only the limits asked for: the other one is unlimited; 0 days: every finished segment
            age = float("inf") if args.older_than is None else max(args.older_than, 1e-9)
            size = float("inf") if args.max_total_gb is None else max(args.max_total_gb, 1e-12)
            rotation = RotationManager(settings.output_dir, size, age, on_deleted=on_deleted,
                                       store=store_for(settings.output_dir))
        result = rotation.perform_cleanup(dry_run=args.dry_run)
    finally:
        if index is not None:
            index.close()
    if args.json:
        _print_json(result)
    else:
        verb = "would delete" if args.dry_run else "deleted"
        print(f"{verb} {result['deleted_files']} file(s) of {result['deleted_segments']} segment(s), "
              f"{'would free' if args.dry_run else 'freed'} {result['freed_gb']:.3f} GB")
        for name in result["deleted"]:
            print(f"  {printable(name)}")
        for skipped in result["skipped"]:
            print(f"  kept {printable(skipped['segment'])}: {printable(skipped['reason'])} "
                  f"({printable(skipped['detail'])})")
        for error in result["errors"]:
            print(f"  error: {printable(error)}")
    return 1 if result["errors"] else 0


def _watch(args: argparse.Namespace) -> int:
    from fastrec.manager import RecordingManager
    from fastrec.monitor import ConnectionMonitor

    settings = _settings(args, recording=True, auto_start=True, mode=args.mode)
    stop: threading.Event = args.stop
    manager = RecordingManager(settings, display=args.display)
    # session ids, file names and errors hold the client's command line: escaped
    manager.add_observer(lambda event, sid, details: print(
        f"{time.strftime('%H:%M:%S')} {event} {printable(sid)} "
        + " ".join(f"{k}={printable(v)}" for k, v in details.items() if k in ("error", "part", "files")),
        flush=True))
    try:
        if not manager.initialize():
            print("fastrec watch: the recorder could not start (see the log above)", file=sys.stderr)
            return 1
        monitor = ConnectionMonitor(manager, display=args.display, poll_interval=args.poll_interval)
        print(f"watching for RDP connections on display {printable(args.display or '$DISPLAY')}; "
              f"recording into {printable(settings.output_dir)} (Ctrl-C to stop)", file=sys.stderr, flush=True)
        monitor.start(force=True)  # its own thread; a failed poll is logged and retried
        stop.wait()
        monitor.stop()  # and the recordings it started; shutdown seals their files
    finally:
        manager.shutdown()
    return 0


def _recover(args: argparse.Namespace) -> int:
    from fastrec.storage import IndexUnavailable, recover_interrupted

    settings = _settings(args)
    index = None
    if not args.dry_run and Path(settings.output_dir).is_dir():
        try:
            index = _open_index(settings)
        except IndexUnavailable as exc:  # the metadata is the truth; the index can be rebuilt
            print(f"fastrec recover: {printable(exc)} (not updated)", file=sys.stderr)
    try:
        report = recover_interrupted(settings.output_dir, dry_run=args.dry_run,
                                     on_sealed=None if index is None else index.add)
    finally:
        if index is not None:
            index.close()
    if args.json:
        _print_json({"dry_run": report.dry_run, "sealed": [
            {"session_id": p.session_id, "part": p.part, "file": str(p.video), "frames": p.frames,
             "cut_bytes": p.cut_bytes, "playable": p.playable, "reason": p.reason} for p in report.sealed],
            "skipped": [{"file": str(f), "reason": r} for f, r in report.skipped],
            "errors": [{"file": str(f), "error": e} for f, e in report.errors]})
    else:  # its lines name sessions and files: escaped, each
        print("\n".join(printable(line) for line in report.summary.splitlines()))
    return 1 if report.errors else 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "record": _record, "status": _status, "list": _list, "info": _info, "verify": _verify,
    "storage": _storage, "cleanup": _cleanup, "watch": _watch, "recover": _recover,
    "serve": serve, "users": users, "policy": policy, "export": export, "heatmap": heatmap, "search": search,
    "db": db, "keys": keys, "shred": shred,
}


# commands that record or serve: Ctrl-C and SIGTERM stop them cleanly (see fastrec.stop_signal);
# the others are simply interrupted (KeyboardInterrupt, exit 130)
_STOPPABLE = ("record", "watch", "demo", "serve")


def main(argv: list[str] | None = None, stop: StopSignal | None = None) -> int:
    """Run one command; returns its exit status.  ``stop``: a handler installed earlier
    (``python -m fastrec`` installs one before importing this module)."""
    if stop is None:
        stop = StopSignal()
    stop.install()  # first of all: from here on no Ctrl-C is lost (see the module docstring)
    import_structlog_without_rich()  # before the settings import it (fastrec.plain_structlog)
    try:
        return _run(argv, stop)
    finally:
        stop.done.set()
        stop.restore()


def _run(argv: list[str] | None, stop: StopSignal) -> int:
    args = build_parser().parse_args(argv)
    from fastrec.settings import SettingsError

    handlers = {"demo": _demo, **COMMANDS}
    try:
        if args.command in _STOPPABLE:
            args.stop = stop.event  # set by Ctrl-C/SIGTERM; the command waits on it
        else:
            stop.restore()
            if stop.event.is_set():  # Ctrl-C while the arguments were read
                raise KeyboardInterrupt
        return handlers[args.command](args)
    except SettingsError as exc:  # one line per variable, no traceback
        for message in exc.messages:
            print(f"fastrec {args.command}: {printable(message)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line, no traceback, for the operator
        print(f"fastrec {args.command}: {type(exc).__name__}: {printable(exc)}", file=sys.stderr)
        return 1



if __name__ == "__main__":
    sys.exit(main())
