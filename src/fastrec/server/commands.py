"""The admin server's commands: ``python -m fastrec serve`` and ``python -m fastrec users``.

- ``serve`` runs :func:`fastrec.server.app.create_app` under uvicorn.  It prints the URL
  once the socket listens (and, while the admin database has no user, how to create the
  first admin).  Ctrl-C and SIGTERM stop it cleanly with exit 0: uvicorn handles them
  while it runs, and :func:`fastrec.cli.main`'s stop handler (``serve`` is a stoppable
  command) covers the moments before and after, including the signal uvicorn raises
  again once it has shut down.
- ``users`` changes accounts in the admin database of the recordings directory, with no
  server running, through the same :class:`~fastrec.server.context.ServerContext` and
  :class:`~fastrec.server.accounts.Accounts` the server uses; every change is an audit
  record by ``cli:<os user>`` (actor type SYSTEM).  Passwords are never taken from the
  command line (it is visible to every user of the machine): a terminal prompt, twice,
  or ``--password-stdin``.
- :func:`serve_demo` is ``demo --serve``: the first admin with a random password, a 24 h
  share link to the demo's session, then ``serve``.

Import-light like :mod:`fastrec.cli`: the server's modules (FastAPI, uvicorn, argon2) are
imported inside the handlers, so ``python -m fastrec`` starts fast for every command.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shlex
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastrec.checks import bounded_option
from fastrec.printable import printable

if TYPE_CHECKING:
    from fastapi import FastAPI

    from fastrec.server.config import ServerSettings
    from fastrec.server.context import ServerContext

__all__ = ["ROLES", "UsageError", "add_directory_options", "add_server_commands", "add_server_options", "base_url",
           "cli_actor", "os_user", "serve", "serve_demo", "server_settings", "users"]

ROLES = ("viewer", "auditor", "admin")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
DEMO_ADMIN = "admin"
DEMO_SHARE_EXPIRY = "24h"

EPILOGS = {
    "serve": "exit codes: 0 stopped by Ctrl-C or SIGTERM; 1 the server could not start (address in use, "
             "admin database unusable: the log says why); 2 bad usage or a bad value (the option or "
             "FASTREC_*/RECORDING_OUTPUT_DIR variable, the value and what is allowed are named)",
    "users": "exit codes: 0 done; 1 the admin database cannot be used; 2 bad usage, a bad value or a "
             "refused change (unknown user, name taken, the last enabled admin, password rules)",
}


class UsageError(ValueError):
    """The command cannot go on as called (exit 2); the message says what to do instead."""


# --- the parsers ------------------------------------------------------------------------

def add_server_options(parser: argparse.ArgumentParser) -> None:
    """``--host`` and ``--port`` (``serve``, and ``demo --serve``)."""
    parser.add_argument("--host", default=None,
                        help="address to listen on (default FASTREC_SERVER_HOST, else 127.0.0.1)")
    parser.add_argument("--port", type=bounded_option(int, 1, 65535), default=None,
                        help="TCP port, 1-65535 (default FASTREC_SERVER_PORT, else 8765)")


def add_directory_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="recordings directory (default RECORDING_OUTPUT_DIR, ./recordings)")
    parser.add_argument("--env-file", default=None, help="read settings from this file (default ./.env)")


def add_server_commands(commands: Any) -> None:
    """Add ``serve`` and ``users`` (with its sub-commands) to ``commands``."""
    serve_parser = commands.add_parser(
        "serve", help="the admin server: live sessions, recordings, replay, share links, users",
        description="Serve the admin web UI and API over the recordings directory (FastAPI under "
                    "uvicorn; OpenAPI schema at /openapi.json). Options win over FASTREC_SERVER_HOST, "
                    "FASTREC_SERVER_PORT and RECORDING_OUTPUT_DIR. Ctrl-C or SIGTERM stops it.",
        epilog=EPILOGS["serve"])
    add_server_options(serve_parser)
    add_directory_options(serve_parser)
    serve_parser.add_argument("--log-level", choices=LOG_LEVELS, default="info",
                              help="least important log lines shown, requests included at info (default info)")

    users_parser = commands.add_parser(
        "users", help="add, list and change the admin server's users and API tokens",
        description="Manage the users of the admin database in the recordings directory (no server "
                    "needed). Roles: viewer (list, watch), auditor (+ export, share, review), admin "
                    "(+ delete, users). Passwords: prompted twice on a terminal, or one line on "
                    "standard input with --password-stdin. Every change is audit-logged.",
        epilog=EPILOGS["users"])
    actions = users_parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=help_text, description=help_text[:1].upper() + help_text[1:] + ".",
                                    epilog=EPILOGS["users"])
        add_directory_options(parser)
        return parser

    def password_option(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--password-stdin", action="store_true",
                            help="read the password from standard input (one line) instead of prompting")

    add = action("add", "create a user")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--role", choices=ROLES, required=True, help="viewer, auditor or admin")
    password_option(add)
    listing = action("list", "list the users")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    set_role = action("set-role", "change a user's role")
    set_role.add_argument("name", metavar="NAME")
    set_role.add_argument("role", metavar="ROLE", choices=ROLES, help="viewer, auditor or admin")
    passwd = action("passwd", "set a user's password (their browser sessions end)")
    passwd.add_argument("name", metavar="NAME")
    password_option(passwd)
    for name, text in (("disable", "disable a user: no sign-in, no API token works (sessions end)"),
                       ("enable", "enable a disabled user again"),
                       ("delete", "delete a user with their sessions and API tokens")):
        action(name, text).add_argument("name", metavar="NAME")
    token = action("token", "create an API token for a user; the secret is printed once")
    token.add_argument("name", metavar="NAME")
    token.add_argument("--label", required=True, help="what the token is for (1-100 characters)")


# --- settings and the server ---------------------------------------------------------------

def server_settings(args: argparse.Namespace) -> ServerSettings:
    """The server's settings from the environment, ``.env`` (``--env-file``) and the options,
    which win.  Raises :class:`fastrec.settings.SettingsError` naming each bad variable."""
    from fastrec.server.config import ServerSettings
    from fastrec.settings import SettingsError

    values: dict[str, Any] = {}
    for option, field in (("host", "host"), ("port", "port"), ("output_dir", "recordings_dir")):
        value = getattr(args, option, None)
        if value is not None:
            values[field] = value
    env_file = getattr(args, "env_file", None)
    if env_file is not None:
        if not Path(env_file).is_file():
            raise SettingsError([f"env_file={env_file}: file not found"])
        values["_env_file"] = env_file
    return ServerSettings(**values)


def base_url(settings: ServerSettings) -> str:
    """The URL a browser on this machine opens (a wildcard address is reached on loopback)."""
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(settings.host, settings.host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def run_server(settings: ServerSettings, stop: threading.Event, log_level: str,
               on_ready: Callable[[FastAPI], None]) -> int:
    """Serve until ``stop`` is set or a signal stops uvicorn; ``on_ready(app)`` runs once the
    socket listens and the app has started.  0 after a clean stop, 1 when it could not start."""
    import asyncio

    import uvicorn

    from fastrec.logs import configure_logging
    from fastrec.server.app import create_app

    configure_logging("console", log_level)
    app = create_app(settings)
    # lifespan "on": a context that cannot open stops the start-up (uvicorn's "auto" would
    # serve without it)
    server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level=log_level,
                                          lifespan="on"))

    async def watch() -> None:
        announced = False
        while True:
            if stop.is_set():  # a signal before uvicorn took over the handlers (or after)
                server.should_exit = True
            if server.started and not announced and not server.should_exit:
                announced = True
                on_ready(app)
            await asyncio.sleep(0.1)

    async def serve() -> bool:
        watcher = asyncio.create_task(watch())
        try:
            await server.serve()
        except SystemExit:  # uvicorn's way of saying it could not bind or start (logged)
            return False
        finally:
            watcher.cancel()
        return True

    if not asyncio.run(serve()):
        print(f"fastrec serve: the server could not start on {printable(settings.host)}:{settings.port} "
              "(see the log above)", file=sys.stderr)
        return 1
    return 0


def serve(args: argparse.Namespace) -> int:
    """``python -m fastrec serve``."""
    settings = server_settings(args)
    directory = settings.recordings_dir

    def ready(app: FastAPI) -> None:
        ctx: ServerContext = app.state.ctx
        print(f"fastrec admin server: {base_url(settings)}/  (recordings in {printable(directory)}; "
              "Ctrl-C to stop)", flush=True)
        if ctx.accounts.count_users() == 0:
            print("no users yet: create the first admin with\n"
                  f"  python -m fastrec users add NAME --role admin --output-dir {shlex.quote(str(directory))}",
                  flush=True)

    return run_server(settings, args.stop, args.log_level, ready)


def serve_demo(args: argparse.Namespace, settings: ServerSettings, session_id: str) -> int:
    """``demo --serve``: make the demo's recording one click away, then serve it.

    When the admin database has no user yet, creates ``admin`` with a random password
    (printed once); creates a share link valid 24 h; prints the replay URL and the link
    once the server listens.
    """
    from fastrec.server.accounts import Role, new_secret
    from fastrec.server.audit import AuditAction
    from fastrec.server.context import ServerContext
    from fastrec.server.routes.shares import SHARED_PATH
    from fastrec.server.shares import share_ttl

    ctx = ServerContext.open(settings)
    try:
        password = None
        if ctx.accounts.count_users() == 0:
            password = new_secret(12)
            ctx.accounts.create_user(DEMO_ADMIN, password, Role.ADMIN)
            _audit(ctx, AuditAction.USER_CREATE, DEMO_ADMIN, role=Role.ADMIN.value)
        link, token = ctx.shares.create(session_id, cli_actor(),
                                        share_ttl(DEMO_SHARE_EXPIRY, settings.share_link_max_ttl_seconds))
        _audit(ctx, AuditAction.SHARE_CREATE, session_id, link_id=link.id, expires_in=DEMO_SHARE_EXPIRY)
    finally:
        ctx.close()
    directory = shlex.quote(str(settings.recordings_dir))

    def ready(app: FastAPI) -> None:
        base = base_url(settings)
        lines = [f"admin server: {base}/  (Ctrl-C to stop)"]
        if password is not None:
            lines.append(f"  sign in:    {DEMO_ADMIN} / {password}  (shown only now; change it with "
                         f"python -m fastrec users passwd {DEMO_ADMIN} --output-dir {directory})")
        else:
            lines.append(f"  sign in:    with an existing user (python -m fastrec users list --output-dir {directory})")
        lines.append(f"  replay:     {base}/replay/{session_id}")
        lines.append(f"  share link: {base}{SHARED_PATH}{token}  (no sign-in; valid 24 h)")
        print("\n".join(lines), flush=True)

    return run_server(settings, args.stop, "warning", ready)


# --- users ------------------------------------------------------------------------------------

def os_user() -> str:
    """The login name of the user running the command (``uid<N>`` when there is none)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (a bare container)
        return f"uid{os.getuid()}"


def cli_actor() -> str:
    """``cli:<os user>``: who made a change from the command line, for the audit log."""
    return f"cli:{os_user()}"


def _audit(ctx: ServerContext, action: Any, target: str | None, **details: object) -> None:
    from fastrec.server.audit import ActorType

    ctx.audit.record(action, actor=cli_actor(), actor_type=ActorType.SYSTEM, target=target, details=details)


def _password(args: argparse.Namespace) -> str:
    """A new password: one line of standard input (``--password-stdin``), else typed twice at
    a terminal prompt; never an argument (other users see command lines)."""
    if args.password_stdin:
        line = sys.stdin.readline()
        return line.removesuffix("\n").removesuffix("\r")
    if not sys.stdin.isatty():
        raise UsageError("standard input is not a terminal: pipe the password in with --password-stdin")
    first = getpass.getpass(f"New password for {printable(args.name)}: ")
    if getpass.getpass("Again: ") != first:
        raise UsageError("the two passwords differ; nothing was changed")
    return first


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _users_add(ctx: ServerContext, args: argparse.Namespace) -> int:
    from fastrec.server.accounts import AccountError, check_name
    from fastrec.server.audit import AuditAction

    if ctx.accounts.get_user(check_name(args.name)) is not None:  # say so before asking for a password
        raise AccountError(f"username={args.name!r}: a user of that name exists")
    password = _password(args)
    user = ctx.accounts.create_user(args.name, password, args.role)
    _audit(ctx, AuditAction.USER_CREATE, user.name, role=user.role.value)
    print(f"user {printable(user.name)} created ({user.role.value})")
    return 0


def _users_list(ctx: ServerContext, args: argparse.Namespace) -> int:
    users = ctx.accounts.list_users()
    if args.json:
        print(json.dumps([{"name": u.name, "role": u.role.value, "disabled": u.disabled,
                           "created_at": _iso(u.created_at)} for u in users], indent=2))
        return 0
    if not users:
        print("no users yet (python -m fastrec users add NAME --role admin)")
        return 0
    rows = [("NAME", "ROLE", "STATE", "CREATED")]
    rows += [(printable(u.name), u.role.value, "disabled" if u.disabled else "enabled", _iso(u.created_at))
             for u in users]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _users_update(ctx: ServerContext, args: argparse.Namespace, **change: Any) -> int:
    from fastrec.server.audit import AuditAction

    user = ctx.accounts.update_user(args.name, **change)
    details: dict[str, object] = {"role": user.role.value, "disabled": user.disabled}
    if "password" in change:
        details["password_changed"] = True
    _audit(ctx, AuditAction.USER_UPDATE, user.name, **details)
    state = "disabled" if user.disabled else "enabled"
    print(f"user {printable(user.name)}: {user.role.value}, {state}"
          + (", password changed" if "password" in change else ""))
    return 0


def _users_delete(ctx: ServerContext, args: argparse.Namespace) -> int:
    from fastrec.server.audit import AuditAction

    ctx.accounts.delete_user(args.name)
    _audit(ctx, AuditAction.USER_DELETE, args.name)
    print(f"user {printable(args.name)} deleted")
    return 0


def _users_token(ctx: ServerContext, args: argparse.Namespace) -> int:
    from fastrec.server.audit import AuditAction

    token, secret = ctx.accounts.create_token(args.name, args.label)
    _audit(ctx, AuditAction.TOKEN_CREATE, token.id, user=token.user_name, label=token.label)
    print(f"API token {token.id} for {printable(token.user_name)} ({printable(token.label)}); "
          "the secret below is shown only now (send it as: Authorization: Bearer ...)", file=sys.stderr)
    print(secret)
    return 0


def _existing(ctx: ServerContext, args: argparse.Namespace) -> argparse.Namespace:
    """``args`` when its user exists (checked before a password is asked for)."""
    from fastrec.server.accounts import AccountError

    if ctx.accounts.get_user(args.name) is None:
        raise AccountError(f"username={args.name!r}: no such user")
    return args


_USER_ACTIONS: dict[str, Callable[[ServerContext, argparse.Namespace], int]] = {
    "add": _users_add,
    "list": _users_list,
    "set-role": lambda ctx, args: _users_update(ctx, args, role=args.role),
    "passwd": lambda ctx, args: _users_update(ctx, args, password=_password(_existing(ctx, args))),
    "disable": lambda ctx, args: _users_update(ctx, args, disabled=True),
    "enable": lambda ctx, args: _users_update(ctx, args, disabled=False),
    "delete": _users_delete,
    "token": _users_token,
}


def users(args: argparse.Namespace) -> int:
    """``python -m fastrec users ACTION``: 2 for a refused change, with the reason."""
    from fastrec.server.accounts import AccountError
    from fastrec.server.context import ServerContext

    settings = server_settings(args)
    ctx = ServerContext.open(settings)
    try:
        return _USER_ACTIONS[args.action](ctx, args)
    except (AccountError, UsageError) as exc:
        print(f"fastrec users {args.action}: {printable(exc)}", file=sys.stderr)
        return 2
    finally:
        ctx.close()
