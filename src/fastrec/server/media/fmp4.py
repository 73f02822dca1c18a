"""The fragment index of a fragmented MP4 part: what HLS needs to address it by byte ranges.

A part the recorder writes (:mod:`fastrec.engine.encoder.writer`) is ``ftyp`` and a
``moov`` whose ``mvex`` says the samples come in fragments (together: the init segment),
then ``moof``+``mdat`` fragments, and, once closed cleanly, the muxer's ``mfra`` index.
:func:`index_fragments` walks the top-level boxes and returns a :class:`FragmentIndex`:
the init byte range, the video track's timescale and, per fragment, its byte range, its
decode start and duration (``tfdt``, ``trun``/``tfhd``/``trex`` sample durations),
whether it opens with a sync sample (decoding can start there), and its samples'
presentation times.

Invariants:

- Only whole boxes count.  A header cut short, a box that runs past the end of the file,
  a ``moof`` whose ``mdat`` is not whole yet, or zeros where a box header should be is the
  torn tail of a file still being written (or cut by a crash): it is left out, never an
  error.  A file whose ``ftyp`` and ``moov`` are not whole yet (a part just opened) has an
  index with no fragments and ``init_size`` 0.  The recorder never rewrites a part, so the
  index of the same file later lists the same fragments and perhaps more.
- ``mdat`` payloads are never read: the walk seeks over them.  Only box headers and the
  bodies of ``moov`` and ``moof`` (a few hundred bytes each) are read.
- A file that is not a fragmented MP4 with a video track (a plain MP4, whose samples sit
  in one ``mdat`` indexed by the ``moov``; anything else), or whose boxes contradict
  themselves, raises :class:`FragmentIndexError` naming the file and the problem; so does
  a file that cannot be opened.  Links are not followed.
- The file is opened through :func:`fastrec.storage.videos.open_video`: the disk, or the
  object store (range requests) for a part uploaded and no longer kept locally.
- Indexes are cached (a small LRU, by path, file identity, size and modification time), so
  rebuilding a multi-hour session's playlist reads only what changed: a sealed part is
  read once; a part still growing is read on from the end of its last whole fragment.
"""

from __future__ import annotations

import hashlib
import os
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fastrec.storage.videos import VideoFile, open_video

__all__ = ["CACHE_SIZE", "Fragment", "FragmentIndex", "FragmentIndexError", "index_fragments"]

CACHE_SIZE = 64  # parts whose index is kept: a day of 30-minute parts for one session, or many sessions' live parts
MAX_BOX_READ = 16 * 1024 * 1024  # a moov or moof larger than this is not one of ours (it is read whole)

_HEADER = struct.Struct(">I4s")
_U64 = struct.Struct(">Q")
_NON_SYNC = 0x00010000  # sample_is_non_sync_sample in the sample flags (ISO/IEC 14496-12 8.8.3.1)


class FragmentIndexError(ValueError):
    """A file that cannot be indexed as a fragmented MP4: ``path`` names it, ``problem`` says why."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True, slots=True)
class Fragment:
    """One ``moof`` and its ``mdat``: bytes ``offset`` .. ``offset + size`` of the file."""

    offset: int
    size: int
    start: float  # decode time of its first sample, seconds of the track's media time
    duration: float  # seconds: the sum of its samples' durations
    keyframe: bool  # its first sample is a sync sample: a decoder can start here
    sample_times: tuple[float, ...]  # presentation time of each sample, seconds

    @property
    def end(self) -> float:
        """Decode time just after its last sample."""
        return self.start + self.duration


@dataclass(frozen=True, slots=True)
class FragmentIndex:
    """The whole fragments of a fragmented MP4 file as it was when indexed."""

    path: Path
    size: int  # the file's size when indexed
    mtime_ns: int
    init_size: int  # bytes 0 .. init_size: ftyp + moov, the init segment (HLS EXT-X-MAP)
    timescale: int  # of the video track (its mdhd)
    track_id: int
    fragments: tuple[Fragment, ...]
    # The muxer's closing mfra index follows the last fragment: the file was closed
    # cleanly and no more fragments will come.  A part cut by a crash never has one.
    complete: bool
    end: int  # after the last whole box read; size - end bytes are a torn tail (or more to come)

    @property
    def duration(self) -> float:
        """Seconds of media from the first fragment's start to the last one's end."""
        return self.fragments[-1].end - self.fragments[0].start if self.fragments else 0.0

    @property
    def frames(self) -> int:
        return sum(len(f.sample_times) for f in self.fragments)


@dataclass(frozen=True, slots=True)
class _Track:
    """What the moov says about the video track's fragments."""

    track_id: int
    timescale: int
    default_duration: int  # trex defaults, used where tfhd and trun give none
    default_flags: int
    init_size: int
    init_digest: bytes  # of the init bytes: a file replaced under the same inode is re-read


@dataclass(frozen=True, slots=True)
class _Entry:
    identity: tuple[object, ...]  # the VideoFile's: device and inode, or key and ETag
    size: int
    mtime_ns: int
    index: FragmentIndex
    track: _Track | None  # None: the header was not whole
    decode_end: int  # media time (timescale units) after the last fragment: a tfdt-less one starts here
    last_moof: bytes  # digest of the last fragment's moof: a file rewritten in place is read afresh


Fail = Callable[[str], FragmentIndexError]

_cache: OrderedDict[str, _Entry] = OrderedDict()
_lock = threading.Lock()


def index_fragments(path: str | os.PathLike[str]) -> FragmentIndex:
    """The :class:`FragmentIndex` of the fragmented MP4 at ``path`` as it is now.

    Raises :class:`FragmentIndexError` for a file that cannot be opened, is not a
    fragmented MP4 with a video track, or is damaged; a torn tail is left out silently.
    Thread-safe; cached (see the module's invariants).
    """
    source = Path(path)
    key = os.path.abspath(source)
    try:
        video = open_video(source)
    except OSError as exc:
        raise FragmentIndexError(source, f"cannot be opened ({exc.strerror or exc})") from exc
    with video:
        with _lock:
            entry = _cache.get(key)
            if entry is not None:
                _cache.move_to_end(key)
        if entry is not None and (entry.identity, entry.size, entry.mtime_ns) == (
                video.identity, video.size, video.mtime_ns):
            return entry.index
        try:
            fresh = _Walk(video, source, entry).run()
        except OSError as exc:
            raise FragmentIndexError(source, f"cannot be read ({exc.strerror or exc})") from exc
        with _lock:
            _cache[key] = fresh
            _cache.move_to_end(key)
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
        return fresh.index


class _Torn(Exception):
    """The rest of the file is not a whole box (yet)."""


class _Walk:
    """One pass over a file's top-level boxes, resumed from ``previous`` when the file is
    the same one grown since."""

    def __init__(self, video: VideoFile, path: Path, previous: _Entry | None) -> None:
        self.handle, self.path, self.size = video.handle, path, video.size
        self.video = video
        self.previous = previous

    def fail(self, problem: str) -> FragmentIndexError:
        return FragmentIndexError(self.path, problem)

    def run(self) -> _Entry:
        track = self._init()
        if track is None:  # the header is not whole yet: a part just opened
            index = FragmentIndex(self.path, self.size, self.video.mtime_ns, 0, 0, 0, (), False, 0)
            return _Entry(self.video.identity, self.size, self.video.mtime_ns, index, None, 0, b"")
        fragments: list[Fragment] = []
        position, decode_end = track.init_size, 0
        p = self.previous
        if (p is not None and p.identity == self.video.identity and not p.index.complete
                and p.size <= self.size and p.track == track and self._last_moof(p.index.fragments) == p.last_moof):
            # the same file, grown: what was whole then is unchanged (parts are never rewritten)
            fragments, position, decode_end = list(p.index.fragments), p.index.end, p.decode_end
        complete = False
        while True:
            try:
                box = self._header(position)
            except _Torn:
                break
            kind, start, header, end = box
            if kind == b"moof":
                try:
                    mdat = self._header(end)
                except _Torn:
                    break  # its mdat is not whole yet
                if mdat[0] != b"mdat":
                    raise self.fail(f"damaged: the moof at byte {start} is followed by "
                                    f"{_name(mdat[0])}, not its mdat")
                fragment, decode_end = self._fragment(track, start, header, end, mdat[3], decode_end)
                if fragment is not None:
                    fragments.append(fragment)
                position, complete = mdat[3], False
                continue
            if kind in (b"moov", b"ftyp"):
                raise self.fail(f"damaged: a second {_name(kind)} at byte {start}")
            complete = kind == b"mfra"  # the trailer: nothing is appended after it
            position = end
        index = FragmentIndex(self.path, self.size, self.video.mtime_ns, track.init_size, track.timescale,
                              track.track_id, tuple(fragments), complete and position == self.size, position)
        return _Entry(self.video.identity, self.size, self.video.mtime_ns, index, track, decode_end,
                      self._last_moof(index.fragments))

    def _last_moof(self, fragments: Sequence[Fragment]) -> bytes:
        if not fragments:
            return b""
        last = fragments[-1]
        try:
            size = int.from_bytes(self._read(last.offset, 4), "big")
            return hashlib.sha256(self._read(last.offset, min(size, MAX_BOX_READ))).digest()
        except _Torn:
            return b"gone"

    # --- boxes ----------------------------------------------------------------------------

    def _read(self, offset: int, length: int) -> bytes:
        self.handle.seek(offset)
        data = self.handle.read(length)
        if len(data) < length:
            raise _Torn
        return data

    def _header(self, position: int) -> tuple[bytes, int, int, int]:
        """(type, start, header length, end) of the whole box at ``position``; _Torn if
        the file does not hold one there (yet)."""
        if position + _HEADER.size > self.size:
            raise _Torn
        size, kind = _HEADER.unpack(self._read(position, _HEADER.size))
        header = _HEADER.size
        if size == 1:
            size, header = _U64.unpack(self._read(position + header, _U64.size))[0], header + _U64.size
        elif size == 0:
            if kind == b"\0\0\0\0":
                raise _Torn  # zeros: blocks allocated but never written before a crash
            size = self.size - position  # "to the end of the file"
        if not all(32 < c < 127 for c in kind):
            raise _Torn  # not a box header: garbage a crash left, or another writer's tail
        if size < header:
            raise self.fail(f"damaged: the {_name(kind)} box at byte {position} declares {size} bytes")
        if position + size > self.size:
            raise _Torn
        return kind, position, header, position + size

    def _init(self) -> _Track | None:
        """The video track as the moov describes it; None while the header is not whole."""
        if self.size >= _HEADER.size and self._read(4, 4) != b"ftyp":
            raise self.fail(f"not an MP4 file: it starts with {_name(self._read(4, 4))}, not ftyp")
        try:
            _, _, _, position = self._header(0)
        except _Torn:
            return None
        while True:
            try:
                kind, start, header, end = self._header(position)
            except _Torn:
                return None
            if kind == b"moov":
                break
            if kind in (b"moof", b"mdat"):
                raise self.fail(f"not a fragmented MP4: {_name(kind)} at byte {start} before any moov")
            position = end
        if end - start > MAX_BOX_READ:
            raise self.fail(f"not a fragmented MP4 of ours: its moov holds {end - start} bytes")
        moov = self._read(start, end - start)
        return self._track(moov, header, end, hashlib.sha256(self._read(0, end)).digest())

    def _track(self, moov: bytes, header: int, init_size: int, digest: bytes) -> _Track:
        video: tuple[int, int] | None = None  # (track_ID, timescale)
        trex: dict[int, tuple[int, int]] = {}
        fragmented = False
        for kind, body in _children(moov, header, len(moov), self.fail):
            if kind == b"trak" and video is None:
                video = self._video_trak(body)
            elif kind == b"mvex":
                fragmented = True
                for child, data in _children(body, 0, len(body), self.fail):
                    if child == b"trex":
                        if len(data) < 24:
                            raise self.fail("damaged: a trex box is too short")
                        track_id, _, duration, _, flags = struct.unpack(">IIIII", data[4:24])
                        trex[track_id] = (duration, flags)
        if not fragmented:
            raise self.fail("not a fragmented MP4: its moov has no mvex (a plain MP4, "
                            "whose samples are not in fragments)")
        if video is None:
            raise self.fail("no video track in its moov")
        track_id, timescale = video
        duration, flags = trex.get(track_id, (0, 0))
        return _Track(track_id, timescale, duration, flags, init_size, digest)

    def _video_trak(self, trak: bytes) -> tuple[int, int] | None:
        track_id = timescale = None
        handler = b""
        for kind, body in _children(trak, 0, len(trak), self.fail):
            if kind == b"tkhd":
                track_id = _field(body, 20 if body[:1] == b"\x01" else 12, 4, "tkhd", self.fail)
            elif kind == b"mdia":
                for child, data in _children(body, 0, len(body), self.fail):
                    if child == b"mdhd":
                        timescale = _field(data, 20 if data[:1] == b"\x01" else 12, 4, "mdhd", self.fail)
                    elif child == b"hdlr":
                        handler = data[8:12]
        if handler != b"vide":
            return None
        if not track_id or not timescale:
            raise self.fail("damaged: the video track has no track id or no timescale")
        return track_id, timescale

    def _fragment(self, track: _Track, start: int, header: int, end: int, mdat_end: int,
                  decode_end: int) -> tuple[Fragment | None, int]:
        """The fragment whose moof is bytes ``start``..``end`` (its mdat ends at
        ``mdat_end``), and the decode time after it; None for a fragment without samples
        of the video track."""
        if end - start > MAX_BOX_READ:
            raise self.fail(f"damaged: the moof at byte {start} declares {end - start} bytes")
        moof = self._read(start, end - start)
        durations: list[int] = []
        offsets: list[int] = []
        first_flags: int | None = None
        base: int | None = None
        for kind, traf in _children(moof, header, len(moof), self.fail):
            if kind != b"traf":
                continue
            tfhd = tfdt = None
            runs: list[bytes] = []
            for child, body in _children(traf, 0, len(traf), self.fail):
                if child == b"tfhd":
                    tfhd = body
                elif child == b"tfdt":
                    tfdt = body
                elif child == b"trun":
                    runs.append(body)
            if tfhd is None:
                raise self.fail(f"damaged: a traf without tfhd in the moof at byte {start}")
            if _field(tfhd, 4, 4, "tfhd", self.fail) != track.track_id:
                continue
            default_duration, default_flags = self._tfhd_defaults(tfhd, track, start)
            if tfdt is not None and base is None:
                wide = tfdt[:1] == b"\x01"
                base = _field(tfdt, 4, 8 if wide else 4, "tfdt", self.fail)
            for run in runs:
                flags = self._trun(run, default_duration, default_flags, durations, offsets, start)
                if first_flags is None and flags is not None:
                    first_flags = flags
        if not durations:
            return None, decode_end
        base = decode_end if base is None else base
        scale = track.timescale
        times, t = [], base
        for duration, offset in zip(durations, offsets, strict=True):
            times.append((t + offset) / scale)
            t += duration
        keyframe = first_flags is not None and not first_flags & _NON_SYNC
        fragment = Fragment(start, mdat_end - start, base / scale, (t - base) / scale, keyframe, tuple(times))
        return fragment, t

    def _tfhd_defaults(self, tfhd: bytes, track: _Track, moof: int) -> tuple[int, int]:
        flags = int.from_bytes(tfhd[1:4], "big")
        position = 8
        if flags & 0x01:
            position += 8  # base_data_offset
        if flags & 0x02:
            position += 4  # sample_description_index
        duration, sample_flags = track.default_duration, track.default_flags
        if flags & 0x08:
            duration = _field(tfhd, position, 4, "tfhd", self.fail)
            position += 4
        if flags & 0x10:
            position += 4  # default_sample_size
        if flags & 0x20:
            sample_flags = _field(tfhd, position, 4, "tfhd", self.fail)
        return duration, sample_flags

    def _trun(self, trun: bytes, default_duration: int, default_flags: int, durations: list[int],
              offsets: list[int], moof: int) -> int | None:
        """Appends the run's sample durations and composition offsets; returns the flags
        of its first sample (None for an empty run)."""
        if len(trun) < 8:
            raise self.fail(f"damaged: a trun box in the moof at byte {moof} is too short")
        version, flags = trun[0], int.from_bytes(trun[1:4], "big")
        count = int.from_bytes(trun[4:8], "big")
        position = 8 + (4 if flags & 0x01 else 0)
        first: int | None = None
        if flags & 0x04:
            first = _field(trun, position, 4, "trun", self.fail)
            position += 4
        fields = [(bit, 4) for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit]
        record = 4 * len(fields)
        if position + count * record > len(trun):
            raise self.fail(f"damaged: a trun in the moof at byte {moof} declares {count} samples "
                            f"but holds {max(0, len(trun) - position) // max(record, 1)}")
        for i in range(count):
            values = {bit: trun[position + 4 * k: position + 4 * k + 4] for k, (bit, _) in enumerate(fields)}
            position += record
            duration = int.from_bytes(values[0x100], "big") if 0x100 in values else default_duration
            offset = int.from_bytes(values[0x800], "big", signed=version == 1) if 0x800 in values else 0
            sample_flags = int.from_bytes(values[0x400], "big") if 0x400 in values else default_flags
            if i == 0 and first is None:
                first = sample_flags
            durations.append(duration)
            offsets.append(offset)
        return first if count else None


def _children(data: bytes, start: int, end: int, fail: Fail) -> list[tuple[bytes, bytes]]:
    """The (type, body) of each box inside ``data[start:end]``, bodies without headers
    (a full box's version and flags stay in its body)."""
    out: list[tuple[bytes, bytes]] = []
    position = start
    while position + _HEADER.size <= end:
        size, kind = _HEADER.unpack_from(data, position)
        header = _HEADER.size
        if size == 1 and position + 16 <= end:
            size, header = _U64.unpack_from(data, position + 8)[0], 16
        elif size == 0:
            size = end - position
        if size < header or position + size > end:
            raise fail(f"damaged: a {_name(kind)} box inside another runs past its end")
        out.append((kind, data[position + header: position + size]))
        position += size
    return out


def _field(body: bytes, offset: int, length: int, box: str, fail: Fail) -> int:
    if offset + length > len(body):
        raise fail(f"damaged: a {box} box is too short")
    return int.from_bytes(body[offset: offset + length], "big")


def _name(kind: bytes) -> str:
    return repr(kind.decode("latin-1"))
