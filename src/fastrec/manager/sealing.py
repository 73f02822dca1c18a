"""One session's files on disk: each part's metadata, its seal and the hash chain.

Every part's ``_metadata.json`` is written with status ``recording`` when the part opens,
linked to the next part when that one opens, and sealed (size, SHA-256, chain hash, end
time, frame counts) when it closes.  Invariants:

- A part is sealed at most once, in part order, each chained to the part sealed before it
  (``previous``); a late or repeated close event never seals a part again.
- A part whose close never comes (its encoder died, the session ended in an error) is
  sealed ``interrupted`` as it is on disk: its frames are counted from the file.
- A part's input-events file (:mod:`fastrec.events`) is named in its metadata when the
  part opens (so it is the recorder's before it exists) and closed for good just before
  the part is sealed, so the seal's SHA-256 covers all of it; a part that got no events
  has no file and names none once sealed.
- The chain continues across recordings of one session id: a session id started again
  after it stopped goes on from the last sealed part found in the directory, so
  ``verify`` sees one chain, not two part 1s.
- A failure to write metadata or the index is recorded as the session's error and never
  stops the other parts from being sealed.  The index is derived data: its failures are
  logged only.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from fastrec.engine.protocol import SegmentInfo
from fastrec.events.session import SessionInput
from fastrec.storage.integrity import VideoProbe, link_next, probe_video, seal_segment
from fastrec.storage.metadata import EventsFileInfo, SegmentMetadata, TimedNote, write_metadata
from fastrec.storage.naming import VIDEO_SUFFIX, events_path, metadata_path, part_basename, video_path

log = structlog.get_logger("fastrec.manager")


def now() -> datetime:
    return datetime.now().astimezone()


def wall_clock(stamp: float) -> datetime:
    """The wall-clock time of a capture-clock reading: ``time.monotonic()``, which every
    process of the machine shares, so a frame's timestamp from the capture process maps
    to the time it was captured, however late its event reaches this thread."""
    return now() - timedelta(seconds=time.monotonic() - stamp)


@dataclass
class Part:
    number: int  # the part number in the file name (the engine's)
    video: Path
    meta_path: Path
    meta: SegmentMetadata
    sealed: bool = False
    bytes: int = 0


@dataclass
class SessionFiles:
    """The parts of one recording and the chain they continue; used from one thread (the
    manager's event thread) only."""

    directory: Path
    basename: str
    template: SegmentMetadata  # what every part's metadata starts from
    index: Any = None  # a RecordingIndex, or None when there is none
    previous: SegmentMetadata | None = None  # the last sealed part of this session id
    parts: dict[int, Part] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # what could not be written
    counted: dict[str, int] = field(default_factory=dict)  # capture counters already in a part
    output_size: tuple[int, int] | None = None
    # told the base name of a part whose sealed files changed (sealed, or its metadata
    # linked to the next part): the object-store uploader (fastrec.manager.uploads)
    on_sealed: Callable[[str], None] | None = None
    noted_until: float = float("-inf")  # capture clock: titles/pauses up to here are in a part
    input: SessionInput | None = None  # the session's input events, when recorded
    chain_offset: int = field(init=False)  # parts of earlier recordings of this session id

    def __post_init__(self) -> None:
        self.chain_offset = self.previous.chain.part if self.previous is not None else 0

    def live_paths(self) -> set[str]:
        paths = {os.path.abspath(p.video) for p in self.parts.values() if not p.sealed}
        if not self.parts:  # claimed; the engine has not opened it yet
            paths.add(os.path.abspath(self.directory / f"{self.basename}{VIDEO_SUFFIX}"))
        return paths

    def files(self) -> list[Path]:
        return [self.parts[n].video for n in sorted(self.parts)]

    def current(self) -> Part | None:
        live = [p for p in self.parts.values() if not p.sealed]
        return max(live, key=lambda p: p.number) if live else None

    def size(self) -> int:
        total = 0
        for part in self.parts.values():
            if part.sealed:
                total += part.bytes
            else:
                try:
                    total += part.video.stat().st_size
                except OSError:
                    pass
        return total

    # --- events ---------------------------------------------------------------------------

    def opened(self, number: int, video: Path, capture: dict[str, Any],
               first_timestamp: float | None = None) -> None:
        """Part ``number`` started being written to ``video``; ``first_timestamp`` is the
        capture time of its first frame (pts 0), when known."""
        previous_part = self.parts.get(number - 1)
        if previous_part is not None and not previous_part.sealed:
            self.seal(previous_part, None, capture)  # its encoder died: no close will come for it
        meta = self.template.model_copy(deep=True)
        # The wall-clock time of the frame at the part's pts 0, so that start_time + t is
        # when the frame at media time t was captured (a player's program date-time).  The
        # event comes later than the frame (encoding, then the finisher thread, which may
        # be closing the previous part): now() would be late by that delay.
        meta.start_time = wall_clock(first_timestamp) if first_timestamp is not None else now()
        meta.file.name = video.name
        meta.chain.part = self.chain_offset + number
        meta.capture.output_size = self.output_size
        meta.status = "recording"
        if self.previous is not None:
            meta.chain.previous_file = self.previous.file.name
            meta.chain.previous_sha256 = self.previous.file.sha256
        stem = video.name[: -len(VIDEO_SUFFIX)]
        if self.input is not None:
            meta.events = EventsFileInfo(name=self.input.open_part(number, events_path(video.parent, stem)))
        part = Part(number, video, metadata_path(video.parent, stem), meta)
        self.parts[number] = part
        self._write(part, meta)
        if self.previous is not None:
            self._attempt(f"link {self.previous.file.name} to {video.name}",
                          lambda: self._link(video.name))

    def closed(self, info: SegmentInfo, capture: dict[str, Any], *, failed: bool) -> None:
        """The engine closed a part; ``failed``: the session had a fatal error."""
        part = self.parts.get(info.part)
        if part is None:  # closed without an open event: describe it anyway
            self.opened(info.part, Path(info.path), capture, info.first_timestamp)
            part = self.parts[info.part]
        if part.sealed:
            log.warning("Recording part closed twice; the first seal stands",
                        file=part.video.name, part=info.part)
            return
        if info.error is not None:  # cut short by a failed write (a full disk...)
            self._error(f"{part.video.name}: {info.error}")
        interrupted = info.error is not None or (failed and not info.finalized)
        self.seal(part, info, capture, status="interrupted" if interrupted else "complete")

    def skipped(self, number: int, path: Path, capture: dict[str, Any]) -> None:
        """The encoder found part ``number``'s name taken and left it alone.  If it is this
        session's own part - written by an encoder worker that died before the manager
        heard of it - it is sealed ``interrupted`` as it is on disk; anything else there
        (a planted link, another program's file) is only reported, never touched."""
        try:
            st = path.lstat()
        except OSError:
            st = None
        ours = (st is not None and stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid()
                and number not in self.parts and path.parent == self.directory
                and path == video_path(self.directory, part_basename(self.basename, number)))
        if not ours:
            log.warning("A file not written by this recording was in the way; left untouched",
                        file=str(path), part=number)
            return
        self.opened(number, path, capture)
        self.seal(self.parts[number], None, capture)

    def finish(self, capture: dict[str, Any]) -> None:
        """The session ended: seal whatever is still open, as it is on disk."""
        for number in sorted(self.parts):
            part = self.parts[number]
            if not part.sealed:
                self.seal(part, None, capture)

    # --- sealing --------------------------------------------------------------------------

    def seal(self, part: Part, info: SegmentInfo | None, capture: dict[str, Any], *,
             status: str = "interrupted") -> None:
        meta = part.meta.model_copy(deep=True)
        if self.input is not None and not self.input.close_part(part.number):
            meta.events = None  # no event came during this part: no file
        region = capture.get("region")
        meta.capture.region = tuple(region) if region else meta.capture.region  # type: ignore[assignment]
        meta.capture.output_size = self.output_size or meta.capture.output_size
        totals = {"unchanged": int(capture.get("unchanged", 0)) + int(capture.get("damage_skips", 0)),
                  "dropped": int(capture.get("dropped", 0)),
                  "privacy_blocked": int(capture.get("privacy_blocked", 0)),
                  "ocr_blocked": int((capture.get("ocr") or {}).get("blocked_frames", 0))}
        delta = {k: max(0, v - self.counted.get(k, 0)) for k, v in totals.items()}
        self.counted.update(totals)
        encoded = info.frames if info is not None else 0  # 0: counted from the file
        meta.frames.captured = encoded + delta["unchanged"] + delta["dropped"]
        meta.frames.encoded = encoded
        meta.frames.unchanged = delta["unchanged"]
        meta.frames.dropped = delta["dropped"]
        if info is not None:
            meta.frames.keyframes = info.keyframes  # type: ignore[attr-defined]
        start = info.first_timestamp if info is not None else self.noted_until
        end = info.last_timestamp if info is not None else float("inf")
        meta.capture.window_titles = _notes(capture.get("titles"), start, end, current=True)
        meta.capture.pauses = _notes(capture.get("pauses"), start, end)
        meta.capture.privacy_rules = _notes(capture.get("rules"), start, end, current=True)
        meta.capture.privacy_blocked = delta["privacy_blocked"]
        meta.capture.ocr_blocked = delta["ocr_blocked"]
        self.noted_until = max(self.noted_until, end if info is not None else start)
        if self.errors or status == "interrupted":
            meta.errors = list(self.errors)
        if info is None and not part.video.is_file():
            meta.errors.append(f"{part.video.name}: no video was written")
            self._write(part, meta.model_copy(update={"status": "interrupted"}))
            part.sealed = True
            return
        try:
            found: VideoProbe | bool = False
            duration = max(0.0, info.duration) if info is not None else 0.0
            if info is None:  # without the encoder's figures, what is on disk is sealed as it is
                found = probe_video(part.video)
                duration = found.duration_seconds
            sealed = seal_segment(meta, part.video, self.previous, status=status,  # type: ignore[arg-type]
                                  end_time=meta.start_time + timedelta(seconds=duration), probe=found)
        except OSError as exc:
            self._error(f"{part.video.name} could not be sealed: {exc}")
            part.sealed = True
            return
        sealed.chain.part = max(sealed.chain.part, meta.chain.part)
        if info is not None:
            sealed.file.finalized = info.finalized  # type: ignore[attr-defined]
        part.meta, part.sealed, part.bytes = sealed, True, sealed.file.size_bytes or 0
        self.previous = sealed
        self._write(part, sealed)
        self._tell_sealed(part.video.name)
        log.info("Recording segment sealed", session_id=sealed.session_id, part=part.number,
                 file=part.video.name, bytes=sealed.file.size_bytes, frames=sealed.frames.encoded,
                 status=sealed.status)

    def _write(self, part: Part, meta: SegmentMetadata) -> None:
        part.meta = meta
        self._attempt(f"metadata {part.meta_path.name}", lambda: write_metadata(part.meta_path, meta))
        if self.index is not None:
            try:
                self.index.add(meta, part.video, part.meta_path)
            except Exception as exc:  # noqa: BLE001 - derived data: the metadata file is the record
                log.warning("Recording index not updated", file=part.video.name,
                            error=f"{type(exc).__name__}: {exc}")

    def _link(self, next_file: str) -> None:
        assert self.previous is not None
        path = metadata_path(self.directory, self.previous.file.name[: -len(VIDEO_SUFFIX)])
        if path.is_file():
            self.previous = link_next(path, next_file)
            self._tell_sealed(self.previous.file.name)

    def _tell_sealed(self, video_name: str) -> None:
        if self.on_sealed is None:
            return
        try:
            self.on_sealed(video_name[: -len(VIDEO_SUFFIX)])
        except Exception as exc:  # noqa: BLE001 - the files are sealed; the upload is retried at start
            log.warning("Sealed segment not handed to the uploader", file=video_name,
                        error=f"{type(exc).__name__}: {exc}")

    def _attempt(self, what: str, action: Any) -> None:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - a full or read-only disk: the session's error
            self._error(f"{what} could not be written: {type(exc).__name__}: {exc}")

    def _error(self, message: str) -> None:
        log.error("Recording metadata error", error=message)
        self.errors.append(message)


def _notes(log: Any, start: float, end: float, *, current: bool = False) -> list[TimedNote]:
    """The entries of a capture log (``(stamp, text)`` pairs) within [start, end], as times
    into the part; ``current``: also the one in effect at ``start`` (at 0 s)."""
    entries = [(float(t), str(text)) for t, text in (log or ())]
    inside = [TimedNote(at_seconds=max(0.0, t - start) if start > float("-inf") else 0.0, text=text)
              for t, text in entries if start <= t <= end]
    before = [text for t, text in entries if t < start]
    if current and before and (not inside or inside[0].at_seconds > 0):
        inside.insert(0, TimedNote(at_seconds=0.0, text=before[-1]))
    return inside
