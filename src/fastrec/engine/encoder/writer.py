"""One session's frames into rotating H.264 segment files.

Each segment is a fragmented MP4, written once and never rewritten: ``ftyp`` and an empty
``moov`` (the init segment), then ``moof``+``mdat`` fragments, each flushed to the OS
whole, and on a clean close the muxer's ``mfra`` index of the keyframes.  So:

- a recorder killed at any moment leaves a file that plays up to its last fragment (about
  a second of frames); the header is on disk as soon as the segment opens, before the
  encoder has produced a packet, so even a part killed before its first fragment opens as
  a video (of 0 frames), not as a 0-byte file;
- every part - being written, closed, or cut short by a crash - is addressable by byte
  ranges (HLS, :mod:`fastrec.server.media`): a fragment starts at every keyframe
  (``frag_keyframe``) and at least every second (``frag_duration``), and keyframes (IDR
  frames) come as :mod:`fastrec.engine.encoder.keyframes` schedules them - at the latest
  every ``keyframe_interval`` seconds of capture time in which frames come -, so a player
  can start decoding at any fragment that opens with one;
- the bytes a live viewer fetched while the part grew are the bytes there once it is
  closed: closing appends, it does not remux (which moved every fragment; an earlier
  version remuxed to a plain MP4 with its index first).  ffprobe reads the duration and
  FFmpeg seeks through the ``mfra`` index.

Encrypted (``encryption``: the session's key, :mod:`fastrec.crypt`), a segment is written
through a :class:`~fastrec.crypt.container.ChunkWriter`: the muxer's bytes collect in memory
and are sealed as one AEAD chunk each time the file would otherwise end on a whole fragment
(after the header, after each muxed fragment, after the trailer), so the guarantees above
hold for the decrypted file: every complete chunk decrypts, and a torn chunk at the end is
what a crash can leave (cut off like a torn fragment).

Rotation (by size or duration) flushes the old encoder into the old file and starts a
fresh one whose first frame is a keyframe: the frame that triggered it is written once, in
the new segment, and the old segment's last frame lasts until it, so consecutive parts
abut in time (an idle stretch before a rotation stays in the old part).  A closed segment is made durable (fsync) on a finisher thread, so a
rotation never holds up the next segment's frames; the callbacks run on that thread too,
in order: segment N is reported closed before segment N+1 is reported open.

Invariants:

- The writer never truncates, overwrites or writes through anything it did not create: each
  segment file is created with O_CREAT|O_EXCL|O_NOFOLLOW (mode 0600) and FFmpeg writes through
  that descriptor, never reopening the name.  A part name that is taken - by a worker that
  died before the supervisor heard of that part, or by anything else, such as a planted
  symlink - is left alone and reported; the segment takes the next free part number.  So a
  replacement worker, which starts from the last part the supervisor heard of, cannot
  destroy what a dead one was still writing.
- A segment is reported closed only once its bytes are durable (fsync of the file and of
  its directory), so the SHA-256 sealed into its metadata matches what survives a power loss.
- Presentation timestamps (milliseconds since the segment's first frame) strictly increase
  within a segment, as the muxer requires: a frame that rounds onto its predecessor's
  millisecond is shown 1 ms later rather than dropped, so every frame handed in is in the file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from fastrec.checks import check_number
from fastrec.crypt.container import ChunkWriter
from fastrec.crypt.context import SegmentEncryption, new_segment
from fastrec.engine.encoder.fragment_flush import flush_fragment
from fastrec.engine.encoder.keyframes import KeyframeSchedule
from fastrec.engine.protocol import SegmentInfo, SegmentPolicy
from fastrec.storage.files import create_private, fsync_dir

if TYPE_CHECKING:  # imported where frames are encoded: the supervisor imports this module for
    import av      # EncoderSettings alone, and PyAV costs ~0.1 CPU-s and ~20 MB in a process
    import numpy as np  # so do numpy and the compiled core (hints, convert): issue 14

TIME_BASE = Fraction(1, 1000)  # millisecond timestamps: variable frame rate at capture times
# Fragments at every keyframe and at least every second, so a crash loses about a second.
FRAGMENTED_MP4 = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "frag_duration": "1000000",
    "flush_packets": "1",  # hand each fragment to the OS at once, not when a 256 kB buffer fills
}
# Part names taken in a row (by a dead worker's parts or planted files) before giving up.
MAX_TAKEN_PARTS = 1000


@dataclass(frozen=True, slots=True)
class EncoderSettings:
    """How a session's frames are encoded."""

    width: int
    height: int
    crf: int = 23
    preset: str = "veryfast"
    fps_hint: int = 10  # x264's rate control assumes this frame rate
    # Seeking points: the first frame at least this many seconds of capture time after the
    # last keyframe is encoded as an IDR frame (with frag_keyframe it opens a fragment, so a
    # player can start decoding there), or the first frame 300 frames after it, whichever
    # comes first (fastrec.engine.encoder.keyframes).  No frame comes in while
    # nothing changes, so an idle stretch costs nothing, not even a keyframe.
    keyframe_interval: float = 60.0
    # Frames come in only when something changed, and keyframes are forced by the capture
    # clock (above, and FrameFlags.KEYFRAME), so scene-cut detection is off.  No B-frames:
    # with variable frame rate their reorder delay is two frames' worth of *time* (4 s on an
    # idle screen shifted a file's timeline), and they hold frames back from the crash-safe
    # fragments.  No lookahead (so no macroblock tree, which needs it): at 1080p the default
    # 10-frame lookahead held ~65 MB.  On the e2e workload (scripts/ab_x264.py, same frames
    # for each) this alone gave +2% size at +1.9 dB Y-PSNR; the I-frame QP ratio 1.4 -> 1.2
    # (keyframes are forced every few seconds for seeking, not at scene changes) then gave
    # -3.6% size at +1.3 dB against the defaults with lookahead.  (force-cfr=1 would return
    # each frame at once instead of with the next - x264 holds one back to learn its
    # duration - but cost 0.9 dB Y-PSNR for 3.4% less size on that workload: the capture loop
    # sends a session's second frame at once instead, see capture_loop.)  Against ffmpeg's veryfast
    # at equal SSIM (issue 14, benchmarks/README.md "x264 at equal SSIM") a 3-frame lookahead
    # with mbtree is the one setting that pays on text, scroll and video alike (-2..-10%),
    # but it holds every frame until three more come - and frames come only when the screen
    # changes, so a session's first picture would wait - and adds ~28 MB; subme=4 pays on
    # scrolls only, at +40% CPU; tune=ssim (aq-mode=2) costs bytes; psy is inert at subme 2.
    # qcomp 0.6 -> 0.7 (less of the bit budget follows complexity) is smaller at equal SSIM on
    # all three (-3.4% text, -1.8% scroll, -0.3% video) at the same CPU and memory.
    x264_params: str = ("scenecut=0:keyint=infinite:bframes=0:rc-lookahead=0:mbtree=0:ipratio=1.2:weightp=0"
                        ":qcomp=0.7")
    threads: int = 1  # frame threads: each holds another frame (~12 MB at 1080p), no CPU saved here
    # Hand libx264 the frame's dirty rectangles (FFmpeg's mb_info option): macroblocks outside
    # them are coded as unchanged without analysis (fastrec.engine.encoder.hints); -6% encoder
    # CPU when typing, the same bytes at equal SSIM.
    mb_info: bool = True

    def __post_init__(self) -> None:
        check_number("keyframe_interval", self.keyframe_interval, 0.1, 3600.0)


class _SegmentFile:
    """FFmpeg's output for one segment: the descriptor the writer created the file with.

    Every write reaches the OS whole before FFmpeg goes on (so with ``flush_packets`` the
    file ends on a whole fragment).  It has no ``close``: the writer closes the descriptor
    itself, after the container, so a failed segment can still be cut back through it.
    """

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.name = str(path)  # PyAV names the file in its errors

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        return len(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return os.lseek(self.fd, offset, whence)

    def tell(self) -> int:
        return os.lseek(self.fd, 0, os.SEEK_CUR)

    def seal(self, final: bool = False) -> None:
        """Nothing to do: every write is on the OS already (see ChunkWriter for encryption)."""


class SegmentWriter:
    """Encode frames into ``path_for(part)`` files, rotating by ``policy``; a context manager.

    ``on_open`` is called with (part, path, first_timestamp) when a segment starts - the
    capture time of the frame at its pts 0 -, ``on_segment`` with its
    :class:`SegmentInfo` when it is closed, ``on_taken`` with (part, path) for a part name
    that was already taken and so left alone - all from the writer's finisher thread.
    """

    def __init__(self, session_id: str, settings: EncoderSettings, policy: SegmentPolicy,
                 path_for: Callable[[int], Path],
                 on_segment: Callable[[SegmentInfo], None] | None = None, first_part: int = 1,
                 on_open: Callable[[int, Path, float], None] | None = None,
                 on_taken: Callable[[int, Path], None] | None = None,
                 encryption: SegmentEncryption | None = None) -> None:
        self.session_id = session_id
        self._encryption = encryption
        self.settings = settings
        self.policy = policy
        self._path_for = path_for
        self._on_segment = on_segment
        self._on_open = on_open
        self._on_taken = on_taken
        self._part = first_part - 1
        self._out: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._file: _SegmentFile | ChunkWriter | None = None
        self._path: Path | None = None
        self._first = self._last = 0.0
        self._keyframe_due = KeyframeSchedule(settings.keyframe_interval)  # across segments
        self._last_pts = -1
        self._hintable = True  # the previous frame handed in was encoded: rects apply
        self._frames = self._keyframes = self._bytes = self._good_size = 0
        self.segments: list[SegmentInfo] = []  # complete once close() has returned
        self._finisher: ThreadPoolExecutor | None = None
        self._finishing: list[Future[None]] = []

    @property
    def part(self) -> int:
        """The part number of the segment being written (0 before the first frame)."""
        return self._part

    @property
    def path(self) -> Path | None:
        """The file being written, if any."""
        return self._path

    def write(self, pixels: np.ndarray, timestamp: float, keyframe: bool = False,
              rects: np.ndarray | None = None) -> None:
        """Encode one I420 frame (``(height * 3 / 2, width)`` uint8) captured at ``timestamp``
        (seconds, any origin; the capture clock).  It is a keyframe when ``keyframe`` asks
        for one (a new picture), when it opens a segment, or when it comes at least
        the session's :class:`~fastrec.engine.encoder.keyframes.KeyframeSchedule` says so
        (at the latest ``settings.keyframe_interval`` seconds after the last keyframe).

        ``rects`` (n x 4: x, y, width, height), if given, promise that the frame differs from
        the previous one handed to ``write`` only inside them: libx264 then skips analysing
        the rest (``settings.mb_info``)."""
        import av  # in sys.modules after the first frame (see the imports)

        if self._out is not None and timestamp < self._last:
            self._hintable = False  # the next frame differs from the last encoded one by more
            return  # a clock that steps back would make the file unplayable
        hintable, self._hintable = self._hintable, True
        if self._out is None or self._rotation_due(timestamp):
            self._close_segment(finalize=True, until=timestamp)
            self._open_segment(timestamp)
            keyframe = True
        assert self._stream is not None and self._out is not None
        frame = av.VideoFrame.from_numpy_buffer(pixels, format="yuv420p")
        from fastrec.core.convert import tag_colours  # numpy, the core: the worker's only

        tag_colours(frame)
        # Strictly increasing, or the muxer refuses the packet (EINVAL): a frame less than
        # 1 ms after the previous one (the session's final frame at stop time, typically)
        # is shown 1 ms later.  Dropping it instead would end the video before the session.
        pts = max(round((timestamp - self._first) / TIME_BASE), self._last_pts + 1)
        frame.pts = self._last_pts = pts
        frame.time_base = TIME_BASE
        if self._keyframe_due.decide(timestamp, asked=keyframe):
            frame.pict_type = av.video.frame.PictureType.I  # an IDR frame (forced-idr below)
            self._keyframes += 1
        elif rects is not None and hintable and self.settings.mb_info:
            from fastrec.engine.encoder.hints import attach as attach_hint  # numpy: the worker's only

            attach_hint(frame, rects)  # without it (an FFmpeg that lacks the API) all is analysed
        packets = self._stream.encode(frame)  # the frame before this one (x264 holds one back)
        first = self._bytes == 0 and bool(packets)
        if first:  # the segment's first frame lasts until this one
            packets[0].duration = max(1, pts - (packets[0].pts or 0))
        # ... and goes to disk at once: the muxer would hold its fragment until the next
        # packet (on an idle screen, until something changes)
        self._mux(self._out, packets, flush=first)
        self._frames += 1
        self._last = timestamp

    def close(self, finalize: bool = True) -> list[SegmentInfo]:
        """Flush and close the current segment, wait for the finisher; returns every
        segment written."""
        try:
            self._close_segment(finalize)
        finally:
            pending, self._finishing = self._finishing, []
            try:
                for future in pending:
                    future.result()  # a finisher error (the on_segment callback's) surfaces here
            finally:
                if self._finisher is not None:
                    self._finisher.shutdown()
                    self._finisher = None
        return self.segments

    def __enter__(self) -> SegmentWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        # after an error the segment is reported not finalized: the session failed
        self.close(finalize=exc_type is None)

    def _rotation_due(self, timestamp: float) -> bool:
        p = self.policy
        return ((p.max_bytes is not None and self._bytes >= p.max_bytes)
                or (p.max_seconds is not None and timestamp - self._first >= p.max_seconds))

    def _create_part(self) -> tuple[Path, int]:
        """The next free part's path and the descriptor of the file just created there."""
        for _ in range(MAX_TAKEN_PARTS):
            self._part += 1
            path = Path(self._path_for(self._part))
            try:
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                try:
                    # 0600 (recordings hold what was on screen), and never an existing name
                    return path, create_private(path)
                except FileExistsError:
                    if self._on_taken is not None:
                        self._later(self._on_taken, self._part, path)
            except OSError as exc:
                if exc.errno is None:  # fastrec's own refusal (UnsafeDirectory): it names the fix
                    raise
                raise OSError(exc.errno, f"cannot write recording {path}: {exc.strerror}") from exc
        raise FileExistsError(f"cannot write recording: {MAX_TAKEN_PARTS} part names up to {path} "
                              "are taken already")

    def _open_segment(self, timestamp: float) -> None:
        path, fd = self._create_part()
        self._path = path
        if self._encryption is None:
            self._file = _SegmentFile(fd, path)
        else:  # a fresh data key per segment; its header is on disk at once
            header, data_key = new_segment(self._encryption, self._part)
            self._file = ChunkWriter(fd, header, data_key, str(path))
        self._first = self._last = timestamp
        self._last_pts = -1
        self._frames = self._keyframes = self._bytes = self._good_size = 0
        # reported at once: every file the writer creates is reported opened, then closed
        if self._on_open is not None:
            self._later(self._on_open, self._part, path, timestamp)
        s = self.settings
        import av  # see the imports

        try:
            out = av.open(self._file, "w", format="mp4", options=FRAGMENTED_MP4)
        except BaseException as exc:
            self._finish_later(finalized=False, error=_describe(exc))
            raise
        try:
            stream = out.add_stream("libx264", rate=s.fps_hint)
            stream.width, stream.height, stream.pix_fmt = s.width, s.height, "yuv420p"
            stream.time_base = TIME_BASE
            stream.codec_context.time_base = TIME_BASE
            from fastrec.core.convert import tag_colours  # numpy, the core: the worker's only

            tag_colours(stream.codec_context)
            # forced-idr: a forced I frame is an IDR, so no frame after it refers to one before
            # it - a player that starts there (a seek, a live viewer joining) decodes it all
            stream.options = {"crf": str(s.crf), "preset": s.preset, "x264-params": s.x264_params,
                              "forced-idr": "1", **({"mb_info": "1"} if s.mb_info else {})}
            stream.codec_context.thread_count = s.threads
            # The header now, not with the first packet (x264 holds the first frame back
            # until the second): with flush_packets it is on disk at once.
            out.start_encoding()
            self._file.seal()  # the init segment: a chunk of its own
        except BaseException as exc:
            self._abandon(out, exc)  # a half-written header is cut back to nothing
            raise
        self._out, self._stream = out, stream
        self._good_size = os.fstat(fd).st_size

    def _mux(self, out: av.container.OutputContainer, packets: list[av.Packet], flush: bool = False) -> None:
        try:
            out.mux(packets)
            if flush and packets:
                flush_fragment(out)
        except Exception as exc:
            self._abandon(out, exc)
            raise
        self._bytes += sum(packet.size for packet in packets)
        if packets:
            # with flush_packets the file now ends on a whole fragment (or on the header):
            # encrypted, that fragment becomes one chunk, written whole
            assert self._file is not None
            try:
                self._file.seal()
            except OSError as exc:
                self._abandon(out, exc)
                raise
            self._good_size = os.fstat(self._file.fd).st_size

    def _abandon(self, out: av.container.OutputContainer, exc: BaseException) -> None:
        """A write failed (disk full...): keep the file as it was after the last good write,
        which plays; a half-written fragment at its end would not.  The segment is reported
        with ``exc`` as its error."""
        self._out = self._stream = None
        try:
            out.close()
        except Exception:
            pass  # the trailer cannot be written either; it is cut off below
        if self._file is None:
            return  # abandoned already (a failed flush, then its failed trailer)
        try:
            os.ftruncate(self._file.fd, self._good_size)
        except OSError:
            pass
        self._finish_later(finalized=False, error=_describe(exc))

    def _close_segment(self, finalize: bool, until: float | None = None) -> None:
        """Flush and close the segment; ``until``: the capture time of the next segment's
        first frame, which the last frame lasts until - so the parts of a session abut, an
        idle stretch before a rotation included (the muxer guesses a frame interval else)."""
        if self._out is None:
            return
        out, stream = self._out, self._stream
        assert stream is not None
        try:
            packets = stream.encode(None)  # the frames x264 still holds (it holds one back)
            if until is not None and packets and packets[-1].pts is not None:
                last = packets[-1]
                end = round((until - self._first) / last.time_base)
                last.duration = max(1, end - last.pts)
            self._mux(out, packets)
            out.close()  # the trailer
            assert self._file is not None
            self._file.seal(final=True)  # encrypted: the chunk that says the file is whole
        except Exception as exc:
            self._abandon(out, exc)  # reported as it was after its last whole fragment
            raise
        self._out = self._stream = None
        self._finish_later(finalized=finalize)

    def _finish_later(self, finalized: bool, error: str | None = None) -> None:
        """Hand the segment's file over to the finisher thread, which makes it durable,
        closes it and reports it."""
        assert self._path is not None and self._file is not None
        fd, self._file = self._file.fd, None
        info = SegmentInfo(self.session_id, self._part, self._path, self._first, self._last,
                           self._frames, self._keyframes, 0, finalized=finalized, error=error)
        self._later(self._finish, info, fd)

    def _later(self, fn: Callable[..., None], *args: object) -> None:
        """Run on the finisher thread: in order, so a segment's close is reported before
        the next one's open (whose file is already being written meanwhile)."""
        if self._finisher is None:
            self._finisher = ThreadPoolExecutor(1, thread_name_prefix=f"finish-{self.session_id}")
        self._finishing.append(self._finisher.submit(fn, *args))

    def _finish(self, info: SegmentInfo, fd: int) -> None:
        """The segment's file as written - never rewritten: a viewer that fetched byte
        ranges of it while it grew reads the same bytes there now - made durable before it
        is reported (its SHA-256 is sealed next), then closed."""
        size = 0
        try:
            size = os.fstat(fd).st_size
            os.fsync(fd)
            fsync_dir(info.path.parent)  # its name too
        except OSError as exc:
            info = replace(info, finalized=False,
                           error=info.error or f"{info.path} could not be made durable: {_describe(exc)}")
        finally:
            os.close(fd)
        info = replace(info, bytes=size)
        self.segments.append(info)
        if self._on_segment is not None:
            self._on_segment(info)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
