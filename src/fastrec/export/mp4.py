"""One MP4 file for a whole session or a time range, joined without re-encoding.

What is copied and what is re-encoded:

- Every packet of every part is **copied** (PyAV remux: no decoding, no quality loss),
  its timestamps rebased onto one timeline.
- When the range starts inside a group of pictures (after a keyframe), the frames from the
  one on screen at the start up to the next keyframe are decoded (from the keyframe
  before) and **re-encoded** with libx264 (the recorder's own encoder settings, the part's
  CRF), so the file starts with a keyframe; everything from the next keyframe on is
  copied.  The end of a range needs no re-encoding (no frame refers to a later one: the
  recorder encodes without B-frames).
- Each part is a separate encode with its own parameter sets (SPS/PPS): where they differ
  from the output track's (and after a re-encoded run) they are put in-band in front of
  the part's first copied keyframe (:mod:`.h264`), so every frame decodes with its own.

Timeline: wall-clock spacing is kept.  The file's time 0 is the range's start (the
session's first frame for a whole session; a range starting less than 0.6 of a frame
interval before a frame starts at that frame, so that no two frames of the file are closer
than the recording's frame interval), a frame captured at wall-clock time ``w``
sits at ``w - start`` whatever part it is in, and the stretch between two parts (a
session stopped and started again) shows the last frame before it, as a viewer would
have seen.  So ``creation_time + t`` is the wall-clock time of the frame at ``t``, the
duration is the range's span (a whole session: first frame to the end of the last
one) and the frame count is the frames shown in it.

The file is a plain (not fragmented) MP4 with its ``moov`` before the ``mdat``
(``+faststart``): players start at once and seek anywhere.  Its container metadata:
``creation_time`` (the wall-clock start, UTC), ``title`` (the session id) and ``comment``
(session, range, parts, what was re-encoded, parts let through unverified).  It is
written to a private temporary file in the target directory and renamed into place when
whole: a failed export leaves nothing behind.  An encrypted session's MP4 is muxed into a
:class:`~fastrec.crypt.scratch.SealedScratch` instead (encrypted on disk, under a key
only this process holds) and then copied into the output (:mod:`.output`): no plaintext
temporary file, whatever the output is.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

from fastrec.export.h264 import AvcConfig, annexb_to_length_prefixed, in_band_parameter_sets, parse_avcc
from fastrec.export.output import ExportOutput, PlainOutput, as_output
from fastrec.export.progress import Progress, no_progress
from fastrec.export.source import PartSource, SessionSource
from fastrec.export.timerange import TimeRange
from fastrec.storage.files import create_private, fsync_dir

__all__ = ["ExportError", "Mp4Export", "export_mp4"]

TIME_BASE = Fraction(1, 1000)  # the recorder's: millisecond timestamps
DEFAULT_CRF = 23
DEFAULT_FPS = 10  # a part whose metadata has no fps (the reference recorder's default)
MIN_LEAD = 0.6  # of a frame interval: a range starting closer than this to a frame starts at it


class ExportError(RuntimeError):
    """The parts cannot be joined into one file; the message says which and why."""


@dataclass
class Mp4Export:
    """What :func:`export_mp4` wrote."""

    path: Path
    start: datetime
    end: datetime
    parts: list[int]
    frames: int = 0
    copied_frames: int = 0
    reencoded_frames: int = 0
    unverified: list[str] = field(default_factory=list)

    @property
    def duration_seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def _ms(seconds: Fraction | float) -> int:
    return int(round(Fraction(seconds) / TIME_BASE))


class _Joiner:
    """Muxes one part after another into the output stream, on one millisecond timeline."""

    def __init__(self, out: Any, stream: Any, config: AvcConfig, span_ms: int, result: Mp4Export,
                 progress: Progress) -> None:
        self.out, self.stream, self.config = out, stream, config
        self.span_ms, self.result, self.progress = span_ms, result, progress
        self.last_dts = -1
        self.reported = -1
        self.inject: bytes | None = None  # parameter sets to put before the next copied keyframe

    def emit(self, data: bytes | Any, pts_ms: int, duration_ms: int, keyframe: bool, *, copied: bool) -> None:
        import av

        packet = data if isinstance(data, av.Packet) else av.Packet(data)
        if copied and keyframe and self.inject is not None:
            packet = av.Packet(self.inject + bytes(packet))
            self.inject = None
        pts = max(pts_ms, self.last_dts + 1)  # strictly increasing, whatever the rounding did
        packet.pts = packet.dts = pts
        packet.duration = max(1, duration_ms - (pts - pts_ms))
        packet.time_base = TIME_BASE
        packet.stream = self.stream
        packet.is_keyframe = keyframe
        self.out.mux(packet)
        self.last_dts = pts
        self.result.frames += 1
        if copied:
            self.result.copied_frames += 1
        else:
            self.result.reencoded_frames += 1

    def report(self, pts_ms: int, part: int) -> None:
        if self.span_ms > 0 and pts_ms - self.reported >= self.span_ms / 100:  # at most ~100 calls
            self.reported = pts_ms
            self.progress(min(1.0, max(0.0, pts_ms / self.span_ms)) * 0.99,
                          f"part {part}: {pts_ms / 1000:.1f} of {self.span_ms / 1000:.1f} s")


def export_mp4(source: SessionSource, output: str | os.PathLike[str] | ExportOutput, time_range: TimeRange | None = None, *,
               allow_unverified: bool = False, progress: Progress = no_progress) -> Mp4Export:
    """Write the session (or ``time_range`` of it) to ``output`` (a path or an
    :class:`~fastrec.export.output.ExportOutput`) as one MP4 (see the module).

    Raises :class:`~fastrec.export.source.UnverifiedParts` when a part in the range does
    not verify (unless ``allow_unverified``) and :class:`ExportError` when the parts cannot
    be joined (no playable part in the range, different frame sizes).
    """
    import av

    span = time_range or TimeRange(source.start, source.end)
    parts = source.overlapping(span.start, span.end)
    if not parts:
        raise ExportError(f"session {source.session_id!r}: no playable part between {span.start.isoformat()} "
                          f"and {span.end.isoformat()}")
    span = _clear_of_next_frame(parts, span)
    unverified = source.require_verified(parts, allow_unverified)
    target = as_output(output)
    result = Mp4Export(target.path, span.start, span.end, [p.part for p in parts], unverified=unverified)
    progress(0.0, f"joining {len(parts)} part(s)")
    comment = (f"fastrec session {source.session_id}; {span.start.isoformat()} to {span.end.isoformat()}; "
               f"parts {', '.join(map(str, result.parts))}")
    if unverified:
        comment += "; UNVERIFIED (exported with --allow-unverified): " + " | ".join(unverified)
    with _muxed(target, sealed=source.encrypted) as opened, \
            av.open(*opened.args, "w", format="mp4", options={"movflags": "+faststart"}, **opened.extra) as out:
        with parts[0].demux() as first:
            template = first.streams.video[0]
            size = (template.codec_context.width, template.codec_context.height)
            stream = out.add_stream_from_template(template)
            config = parse_avcc(bytes(template.codec_context.extradata or b""))
        stream.time_base = TIME_BASE
        out.metadata["creation_time"] = span.start.astimezone(UTC).isoformat().replace("+00:00", "Z")
        out.metadata["title"] = source.session_id
        out.metadata["comment"] = comment
        joiner = _Joiner(out, stream, config, _ms(span.seconds), result, progress)
        for part in parts:
            _join_part(joiner, part, span, size)
    progress(1.0, f"{result.frames} frames ({result.reencoded_frames} re-encoded) in {target.path.name}")
    return result


def _clear_of_next_frame(parts: list[PartSource], span: TimeRange) -> TimeRange:
    """``span``, started at the first frame after its start when that frame comes less than
    :data:`MIN_LEAD` of a frame interval after it: the picture on screen at the start would
    last only a sliver of a frame, and tools that put frames on the recording's frame grid
    (FFmpeg: "non monotonically increasing dts") would give both frames one slot."""
    for part in parts:
        if part.index is None:
            continue
        interval = 1.0 / (part.meta.recorder_settings.fps or DEFAULT_FPS)
        for fragment in part.index.fragments:
            for time in fragment.sample_times:
                at = part.start + timedelta(seconds=time)
                if at > span.start:
                    close = (at - span.start).total_seconds() < MIN_LEAD * interval
                    return TimeRange(at, span.end) if close and at < span.end else span
    return span


@dataclass(frozen=True, slots=True)
class _Muxed:
    """What ``av.open`` is given: the file (a path or a file object) and its ``io_open``."""

    args: tuple[Any, ...]
    extra: dict[str, Any]


@contextmanager
def _muxed(target: ExportOutput, sealed: bool) -> Iterator[_Muxed]:
    """Where the muxer writes ``target``'s MP4.  A plaintext session to a plain file: a
    private temporary file beside it, by name (FFmpeg's faststart pass, which moves the
    moov to the front, re-opens the file by name).  Otherwise a sealed scratch (see the
    module), whose faststart pass re-opens it through ``io_open``, copied into ``target``
    once the muxer has closed it."""
    if not sealed and isinstance(target, PlainOutput):
        with _private_temporary(target.path) as temporary:
            yield _Muxed((os.fspath(temporary),), {})
        return
    from fastrec.crypt.scratch import SealedScratch

    with SealedScratch() as scratch:
        yield _Muxed((scratch.handle(),), {"io_open": lambda url, flags, options: scratch.handle()})
        target.write_from(scratch.handle())


@contextmanager
def _private_temporary(target: Path) -> Iterator[Path]:
    """A new private (0600) file next to ``target``, renamed over it when the block ends
    normally (after an fsync), removed when it raises: a failed export leaves nothing."""
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    os.close(create_private(temporary))
    try:
        yield temporary
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def _timed(container: Any, stream: Any, offset: Fraction) -> Iterator[tuple[Any, Fraction, Fraction]]:
    """The part's packets with their start and duration in seconds on the output timeline."""
    base = Fraction(stream.time_base)
    for packet in container.demux(stream):
        if packet.size == 0 or packet.pts is None:
            continue  # the demuxer's end-of-stream marker
        yield packet, offset + packet.pts * base, (packet.duration or 0) * base


def _join_part(joiner: _Joiner, part: PartSource, span: TimeRange, size: tuple[int, int]) -> None:
    assert part.video is not None
    offset = Fraction((part.start - span.start).total_seconds())  # the part's media time 0 on the output
    end = Fraction(span.seconds)
    with part.demux() as container:
        stream = container.streams.video[0]
        codec = stream.codec_context
        if (codec.width, codec.height) != size:
            raise ExportError(f"part {part.part} ({part.meta.file.name}) is {codec.width}x{codec.height}, the "
                              f"export {size[0]}x{size[1]}: parts of different sizes cannot be joined in one file")
        config = parse_avcc(bytes(codec.extradata or b""))
        if (config.sps, config.pps) != (joiner.config.sps, joiner.config.pps):
            joiner.inject = in_band_parameter_sets(config, joiner.config.length_size)
        gop: list[Any] = []  # packets from the last keyframe on, while before the range
        items = _timed(container, stream, offset)
        for packet, start, duration in items:
            if start >= end:
                return
            keyframe = bool(packet.is_keyframe)
            if start < 0 and start + duration <= 0:  # over before the range starts
                gop = [packet] if keyframe else [*gop, packet]
                continue
            if joiner.result.frames == 0 and not keyframe:
                # the range starts inside a group of pictures: re-encode up to the next keyframe
                following = _reencode(joiner, part, stream, gop, (packet, start, duration), items, end)
                joiner.inject = in_band_parameter_sets(config, joiner.config.length_size)
                if following is None:
                    return
                packet, start, duration = following
                keyframe = True
            pts = _ms(max(start, Fraction(0)))
            joiner.emit(packet, pts, _ms(min(start + duration, end)) - pts, keyframe, copied=True)
            joiner.report(pts, part.part)


def _reencode(joiner: _Joiner, part: PartSource, stream: Any, gop: list[Any],
              visible: tuple[Any, Fraction, Fraction], items: Iterator[tuple[Any, Fraction, Fraction]],
              end: Fraction) -> tuple[Any, Fraction, Fraction] | None:
    """Decode ``gop`` (a keyframe .. the frame before the range) and re-encode the frames
    from ``visible`` (on screen when the range starts) up to the next keyframe, which is
    returned for copying (None: the range or the part ends first)."""
    import av

    from fastrec.core.convert import tag_colours
    from fastrec.engine.encoder.writer import EncoderSettings

    run = [visible]
    following = None
    for item in items:
        if item[1] >= end:
            break
        if item[0].is_keyframe:
            following = item
            break
        run.append(item)
    decoder = stream.codec_context
    decoded: dict[int, Any] = {}
    for packet in [*gop, *(item[0] for item in run)]:
        decoded.update((frame.pts, frame) for frame in decoder.decode(packet))
    decoded.update((frame.pts, frame) for frame in decoder.decode(None))  # no further use in this part

    settings = EncoderSettings(width=decoder.width, height=decoder.height,
                               crf=part.meta.recorder_settings.quality or DEFAULT_CRF)
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = settings.width, settings.height, "yuv420p"
    encoder.time_base = TIME_BASE
    tag_colours(encoder)
    # no global header: the parameter sets come in-band, with the first (IDR) frame
    encoder.options = {"crf": str(settings.crf), "preset": settings.preset, "x264-params": settings.x264_params}
    encoder.thread_count = settings.threads
    durations: dict[int, int] = {}

    def mux(packets: list[Any]) -> None:
        for out in packets:
            data = annexb_to_length_prefixed(bytes(out), joiner.config.length_size)
            joiner.emit(data, out.pts, durations.get(out.pts, 1), bool(out.is_keyframe), copied=False)

    for packet, start, duration in run:
        frame = decoded.get(packet.pts)
        if frame is None:
            continue  # a frame that does not decode is left out, not shown broken
        pts = _ms(max(start, Fraction(0)))
        if durations and pts <= max(durations):
            continue
        durations[pts] = _ms(min(start + duration, end)) - pts
        frame.pts, frame.time_base = pts, TIME_BASE
        frame.pict_type = av.video.frame.PictureType.NONE  # the encoder decides (the first is an IDR)
        mux(encoder.encode(frame))
    mux(encoder.encode(None))
    joiner.report(_ms(run[-1][1]), part.part)
    return following
