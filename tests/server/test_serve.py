"""`python -m fastrec serve` as an operator runs it: a real process on a loopback port,
signed into through the API with httpx, stopped with Ctrl-C or SIGTERM; bad values and
a port in use are refused with the documented exit codes."""

from __future__ import annotations

import shlex
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cli_jobs import Job, fastrec, free_port

from fastrec.server.audit import AuditLog
from fastrec.server.db import ADMIN_DB_FILE, AdminDatabase

PASSWORD = "serve-test-password"
START = 60.0  # seconds for the server to answer: a hang guard, not a target


def answers(url: str, job: Job) -> bool:
    """Poll ``url`` until it answers 200; False when the server exits first (or after START s)."""
    deadline = time.monotonic() + START
    while time.monotonic() < deadline and job.proc.poll() is None:
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


@pytest.fixture
def recordings(tmp_path: Path) -> Path:
    return tmp_path / "rec"


@pytest.fixture
def server(recordings: Path, tmp_path: Path) -> Iterator[tuple[Job, str]]:
    """``serve`` on a free loopback port over an empty recordings directory."""
    port = free_port()
    job = Job("serve", "--port", str(port), "--output-dir", str(recordings), cwd=tmp_path)
    try:
        yield job, f"http://127.0.0.1:{port}"
    finally:
        job.kill()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_serve_signs_in_through_the_api_and_stops_cleanly(server: tuple[Job, str], recordings: Path,
                                                          tmp_path: Path, signum: int) -> None:
    job, base = server
    assert answers(f"{base}/openapi.json", job), f"the server did not answer: {job.finish()[2]}"
    # printed once it listens: its URL, and (no user yet) how to create the first admin
    assert job.wait_for_stdout(r"^fastrec admin server: (\S+) ")[1] == f"{base}/"
    job.wait_for_stdout(r"^no users yet: create the first admin with")
    hint = job.wait_for_stdout(r"^  (python -m fastrec users add NAME --role admin --output-dir \S+)$")[1]

    # the first admin, created from the command line while the server runs
    argv = ["root" if word == "NAME" else word for word in shlex.split(hint)[3:]]
    created = fastrec(*argv, "--password-stdin", cwd=tmp_path, input=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr

    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/api/auth/me").status_code == 401
        assert client.post("/api/auth/login", json={"username": "root", "password": "wrong-password"}).status_code == 401
        login = client.post("/api/auth/login", json={"username": "root", "password": PASSWORD})
        assert login.status_code == 200, login.text
        me = client.get("/api/auth/me")
        assert me.status_code == 200 and me.json()["user"]["name"] == "root" and me.json()["user"]["role"] == "admin"

    job.interrupt(signum)
    code, stdout, stderr = job.finish()
    assert code == 0, stderr
    assert "Application shutdown complete" in stderr and "Traceback" not in stderr and "interrupted" not in stderr
    with AdminDatabase(recordings / ADMIN_DB_FILE) as db:
        logins, _ = AuditLog(db).query(action="login")
    assert [(e.actor, e.status) for e in reversed(logins)] == [("root", "failure"), ("root", "success")]


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--port", "0"], {}, "argument --port: must be between 1 and 65535, got 0"),
    (["--port", "http"], {}, "argument --port: must be an integer between 1 and 65535, got 'http'"),
    ([], {"FASTREC_SERVER_PORT": "70000"}, "fastrec serve: FASTREC_SERVER_PORT=70000: must be between 1 and 65535"),
    ([], {"FASTREC_LOGIN_MAX_FAILURES": "0"}, "fastrec serve: FASTREC_LOGIN_MAX_FAILURES=0: must be between 1 and"),
    ([], {"FASTREC_S3_URL": "minio:9000/recordings"},
     "fastrec serve: FASTREC_S3_URL=minio:9000/recordings: must start with s3:// (s3://bucket/prefix)"),
    (["--env-file", "missing.env"], {}, "fastrec serve: env_file=missing.env: file not found"),
])
def test_bad_values_exit_2_naming_the_option_or_variable(tmp_path: Path, args: list[str], env: dict[str, str],
                                                         message: str) -> None:
    result = fastrec("serve", *args, "--output-dir", str(tmp_path / "rec"), cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_the_options_win_over_the_environment(tmp_path: Path) -> None:
    port = free_port()
    other = Job("serve", "--port", str(port), "--output-dir", str(tmp_path / "rec"), cwd=tmp_path,
                env={"FASTREC_SERVER_PORT": "1", "RECORDING_OUTPUT_DIR": str(tmp_path / "elsewhere")})
    try:
        assert answers(f"http://127.0.0.1:{port}/openapi.json", other), other.finish()[2]
        other.interrupt()
        assert other.finish()[0] == 0
    finally:
        other.kill()
    assert (tmp_path / "rec" / ADMIN_DB_FILE).is_file() and not (tmp_path / "elsewhere").exists()


def test_a_port_in_use_exits_1_with_the_reason(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = fastrec("serve", "--port", str(port), "--output-dir", str(tmp_path / "rec"), cwd=tmp_path)
    assert result.returncode == 1
    assert "address already in use" in result.stderr
    assert f"fastrec serve: the server could not start on 127.0.0.1:{port}" in result.stderr
