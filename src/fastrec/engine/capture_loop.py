"""The capture process: what is on screen -> changed? -> I420 -> masks -> ring slot.

Schedule: frame k is due at t0 + k/fps; ticks we are late for are skipped and counted,
never bunched up.  While the screen is idle and the source can say when it is next drawn
on (:meth:`CaptureLoop.quiet_handle`: the whole screen on X11), the loop does not tick at
all: it sleeps until then (or a control message, or the stats second) and resumes at the
next tick boundary, so an idle recording wakes once a second instead of fps times.  A frame identical to the previous one is neither converted nor encoded,
so an idle screen costs nothing in the file (the encoder forces its periodic keyframes on
frames that do come: ``EncoderSettings.keyframe_interval``).  When the target vanishes
(minimised, covered, gone) one blank frame opens a gap in the timeline; the source never
falls back to the desktop.

Work proportional to the change (``CaptureConfig.partial_grabs``, issue 14).  Two frames
persist: ``_previous``, the last grabbed BGRA pixels, and ``_yuv``, their conversion into
the output frame (letterbox borders included).  Invariant: ``_yuv`` is always exactly
``Scaler.convert(_previous)``, unmasked - every grab updates both (changed tiles only) before
anything can return, and masks are composited into the ring slot's copy, never into
``_yuv``, so an unchanged tile is never read, converted or masked wrongly again.  A ring
slot keeps what this loop last wrote into it (consumers only read), so publishing rewrites
only the row pairs that changed since that slot's last frame, or were masked in it
(``_slot_rows``); a slot whose write was cut short, or never made, is written whole.  A frame
reads only the tiles the source's damage rectangles touch (``CaptureSource.damage``);
forced frames (a new or moved target, changed masks or rules, after a pause or a block),
unknown damage and damage over half the region read the whole region.  Damage is asked
before the grab, so whatever is drawn after the answer is the next frame's.

The output frame size is fixed for the session (the first target's size x scale).  A
target that changes size is scaled to fit it with its aspect ratio kept (letterboxed), so
the video never distorts and the encoder never restarts mid-segment.

Window titles leave this process without personal data.  The loop takes every target
and pause reason from the source through :meth:`CaptureLoop._private`, which replaces
e-mail addresses, phone, card, SSN and IBAN numbers and ``CaptureConfig.pii_patterns``
with markers (:func:`fastrec.privacy.pii.redact_pii`): the title changes and pause
reasons in the stats - and so the status, the live events, each part's metadata, the
index and every log line made from them - only ever hold the redacted text.  This is the
one place for every platform's window source; the sources themselves keep the raw title
only to match windows (``WindowPatterns.titles``), never store, log or send it.

Privacy rules (``CaptureConfig.rules``, replaced while recording by a ``("rules",
ScreenRules)`` control message: the next frame uses them) are masks computed every frame
in the captured region's coordinates (:mod:`fastrec.privacy.screen_rules`), composited with
``CaptureConfig.masks`` and the occluded parts before the frame enters the ring.  Window
rules fail closed: the window list is read before the grab and again after it; when it
cannot be read, or a matching window appeared, vanished or moved in between (its position
in the grabbed pixels is then uncertain), the frame is not recorded.  One blank frame
opens a gap (as a pause does), every such tick counts in ``CaptureStats.privacy_blocked``
and the reason goes to the pause log, so status and metadata show it.
"""

from __future__ import annotations

import gc
import math
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

import numpy as np

from fastrec.capture import open_source
from fastrec.capture.base import Region, Target
from fastrec.capture.matching import WindowInfo
from fastrec.core.convert import BLACK_YUV, Scaler, i420_planes, i420_size, output_size
from fastrec.core.diff import TileDiff
from fastrec.core.masks import MaskKind, MaskRegion, mask_i420
from fastrec.engine.encoder.hints import MAX_RECTS, RECT_BYTES, tile_rects
from fastrec.engine.launch import libc_call, send
from fastrec.engine.capture_config import CaptureConfig
from fastrec.engine.protocol import FrameFlags
from fastrec.engine.ring import FrameRing
from fastrec.engine.usage import cpu_seconds
from fastrec.privacy.pii import redact_pii
from fastrec.privacy.screen_rules import ScreenRules, ocr_rules

if TYPE_CHECKING:
    from fastrec.engine.ocr_stage import OcrStage

STATS_EVERY = 1.0  # seconds between stats messages to the supervisor
LOG_KEEP = 200  # title changes and pauses kept in the stats (a part's metadata takes its own)
OCR_FINISH_SECONDS = 30.0  # beyond the delay, for the OCR stage's last frames to leave at stop
REDACTED_KEEP = 64  # titles and reasons whose redacted form is remembered (a title repeats every tick)


@dataclass(slots=True)
class CaptureStats:
    """Counters of one capture process, sent to the supervisor."""

    ticks: int = 0
    grabbed: int = 0
    unchanged: int = 0  # identical to the previous frame: not converted, not encoded
    published: int = 0
    dropped: int = 0  # the ring was full
    late_ticks: int = 0  # skipped because capture fell behind the schedule
    paused_ticks: int = 0  # the target was minimised, covered or gone
    damage_skips: int = 0  # the X DAMAGE hint said nothing changed: not even grabbed
    slept_ticks: int = 0  # of those, ticks the loop slept through on an idle screen (quiet_handle)
    partial: int = 0  # grabbed as damaged rectangles only (the rest of the grabs: whole region)
    grabbed_pixels: int = 0  # source pixels read from the screen, all grabs together
    converted_pixels: int = 0  # output pixels converted to I420 (only dirty tiles' reach)
    keyframes: int = 0
    # the state now, for live monitoring: nothing recorded (no target, or one still
    # settling), and other windows covering part of the target (blanked in the video)
    paused: bool = True
    occluded: bool = False
    region: tuple[int, int, int, int] | None = None
    output_size: tuple[int, int] = (0, 0)
    elapsed: float = 0.0
    cpu_seconds: float = 0.0  # this capture process's own CPU time
    # what an auditor wants beside the pixels, each as (time.monotonic() stamp, text) - the
    # clock of the frames' timestamps - the last LOG_KEEP of each
    titles: list[tuple[float, str]] = field(default_factory=list)  # the target's title changes
    pauses: list[tuple[float, str]] = field(default_factory=list)  # why recording paused
    # privacy rules: ticks not recorded because a window rule's match was uncertain (the
    # window list failed, or a matching window moved during the grab), whether that is so
    # now, the policy version whose rules apply and when each set of rules took effect
    privacy_blocked: int = 0
    privacy_blocking: bool = False
    rules_version: int = 0
    rules: list[tuple[float, str]] = field(default_factory=list)
    # on-screen personal data (RECORDING_OCR_PII): the OCR stage's counters
    # (fastrec.engine.ocr_gate.GateStats: reads, found, blocked_frames, max_wait...), {} when off
    ocr: dict[str, Any] = field(default_factory=dict)

    def note(self, log: list[tuple[float, str]], stamp: float, text: str) -> None:
        log.append((stamp, text))
        del log[:-LOG_KEEP]


class _Layout:
    """Where a target of a given size lands in the fixed output frame."""

    def __init__(self, width: int, height: int, out_w: int, out_h: int) -> None:
        fit = min(out_w / width, out_h / height)
        self.w = min(out_w, max(2, int(width * fit) & ~1))
        self.h = min(out_h, max(2, int(height * fit) & ~1))
        self.x = ((out_w - self.w) // 2) & ~1
        self.y = ((out_h - self.h) // 2) & ~1
        self.letterboxed = (self.w, self.h) != (out_w, out_h)
        self.scaler = Scaler(width, height, self.w, self.h)
        self.sx, self.sy = self.w / width, self.h / height

    def planes(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The parts of the output planes the target lands on (views)."""
        return (y[self.y : self.y + self.h, self.x : self.x + self.w],
                u[self.y // 2 : (self.y + self.h) // 2, self.x // 2 : (self.x + self.w) // 2],
                v[self.y // 2 : (self.y + self.h) // 2, self.x // 2 : (self.x + self.w) // 2])


def _copy_rows(src: np.ndarray, dst: np.ndarray, width: int, height: int, pairs: np.ndarray) -> None:
    """Copy the marked row pairs (two luma rows, one chroma row each) of one I420 frame
    into another."""
    sy, su, sv = i420_planes(src, width, height)
    dy, du, dv = i420_planes(dst, width, height)
    edges = np.flatnonzero(np.diff(pairs.view(np.int8), prepend=0, append=0)).tolist()
    for p0, p1 in zip(edges[::2], edges[1::2], strict=True):
        dy[2 * p0 : 2 * p1] = sy[2 * p0 : 2 * p1]
        du[p0:p1] = su[p0:p1]
        dv[p0:p1] = sv[p0:p1]


def _tile_parts(damage: list[Region], region: Region, tile: int, rows: int, cols: int) -> list[Region] | None:
    """The rectangles to grab for ``damage`` (screen coordinates) in ``region``: every tile
    a damaged rectangle touches, as runs of tiles per tile row (merged with the rows below
    when they span the same columns), relative to ``region``.  ``None`` when that is more
    than half the region: one whole grab then costs less than many pieces."""
    marked = np.zeros((rows, cols), bool)
    for box in damage:
        rel = box.intersection(region)
        if rel is None:
            continue
        x0, y0 = (rel.x - region.x) // tile, (rel.y - region.y) // tile
        x1, y1 = -(-(rel.right - region.x) // tile), -(-(rel.bottom - region.y) // tile)
        marked[y0:y1, x0:x1] = True
    if marked.sum() * 2 > rows * cols:
        return None
    runs: dict[tuple[int, int], Region] = {}  # open runs by their columns
    parts: list[Region] = []
    last = -2
    for ty in np.flatnonzero(marked.any(axis=1)).tolist():  # the marked tile rows only
        if ty != last + 1:  # a gap: no run goes on past it
            parts.extend(runs.values())
            runs = {}
        last = ty
        edges = np.flatnonzero(np.diff(marked[ty].view(np.int8), prepend=0, append=0))
        now: dict[tuple[int, int], Region] = {}
        for tx0, tx1 in zip(edges[::2], edges[1::2], strict=True):
            x0, x1 = int(tx0) * tile, min(int(tx1) * tile, region.width)
            y1 = min((ty + 1) * tile, region.height)
            above = runs.pop((x0, x1), None)
            now[(x0, x1)] = (Region.from_edges(x0, above.y, x1, y1) if above is not None
                             else Region.from_edges(x0, ty * tile, x1, y1))
        parts.extend(runs.values())
        runs = now
    parts.extend(runs.values())
    return parts


def _placed(rules: ScreenRules, windows: list[WindowInfo]) -> set[tuple[int, Region]]:
    """Where the windows that ``rules`` mask are: (id, bounds) of each."""
    return {(w.id, w.bounds) for w, _ in rules.matching(windows)}


def _blank(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
    for plane, value in zip((y, u, v), BLACK_YUV, strict=True):
        plane.fill(value)


class CaptureLoop:
    """Runs one session's capture until told to stop (see :func:`capture_main`)."""

    def __init__(self, config: CaptureConfig, source: Any, ring: FrameRing, out_w: int, out_h: int,
                 ocr: OcrStage | None = None) -> None:
        self.config = config
        self.ocr = ocr
        self.source = source
        self.ring = ring
        self.out_w, self.out_h = out_w, out_h
        self.stats = CaptureStats(output_size=(out_w, out_h))
        self._layouts: dict[tuple[int, int], _Layout] = {}
        self._diff: TileDiff | None = None
        self._previous: np.ndarray | None = None  # the last grabbed pixels, BGRA
        self._yuv: np.ndarray | None = None  # _previous converted (output size, borders blank)
        # per ring slot: the output row pairs where its payload may differ from _yuv (changed
        # since it was written, or masked then); a slot not listed is copied whole
        self._slot_rows: dict[int, np.ndarray] = {}
        self._paused = True  # until the first target has settled
        self._settle_until: float | None = None
        self._last_target: Target | None = None
        self._redacted: dict[str, str] = {}
        self.rules = ScreenRules()
        self._masks: list[MaskRegion] = []  # the rule masks of the last frame published
        self._blocked = False  # a window rule's match is uncertain: nothing is recorded
        self._force = False  # the next frame is published even if its pixels are unchanged
        # the next frame is published even if unchanged, and is still relative to the last
        # one (its dirty tiles hold): the session's second, see tick()
        self._repeat = False
        # the last frame built was published: the next one's dirty tiles are relative to what
        # the encoder has, so they can go with it as rectangles (fastrec.engine.encoder.hints)
        self._chained = False
        self._quiet = False  # the last tick found no damage: see quiet_handle()
        self.set_rules(config.rules, time.monotonic())

    def set_rules(self, rules: ScreenRules, stamp: float) -> None:
        """Apply ``rules`` from the next frame on."""
        if not isinstance(rules, ScreenRules):
            raise ValueError(f"rules must be a ScreenRules, got {type(rules).__name__}")
        if self.ocr is not None and ocr_rules(rules) != ocr_rules(self.rules):
            self.ocr.set_rules(ocr_rules(rules))
        self.rules = rules
        self.stats.rules_version = rules.version
        self.stats.note(self.stats.rules, stamp, rules.describe())
        self._force = True

    def _redact(self, text: str) -> str:
        """``text`` without personal data; remembered, since a title repeats every tick."""
        if not text:
            return text
        private = self._redacted.get(text)
        if private is None:
            if len(self._redacted) >= REDACTED_KEEP:
                self._redacted.clear()
            private = self._redacted[text] = redact_pii(text, custom=self.config.pii_patterns)
        return private

    def _private(self, target: Target | None) -> Target | None:
        """The source's target with personal data in its title and reason replaced: what
        the rest of the loop (and every consumer of its stats) sees."""
        if target is None:
            return None
        title, reason = self._redact(target.title), self._redact(target.reason)
        if title == target.title and reason == target.reason:
            return target
        return replace(target, title=title, reason=reason)

    def _layout(self, width: int, height: int) -> _Layout:
        key = (width, height)
        if key not in self._layouts:
            self._layouts[key] = _Layout(width, height, self.out_w, self.out_h)
        return self._layouts[key]

    def tick(self, stamp: float) -> None:
        """Capture once at ``stamp`` (a time.monotonic() reading)."""
        self.stats.ticks += 1
        self._quiet = False
        target = self._private(self.source.locate())
        if target is None:
            self.stats.paused_ticks += 1
            self.stats.paused, self.stats.occluded = True, False
            self._settle_until = None
            if not self._paused:
                self._paused = True
                self.stats.note(self.stats.pauses, stamp,
                                self._redact(self.source.pause_reason or "nothing to record"))
                self._publish(None, stamp, FrameFlags.PAUSED | FrameFlags.KEYFRAME)
            return
        region = target.region
        appeared = self._paused or (self._last_target is not None
                                    and target.window_id != self._last_target.window_id)
        if appeared and target.window_id is not None and not self._settled(stamp):
            self.stats.paused_ticks += 1
            self.stats.paused = True
            return
        rules = self.rules
        windows = self._windows(rules, stamp)
        if windows is None:
            return
        masks = rules.masks(region, windows) if rules else []
        resized = self._previous is None or self._previous.shape[:2] != (region.height, region.width)
        forced = (resized or appeared or target != self._last_target or self._force
                  or masks != self._masks)
        self._paused = False
        self.stats.paused, self.stats.occluded = False, bool(target.occluded)
        if target.title and (self._last_target is None or target.title != self._last_target.title):
            self.stats.note(self.stats.titles, stamp, target.title)
        self._last_target = target
        damage: list[Region] | None = None
        if self.config.partial_grabs:
            # asked on forced frames too: what was damaged before their whole grab is not
            # the next frame's to grab, and the first answer (unknown) is spent
            damage = self.source.damage()
            if damage == [] and not (forced or self._repeat):
                self.stats.damage_skips += 1
                self._quiet = True
                return
            if forced:
                damage = None
        elif not (forced or self._repeat) and self.source.damaged() is False:
            self.stats.damage_skips += 1
            return
        if resized:
            self._diff = TileDiff(region.width, region.height, self.config.tile_size)
            self._previous = np.empty((region.height, region.width, 4), np.uint8)
            self._yuv = None
        changed = self._grab(target, None if resized else damage)
        if rules.windows:
            after = self._windows(rules, stamp)
            if after is None:
                return
            if _placed(rules, after) != _placed(rules, windows):
                self._block(stamp, "privacy rules: a matching window moved while the screen was grabbed")
                return
        self._unblock()
        self._masks = masks
        if not (changed or forced or self._repeat):
            self.stats.unchanged += 1
            return
        self._force = False
        self._publish(target, stamp, FrameFlags.KEYFRAME if resized else FrameFlags.NONE, dirty=not forced)
        # x264 returns a frame only once the next one comes (variable frame rate: it learns a
        # frame's duration from the next): the tick after the session's first frame sends
        # one, changed or not, so the first picture (a login screen left idle) is on disk at once
        self._repeat = self.stats.published == 1

    def quiet_handle(self) -> int | None:
        """While the screen is idle, a file descriptor that turns readable when it is next
        drawn on (:meth:`CaptureSource.quiet_handle`): until then every tick would find
        nothing, so the loop may sleep on it.  None when the next tick must run: something
        was drawn, a frame is owed (forced, the session's second), a window source - or
        window privacy rules, whose matches can change without a drawing (a title): their
        window list is read every tick, and a failure to read it blocks and shows at once."""
        if not self._quiet or self._force or self._repeat or self._paused or self.rules.windows:
            return None
        return self.source.quiet_handle()

    def slept(self, ticks: int) -> None:
        """``ticks`` ticks passed asleep on the :meth:`quiet_handle`: nothing was drawn."""
        self.stats.ticks += ticks
        self.stats.damage_skips += ticks
        self.stats.slept_ticks += ticks

    def _grab(self, target: Target, damage: list[Region] | None) -> int:
        """Bring ``_previous`` and ``_yuv`` up to date with the screen; returns how many
        tiles changed.

        With ``damage`` (screen rectangles, the only places that can have changed since
        the last grab) only the tiles they touch are grabbed - rounded out to the tile grid
        and read as a few rectangles, each a zero-copy view compared and copied into
        ``_previous`` before the next is read - and only the changed tiles are converted
        into ``_yuv``.  Without (unknown damage, a forced frame, a resize) the whole region
        is grabbed; the conversion is still limited to changed tiles unless ``_yuv`` is new.
        """
        diff, previous, region = self._diff, self._previous, target.region
        assert diff is not None and previous is not None
        tile = self.config.tile_size
        parts = None if damage is None else _tile_parts(damage, region, tile, diff.rows, diff.cols)
        whole = not self.config.partial_grabs  # the reference: everything as before issue 14
        if parts is None:
            frame = self.source.grab(target) if whole else self.source.grab_view(target)
            changed = diff.compare(frame, previous, copy=True)
            if self._yuv is None:
                previous[...] = frame  # a fresh _previous: tiles equal to its garbage were not copied
            self.stats.grabbed_pixels += region.area
        else:
            diff.reset()
            for part in parts:
                view = self.source.grab_view(target, part.translate(region.x, region.y))
                diff.compare_part(view, previous, part.x, part.y)
                self.stats.grabbed_pixels += part.area
            changed = diff.dirty
            self.stats.partial += 1
        self.stats.grabbed += 1
        lay = self._layout(region.width, region.height)
        if self._yuv is None:
            self._yuv = np.empty(i420_size(self.out_w, self.out_h), np.uint8)
            y, u, v = i420_planes(self._yuv, self.out_w, self.out_h)
            _blank(y, u, v)  # the letterbox borders, once
            lay.scaler.convert(previous, *lay.planes(y, u, v))
            self.stats.converted_pixels += lay.w * lay.h
            self._slot_rows.clear()
        elif changed:
            rows = self._changed_rows(lay, diff.tiles, region.height)
            for stale in self._slot_rows.values():
                stale |= rows
            y, u, v = i420_planes(self._yuv, self.out_w, self.out_h)
            ys, us, vs = lay.planes(y, u, v)
            if whole or tile % 4:  # the dedicated paths split only at even (2:1: multiple-of-4) tiles
                lay.scaler.convert(previous, ys, us, vs)
                self.stats.converted_pixels += lay.w * lay.h
            else:
                self.stats.converted_pixels += lay.scaler.convert_tiles(previous, ys, us, vs, diff.tiles, tile, tile)
        return int(changed)

    def _windows(self, rules: ScreenRules, stamp: float) -> list[WindowInfo] | None:
        """The window list for the window rules now ([] without window rules); ``None``
        when it cannot be read: the tick is then blocked (fail closed)."""
        if not rules.windows:
            return []
        try:
            windows = self.source.windows()
        except Exception as exc:  # noqa: BLE001 - any failure: the frame is not recorded
            self._block(stamp, f"privacy rules: the window list cannot be read ({type(exc).__name__}: {exc})")
            return None
        return list(windows)

    def _block(self, stamp: float, reason: str) -> None:
        """Record nothing this tick: a window rule cannot be applied with certainty."""
        self.stats.privacy_blocked += 1
        self.stats.paused = self.stats.privacy_blocking = True
        self._force = True
        if not self._blocked:
            self._blocked = True
            self.stats.note(self.stats.pauses, stamp, self._redact(reason))
            self._publish(None, stamp, FrameFlags.PAUSED | FrameFlags.KEYFRAME)

    def _unblock(self) -> None:
        self._blocked = False
        self.stats.privacy_blocking = False

    def _settled(self, stamp: float) -> bool:
        if self._settle_until is None:
            self._settle_until = stamp + self.config.settle_seconds
        if stamp < self._settle_until:
            return False
        self._settle_until = None
        return True

    def finish(self, stamp: float) -> None:
        """The session's last frame, at stop time, so the video lasts as long as the session."""
        if (self._yuv is not None and not self._paused and not self._blocked
                and self._last_target is not None):
            self._publish(self._last_target, stamp, FrameFlags.FINAL)

    def _changed_rows(self, lay: _Layout, tiles: np.ndarray, src_h: int) -> np.ndarray:
        """The output row pairs the changed tiles' conversion may have touched, with a margin
        for the scaling filters' reach (bilinear enlarging reaches half a source row, i.e.
        ``sy / 2`` output rows, further); more rows than needed is only a longer copy."""
        rows = np.zeros(self.out_h // 2, bool)
        th = self.config.tile_size
        margin = 2 + math.ceil(lay.sy)
        for ty in np.flatnonzero(tiles.any(axis=1)).tolist():
            top = lay.y + math.floor(ty * th * lay.sy) - margin
            bottom = lay.y + math.ceil(min((ty + 1) * th, src_h) * lay.sy) + margin
            rows[max(0, top) // 2 : (min(self.out_h, bottom) + 1) // 2] = True
        return rows

    def _publish(self, target: Target | None, stamp: float, flags: FrameFlags, dirty: bool = False) -> None:
        """One frame into the ring: ``_yuv`` (the last grab, converted) with the masks
        composited into the slot's copy - never into ``_yuv``, which must stay the
        unmasked conversion its unchanged tiles are reused from - or blank (``None``).

        A slot that held an earlier frame of this ``_yuv`` gets only the row pairs that
        changed since, or that were masked there; the rest of its payload already equals
        ``_yuv``.  With ``dirty``, the tile diff's changed tiles go with it as rectangles,
        when they are all that changed since the frame published before (see
        :mod:`fastrec.engine.encoder.hints`)."""
        chained, self._chained = self._chained, False
        size = i420_size(self.out_w, self.out_h)
        slot = self.ring.acquire()
        if slot is None:
            self.stats.dropped += 1
            return
        # forgotten while it is written: a write cut short leaves the slot unknown (whole copy)
        stale = self._slot_rows.pop(slot.index, None)
        with slot:
            y, u, v = i420_planes(slot.data, self.out_w, self.out_h)
            kept: np.ndarray | None = None
            rects = None
            if target is None or self._yuv is None:
                _blank(y, u, v)
            else:
                if stale is None or not self.config.partial_grabs:
                    slot.data.reshape(-1)[: self._yuv.size] = self._yuv
                else:
                    _copy_rows(self._yuv, slot.data, self.out_w, self.out_h, stale)
                placed = self._mask(target, y, u, v)
                kept = self._masked_rows(target, placed)
                if dirty and chained and self._diff is not None:
                    rects = self._dirty_rects(target, placed)
                    if rects is not None and slot.data.size < size + rects.nbytes:
                        rects = None  # a ring without room for them (sized for the pixels alone)
            if flags & FrameFlags.KEYFRAME:
                self.stats.keyframes += 1
            slot.publish(stamp, self.out_w, self.out_h, int(flags), size, rects=rects)
        if kept is not None:
            self._slot_rows[slot.index] = kept
        self._chained = kept is not None
        self.stats.published += 1

    def _dirty_rects(self, target: Target, masks: list[MaskRegion]) -> np.ndarray | None:
        """The output rectangles that may differ from the frame published before: the
        changed tiles, and every mask whose look depends on the pixels around (blur,
        pixelate) - a change under it may alter all of it."""
        assert self._diff is not None
        region = target.region
        lay = self._layout(region.width, region.height)
        rects = tile_rects(self._diff.tiles, self._diff.tile_w, self._diff.tile_h, region.width, region.height,
                           scale=(lay.sx, lay.sy), offset=(lay.x, lay.y), size=(self.out_w, self.out_h))
        spread = [m for m in masks if m.kind not in (MaskKind.BLOCK, MaskKind.REDACT)]
        if rects is None or not spread:
            return rects
        whole = np.zeros((1, 1), np.uint8) + 1
        for m in spread:  # the mask's area, as one changed "tile" of its own size
            more = tile_rects(whole, m.width, m.height, m.width, m.height, offset=(lay.x + m.x, lay.y + m.y),
                              size=(self.out_w, self.out_h), max_fraction=1.0)
            rects = np.concatenate([rects, more]) if more is not None else rects
        return rects if len(rects) <= MAX_RECTS else None

    def _masked_rows(self, target: Target, placed: list[MaskRegion]) -> np.ndarray:
        """The output row pairs the masks were composited into (to restore next time)."""
        rows = np.zeros(self.out_h // 2, bool)
        lay = self._layout(target.region.width, target.region.height)
        for m in placed:
            top, bottom = lay.y + m.y - 2, lay.y + m.y + m.height + 2
            rows[max(0, top) // 2 : (min(self.out_h, bottom) + 1) // 2] = True
        return rows

    def _mask(self, target: Target, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> list[MaskRegion]:
        """Composite every mask into the output planes; returns the masks applied (in the
        placed picture's coordinates)."""
        region = target.region
        lay = self._layout(region.width, region.height)
        ys, us, vs = lay.planes(y, u, v)
        masks = [MaskRegion(m.x - region.x, m.y - region.y, m.width, m.height, m.kind, m.strength, m.colour)
                 for m in self.config.masks]
        # other windows on top of the target: their pixels are not the session's to record
        masks += [MaskRegion(o.x, o.y, o.width, o.height, MaskKind.BLOCK) for o in target.occluded]
        # the privacy rules' (relative to the region already), last: a rule's mask kind shows
        # even where its window is one of those on top
        masks += self._masks
        placed = [m.scaled(lay.sx, lay.sy) for m in masks]
        if placed:
            mask_i420(ys, us, vs, placed)
        return placed


class _Stopped(Exception):
    """The supervisor said stop (or went away) before there was anything to record."""


def _stop_requested(control: Connection, wait: float = 0.0,
                    on_rules: Callable[[ScreenRules], None] | None = None) -> bool:
    """Read one control message (waiting up to ``wait`` s): True for "stop", or the
    supervisor gone (EOF) - either way this session is over; ``("rules", ScreenRules)`` goes
    to ``on_rules``."""
    try:
        if not control.poll(wait):
            return False
        message = control.recv()
    except (EOFError, OSError):
        return True
    if isinstance(message, tuple) and len(message) == 2 and message[0] == "rules" and on_rules is not None:
        on_rules(message[1])
    return message == "stop"


def _first_target(source: Any, timeout: float, control: Connection,
                  on_rules: Callable[[ScreenRules], None]) -> Target:
    deadline = time.monotonic() + timeout
    while (target := source.locate()) is None:
        if time.monotonic() > deadline:
            raise RuntimeError("no window to record: nothing matched within "
                               f"{timeout:.0f} s (is the RDP client running and visible?)")
        if _stop_requested(control, 0.1, on_rules):
            raise _Stopped
    return target


def capture_main(control: Connection, config: CaptureConfig, start_timeout: float = 10.0,
                 cpu_before: float = 0.0) -> None:
    """Body of a session's capture process.

    Sends ("ring", endpoint, (width, height)) once the ring exists, ("stats", dict) every
    second, and last - once the source, ring and OCR stage are closed, so nothing can follow
    it - ("stopped", dict) or ("error", message); stops on "stop".  Run by
    :func:`capture_sessions`; ``cpu_before``: the process's CPU seconds spent on earlier
    sessions (not this one's: ``CaptureStats.cpu_seconds``).
    """
    last: tuple[Any, ...]
    try:
        with open_source(config.mode, config.display, **config.source_options) as source:
            pending: list[ScreenRules] = []  # rules sent before the loop exists
            first = _first_target(source, start_timeout, control, pending.append)
            if pending:
                config = replace(config, rules=pending[-1])
            out_w, out_h = output_size(first.region.width, first.region.height, config.scale)
            # room after each frame for its dirty rectangles (fastrec.engine.encoder.hints)
            with FrameRing(i420_size(out_w, out_h) + MAX_RECTS * RECT_BYTES, slots=config.ring_slots,
                           policy=config.full_policy,
                           timeout=config.ring_timeout) as ring, _ocr_stage(config, ring, out_w, out_h) as ocr:
                # with OCR the encoder reads the OCR stage's ring, never this one
                send(control, ("ring", ocr.endpoint if ocr else ring.endpoint(0), (out_w, out_h)))
                loop = CaptureLoop(config, source, ring, out_w, out_h, ocr)
                _run(loop, config.fps, control, cpu_before)
                ring.close()
                if ocr is not None and config.ocr is not None:
                    loop.stats.ocr = ocr.finish(config.ocr.max_delay + OCR_FINISH_SECONDS)
                last = ("stopped", asdict(loop.stats))
    except _Stopped:
        last = ("stopped", asdict(CaptureStats()))
    except Exception as exc:
        last = ("error", f"{type(exc).__name__}: {exc}", traceback.format_exc())
    send(control, last)


def capture_sessions(control: Connection) -> None:
    """Body of a capture process: sessions one after another, each ``("session",
    CaptureConfig)`` run by :func:`capture_main`.

    After a session's last word the process waits for the supervisor's "bye", which follows
    every message about that session (a late "stop" or rules are dropped), then for the next
    session.  EOF ends it: the supervisor gone, or not reusing it - it reuses a process only
    after a session that stopped cleanly and while no other session records, and then a
    session's start costs no interpreter (issue 14).  Every session opens its own source,
    ring and frames, and leaves nothing behind in the process: they are closed when it ends.
    """
    spent = 0.0  # CPU of the sessions before (the first one's includes the interpreter's start)
    while (config := _next_session(control)) is not None:
        capture_main(control, config, cpu_before=spent)
        gc.collect()  # the session's frames, now, not during the next one
        libc_call("malloc_trim", 0)  # and their heap back to the system while it waits
        spent = cpu_seconds()
        # The ring's descriptors travel to the supervisor through this process
        # (multiprocessing's resource sharer): exiting before the supervisor has read every
        # message would take them away.  It says "bye" once it has; a dead supervisor is EOF.
        # No time limit: a process that gave up waiting could be handed the next session.
        if not _bye(control):
            return


def _next_session(control: Connection) -> CaptureConfig | None:
    """The next session's config; None at EOF."""
    try:
        message = control.recv()
    except (EOFError, OSError):
        return None
    if not (isinstance(message, tuple) and len(message) == 2 and message[0] == "session"
            and isinstance(message[1], CaptureConfig)):
        raise ValueError(f"capture process: expected a (\"session\", CaptureConfig) message, got {message!r}")
    return message[1]


def _bye(control: Connection) -> bool:
    """Wait for "bye", dropping what comes before it; False on EOF (the process then exits)."""
    try:
        while control.recv() != "bye":
            pass
    except (EOFError, OSError):
        return False
    return True


@contextmanager
def _ocr_stage(config: CaptureConfig, ring: FrameRing, out_w: int, out_h: int) -> Iterator[OcrStage | None]:
    """The session's OCR stage process when RECORDING_OCR_PII is on, stopped on the way out."""
    if config.ocr is None:
        yield None
        return
    from fastrec.engine.ocr_stage import OcrStage  # its OCR modules: only when it is on

    stage = OcrStage(ring, out_w, out_h, config.fps, config.ocr, ocr_rules(config.rules), config.ring_slots,
                     config.ring_timeout, config.session_id)
    try:
        yield stage
    finally:
        stage.close()


def _region(loop: CaptureLoop) -> tuple[int, int, int, int] | None:
    """The screen region [x, y, w, h] of what the loop records now (None: nothing yet)."""
    target = loop._last_target
    return None if target is None else (target.region.x, target.region.y, target.region.width, target.region.height)


def _run(loop: CaptureLoop, fps: int, control: Connection, cpu_before: float = 0.0) -> None:
    period = 1.0 / fps
    t0 = time.monotonic()

    def on_rules(rules: ScreenRules) -> None:
        loop.set_rules(rules, time.monotonic())

    next_stats = t0 + STATS_EVERY

    def report(stamp: float) -> None:
        loop.stats.elapsed = stamp - t0
        loop.stats.cpu_seconds = cpu_seconds() - cpu_before
        loop.stats.region = _region(loop)
        if loop.ocr is not None:
            loop.ocr.poll()  # raises when the stage failed: no frame may bypass it
            loop.stats.ocr = loop.ocr.stats
        send(control, ("stats", asdict(loop.stats)))

    tick = 0
    while True:
        quiet = loop.quiet_handle()
        if quiet is not None:
            # An idle screen: every tick would find nothing, and waking ten times a second
            # is what an idle recording cost (issue 14).  Sleep until something is drawn
            # (the X server's damage event), a control message or the stats are due; the
            # schedule then resumes at the next tick boundary.  Skipped ticks are not late.
            woke = wait([control, quiet], timeout=max(0.0, next_stats - time.monotonic()))
            now = time.monotonic()
            # the ticks due meanwhile found nothing drawn: they count as the DAMAGE skips
            # they would have been (so the status's capture rate stays the loop's)
            slept = math.floor((now - t0) / period) + 1 - tick
            if slept > 0:
                loop.slept(slept)
                tick += slept
            if control in woke and _stop_requested(control, 0.0, on_rules):
                break
            if now >= next_stats:
                next_stats = now + STATS_EVERY
                report(now)
            if not woke or control in woke:
                continue  # nothing drawn yet (rules may have changed: the loop asks again)
        due = t0 + tick * period
        # Every iteration looks for "stop": ahead of schedule it sleeps until due (or wakes
        # for "stop"); behind it only looks.  Looking only when ahead would never stop a
        # loop whose every tick runs late (a full ring under the block policy, a slow
        # machine); this way a stop is honoured within one tick under any load.
        if _stop_requested(control, max(0.0, due - time.monotonic()), on_rules):
            break
        now = time.monotonic()
        if now < due:
            continue
        if now - due >= period:
            skipped = math.floor((now - due) / period)
            loop.stats.late_ticks += skipped
            tick += skipped
        tick += 1
        stamp = time.monotonic()
        loop.tick(stamp)
        if stamp >= next_stats:
            next_stats += STATS_EVERY
            report(stamp)
    stamp = time.monotonic()
    loop.finish(stamp)
    loop.stats.elapsed = stamp - t0
    loop.stats.cpu_seconds = cpu_seconds() - cpu_before
    # a session stopped within its first second (its first frame is on disk at once now)
    # has had no stats tick: its last word carries the region too
    loop.stats.region = _region(loop) or loop.stats.region
