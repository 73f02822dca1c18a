"""The recordings the admin server shows: sessions from the index, their parts' metadata,
integrity verdicts, and the files behind them.

Invariants:

- No path from a client reaches the filesystem.  Clients name a session id and a part
  number; the file is the one the session's own metadata names, resolved inside the
  recordings directory, and served only when it is a regular file there (never a link)
  or, once uploaded, the object of that name in the directory's object store.
- The index is derived data (``storage.index``): when it cannot be opened the catalogue
  says so (:class:`CatalogueUnavailable`) instead of showing an empty list.
- Verifying a session hashes all of its files; a verdict is cached until one of its files
  changes size or mtime, so opening a detail page twice costs one hash pass.
- A fleet (:mod:`fastrec.storage.fleet`): a session another gateway indexed (its rows name
  a directory of that gateway) is read from the fleet mirror -- its metadata copied from
  the gateway's prefix of the object store, its videos read from there -- never from the
  path the row names.  Every listing brings the mirror up to the store (at most once per
  :data:`~fastrec.storage.fleet.MIN_SYNC_SECONDS`), so what retention deleted on a gateway
  leaves this server's disk too, with no restart and no refresh.
"""

from __future__ import annotations

import os
import stat
import threading
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from fastrec.storage.fleet import FleetMirror
from fastrec.storage.index import INDEX_FILE, IndexEntry, IndexUnavailable, RecordingIndex
from fastrec.storage.integrity import VerifyReport, verify_session
from fastrec.storage.metadata import MetadataError, SegmentMetadata, read_metadata
from fastrec.storage.videos import videos_for

__all__ = ["Catalogue", "CatalogueUnavailable", "SessionParts", "SessionRow"]


class CatalogueUnavailable(RuntimeError):
    """The recordings index cannot be read; the message says why."""


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One session as the recordings list shows it (from its indexed parts)."""

    session_id: str
    con_codigo: str | None
    server: str | None
    user: str | None
    ip: str | None
    connection_type: str | None
    start_time: datetime
    end_time: datetime | None
    parts: int
    size_bytes: int
    recording: bool
    statuses: tuple[str, ...]

    def matches(self, text: str) -> bool:
        needle = text.casefold()
        return any(needle in (value or "").casefold()
                   for value in (self.session_id, self.server, self.user, self.ip, self.connection_type,
                                 self.con_codigo))


@dataclass(frozen=True, slots=True)
class SessionParts:
    """A session's parts in order: each index entry with its metadata (None when unreadable)."""

    session_id: str
    entries: tuple[IndexEntry, ...]
    metadata: tuple[SegmentMetadata | None, ...]

    @property
    def recording(self) -> bool:
        return any(entry.status == "recording" for entry in self.entries)


def _row(session_id: str, entries: list[IndexEntry]) -> SessionRow:
    first = entries[0]
    ends = [e.end_time for e in entries]
    recording = any(e.status == "recording" for e in entries)
    return SessionRow(
        session_id=session_id, con_codigo=first.con_codigo, server=first.server, user=first.user,
        ip=first.ip, connection_type=first.connection_type, start_time=min(e.start_time for e in entries),
        end_time=None if recording or any(t is None for t in ends) else max(t for t in ends if t is not None),
        parts=len(entries), size_bytes=sum(e.size_bytes or 0 for e in entries), recording=recording,
        statuses=tuple(sorted({e.status for e in entries})))


class Catalogue:
    """Read-only view of one recordings directory for the server (thread-safe)."""

    def __init__(self, directory: str | os.PathLike[str], idle_seconds: float = 3.0,
                 database_url: str | None = None, fleet: FleetMirror | None = None) -> None:
        self.directory = Path(directory).resolve()
        self.fleet = fleet  # the other gateways' sessions, mirrored from the object store
        self.database_url = database_url  # the index in PostgreSQL (a fleet's), or None: the file
        self.idle_seconds = idle_seconds
        self._index: RecordingIndex | None = None
        self._lock = threading.Lock()
        self._verdicts: dict[str, tuple[tuple[object, ...], VerifyReport]] = {}

    def index(self) -> RecordingIndex:
        with self._lock:
            if self._index is None:
                try:
                    self._index = RecordingIndex(self.directory / INDEX_FILE, self.directory,
                                                 database_url=self.database_url)
                except IndexUnavailable as exc:
                    raise CatalogueUnavailable(str(exc)) from exc
            return self._index

    def refresh(self) -> int:
        """Rebuild the index from the metadata files (what a recorder elsewhere wrote), and
        bring the fleet mirror up to the store."""
        if self.fleet is not None:
            self.fleet.sync(force=True)
        return self.index().rebuild(self.directory)

    def directory_of(self, session_id: str) -> Path:
        """Where ``session_id``'s metadata is read: the recordings directory, or the fleet
        mirror's directory of the gateway that uploaded it."""
        if self.fleet is not None and not any(e.path.parent.resolve() == self.directory
                                              for e in self.index().search(session_id=session_id)):
            found = self.fleet.directory_of(session_id)
            if found is not None:
                return found
        return self.directory

    def _located(self, session_id: str, entries: list[IndexEntry]) -> tuple[Path, list[Path | None]]:
        """The directory of the session and each entry's metadata file in it."""
        folder = self.directory_of(session_id)
        if folder == self.directory:
            return folder, [entry.metadata_path for entry in entries]
        paths: list[Path | None] = [folder / entry.metadata_path.name if entry.metadata_path else None
                                    for entry in entries]
        if self.fleet is not None and any(p is not None and not p.is_file() for p in paths):
            self.fleet.sync()  # a part sealed since the last look
        return folder, paths

    def close(self) -> None:
        with self._lock:
            if self._index is not None:
                self._index.close()
                self._index = None

    def sessions(self, *, since: datetime | None = None, until: datetime | None = None,
                 server: str | None = None, user: str | None = None, ip: str | None = None,
                 connection_type: str | None = None, text: str | None = None) -> list[SessionRow]:
        """Sessions with a part matching every filter, newest first."""
        if self.fleet is not None:
            self.fleet.sync()  # the mirror follows the store: deletions on the gateways leave it
        grouped: dict[str, list[IndexEntry]] = {}
        for entry in self.index().search(since=since, until=until, server=server, user=user, ip=ip,
                                         connection_type=connection_type):
            grouped.setdefault(entry.session_id, []).append(entry)
        rows = [_row(sid, sorted(entries, key=lambda e: e.part)) for sid, entries in grouped.items()]
        if text:
            rows = [row for row in rows if row.matches(text)]
        return sorted(rows, key=lambda r: r.start_time, reverse=True)

    def parts(self, session_id: str) -> SessionParts | None:
        """A session's indexed parts with their metadata, or None when there is no such session."""
        entries = sorted(self.index().search(session_id=session_id), key=lambda e: (e.part, e.start_time))
        if not entries:
            return None
        folder, paths = self._located(session_id, entries)
        if folder != self.directory:  # another gateway's: its parts as the mirror has them
            entries = [replace(e, path=folder / e.path.name, metadata_path=p) for e, p in zip(entries, paths, strict=True)]
        metadata: list[SegmentMetadata | None] = []
        for path in paths:
            try:
                metadata.append(read_metadata(path) if path else None)
            except (MetadataError, OSError):
                metadata.append(None)
        return SessionParts(session_id, tuple(entries), tuple(metadata))

    def summary(self, session_id: str) -> SessionRow | None:
        entries = self.index().search(session_id=session_id)
        return _row(session_id, sorted(entries, key=lambda e: e.part)) if entries else None

    def verify(self, session_id: str) -> VerifyReport:
        """The integrity verdict of a session's chain (cached while its files are unchanged)."""
        entries = self.index().search(session_id=session_id)
        folder, metadata = self._located(session_id, entries)
        key = tuple(self._fingerprint(p) for p in (*(folder / e.path.name for e in entries), *metadata) if p)
        cached = self._verdicts.get(session_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        report = verify_session(folder, session_id)
        self._verdicts[session_id] = (key, report)
        return report

    def video_file(self, session_id: str, part: int) -> Path | None:
        """The video of one part: a regular file directly in the recordings directory (or,
        once uploaded, its copy in the directory's object store), or None."""
        for entry in self.index().search(session_id=session_id):
            if entry.part != part:
                continue
            path = entry.path
            if path.name in ("", ".", ".."):
                return None
            if path.parent.resolve() != self.directory:
                folder = self.directory_of(session_id) if self.fleet is not None else None
                if folder is None or folder == self.directory:
                    return None  # an index entry pointing elsewhere is never served
                mirrored = folder / path.name  # another gateway's part: from its prefix of the store
                return mirrored if videos_for(folder).exists(mirrored) else None
            try:
                info = os.lstat(path)
            except FileNotFoundError:  # uploaded to the object store and not kept here?
                return path if videos_for(self.directory).exists(path) else None
            except OSError:
                return None
            return path if stat.S_ISREG(info.st_mode) else None
        return None

    def forget_session(self, session_id: str) -> None:
        """Drop a deleted session's parts from the index."""
        index = self.index()
        for entry in index.search(session_id=session_id):
            index.remove(entry.path)
        self._verdicts.pop(session_id, None)

    @staticmethod
    def _fingerprint(path: Path) -> tuple[object, ...]:
        try:
            info = os.stat(path)
        except OSError:
            return (str(path), None)
        return (str(path), info.st_size, info.st_mtime_ns)
