"""`python -m fastrec users ...` as an operator runs it: real processes over the admin
database of a recordings directory, no server.  What the commands change is checked
through the server's own Accounts and AuditLog: the password signs in, the token opens
the API, every change is in the audit log as the command line's."""

from __future__ import annotations

import getpass
import json
import os
import pty
import select
import signal
import sys
from pathlib import Path

import pytest
from cli_jobs import environment, fastrec

from fastrec.server.accounts import Accounts
from fastrec.server.audit import AuditLog
from fastrec.server.db import ADMIN_DB_FILE, AdminDatabase

PASSWORD = "correct horse battery"


def users(out: Path, *args: str, password: str | None = None) -> tuple[int, str, str]:
    """``users ARGS --output-dir out``; with ``password``: ``--password-stdin`` fed that line."""
    extra = ["--password-stdin"] if password is not None else []
    result = fastrec("users", *args, *extra, "--output-dir", str(out), cwd=out.parent,
                     input=None if password is None else password + "\n")
    return result.returncode, result.stdout, result.stderr


def listed(out: Path) -> dict[str, dict]:
    code, stdout, stderr = users(out, "list", "--json")
    assert code == 0, stderr
    return {u["name"]: u for u in json.loads(stdout)}


def test_an_admin_manages_users_and_tokens_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    assert users(out, "list") == (0, "no users yet (python -m fastrec users add NAME --role admin)\n", "")
    code, stdout, stderr = users(out, "add", "root", "--role", "admin", password=PASSWORD)
    assert (code, stdout) == (0, "user root created (admin)\n"), stderr
    assert users(out, "add", "vera", "--role", "viewer", password="viewer-pass-1")[0] == 0
    assert users(out, "set-role", "vera", "auditor")[:2] == (0, "user vera: auditor, enabled\n")
    assert users(out, "passwd", "vera", password="new-pass-22")[0] == 0
    assert users(out, "disable", "vera")[:2] == (0, "user vera: auditor, disabled\n")
    assert listed(out)["vera"] | {"created_at": None} == {"name": "vera", "role": "auditor", "disabled": True,
                                                          "created_at": None}
    assert users(out, "enable", "vera")[0] == 0

    code, secret, note = users(out, "token", "vera", "--label", "nightly export")
    assert code == 0 and "shown only now" in note and "Authorization: Bearer" in note
    secret = secret.strip()
    assert secret.startswith("frt_") and secret not in note

    table = users(out, "list")[1].splitlines()
    assert table[0].split() == ["NAME", "ROLE", "STATE", "CREATED"]
    assert [row.split()[:3] for row in table[1:]] == [["root", "admin", "enabled"], ["vera", "auditor", "enabled"]]

    with AdminDatabase(out / ADMIN_DB_FILE) as db:
        accounts = Accounts(db)
        assert accounts.authenticate("root", PASSWORD) is not None
        assert accounts.authenticate("vera", "viewer-pass-1") is None  # passwd replaced it
        assert accounts.authenticate("vera", "new-pass-22") is not None
        holder = accounts.user_for_token(secret)
        assert holder is not None and holder.name == "vera"
        entries, _ = AuditLog(db).query(limit=50)
    actor = f"cli:{getpass.getuser()}"
    assert {(e.actor, e.actor_type) for e in entries} == {(actor, "system")}
    assert [(e.action, e.target) for e in reversed(entries)] == [
        ("user.create", "root"), ("user.create", "vera"), ("user.update", "vera"), ("user.update", "vera"),
        ("user.update", "vera"), ("user.update", "vera"), ("token.create", entries[0].target)]
    assert entries[3].details == {"role": "auditor", "disabled": False, "password_changed": True}
    # the secret is stored only as its hash, and never in the audit log
    assert secret not in (out / ADMIN_DB_FILE).read_bytes().decode("latin-1")
    assert all(secret not in json.dumps(e.details) for e in entries)

    assert users(out, "delete", "vera")[:2] == (0, "user vera deleted\n")
    assert set(listed(out)) == {"root"}


def test_the_last_enabled_admin_cannot_be_removed_demoted_or_disabled(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    assert users(out, "add", "root", "--role", "admin", password=PASSWORD)[0] == 0
    for args in (("delete", "root"), ("set-role", "root", "viewer"), ("disable", "root")):
        code, stdout, stderr = users(out, *args)
        assert code == 2 and stdout == ""
        assert stderr == (f"fastrec users {args[0]}: username='root': the last enabled admin cannot be removed, "
                          "demoted or disabled\n")
    assert listed(out)["root"]["role"] == "admin" and not listed(out)["root"]["disabled"]
    # with a second admin, the first may go
    assert users(out, "add", "second", "--role", "admin", password=PASSWORD)[0] == 0
    assert users(out, "delete", "root")[0] == 0
    assert set(listed(out)) == {"second"}


@pytest.mark.parametrize(("args", "password", "message"), [
    (("add", "bob", "--role", "viewer"), None,
     "fastrec users add: standard input is not a terminal: pipe the password in with --password-stdin"),
    (("add", "bob", "--role", "viewer"), "short", "fastrec users add: password: must be 8 to 1024 characters (got 5)"),
    (("add", "bad/name", "--role", "viewer"), PASSWORD,
     "fastrec users add: username='bad/name': must be 1-64 characters"),
    (("add", "ROOT", "--role", "viewer"), PASSWORD, "fastrec users add: username='ROOT': a user of that name exists"),
    (("add", "bob", "--role", "boss"), PASSWORD, "argument --role: invalid choice: 'boss'"),
    (("passwd", "nobody"), PASSWORD, "fastrec users passwd: username='nobody': no such user"),
    (("set-role", "nobody", "admin"), None, "fastrec users set-role: username='nobody': no such user"),
    (("token", "root", "--label", " "), None, "fastrec users token: label='': must be 1 to 100 characters"),
])
def test_refused_requests_exit_2_with_the_reason(tmp_path: Path, args: tuple[str, ...], password: str | None,
                                                 message: str) -> None:
    out = tmp_path / "rec"
    assert users(out, "add", "root", "--role", "admin", password=PASSWORD)[0] == 0
    code, stdout, stderr = users(out, *args, password=password)
    assert code == 2 and message in stderr and "Traceback" not in stderr, stderr
    assert set(listed(out)) == {"root"}


def test_a_bad_setting_is_named_and_exits_2(tmp_path: Path) -> None:
    result = fastrec("users", "list", "--output-dir", str(tmp_path / "rec"), cwd=tmp_path,
                     env={"SESSION_SHARE_LINK_MAX_TTL": "5"})
    assert result.returncode == 2
    assert "fastrec users: SESSION_SHARE_LINK_MAX_TTL=5: must be between 60000 and" in result.stderr


def _on_a_terminal(tmp_path: Path, argv: list[str], answers: list[bytes]) -> tuple[int, str]:
    """Run ``python -m fastrec ARGV`` with a pseudo-terminal as its controlling terminal,
    typing each of ``answers`` at the next password prompt; its exit code and screen."""
    pid, terminal = pty.fork()
    if pid == 0:  # the child: a session leader, the pty its terminal (getpass reads /dev/tty)
        os.chdir(tmp_path)
        os.execve(sys.executable, [sys.executable, "-m", "fastrec", *argv], environment())
    screen = b""
    pending = list(answers)
    try:
        while True:
            ready, _, _ = select.select([terminal], [], [], 30)
            assert ready, f"no output for 30 s: {screen!r}"
            try:
                chunk = os.read(terminal, 4096)
            except OSError:  # EIO: the command exited and closed the terminal
                break
            if not chunk:
                break
            screen += chunk
            # a prompt waits for its answer (getpass has turned echo off and flushed the input
            # before it writes the prompt, so what is typed now is read, not shown)
            if pending and screen.endswith(b": "):
                os.write(terminal, pending.pop(0) + b"\n")
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(terminal)
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    return os.waitstatus_to_exitcode(status), screen.decode(errors="replace")


def test_on_a_terminal_the_password_is_asked_twice_and_never_echoed(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    argv = ["users", "add", "tty", "--role", "admin", "--output-dir", str(out)]
    code, screen = _on_a_terminal(tmp_path, argv, [b"typed-pass-1", b"typed-pass-2"])
    assert code == 2 and "the two passwords differ; nothing was changed" in screen, screen
    assert "typed-pass" not in screen
    code, screen = _on_a_terminal(tmp_path, argv, [b"typed-pass-1", b"typed-pass-1"])
    assert code == 0, screen
    assert "New password for tty:" in screen and "Again:" in screen and "typed-pass" not in screen
    with AdminDatabase(out / ADMIN_DB_FILE) as db:
        assert Accounts(db).authenticate("tty", "typed-pass-1") is not None
