"""``python -m fastrec policy``: show, validate, edit, set, history, diff and rollback.

The commands work on the policy store of the recordings directory (RECORDING_OUTPUT_DIR,
``--output-dir``), with no server running, through the same
:class:`~fastrec.policy.store.PolicyStore` the recorders and the admin server read.  A
change (``set``, ``edit``, ``rollback``) is made through
:mod:`fastrec.server.policy_changes`, so it lands in the admin server's audit log as the
command line's (``cli:<os user>``, actor type SYSTEM), like ``users`` changes do.

- ``show`` prints the active document exactly as saved on standard output (which version
  it is goes to standard error), so ``show > f``, an edit, ``set f`` round-trips.
- ``validate FILE`` prints every problem as ``FILE:LINE:COLUMN: key.path: reason``.
- ``edit`` opens ``$EDITOR`` (else ``$VISUAL``, else ``vi``, on Windows ``notepad``) on the
  active document; an invalid edit is refused with its lines and kept in a file the
  message names.
- The author is ``--author`` or the login name of the user running the command.

Exit codes: 0 done (also: nothing to save, the document is the active one already); 1 the
store or the audit log cannot be used, or the editor failed; 2 bad usage, an invalid
document, an unknown version or a refused change.

Import-light like :mod:`fastrec.cli`: the policy and server modules are imported by the
handlers.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastrec.checks import bounded_option
from fastrec.printable import printable

if TYPE_CHECKING:
    from fastrec.policy.errors import PolicyError
    from fastrec.policy.store import PolicyStore, PolicyVersion
    from fastrec.server.audit import AuditLog
    from fastrec.server.policy_changes import Actor

__all__ = ["EPILOG", "add_policy_commands", "policy"]

EPILOG = ("exit codes: 0 done (or nothing to save); 1 the policy store or the audit log cannot be used, or the "
          "editor failed; 2 bad usage, an invalid document (each problem with its line), an unknown version or "
          "a refused change")
_VERSION = bounded_option(int, 0, 2**63 - 1)


class _Refused(Exception):
    """The command ends with exit code ``code`` after printing its message."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


# --- the parser --------------------------------------------------------------------------

def add_policy_commands(commands: Any) -> None:
    """Add ``policy`` (with its actions) to ``commands``."""
    from fastrec.server.commands import add_directory_options

    parser = commands.add_parser(
        "policy", help="show, edit, validate, diff and roll back the recording policy",
        description="The recording policy (which connections are recorded, privacy rules, retention, "
                    "permissions) of the recordings directory: one YAML document kept in versions. "
                    "Saving creates a version; a rollback makes an old one active as a new version. "
                    "Every change is audit-logged. No server needed.",
        epilog=EPILOG)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help_text, description=help_text[:1].upper() + help_text[1:] + ".",
                                 epilog=EPILOG)
        add_directory_options(sub)
        return sub

    def change_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--comment", required=True, help="why (saved with the version and in the audit log)")
        sub.add_argument("--author", default=None, help="who (default: the login name of this user)")

    show = action("show", "print the active policy document (or --version N); 0 is the default policy")
    show.add_argument("--version", type=_VERSION, default=None, metavar="N")
    show.add_argument("--json", action="store_true", help="print JSON (the text and its version's details)")

    validate = action("validate", "check a policy document without saving it; each problem with its line")
    validate.add_argument("file", metavar="FILE", help="the YAML document (- for standard input)")

    set_parser = action("set", "save a document as the new active version")
    set_parser.add_argument("file", metavar="FILE", help="the YAML document (- for standard input)")
    set_parser.add_argument("--base-version", type=_VERSION, default=None, metavar="N",
                            help="refuse to save when the active version is no longer N")
    change_options(set_parser)

    edit = action("edit", "edit the active document in $EDITOR (or take --from FILE) and save it")
    edit.add_argument("--from", dest="from_file", default=None, metavar="FILE",
                      help="save this file's document instead of opening an editor")
    change_options(edit)

    history = action("history", "list the saved versions, the active one last")
    history.add_argument("--json", action="store_true", help="print JSON instead of a table")

    diff = action("diff", "the line differences between two versions (0 is the default policy)")
    diff.add_argument("old", type=_VERSION, metavar="A")
    diff.add_argument("new", type=_VERSION, metavar="B")
    diff.add_argument("--context", type=bounded_option(int, 0, 1000), default=3, metavar="N",
                      help="unchanged lines shown around each change (default 3)")
    diff.add_argument("--json", action="store_true", help="print JSON: every line tagged, and the counts")

    rollback = action("rollback", "make version N active again, as a new version (0: the default policy)")
    rollback.add_argument("version", type=_VERSION, metavar="N")
    change_options(rollback)


# --- helpers ---------------------------------------------------------------------------------

def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).astimezone().isoformat(timespec="seconds")


def _read(name: str) -> str:
    from fastrec.policy.document import decode_document

    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        raise _Refused(f"{printable(name)}: cannot be read ({printable(exc.strerror or exc)})") from None
    return decode_document(data)  # PolicyError with the line of a byte that is not UTF-8


def _problems(name: str, exc: PolicyError) -> None:
    for p in exc.problems:
        where = f"{p.path}: " if p.path else ""
        print(f"{printable(name)}:{p.line}:{p.column}: {printable(where + p.message)}", file=sys.stderr)


def _author(args: argparse.Namespace) -> str:
    from fastrec.server.commands import os_user

    return args.author if args.author is not None else os_user()


def _actor() -> Actor:
    from fastrec.server.audit import ActorType
    from fastrec.server.commands import cli_actor
    from fastrec.server.policy_changes import Actor

    return Actor(cli_actor(), ActorType.SYSTEM)


def _version_json(v: PolicyVersion, *, text: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"version": v.version, "default": v.is_default,
                           "created_at": None if v.is_default else _iso(v.created_at), "author": v.author,
                           "comment": v.comment, "sha256": v.sha256, "rolled_back_from": v.rolled_back_from}
    if text:
        out["text"] = v.text
    return out


def _describe(v: PolicyVersion) -> str:
    if v.is_default:
        return "the default policy (no version saved)"
    note = f", a rollback to version {v.rolled_back_from}" if v.rolled_back_from is not None else ""
    return f"policy version {v.version}, saved {_iso(v.created_at)} by {v.author}{note}: {v.comment}"


# --- the actions -------------------------------------------------------------------------------

def _show(store: PolicyStore, args: argparse.Namespace) -> int:
    version = store.active_or_default() if args.version is None else store.get(args.version)
    if args.json:
        data = _version_json(version, text=True)
        data["active"] = version.version == store.active_or_default().version
        print(json.dumps(data, indent=2))
        return 0
    active = " (active)" if version.version == store.active_or_default().version else ""
    print(f"# {printable(_describe(version))}{active}", file=sys.stderr)
    sys.stdout.write(version.text)  # exactly as saved: show > f; set f round-trips
    return 0


def _validate(args: argparse.Namespace) -> int:
    from fastrec.policy.document import parse_policy

    text = _read(args.file)
    policy = parse_policy(text)
    c, p = policy.connections, policy.privacy
    print(f"{printable(args.file)}: valid ({len(c.rules)} connection rule(s), default {c.default.value}; "
          f"{len(p.rules)} privacy rule(s), {len(p.presets)} preset(s))")
    return 0


def _save(store: PolicyStore, args: argparse.Namespace, text: str, source: str, base: int | None) -> int:
    from fastrec.policy.errors import PolicyError, PolicyUnchanged
    from fastrec.server.policy_changes import save_policy

    with _audit_log(store) as audit:
        try:
            saved = save_policy(store, audit, text, author=_author(args), comment=args.comment, actor=_actor(),
                                base_version=base)
        except PolicyUnchanged as exc:
            print(f"fastrec policy {args.action}: {printable(exc)}", file=sys.stderr)
            return 0
        except PolicyError as exc:
            _problems(source, exc)
            raise _Refused("the document was not saved (the active policy is unchanged)") from None
    print(_saved_line(store, saved))
    return 0


def _saved_line(store: PolicyStore, saved: PolicyVersion) -> str:
    changes = store.diff(saved.version - 1, saved.version)
    what = (f"version {saved.rolled_back_from}'s document is active again"
            if saved.rolled_back_from is not None else "active now")
    return (f"policy version {saved.version} saved: {what} ({changes.summary()} against version "
            f"{saved.version - 1})")


def _set(store: PolicyStore, args: argparse.Namespace) -> int:
    return _save(store, args, _read(args.file), args.file, args.base_version)


def _edit(store: PolicyStore, args: argparse.Namespace) -> int:
    from fastrec.policy.errors import PolicyError

    base = store.active_or_default()
    if args.from_file is not None:
        return _save(store, args, _read(args.from_file), args.from_file, base.version)
    path = _edit_in_editor(base.text)
    text = Path(path).read_bytes()
    try:
        from fastrec.policy.document import decode_document

        edited = decode_document(text)
        if edited == base.text:
            print("no change: nothing saved", file=sys.stderr)
            os.unlink(path)
            return 0
        code = _save(store, args, edited, path, base.version)
    except (PolicyError, _Refused) as exc:
        if isinstance(exc, PolicyError):
            _problems(path, exc)
        raise _Refused(f"the edit was not saved; it is kept in {printable(path)} "
                       f"(fix it, then: python -m fastrec policy set {shlex.quote(path)} --comment ...)",
                       code=exc.code if isinstance(exc, _Refused) else 2) from None
    os.unlink(path)
    return code


def _edit_in_editor(text: str) -> str:
    """Write ``text`` to a private temporary file, open the editor on it, return its path."""
    import subprocess
    import tempfile

    command = os.environ.get("EDITOR") or os.environ.get("VISUAL") or ("notepad" if os.name == "nt" else "vi")
    fd, path = tempfile.mkstemp(prefix="fastrec-policy-", suffix=".yaml")  # 0600
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    try:
        # Windows paths hold backslashes, which POSIX splitting would take for escapes
        result = subprocess.run([*shlex.split(command, posix=os.name != "nt"), path], check=False)
    except OSError as exc:
        os.unlink(path)
        raise _Refused(f"the editor {printable(command)!r} cannot be started ({printable(exc.strerror or exc)}); "
                       "set EDITOR", code=1) from None
    if result.returncode != 0:
        raise _Refused(f"the editor exited with {result.returncode}; nothing saved (the text is in "
                       f"{printable(path)})", code=1)
    return path


def _history(store: PolicyStore, args: argparse.Namespace) -> int:
    versions = store.versions()
    if args.json:
        print(json.dumps([_version_json(v, text=False) | {"active": i == len(versions) - 1}
                          for i, v in enumerate(versions)], indent=2))
        return 0
    if not versions:
        print("no policy saved: the default policy applies (record every connection); "
              "python -m fastrec policy show prints it")
        return 0
    rows = [("VERSION", "SAVED", "AUTHOR", "COMMENT", "")]
    for i, v in enumerate(versions):
        notes = ["active"] if i == len(versions) - 1 else []
        if v.rolled_back_from is not None:
            notes.append(f"rollback to {v.rolled_back_from}")
        rows.append((str(v.version), _iso(v.created_at), printable(v.author), printable(v.comment), ", ".join(notes)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _diff(store: PolicyStore, args: argparse.Namespace) -> int:
    changes = store.diff(args.old, args.new)
    if args.json:
        print(json.dumps({"from": args.old, "to": args.new, "additions": changes.additions,
                          "deletions": changes.deletions,
                          "lines": [{"kind": line.kind, "text": line.text, "old": line.old, "new": line.new}
                                    for line in changes.lines]}, indent=2))
        return 0
    for line in changes.unified(args.context):
        print(line)
    if not changes.changed:
        print(f"versions {args.old} and {args.new} hold the same document")
    print(changes.summary())
    return 0


def _rollback(store: PolicyStore, args: argparse.Namespace) -> int:
    from fastrec.policy.errors import PolicyError, PolicyUnchanged
    from fastrec.server.policy_changes import rollback_policy

    with _audit_log(store) as audit:
        try:
            saved = rollback_policy(store, audit, args.version, author=_author(args), comment=args.comment,
                                    actor=_actor())
        except PolicyUnchanged as exc:
            print(f"fastrec policy rollback: {printable(exc)}", file=sys.stderr)
            return 0
        except PolicyError as exc:
            _problems(f"version {args.version}", exc)
            raise _Refused(f"version {args.version}'s document is not valid for this fastrec; "
                           "nothing was saved") from None
    print(_saved_line(store, saved))
    return 0


@contextmanager
def _audit_log(store: PolicyStore) -> Iterator[AuditLog]:
    """The admin database's audit log beside the store (its directory, or the same
    PostgreSQL database), opened before a change."""
    from fastrec.server.audit import AuditLog
    from fastrec.server.db import ADMIN_DB_FILE, AdminDatabase

    try:
        db = AdminDatabase(store.directory / ADMIN_DB_FILE, database_url=store.database_url)
    except OSError as exc:
        raise _Refused(f"the audit log cannot be opened, so nothing was changed: {printable(exc)}",
                       code=1) from None
    try:
        yield AuditLog(db)
    finally:
        db.close()


_ACTIONS: dict[str, Callable[[PolicyStore, argparse.Namespace], int]] = {
    "show": _show, "set": _set, "edit": _edit, "history": _history, "diff": _diff, "rollback": _rollback,
}


def policy(args: argparse.Namespace) -> int:
    """``python -m fastrec policy ACTION``."""
    from fastrec.policy.errors import PolicyConflict, PolicyError, PolicyInputError, PolicyNotFound
    from fastrec.policy.store import PolicyStore
    from fastrec.server.commands import server_settings

    settings = server_settings(args)  # SettingsError: reported by the caller (exit 2)
    name = f"fastrec policy {args.action}"
    try:
        if args.action == "validate":
            try:
                return _validate(args)
            except PolicyError as exc:
                _problems(args.file, exc)
                return 2
        try:
            store = PolicyStore(settings.recordings_dir, database_url=settings.database_url)
        except OSError as exc:
            print(f"{name}: the policy store cannot be used: {printable(exc)}", file=sys.stderr)
            return 1
        try:
            return _ACTIONS[args.action](store, args)
        finally:
            store.close()
    except PolicyError as exc:  # a file that is not UTF-8
        _problems(getattr(args, "file", None) or getattr(args, "from_file", None) or "document", exc)
        return 2
    except _Refused as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return exc.code
    except (PolicyNotFound, PolicyConflict, PolicyInputError) as exc:
        print(f"{name}: {printable(exc)}", file=sys.stderr)
        return 2
