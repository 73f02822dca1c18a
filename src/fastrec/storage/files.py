"""Private directories and atomic, private file writes.

Recordings are sensitive: directories the recorder creates are 0700 and its files 0600 on
POSIX.  Small files that describe recordings (metadata, cleanup statistics) are replaced
atomically: the new content goes to a temporary file in the same directory, is fsync'ed,
then renamed over the old one, so a crash or a full disk mid-write leaves the previous
version intact.

Invariants (a planted file or link must never turn the recorder against its owner):

- Every file is created new, never through a link: :func:`create_private` and the
  temporary files (``mkstemp``: O_CREAT|O_EXCL|O_NOFOLLOW); a rename replaces a link
  itself, never its target.  :func:`read_private` reads without following a link and
  only a regular file of bounded size (a FIFO or ``/dev/zero`` planted as metadata would
  hang or exhaust the reader).
- An existing directory is never re-permissioned (a shared 1777 directory, or one reached
  through a link, must stay as its owner made it).  :func:`ensure_private_dir` creates
  what is missing 0700 and refuses (:class:`UnsafeDirectory`) a directory that another
  user owns or that group/others may write: they could plant links or replace files in it.

Temporary files are named ``.{target name}.{random}.tmp`` (see :func:`temp_target`), so
retention can tell which file a leftover belongs to and delete it with that file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "TEMP_SUFFIX",
    "UnsafeDirectory",
    "atomic_writer",
    "create_private",
    "ensure_private_dir",
    "fsync_dir",
    "read_private",
    "reserve_temp",
    "temp_target",
    "write_new_private",
    "write_private",
]

DIR_MODE = 0o700
FILE_MODE = 0o600
TEMP_SUFFIX = ".tmp"
_POSIX = os.name == "posix"


class UnsafeDirectory(PermissionError):
    """An output directory the recorder must not write into: ``path`` and ``problem`` say why."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(
            f"{path}: {problem}; allowed: a directory owned by uid {os.geteuid()} (this process) "
            "that only its owner may write (e.g. mode 0700 or 0755). Choose another "
            "RECORDING_OUTPUT_DIR, or fix this one (chown / chmod go-w) yourself")


def _check_existing_dir(directory: Path) -> None:
    info = directory.stat()  # through a link: what matters is the directory written into
    if not stat.S_ISDIR(info.st_mode):
        raise NotADirectoryError(f"{directory}: exists and is not a directory")
    if not _POSIX:
        return
    mode = f"mode {stat.S_IMODE(info.st_mode):04o}"
    if info.st_uid != os.geteuid():
        raise UnsafeDirectory(directory, f"owned by uid {info.st_uid}, not uid {os.geteuid()} ({mode})")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeDirectory(directory, f"{mode}: group or others may write in it")


def ensure_private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and missing parents) 0700, or check the directory that is there.

    Directories created here are 0700 whatever the umask.  An existing ``path`` is never
    changed: it is accepted when this process's user owns it and nobody else may write in
    it (a mode like 0755 is left as it is: the files in it are 0600), else
    :class:`UnsafeDirectory` names it, its owner and mode and what is allowed.  Raises
    NotADirectoryError when ``path`` exists and is not a directory.
    """
    directory = Path(path)
    missing: list[Path] = []
    probe = directory
    while not probe.exists():
        if probe.is_symlink():  # a dangling link: creating "through" it would follow it
            raise NotADirectoryError(f"{probe}: a symbolic link to nowhere, not a directory")
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for created in reversed(missing):
        try:
            os.mkdir(created, DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile by someone else: checked below like any existing one
        if _POSIX:
            # the umask may have taken bits off; fchmod the directory we just made, not a
            # link somebody could have put at its name since
            fd = os.open(created, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            try:
                os.fchmod(fd, DIR_MODE)
            finally:
                os.close(fd)
    _check_existing_dir(directory)
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
    _check_existing_dir(target.parent)  # never a file of ours in a directory others can write
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
                os.fchmod(handle.fileno(), FILE_MODE)
        os.replace(temp, target)  # replaces a link at ``target`` itself, never its target
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
    _check_existing_dir(Path(path).parent)
    return os.open(path, flags, FILE_MODE)


def read_private(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The content of the regular file at ``path``, read without following a link.

    Raises OSError naming the problem: a link (ELOOP), not a regular file, or larger than
    ``max_bytes`` (nothing the recorder writes is that big).
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path}: not a regular file")
        if info.st_size > max_bytes:
            raise OSError(f"{path}: {info.st_size} bytes, more than the {max_bytes} allowed")
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read(max_bytes + 1)[:max_bytes]
    finally:
        os.close(fd)


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


def write_new_private(path: str | os.PathLike[str], data: bytes) -> Path:
    """Publish a new file at ``path`` holding ``data`` (0600), complete or not at all.

    Exclusive: FileExistsError when anything - a file, a symlink - is at ``path``.  The
    data goes to a private temporary file first, which is then hard-linked to ``path``
    (``link`` never replaces and never follows a link at its target).
    """
    target = Path(path)
    _check_existing_dir(target.parent)
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temp_name, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
    fsync_dir(target.parent)
    return target


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
