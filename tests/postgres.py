"""A private PostgreSQL cluster for the tests, from Debian's ``postgresql`` package
(installed by scripts/setup.sh): initdb in a temporary directory, the server listening on
127.0.0.1 on a free port and on a unix socket in that directory, fsync off (the data is
thrown away), stopped at the end of the session.

initdb and postgres refuse to run as root; the tests run as root, so both run as the
``postgres`` system user the package creates (``runuser``), in a directory handed to it.
Each test gets a database of its own (:meth:`PostgresCluster.new_database`), dropped after.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "postgres"


def _bin_dir() -> Path | None:
    """The newest installed server's binaries (Debian keeps them off PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(os.path.realpath(initdb)).parent if initdb else None


@dataclass
class PostgresCluster:
    directory: Path  # the data directory and the unix socket's
    port: int
    bin_dir: Path
    run_as: list[str]  # ["runuser", "-u", "postgres", "--"] when we are root, else []

    @property
    def admin_url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]

    def stop(self) -> None:
        subprocess.run([*self.run_as, str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.directory / "data"),
                        "-m", "fast", "-w", "-t", "60"], check=False, capture_output=True)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_cluster() -> PostgresCluster:
    """initdb + pg_ctl start -w (returns once it accepts connections); raises RuntimeError
    with the server's own words when it cannot start."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed: run scripts/setup.sh (Debian package postgresql)")
    root = os.geteuid() == 0
    run_as = ["runuser", "-u", SUPERUSER, "--"] if root else []
    # under /tmp, not pytest's 0700 root-owned tree: the postgres user must reach it
    directory = Path(tempfile.mkdtemp(prefix="fastrec-pg-"))
    if root:
        shutil.chown(directory, SUPERUSER, SUPERUSER)
    data = directory / "data"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cluster = PostgresCluster(directory, port, bin_dir, run_as)
    try:
        subprocess.run([*run_as, str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust",
                        "-E", "UTF8", "--no-sync"], check=True, capture_output=True, text=True)
        options = (f"-p {port} -h 127.0.0.1 -k {directory} -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=200")
        subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "start", "-D", str(data), "-w", "-t", "60",
                        "-l", str(directory / "server.log"), "-o", options],
                       check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as exc:
        log = directory / "server.log"
        detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        cluster.stop()
        raise RuntimeError(f"PostgreSQL did not start: {exc.stderr or exc.stdout}\n{detail}") from None
    return cluster
