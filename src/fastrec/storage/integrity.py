"""SHA-256 of segments and the hash chain that ties the parts of a session together.

Each sealed segment's metadata records its own SHA-256 and size, the previous part's
SHA-256 and file name, and ``chain_hash = sha256(previous chain_hash + sha256)`` (hex
strings, the previous chain hash being empty for part 1).  A part with an input-events
file (``events.name``, :mod:`fastrec.events`) has that file's size and SHA-256 recorded
too, and its chain hash covers both: ``sha256(previous chain_hash + sha256 +
events sha256)``; ``verify`` reports an events file that is gone or was changed.  The previous part's metadata
names the next file as soon as the next part starts, so losing the last part is detected
too.  :func:`verify_session` walks the chain and says, per part, whether it is intact.

A part is sealed as it is on disk: :func:`seal_segment` with ``probe=True`` counts its
frames from the file when the encoder's count is unknown (:func:`probe_video`, PyAV,
imported only there) and seals a file that holds no playable video (0 bytes, a header
only) as ``interrupted`` with 0 frames and an error saying so.  Such a part is intact in
the chain (its hash is right) and ``verify`` shows its error on its line.

``verify`` costs what is on disk, never what a metadata file claims: a gap in the part
numbers (``chain.part=10000000``) is one line, not one per missing number.

Signatures (:mod:`fastrec.storage.signing`): with a signing key configured, every metadata
file is signed when written, and ``verify`` checks each part's signature: a session whose
metadata files were all rewritten consistently (which the hash chain alone cannot tell)
shows ``modified`` parts, one whose signatures were stripped or made with an unknown key
``unsigned`` ones.  Without a key, the report says the signatures were not checked.

Deletions (:mod:`fastrec.storage.deletion_log`): a part that an admin or retention
deleted has a tombstone; ``verify`` reports it ``deleted`` (by whom, on which date) and
checks the next part's links against the hashes the tombstone kept.  A tombstone counts
only when its signature holds (with a key configured), so a part deleted by hand is
still ``missing``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from fastrec.storage.deletion_log import DeletedPart, DeletionRecord, read_deletions, record_content, verify_deletions
from fastrec.storage.metadata import (
    MetadataError,
    SegmentMetadata,
    iter_metadata,
    read_metadata,
    signed_content,
    write_metadata,
)
from fastrec.storage.naming import basename_of
from fastrec.storage.signing import FROM_ENV, KEY_ENV, KEY_FILE_ENV, KeyRing, resolve_keys
from fastrec.storage.videos import open_stored, open_video

__all__ = [
    "DeletionCheck",
    "SegmentCheck",
    "SegmentState",
    "VerifyReport",
    "VideoProbe",
    "chain_hash",
    "link_next",
    "probe_video",
    "seal_segment",
    "sha256_file",
    "sha256_stream",
    "verify_session",
]

_CHUNK = 1 << 20
NO_VIDEO = "holds no playable video"

SegmentState = Literal["ok", "deleted", "modified", "missing", "reordered", "unsealed", "unsigned"]
# the worst problem of a segment names its state
_SEVERITY: dict[str, int] = {"ok": 0, "deleted": 0, "unsealed": 1, "unsigned": 2, "reordered": 3, "modified": 4,
                             "missing": 5}
_FINE = ("ok", "deleted")  # a part deleted on record is part of an intact chain
NO_KEY = f"no signing key configured ({KEY_FILE_ENV} or {KEY_ENV})"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (constant memory for any size)."""
    with open(path, "rb") as handle:
        return sha256_stream(handle)


def sha256_stream(handle: Any) -> str:
    """Hex SHA-256 of what a binary file object holds from its position to its end."""
    digest = hashlib.sha256()
    while chunk := handle.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def chain_hash(previous_chain_hash: str | None, sha256: str, events_sha256: str | None = None) -> str:
    """``sha256(previous_chain_hash + sha256 [+ events_sha256])`` over the hex strings (''
    before part 1); a part without an events file hashes as it always did."""
    text = (previous_chain_hash or "") + sha256 + (events_sha256 or "")
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _events_sha(meta: SegmentMetadata) -> str | None:
    return meta.events.sha256 if meta.events is not None else None


@dataclass(frozen=True, slots=True)
class VideoProbe:
    """What a video file holds: its frames, their time span, whether one decodes.

    ``problem`` says why it is not playable (None when it is).
    """

    frames: int
    duration_seconds: float
    playable: bool
    problem: str | None = None


class _Head(io.RawIOBase):
    """The first ``end`` bytes of a file, as a read-only file object."""

    def __init__(self, handle: io.BufferedReader, end: int) -> None:
        self._handle, self._end = handle, end

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        room = max(0, self._end - self._handle.tell())
        view = memoryview(buffer)[:room]
        return self._handle.readinto(view) or 0

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END:
            offset, whence = self._end + offset, io.SEEK_SET
        return self._handle.seek(offset, whence)

    def tell(self) -> int:
        return self._handle.tell()


def _encrypted(path: str | os.PathLike[str]) -> bool:
    from fastrec.crypt.container import MAGIC

    with open(path, "rb") as handle:
        return handle.read(len(MAGIC)) == MAGIC


def probe_video(path: str | os.PathLike[str], *, end: int | None = None) -> VideoProbe:
    """Count the frames of ``path``'s first video stream from its packets and decode the
    first one; never raises for a damaged file (it is reported as not playable).

    Fragmented or plain MP4 alike; a truncated last fragment ends the count.  ``end``
    probes only the file's first ``end`` bytes (what it will be once cut there).  Needs
    PyAV, imported here only, so that storage loads without it.
    """
    import av  # lazily: reading recordings must not need the codec libraries loaded

    frames, first, last, decoded, problem = 0, None, None, False, None
    try:
        with contextlib.ExitStack() as stack:
            source: Any = os.fspath(path)
            if _encrypted(path):  # probed decrypted, in memory: its whole chunks
                source = stack.enter_context(open_video(path)).handle
            elif end is not None:
                source = _Head(stack.enter_context(open(path, "rb")), end)
            container = stack.enter_context(av.open(source, format="mp4" if not isinstance(source, str) else None))
            if not container.streams.video:
                return VideoProbe(0, 0.0, False, "no video stream")
            stream = container.streams.video[0]
            try:
                for packet in container.demux(stream):
                    if packet.size == 0 or packet.pts is None:
                        continue  # the demuxer's end-of-stream marker
                    frames += 1
                    start = float(packet.pts * packet.time_base)
                    stop = start + float((packet.duration or 0) * packet.time_base)
                    first = start if first is None else min(first, start)
                    last = stop if last is None else max(last, stop)
                    if not decoded:
                        decoded = bool(packet.decode())
            except (av.FFmpegError, ValueError) as exc:  # a cut-off fragment: count what came before
                problem = f"damaged after frame {frames} ({exc})"
    except (av.FFmpegError, OSError, ValueError) as exc:
        return VideoProbe(0, 0.0, False, f"cannot be opened ({exc})")
    duration = 0.0 if first is None or last is None else max(0.0, last - first)
    if not decoded:
        return VideoProbe(frames, duration, False, problem or ("no frames" if not frames else "no frame decodes"))
    return VideoProbe(frames, duration, True, problem)


def seal_segment(
    meta: SegmentMetadata,
    video: str | os.PathLike[str],
    previous: SegmentMetadata | None = None,
    *,
    status: Literal["complete", "interrupted"] = "complete",
    end_time: datetime | None = None,
    probe: bool | VideoProbe = False,
) -> SegmentMetadata:
    """A copy of ``meta`` sealed over its finished ``video`` file, chained to ``previous``.

    Fills file name, size and SHA-256, the part number (previous part + 1), the previous
    part's hash and name, the chain hash, the status and (when given) the end time (naive:
    local time) and duration.  The caller writes the result with :func:`write_metadata`.

    ``probe=True`` seals what is on disk as it is (:func:`probe_video`; or pass the
    :class:`VideoProbe` already made): when the frame count is unknown (``frames.encoded``
    0) it is taken from the file, and a file without a playable frame (0 bytes, a header
    only) is sealed ``interrupted`` with 0 frames and the error "holds no playable video
    (...)".
    """
    path = Path(video)
    sealed = meta.model_copy(deep=True)
    if probe is not False:
        if not isinstance(probe, VideoProbe):
            probe = probe_video(path) if path.stat().st_size else VideoProbe(0, 0.0, False, "0 bytes")
        _apply_probe(sealed, probe)
        if not probe.playable:
            status = "interrupted"
    sealed.file.name = path.name
    sealed.file.size_bytes = path.stat().st_size
    sealed.file.sha256 = sha256_file(path)
    _seal_events(sealed, path.parent)
    events = _events_sha(sealed)
    if previous is not None:
        sealed.chain.part = previous.chain.part + 1
        sealed.chain.previous_sha256 = previous.file.sha256
        sealed.chain.previous_file = previous.file.name
        sealed.chain.chain_hash = chain_hash(previous.chain.chain_hash, sealed.file.sha256, events)
    else:
        sealed.chain.previous_sha256 = sealed.chain.previous_file = None
        sealed.chain.chain_hash = chain_hash(None, sealed.file.sha256, events)
    sealed.status = status
    if end_time is not None:
        end_time = end_time if end_time.tzinfo is not None else end_time.astimezone()
        sealed.end_time = end_time
        sealed.duration_seconds = (end_time - sealed.start_time).total_seconds()
    return sealed


def _seal_events(meta: SegmentMetadata, folder: Path) -> None:
    """Record the size and SHA-256 of the part's events file as it is on disk (a torn last
    line included: readers skip it).  An events file named but not there is an error of the
    part, and its name is dropped so that ``verify`` does not call the sealed part damaged."""
    if meta.events is None or not meta.events.name:
        meta.events = None
        return
    name = meta.events.name
    events = folder / name
    if Path(name).name != name or not events.is_file() or events.is_symlink():
        meta.errors.append(f"events file {name} was not there when the part was sealed")
        meta.events = None
        return
    meta.events.size_bytes = events.stat().st_size
    meta.events.sha256 = sha256_file(events)


def _apply_probe(meta: SegmentMetadata, found: VideoProbe) -> None:
    frames = meta.frames
    if not found.playable:
        meta.errors.append(f"{NO_VIDEO} ({found.problem})")
        frames.encoded = frames.captured = 0
    elif frames.encoded == 0:  # the encoder's count is unknown: the file's is the truth
        frames.encoded = found.frames
        frames.captured = max(frames.captured, found.frames + frames.unchanged + frames.dropped)


def link_next(previous_metadata: str | os.PathLike[str], next_file: str) -> SegmentMetadata:
    """Record ``next_file`` (a file name) as the next part in a previous part's metadata."""
    meta = read_metadata(previous_metadata)
    meta.chain.next_file = next_file
    write_metadata(previous_metadata, meta)
    return meta


@dataclass(frozen=True, slots=True)
class SegmentCheck:
    """The verdict on one part: ``status`` and the problems behind it."""

    part: int
    file: str | None
    status: SegmentState
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what its metadata says went wrong while recording (errors)


@dataclass(frozen=True, slots=True)
class DeletionCheck:
    """One deletion record of the session (an admin's deletion or retention's) and what its
    signature said: ``signature`` is ``verified`` (checked with the configured keys),
    ``refused`` (checked and wrong or missing: ``problem`` says why; its parts stay
    ``missing``) or ``not checked`` (no signing key configured)."""

    parts: tuple[int, ...]
    by: str
    at: datetime
    reason: str
    key_id: str | None  # the key that signed it; None: unsigned
    signature: Literal["verified", "refused", "not checked"]
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Result of :func:`verify_session`: one :class:`SegmentCheck` per part, in part order."""

    session_id: str
    directory: Path
    segments: tuple[SegmentCheck, ...]
    unreadable: tuple[str, ...] = field(default=())  # metadata files of the session that cannot be read
    signatures_checked: bool = False
    signatures: str = f"not checked: {NO_KEY}"  # how the signatures were checked, or why not
    deletion_log: tuple[str, ...] = ()  # problems of the deletion log's own chain (when it has tombstones here)
    deletions: tuple[DeletionCheck, ...] = ()  # the session's deletion records, in log order

    @property
    def ok(self) -> bool:
        """True when the session has parts, all sealed and intact (or deleted on record),
        nothing is unreadable and the deletion log is intact.  Says nothing about
        signatures when :attr:`signatures_checked` is False: :attr:`summary` says so."""
        return (bool(self.segments) and not self.unreadable and not self.deletion_log
                and all(s.status in _FINE for s in self.segments))

    @property
    def summary(self) -> str:
        """A few human-readable lines: the verdict, then one line per problem."""
        if not self.segments and not self.unreadable:
            return f"session {self.session_id}: no segments found in {self.directory}"
        bad = [s for s in self.segments if s.status not in _FINE]
        count = len(bad) + len(self.unreadable) + len(self.deletion_log)
        head = f"session {self.session_id}: {len(self.segments)} segment(s), "
        lines = [head + (f"{count} problem(s)" if count else "chain intact")]
        for check in self.segments:
            if check.status == "ok" and not check.notes:
                continue
            said = check.problems if check.status not in _FINE else ()
            lines.append(f"  part {check.part} ({check.file or 'unknown file'}): {check.status}"
                         + (f" - {'; '.join(said)}" if said else "")
                         + "".join(f" [{note}]" for note in check.notes))
        lines.extend(f"  {name}: metadata cannot be read" for name in self.unreadable)
        lines.extend(f"  deletion log: {problem}" for problem in self.deletion_log)
        lines.append(f"  signatures {self.signatures}")
        return "\n".join(lines)


def _stem(meta: SegmentMetadata) -> str | None:
    base = basename_of(meta.file.name) if meta.file.name else None
    if base is None:
        return None
    suffix = f"_part{meta.chain.part}"
    return base.removesuffix(suffix)


@dataclass(frozen=True, slots=True)
class _Tombstone:
    """A deleted part as its deletion record kept it."""

    part: DeletedPart
    record: DeletionRecord

    @property
    def text(self) -> str:
        when = datetime.fromtimestamp(self.record.at).astimezone().strftime("%Y-%m-%d %H:%M %Z")
        return f"deleted by {self.record.by} on {when}" + (f" ({self.record.reason})" if self.record.reason else "")


@dataclass(frozen=True, slots=True)
class _Deletions:
    accepted: dict[int, _Tombstone]  # by part
    refused: dict[int, str]  # the refused records' problems by part
    log_problems: tuple[str, ...]  # the deletion log's chain problems (when the session has a record in it)
    checks: tuple[DeletionCheck, ...]


def _tombstones(folder: Path, session_id: str, ring: KeyRing | None) -> _Deletions:
    """The session's deletion records, accepted or refused by their signatures."""
    accepted: dict[int, _Tombstone] = {}
    refused: dict[int, str] = {}
    checks: list[DeletionCheck] = []
    mine = [r for r in read_deletions(folder) if r.session_id == session_id]
    for record in mine:
        problem = ring.check("deletion", record_content(record), record.signature) if ring is not None else None
        checks.append(DeletionCheck(
            tuple(p.part for p in record.parts), record.by, datetime.fromtimestamp(record.at).astimezone(),
            record.reason, record.signature.key_id if record.signature is not None else None,
            "not checked" if ring is None else "refused" if problem else "verified", problem))
        for part in record.parts:
            if problem is None:
                accepted[part.part] = _Tombstone(part, record)
            else:
                refused[part.part] = f"a deletion record by {record.by!r} names it but is refused: {problem}"
    return _Deletions(accepted, refused, tuple(verify_deletions(folder)) if mine else (), tuple(checks))


def _signature_problem(meta: SegmentMetadata, ring: KeyRing) -> tuple[str, str] | None:
    problem = ring.check("metadata", signed_content(meta), meta.signature)
    if problem is None:
        return None
    unsigned = meta.signature is None or meta.signature.key_id not in ring.keys
    return ("unsigned" if unsigned else "modified", f"metadata {problem}")


def verify_session(directory: str | os.PathLike[str], session_id: str, *,
                   keys: KeyRing | None = FROM_ENV) -> VerifyReport:
    """Check every part of ``session_id`` in ``directory`` against its metadata and the chain.

    A part is ``ok``; ``deleted`` (an accepted tombstone records its deletion: by an admin
    or by retention); ``modified`` (size or SHA-256 differs from its metadata, or its
    metadata's signature does not match); ``missing`` (its video is gone, or a part number
    before the last, or the next part its predecessor names, has no metadata nor
    tombstone); ``reordered`` (duplicate part numbers, or the previous hash/name, next name
    or chain hash do not line up with the neighbours); ``unsealed`` (no hash recorded yet:
    still recording or never sealed); or ``unsigned`` (a key is configured and the
    metadata has no signature, or one by a key not in the ring).

    ``keys``: the key ring that checks signatures; by default the one configured by
    FASTREC_SIGNING_KEY_FILE / FASTREC_SIGNING_KEY (raises
    :class:`~fastrec.storage.signing.SigningKeyError` when that cannot be used); None: no
    signature is checked, and the report says so.
    """
    ring = resolve_keys(keys)
    folder = Path(directory)
    found: list[SegmentMetadata] = []
    corrupt: list[tuple[Path, MetadataError]] = []
    for path, item in iter_metadata(folder):
        if isinstance(item, MetadataError):
            corrupt.append((path, item))
        elif item.session_id == session_id:
            found.append(item)
    found.sort(key=lambda m: (m.chain.part, m.start_time.timestamp(), m.file.name))

    stems = {s for s in map(_stem, found) if s}
    unreadable = tuple(p.name for p, _ in corrupt if any(p.name.startswith(s) for s in stems))

    by_part: dict[int, list[SegmentMetadata]] = {}
    for meta in found:
        by_part.setdefault(meta.chain.part, []).append(meta)
    deletions = _tombstones(folder, session_id, ring)
    tombs, refused = deletions.accepted, deletions.refused
    checks: list[SegmentCheck] = []
    last = max(by_part, default=0)
    expected = 1
    # what is there (or on record as deleted), never every number up to a claimed part
    for part in sorted(set(by_part) | set(tombs)):
        if part > expected:
            checks.append(_gap(expected, part - 1, by_part, refused))
        tomb = tombs.get(part)
        for meta in by_part.get(part, []):
            problems = _check_file(folder, meta) + _check_links(meta, by_part, tombs)
            if ring is not None and (signed := _signature_problem(meta, ring)) is not None:
                problems.append(signed)
            if tomb is not None and tomb.part.file == meta.file.name \
                    and all(kind == "missing" for kind, _ in problems):
                problems = []  # a deletion that was under way: the record says so
                checks.append(SegmentCheck(part, meta.file.name, "deleted", (), (tomb.text,)))
                continue
            checks.append(_verdict(part, meta, problems))
        if part not in by_part and tomb is not None:
            checks.append(SegmentCheck(part, tomb.part.file, "deleted", (), (tomb.text,)))
        expected = part + 1
    tail = by_part[last][-1] if last else None
    known = {m.file.name for m in found} | {t.part.file for t in tombs.values()}
    # a next part that is known elsewhere in the chain is a re-ordering, reported above
    if tail is not None and tail.chain.next_file and tail.chain.next_file not in known:
        video_left = (folder / tail.chain.next_file).is_file()
        checks.append(SegmentCheck(last + 1, tail.chain.next_file, "missing", (
            f"part {last} names it as the next part; no readable metadata"
            + (" (its video is still there)" if video_left else " and no video"),)))
    checks.sort(key=lambda c: c.part)
    if ring is None:
        how, checked = f"not checked: {NO_KEY}", False
    else:
        how, checked = f"checked ({len(ring.keys)} key(s) from {ring.source})", True
    return VerifyReport(session_id, folder, tuple(checks), unreadable, checked, how, deletions.log_problems,
                        deletions.checks)


def _gap(first: int, last: int, by_part: dict[int, list[SegmentMetadata]],
         refused: dict[int, str]) -> SegmentCheck:
    """One check for the missing parts ``first``..``last``, however many they are."""
    before = by_part.get(first - 1, [])
    after = by_part.get(last + 1, [])
    name = before[0].chain.next_file if before else None  # names the first missing part
    if name is None and first == last and after:
        name = after[0].chain.previous_file
    what = f"part {first}" if first == last else f"parts {first} to {last} ({last - first + 1} parts)"
    said = [f"no metadata for {what}"]
    said.extend(f"part {p}: {text}" for p, text in sorted(refused.items()) if first <= p <= last)
    return SegmentCheck(first, name, "missing", tuple(said))


def _check_file(folder: Path, meta: SegmentMetadata) -> list[tuple[str, str]]:
    name = meta.file.name
    if not name or Path(name).name != name:
        return [("modified", f"metadata names no plain video file ({name!r})")]
    # on disk, or in the object store once uploaded (fastrec.storage.videos)
    try:
        video = open_video(folder / name, decrypt=False)  # the SHA-256 is of the file as stored
    except FileNotFoundError:
        return [("missing", "video file is gone")]
    except OSError as exc:
        return [("missing", f"video cannot be read ({exc.strerror or exc})")]
    with video:
        where = "on disk" if video.local is not None else "in the object store"
        if meta.file.sha256 is None:
            return [("unsealed", f"no SHA-256 recorded (status {meta.status})")]
        if meta.file.size_bytes is not None and video.size != meta.file.size_bytes:
            return [("modified", f"size {video.size} bytes {where}, metadata says {meta.file.size_bytes}")]
        try:
            actual = sha256_stream(video.handle)
        except OSError as exc:
            return [("missing", f"video cannot be read ({exc.strerror or exc})")]
    if actual != meta.file.sha256:
        return [("modified", f"SHA-256 {actual[:12]}... {where}, {meta.file.sha256[:12]}... recorded")]
    return _check_chunks(folder / name) + _check_events(folder, meta)


def _check_chunks(path: Path) -> list[tuple[str, str]]:
    """An encrypted part's chunks authenticate with its keys (when this process has them):
    a check that holds even if its metadata was rewritten to match an altered file."""
    from fastrec.crypt.container import ChunkError
    from fastrec.crypt.context import chunk_problems

    try:
        problems = chunk_problems(path)
    except ChunkError as exc:
        return [("modified", f"encrypted: {exc}")]
    return [("modified", f"encrypted: {problem}") for problem in problems]


def _check_events(folder: Path, meta: SegmentMetadata) -> list[tuple[str, str]]:
    """The sealed part's events file against its recorded size and SHA-256."""
    info = meta.events
    if info is None or info.sha256 is None:
        return []
    name = info.name
    if not name or Path(name).name != name:
        return [("modified", f"metadata names no plain events file ({name!r})")]
    try:  # on disk, or in the object store once uploaded (fastrec.storage.videos)
        events = open_stored(folder / name)
    except FileNotFoundError:
        return [("missing", f"events file {name} is gone")]
    except OSError as exc:
        return [("missing", f"events file {name} cannot be read ({exc.strerror or exc})")]
    with events:
        where = "on disk" if events.local is not None else "in the object store"
        if info.size_bytes is not None and events.size != info.size_bytes:
            return [("modified", f"events file {name}: size {events.size} bytes {where}, "
                                 f"metadata says {info.size_bytes}")]
        try:
            actual = sha256_stream(events.handle)
        except OSError as exc:
            return [("missing", f"events file {name} cannot be read ({exc.strerror or exc})")]
    if actual != info.sha256:
        return [("modified", f"events file {name}: SHA-256 {actual[:12]}... {where}, "
                             f"{info.sha256[:12]}... recorded")]
    return []


def _check_links(meta: SegmentMetadata, by_part: dict[int, list[SegmentMetadata]],
                 tombs: dict[int, _Tombstone]) -> list[tuple[str, str]]:
    part, chain, problems = meta.chain.part, meta.chain, []
    if len(by_part[part]) > 1:
        problems.append(("reordered", f"{len(by_part[part])} segments claim part {part}"))
    if part == 1:
        if chain.previous_sha256 or chain.previous_file:
            problems.append(("reordered", f"part 1 names a previous part ({chain.previous_file})"))
        previous = None
    else:
        candidates = by_part.get(part - 1, [])
        previous = candidates[0] if len(candidates) == 1 else None
        # a part still being recorded may not carry its links yet; a sealed one must
        unlinked = meta.file.sha256 is None and chain.previous_sha256 is None and chain.previous_file is None
        tomb = tombs.get(part - 1) if not candidates else None
        if tomb is not None and not unlinked:  # the previous part was deleted: its tombstone kept its hashes
            if chain.previous_sha256 != tomb.part.sha256 or chain.previous_file != tomb.part.file:
                problems.append(("reordered", f"previous part is not the part {part - 1} deleted on record "
                                              f"({tomb.part.file})"))
            elif meta.file.sha256 is not None and tomb.part.chain_hash is not None \
                    and chain.chain_hash != chain_hash(tomb.part.chain_hash, meta.file.sha256, _events_sha(meta)):
                problems.append(("reordered", "chain hash does not follow from the deleted previous part"))
        if previous is not None and not unlinked:
            if chain.previous_sha256 != previous.file.sha256:
                problems.append(("reordered", f"previous SHA-256 does not match part {part - 1}"))
            if chain.previous_file != previous.file.name:
                text = f"previous file {chain.previous_file} is not part {part - 1} ({previous.file.name})"
                problems.append(("reordered", text))
            if previous.chain.next_file and previous.chain.next_file != meta.file.name:
                problems.append(("reordered", f"part {part - 1} names {previous.chain.next_file} as next"))
    # (this part's own next_file is checked from the next part's side, which is the one
    # out of place when the two disagree)
    # the chain hash can be recomputed only from a sealed predecessor (or none, for part 1)
    if meta.file.sha256 is not None and (part == 1 or (previous is not None and previous.chain.chain_hash)):
        expected = chain_hash(previous.chain.chain_hash if previous is not None else None, meta.file.sha256,
                              _events_sha(meta))
        if chain.chain_hash != expected:
            problems.append(("reordered", "chain hash does not follow from the previous part"))
    return problems


def _verdict(part: int, meta: SegmentMetadata, problems: list[tuple[str, str]]) -> SegmentCheck:
    notes: tuple[str, ...] = ()
    if meta.status == "interrupted":
        notes = ("interrupted" + (f": {'; '.join(meta.errors)}" if meta.errors else ""),)
    if not problems:
        return SegmentCheck(part, meta.file.name, "ok", (), notes)
    state: Any = max((kind for kind, _ in problems), key=_SEVERITY.__getitem__)
    return SegmentCheck(part, meta.file.name, state, tuple(text for _, text in problems), notes)
