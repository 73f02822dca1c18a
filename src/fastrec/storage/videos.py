"""Where a segment's video and events bytes are: the local disk, or the object store they
were moved to.

Every reader of a part's video (the fragment index behind replay, the HTTP file route,
the exports, ``verify``) opens it through :func:`open_video`, and every reader of a part's
events file (:mod:`fastrec.events.file`: exports, heatmaps, search, insights, ``verify``)
through :func:`open_stored` / :func:`read_stored`, which ask the
:class:`SegmentVideos` of the part's directory: :class:`LocalVideos` (the embedded
default: the file on disk) or :class:`StoredVideos` (the file on disk while it is there -
not yet uploaded, or kept in the local cache - else the object in the store, read by
range requests).

Invariants:

- A part file is named by its local path (``directory/name`` from its metadata); the store's
  key is derived from the name (:meth:`~fastrec.storage.objectstore.ObjectStore.key`),
  never from anything a client sent.
- Local files are opened without following links and must be regular files.
- An encrypted part (:mod:`fastrec.crypt`) is opened decrypted: the handle reads the
  plaintext of its whole chunks, decrypting only the chunks a read touches, in memory
  (plaintext never touches the disk); ``open_video(path, decrypt=False)`` gives the bytes
  as stored, which is what the sealed SHA-256 is of (``verify``, uploads).  Its keys are
  the :class:`~fastrec.crypt.context.Encryption` registered for its directory; an
  encrypted part of a directory with none is an OSError that says so.
- The store of a directory is registered by whoever knows the settings (the recorder's
  RecordingManager, the admin server's context) with :func:`use_store`; a directory with
  none registered is local only, as on a single machine.
"""

from __future__ import annotations

import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Protocol, Self

from fastrec.crypt.container import ChunkError, is_encrypted, read_header
from fastrec.crypt.context import encryption_for
from fastrec.storage.files import read_private
from fastrec.storage.objectstore import ObjectStore, store_from_settings

__all__ = ["LocalVideos", "SegmentVideos", "StoredVideos", "VideoFile", "open_stored", "open_video", "read_stored",
           "store_for", "use_settings_store", "use_store", "videos_for"]


@dataclass(slots=True)
class VideoFile:
    """An opened part video: a seekable binary ``handle`` of ``size`` bytes.

    ``identity`` names the file (device and inode on disk; key and ETag in the store): a
    cache entry is reused only for the same identity, size and ``mtime_ns``.  ``local`` is
    the file on disk, or None when the bytes come from the store or are decrypted (then
    ``size`` is the plaintext's); ``encrypted``: the part is stored encrypted.
    """

    handle: BinaryIO
    size: int
    mtime_ns: int
    identity: tuple[object, ...]
    local: Path | None
    encrypted: bool = False

    def close(self) -> None:
        self.handle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


class SegmentVideos(Protocol):
    """Opens part videos by their local path."""

    def open(self, path: Path) -> VideoFile:
        """The video at ``path`` (or its stored copy); FileNotFoundError when there is none,
        another OSError when it cannot be read (not a regular file, the store is down)."""
        ...

    def exists(self, path: Path) -> bool:
        """Whether :meth:`open` would find the video (False when it cannot tell)."""
        ...


class LocalVideos:
    """The embedded default: part videos are files in the recordings directory."""

    def open(self, path: Path) -> VideoFile:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
        handle = os.fdopen(fd, "rb", buffering=0)  # reads exactly what is asked, no read-ahead
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            handle.close()
            raise OSError(f"{path}: not a regular file")
        return VideoFile(handle, st.st_size, st.st_mtime_ns, (st.st_dev, st.st_ino), Path(path))

    def exists(self, path: Path) -> bool:
        try:
            return stat.S_ISREG(os.lstat(path).st_mode)
        except OSError:
            return False


class StoredVideos(LocalVideos):
    """Part videos on disk while they are there, else in ``store`` under their name."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def open(self, path: Path) -> VideoFile:
        try:
            return super().open(path)
        except FileNotFoundError:
            pass  # uploaded and evicted from the local cache
        try:
            reader = self.store.open(Path(path).name)
        except ValueError:  # not a name the recorder gives: never a key of ours
            raise FileNotFoundError(f"{path}: no such part") from None
        info = reader.info
        return VideoFile(reader, info.size, info.modified_ns, ("s3", info.key, info.etag), None)  # type: ignore[arg-type]

    def exists(self, path: Path) -> bool:
        if super().exists(path):
            return True
        try:
            return self.store.head(Path(path).name) is not None
        except (OSError, ValueError):
            return False


_LOCAL = LocalVideos()
_stores: dict[str, ObjectStore] = {}
_lock = threading.Lock()


def _key(directory: str | os.PathLike[str]) -> str:
    return os.path.realpath(directory)


def use_store(directory: str | os.PathLike[str], store: ObjectStore | None) -> None:
    """Read the parts of ``directory`` from ``store`` when they are not on disk (None:
    local only again)."""
    with _lock:
        if store is None:
            _stores.pop(_key(directory), None)
        else:
            _stores[_key(directory)] = store


def use_settings_store(settings: Any) -> ObjectStore | None:
    """Register the store the recorder settings name (FASTREC_S3_URL) for their output
    directory, and their encryption keys, as the command-line tools do before reading
    recordings; returns the store."""
    from fastrec.crypt.context import use_settings_encryption

    store = store_from_settings(settings)
    if store is not None:
        use_store(settings.output_dir, store)
    use_settings_encryption(settings)  # encrypted parts (FASTREC_ENCRYPTION_KEY[_FILE]) are read decrypted
    return store


def store_for(directory: str | os.PathLike[str]) -> ObjectStore | None:
    """The object store registered for ``directory``, if any."""
    with _lock:
        return _stores.get(_key(directory))


def videos_for(directory: str | os.PathLike[str]) -> SegmentVideos:
    """How the parts of ``directory`` are read."""
    store = store_for(directory)
    return _LOCAL if store is None else StoredVideos(store)


def open_stored(path: str | os.PathLike[str]) -> VideoFile:
    """Open a part's file (video or events file) as stored, wherever its bytes are: on disk
    while it is there, else its object in the directory's store (never decrypted: what the
    sealed SHA-256 is of).  FileNotFoundError when neither holds it."""
    source = Path(path)
    return videos_for(source.parent).open(source)


def read_stored(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The whole content of a small part file (an events file) as stored, on disk or in the
    store; OSError as :func:`~fastrec.storage.files.read_private` (a link, not a regular
    file, larger than ``max_bytes``; FileNotFoundError when neither holds it)."""
    source = Path(path)
    try:
        return read_private(source, max_bytes)
    except FileNotFoundError:
        if store_for(source.parent) is None:
            raise
    with open_stored(source) as found:  # uploaded and removed from the disk
        if found.size > max_bytes:
            raise OSError(f"{source}: {found.size} bytes in the object store, more than the {max_bytes} allowed")
        return found.handle.read() or b""


def open_video(path: str | os.PathLike[str], *, decrypt: bool = True) -> VideoFile:
    """Open the part video at ``path`` wherever its bytes are (see :class:`SegmentVideos`);
    an encrypted one decrypted unless ``decrypt`` is False (see the module)."""
    source = Path(path)
    video = open_stored(source)
    try:
        if not is_encrypted(video.handle):
            return video
        if not decrypt:
            video.encrypted = True
            return video
        encryption = encryption_for(source.parent)
        if encryption is None:
            header, _, _ = read_header(video.handle)
            raise ChunkError(f"{source}: encrypted (session {header.session_id!r}, key id "
                             f"{header.kek_id}); set FASTREC_ENCRYPTION_KEY_FILE or "
                             "FASTREC_ENCRYPTION_KEY to read it")
        reader = encryption.reader(video.handle, video.size)
    except BaseException:
        video.close()
        raise
    return VideoFile(reader, reader.size, video.mtime_ns, (*video.identity, "decrypted"),  # type: ignore[arg-type]
                     None, encrypted=True)
