"""Private directories and atomic, private file writes.

Recordings are sensitive: directories are 0700 and files 0600 on POSIX.  Small files that
describe recordings (metadata, cleanup statistics) are replaced atomically: the new
content goes to a temporary file in the same directory, is fsync'ed, then renamed over
the old one, so a crash or a full disk mid-write leaves the previous version intact.

Temporary files are named ``.{target name}.{random}.tmp`` (see :func:`temp_target`), so
retention can tell which file a leftover belongs to and delete it with that file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "TEMP_SUFFIX",
    "atomic_writer",
    "create_private",
    "ensure_private_dir",
    "fsync_dir",
    "temp_target",
    "write_private",
]

DIR_MODE = 0o700
FILE_MODE = 0o600
TEMP_SUFFIX = ".tmp"
_POSIX = os.name == "posix"


def ensure_private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and its parents) if needed and make it private (0700 on POSIX).

    An existing directory is tightened to 0700 as well: recordings must not be readable
    by other users.  Raises NotADirectoryError when ``path`` exists and is not a directory.
    """
    directory = Path(path)
    if directory.exists() and not directory.is_dir():
        raise NotADirectoryError(f"{directory}: exists and is not a directory")
    directory.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if _POSIX:
        # mkdir's mode is filtered by the umask and ignored for an existing directory
        os.chmod(directory, DIR_MODE)
    return directory


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Flush a directory entry (a rename or unlink) to disk; a no-op where unsupported."""
    if not _POSIX:
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems (and all of Windows) cannot fsync a directory
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Write ``path`` atomically: yields a file object on a private temporary file.

    On normal exit the data is flushed, fsync'ed and renamed over ``path`` (mode 0600);
    if the block raises, the temporary file is removed and ``path`` is left untouched.
    ``mode`` is "wb" or "w" (text, UTF-8).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode={mode!r}: must be 'wb' or 'w'")
    target = Path(path)
    # mkstemp creates the file 0600 with O_EXCL: nobody else can open it in between
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
    temp = Path(temp_name)
    try:
        handle: IO[Any] = os.fdopen(fd, "wb") if mode == "wb" else os.fdopen(fd, "w", encoding="utf-8")
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if _POSIX:
            os.chmod(temp, FILE_MODE)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    fsync_dir(target.parent)


def create_private(path: str | os.PathLike[str]) -> int:
    """Create a new, empty private (0600) file at ``path`` and return its open descriptor.

    Never follows or replaces what is already there: a file, a planted symlink or anything
    else at ``path`` raises FileExistsError, so a recorder never truncates recorded video
    or writes through a link into somebody else's file.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    # Windows opens a descriptor in text mode unless told otherwise: "\n" would become "\r\n"
    flags |= getattr(os, "O_BINARY", 0)
    return os.open(path, flags, FILE_MODE)


def reserve_temp(target: str | os.PathLike[str]) -> Path:
    """A new empty private (0600) temporary file beside ``target``, named so that retention
    recognises and clears it if it is ever left behind.  For writers that need a path (an
    FFmpeg muxer) rather than the file object :func:`atomic_writer` gives."""
    target = Path(target)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
    os.close(fd)
    return Path(name)


def write_private(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Atomically replace ``path`` with ``data`` (a str is written as UTF-8), mode 0600."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_writer(path, "wb") as handle:
        handle.write(payload)
    return Path(path)


def temp_target(name: str) -> str | None:
    """The file name a leftover temporary file was going to replace, or None.

    ``.session_1_metadata.json.k3j_9x.tmp`` -> ``session_1_metadata.json``.
    """
    if not (name.startswith(".") and name.endswith(TEMP_SUFFIX)):
        return None
    inner = name[1:-len(TEMP_SUFFIX)]
    target, dot, random_part = inner.rpartition(".")
    # mkstemp's random part never contains a dot
    if not dot or not target or not random_part:
        return None
    return target
