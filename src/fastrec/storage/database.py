"""SQLite files of our own in the recordings directory: created private, never through a link.

The recording index, the admin server's database and the live-session table are SQLite
files beside the recordings.  SQLite opens the database and its journals by name and
follows links, so the file is created here first (O_CREAT|O_EXCL|O_NOFOLLOW, 0600) and
a link at the database's path or at a journal's is refused before SQLite ever sees it;
the journals then inherit the database's private mode.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from fastrec.storage.files import FILE_MODE, create_private

__all__ = ["JOURNAL_SUFFIXES", "UnusableDatabase", "claim_database_file", "connect"]

JOURNAL_SUFFIXES = ("-journal", "-wal", "-shm")


class UnusableDatabase(OSError):
    """The database at ``path`` cannot be used safely; ``problem`` says why."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def claim_database_file(path: str | os.PathLike[str]) -> bool:
    """Make sure a regular file of ours is at ``path``: True when it was created now.

    Raises :class:`UnusableDatabase` for a link (at the path or a journal's), a directory
    or another kind of file.  An existing file of ours with a looser mode (an older
    version's) is made 0600; a file of another user is left as it is.
    """
    path = Path(path)
    for suffix in JOURNAL_SUFFIXES:
        journal = path.with_name(path.name + suffix)
        if journal.is_symlink():
            raise UnusableDatabase(path, f"{journal.name} is a symbolic link; "
                                         "a database is never opened through a link")
    try:
        os.close(create_private(path))
        return True
    except FileExistsError:
        pass
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise UnusableDatabase(path, f"is a symbolic link (to {os.readlink(path)}); "
                                     "a database is never opened through a link")
    if stat.S_ISDIR(info.st_mode):
        raise UnusableDatabase(path, "is a directory, not a database file")
    if not stat.S_ISREG(info.st_mode):
        raise UnusableDatabase(path, "is not a regular file")
    if os.name == "posix" and info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != FILE_MODE:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            os.fchmod(fd, FILE_MODE)
        finally:
            os.close(fd)
    return False


def connect(path: str | os.PathLike[str], timeout: float = 10.0) -> sqlite3.Connection:
    """A connection usable from any thread (callers serialise with a lock), rows by name."""
    conn = sqlite3.connect(path, check_same_thread=False, timeout=timeout)
    conn.row_factory = sqlite3.Row
    return conn
