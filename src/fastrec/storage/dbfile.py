"""A private SQLite database file that the recorder creates itself, never through a link.

SQLite opens (and creates) its files following links, with the umask's mode.  Every
database of ours - the recordings index, the live-session state - is therefore claimed
here first:

- the database file is created new (O_CREAT|O_EXCL|O_NOFOLLOW, 0600) before SQLite opens
  it, so SQLite's journal and WAL files, which copy its mode, are private too;
- a link at the database's path or at one of its journals' paths is refused
  (:class:`DatabaseFileProblem`), never followed, chmod-ed or replaced;
- a directory or any other non-regular file at the path is refused;
- an existing file of ours (same owner) whose mode is wider than 0600 - written by an
  older version - is made 0600 through a descriptor opened without following links.

Several processes may claim the same path at once: one creates it, the others find the
regular file it made.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Self

from fastrec.storage.files import FILE_MODE, create_private

if TYPE_CHECKING:
    from fastrec.storage.database import PgConnection

__all__ = ["JOURNAL_SUFFIXES", "DatabaseFileProblem", "claim_database_file"]

JOURNAL_SUFFIXES = ("-journal", "-wal", "-shm")


class DatabaseFileProblem(OSError):
    """The database at ``path`` must not be opened; ``problem`` says why (nothing changed)."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def claim_database_file(path: str | os.PathLike[str]) -> bool:
    """Make sure a regular, private file of ours is at ``path``; True when created now.

    Raises :class:`DatabaseFileProblem` for a link (at the path or a journal's), a
    directory or another non-regular file; OSError when the directory cannot be written.
    """
    db = Path(path)
    for suffix in JOURNAL_SUFFIXES:  # SQLite opens these itself, following links: refuse them
        journal = db.with_name(db.name + suffix)
        if journal.is_symlink():
            raise DatabaseFileProblem(db, f"{journal.name} is a symbolic link; "
                                          "the database is never opened through a link")
    try:
        os.close(create_private(db))  # 0600 before SQLite opens it
        return True
    except FileExistsError:
        pass
    info = os.lstat(db)
    if stat.S_ISLNK(info.st_mode):
        raise DatabaseFileProblem(db, f"is a symbolic link (to {os.readlink(db)}); "
                                      "the database is never opened through a link")
    if stat.S_ISDIR(info.st_mode):
        raise DatabaseFileProblem(db, "is a directory, not a database file")
    if not stat.S_ISREG(info.st_mode):
        raise DatabaseFileProblem(db, "is not a regular file")
    if os.name == "posix" and info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != FILE_MODE:
        fd = os.open(db, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            os.fchmod(fd, FILE_MODE)
        finally:
            os.close(fd)
    return False


class SqliteOwner:
    """Base of the classes that own one SQLite connection (``_conn``; with
    FASTREC_DATABASE_URL a :class:`~fastrec.storage.database.PgConnection`, which closes the
    same way) guarded by a lock (``_lock``): :meth:`close` is idempotent and the object is
    its own context manager."""

    _conn: sqlite3.Connection | PgConnection | None
    _lock: threading.RLock

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
