"""Events files: JSON lines next to each video part, written crash-safe, read tolerantly.

Format (``{part basename}_events.jsonl``, :func:`fastrec.storage.naming.events_path`):
UTF-8, one JSON object per line, ``\\n``-terminated.  Line 1 is the
:class:`~fastrec.events.model.EventsHeader` (``format``, ``version``, ``session_id``,
``part``, ``session_start``); every other line is one event (``kind``, ``at``, ``t`` and
the kind's fields, :mod:`fastrec.events.model`).  Lines are in the order they were
written, which is not quite time order (titles and pauses are reported up to a second
late): sort by ``t`` for a timeline (:func:`read_session_events` does).

Invariants:

- The writer creates the file itself (O_EXCL|O_NOFOLLOW, 0600: never through a planted
  link, never over an existing file) and writes every line with one ``write`` of the whole
  line straight to the kernel: nothing waits in a user-space buffer, so a killed recorder
  (SIGKILL) leaves every line it wrote whole, except at most the one being written.
  :meth:`EventsWriter.sync` (called at least every second while recording) fsyncs, for a
  power loss.
- The reader never fails on a damaged file: a torn last line (no ``\\n``) and lines that
  are not a valid event are skipped and counted; it reads without following a link, only
  a regular file of bounded size.
- Once uploaded to the object store (FASTREC_S3_URL, :mod:`fastrec.manager.uploads`) the
  file may be gone from the disk: every reader here reads it through
  :func:`fastrec.storage.videos.read_stored`, from the disk while it is there, else from
  the store registered for its directory (the admin server's fleet mirror included).
- With encryption at rest (:mod:`fastrec.crypt`) the file is in the encrypted chunk format
  of the video parts, one chunk per line (a fresh data key per file, wrapped by the
  session's key): a killed recorder leaves every whole line decryptable, as above, and
  :func:`read_events` decrypts in memory with the keys registered for its directory.
- The file is sealed with its part: its SHA-256 goes into the part's metadata and chain
  (:func:`fastrec.storage.integrity.seal_segment`); retention and deletion remove it with
  its part (:mod:`fastrec.storage.segments`).
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from fastrec.crypt.container import MAGIC, ChunkError, ChunkWriter
from fastrec.crypt.context import SegmentEncryption, encryption_for, new_segment
from fastrec.events.model import Event, EventsHeader, event_adapter
from fastrec.storage.files import create_private
from fastrec.storage.metadata import SegmentMetadata, iter_metadata
from fastrec.storage.videos import read_stored, videos_for

__all__ = ["MAX_EVENTS_BYTES", "EventsFile", "EventsWriter", "read_events", "read_session_events",
           "session_event_files"]

MAX_EVENTS_BYTES = 512 * 1024 * 1024  # a busy day of clicks is a few MB; more is not ours


class EventsWriter:
    """Append events to a new events file; thread-safe.  The header is its first line."""

    def __init__(self, path: str | os.PathLike[str], header: EventsHeader,
                 encryption: SegmentEncryption | None = None) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._fd: int | None = create_private(self.path)
        self._chunks: ChunkWriter | None = None
        if encryption is not None:
            try:
                crypt_header, data_key = new_segment(encryption, header.part)
                self._chunks = ChunkWriter(self._fd, crypt_header, data_key, str(self.path))
            except BaseException:
                os.close(self._fd)
                raise
        self._dirty = False
        self.count = 0  # events written (the header not counted)
        self._write_line(header.model_dump_json())

    def write(self, event: Event) -> None:
        """Append one event as one whole line; ValueError once the writer is closed."""
        with self._lock:
            self._write_line(event.model_dump_json())
            self.count += 1

    def write_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.write(event)

    def _write_line(self, text: str) -> None:
        if self._fd is None:
            raise ValueError(f"{self.path}: the events file is closed")
        if self._chunks is not None:  # one chunk per line, written whole
            self._chunks.write((text + "\n").encode("utf-8"))
            self._chunks.seal()
            self._dirty = True
            return
        data = memoryview((text + "\n").encode("utf-8"))
        while data:  # a regular file takes it in one write; loop for the rare short write
            written = os.write(self._fd, data)
            data = data[written:]
        self._dirty = True

    def sync(self) -> None:
        """fsync what was written since the last sync (a no-op when nothing was)."""
        with self._lock:
            if self._fd is not None and self._dirty:
                os.fsync(self._fd)
                self._dirty = False

    @property
    def closed(self) -> bool:
        return self._fd is None

    def close(self) -> None:
        """fsync and close; idempotent."""
        with self._lock:
            if self._fd is None:
                return
            try:
                if self._chunks is not None:
                    self._chunks.seal(final=True)  # the file ends whole: no line was lost
                os.fsync(self._fd)
            finally:
                os.close(self._fd)
                self._fd = None


@dataclass(frozen=True, slots=True)
class EventsFile:
    """What :func:`read_events` found: the header (None if line 1 is not one), the events
    in file order, whether the last line was torn, and the other lines skipped."""

    path: Path
    header: EventsHeader | None
    events: tuple[Event, ...]
    torn: bool = False
    skipped: tuple[str, ...] = field(default=())  # "line N: why", at most a few


_MAX_REPORTED = 20


def read_events(path: str | os.PathLike[str]) -> EventsFile:
    """Read an events file; raises OSError only when it cannot be read at all (missing, a
    link, not a regular file, too big).  Damaged lines are skipped (see :class:`EventsFile`)."""
    source = Path(path)
    data = _plaintext(source, read_stored(source, MAX_EVENTS_BYTES))  # on disk, or in the store once uploaded
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline; else a torn line
    header: EventsHeader | None = None
    events: list[Event] = []
    skipped: list[str] = []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            if number == 1 and b'"format"' in raw:
                header = EventsHeader.model_validate_json(raw)
                continue
            events.append(event_adapter.validate_json(raw))
        except (ValidationError, ValueError) as exc:
            if len(skipped) < _MAX_REPORTED:
                skipped.append(f"line {number}: not a valid event ({_first_error(exc)})")
    return EventsFile(source, header, tuple(events), torn=bool(tail.strip()), skipped=tuple(skipped))


def _plaintext(source: Path, data: bytes) -> bytes:
    """The file's lines: ``data`` itself, or decrypted (whole chunks) when it is encrypted;
    an OSError (:class:`~fastrec.crypt.container.ChunkError`) when its keys are not here
    or a chunk does not authenticate."""
    if not data.startswith(MAGIC):
        return data
    encryption = encryption_for(source.parent)
    if encryption is None:
        raise ChunkError(f"{source}: encrypted; set FASTREC_ENCRYPTION_KEY_FILE or FASTREC_ENCRYPTION_KEY to read it")
    with encryption.reader(io.BytesIO(data), len(data)) as reader:
        return reader.read()


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and exc.errors():
        error = exc.errors()[0]
        return f"{'.'.join(map(str, error['loc'])) or '(line)'}: {error['msg']}"
    return str(exc)[:200]


def session_event_files(directory: str | os.PathLike[str], session_id: str) -> list[tuple[SegmentMetadata, Path]]:
    """The events files of ``session_id``'s parts in ``directory`` that exist (on disk, or
    in the directory's object store once uploaded), in part order, each with its part's
    metadata (which names it)."""
    folder = Path(directory)
    videos = videos_for(folder)
    found: list[tuple[SegmentMetadata, Path]] = []
    for _, meta in iter_metadata(folder):
        if not isinstance(meta, SegmentMetadata) or meta.session_id != session_id:
            continue
        name = meta.events.name if meta.events is not None else ""
        if not name or Path(name).name != name:
            continue
        path = folder / name
        if videos.exists(path):  # a regular file on disk (no link), else the uploaded object
            found.append((meta, path))
    found.sort(key=lambda item: (item[0].chain.part, item[0].start_time.timestamp()))
    return found


def read_session_events(directory: str | os.PathLike[str], session_id: str) -> tuple[list[Event], list[str]]:
    """Every readable event of ``session_id`` in time order (by ``t``), and the problems
    met on the way (unreadable files, torn or invalid lines), each naming its file."""
    events: list[Event] = []
    problems: list[str] = []
    for _, path in session_event_files(directory, session_id):
        try:
            found = read_events(path)
        except OSError as exc:
            problems.append(f"{path.name}: cannot be read ({exc.strerror or exc})")
            continue
        events.extend(found.events)
        problems.extend(f"{path.name}: {why}" for why in found.skipped)
        if found.torn:
            problems.append(f"{path.name}: last line incomplete (the recorder was stopped mid-write); skipped")
    events.sort(key=lambda e: e.t)
    return events, problems
