"""Sources without a screen: deterministic synthetic desktops and video files.

:class:`SyntheticSource` draws what a desktop would show, as a pure function of time, so
a test can ask :meth:`SyntheticSource.frame_at` for the exact frame a recording should
hold at a timestamp (PSNR/SSIM of the decoded file), and a benchmark gets a repeatable
workload.  :class:`VideoFileSource` replays a video file through PyAV.

The ``"clock"`` scenario shows the wall-clock second as big black and white blocks (a
binary code with a check byte) that survive H.264 and scaling, so a test can read, from
the pixels a player shows, which second of the recording it is looking at
(:func:`decode_clock`).
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fastrec.capture.base import CaptureError, CaptureSource, Region, Target
from fastrec.capture.matching import WindowInfo
from fastrec.checks import check_int

SCENARIOS = ("static", "typing", "video", "clock")

# the editor the "typing" and "static" scenarios draw
_CELL_W, _CELL_H = 12, 20  # a character cell
_GLYPH_W, _GLYPH_H, _GLYPH_SCALE = 5, 7, 2  # 5x7 bitmap glyphs drawn 2x: 10x14 pixels
_MARGIN_X, _MARGIN_Y = 48, 32  # gutter on the left, title bar on top
_BACKGROUND = (250, 250, 250, 255)  # BGRA
_GUTTER = (232, 232, 232, 255)
_TITLE_BAR = (120, 80, 40, 255)
_INK = ((40, 40, 40, 255), (160, 60, 20, 255), (30, 120, 30, 255), (20, 40, 170, 255))
# a human typist: bursts of keys 80-250 ms apart, idle stretches in between
_BURST_SECONDS, _IDLE_SECONDS, _KEY_GAP = (2.0, 6.0), (1.5, 5.0), (0.08, 0.25)
_STATIC_CHARS = 400  # text on the "static" screen
# the "clock": 40 blocks in 8 columns x 5 rows, one bit each, most significant first: the
# epoch second as 32 bits, then a check byte (so a blank or foreign picture decodes to None)
_CLOCK_COLS, _CLOCK_ROWS, _CLOCK_BITS = 8, 5, 40
_CLOCK_MARGIN = 4  # pixels of grey around the grid: blocks never touch the picture's edge
_CLOCK_ON, _CLOCK_OFF, _CLOCK_EDGE = (255, 255, 255, 255), (0, 0, 0, 255), (128, 128, 128, 255)


def _check_positive_int(name: str, value: Any, upper: int) -> None:
    check_int(f"SyntheticSource.{name}", value, 1, upper)


class SyntheticSource(CaptureSource):
    """A deterministic desktop of ``width`` x ``height`` whose content changes at most
    ``fps`` times a second.

    Scenarios:

    * ``"static"``: an editor with a page of text; never changes.
    * ``"typing"``: the same editor with characters appearing at a human rate (bursts of
      keys 80-250 ms apart, idle stretches of 1.5-5 s); a full page starts a new one.
    * ``"video"``: a moving texture: every frame differs from the one before.
    * ``"clock"``: the wall-clock second ``floor(epoch + t)`` as a block code
      (:func:`clock_blocks`, read back by :func:`decode_clock`); changes once a second.

    Time ``t`` is seconds since :meth:`open` on ``clock`` (:attr:`start_time`); the content
    at ``t`` is that of frame ``floor(t * fps)``.  The same ``seed`` gives the same frames.

    ``epoch``: the wall-clock time (epoch seconds) of ``t = 0`` for the ``"clock"``;
    ``None`` takes ``time.time()`` when the source opens, so a recording's pixels show
    the wall clock of their capture.

    ``fail_after``: a broken screen for fault tests - grabs after that many raise
    CaptureError.
    """

    def __init__(self, width: int = 1280, height: int = 720, fps: int = 10,
                 scenario: str = "typing", *, seed: int = 0,
                 clock: Callable[[], float] = time.monotonic, fail_after: int | None = None,
                 epoch: float | None = None) -> None:
        _check_positive_int("width", width, 16384)
        _check_positive_int("height", height, 16384)
        _check_positive_int("fps", fps, 240)
        if scenario not in SCENARIOS:
            raise ValueError(f"SyntheticSource.scenario must be one of {', '.join(SCENARIOS)}, "
                             f"got {scenario!r}")
        if epoch is not None and not (isinstance(epoch, (int, float)) and 0 <= epoch < 2**32):
            raise ValueError(f"SyntheticSource.epoch must be epoch seconds in [0, 2**32), got {epoch!r}")
        if width * height < 64 * 64 and scenario != "video":
            raise ValueError(f"SyntheticSource: {scenario!r} needs at least 64x64 pixels, "
                             f"got {width}x{height}")
        self.width, self.height, self.fps, self.scenario = width, height, fps, scenario
        self.seed = seed
        self.clock = clock
        self.start_time = 0.0
        self.epoch = epoch
        self._epoch_given = epoch is not None
        self.last_grab_time: float | None = None  # t of the last grab
        self._target = Target(Region(0, 0, width, height), reason=f"synthetic {scenario}")
        rng = np.random.default_rng(seed)
        # glyph bitmaps: 0 is a space (as is every 6th on average), the rest random 5x7
        self._glyphs = rng.random((64, _GLYPH_H, _GLYPH_W)) < 0.45
        self._glyphs[0] = False
        self._text = rng.integers(1, 64, size=4096)
        self._text[rng.random(4096) < 0.17] = 0
        self._ink = rng.integers(0, len(_INK), size=4096)
        self._rng = rng
        self._key_times: list[float] = []
        self._schedule_end = 0.0
        self._burst = True
        self._cols = max(1, (width - _MARGIN_X - 8) // _CELL_W)
        self._rows = max(1, (height - _MARGIN_Y - 8) // _CELL_H)
        self._page: tuple[int, int, np.ndarray] | None = None  # (page, chars drawn, canvas)
        self._texture: np.ndarray | None = None
        self._damage_key: int | None = None
        self._grabs_left = fail_after

    # -- CaptureSource ----------------------------------------------------------
    def _open(self) -> None:
        self.start_time = self.clock()
        if not self._epoch_given:
            self.epoch = time.time()

    def _close(self) -> None:
        pass

    def windows(self) -> list[WindowInfo]:
        """Generated pixels hold no windows: no window rule ever matches."""
        return []

    def locate(self) -> Target:
        self._require_open()
        return self._target

    def grab(self, target: Target) -> np.ndarray:
        self._require_open()
        if not self._target.region.contains(target.region):
            raise CaptureError(f"target region {target.region} is not inside the synthetic "
                               f"screen {self._target.region}")
        if self._grabs_left is not None:
            if self._grabs_left <= 0:
                raise CaptureError("the synthetic screen broke (fail_after)")
            self._grabs_left -= 1
        t = max(0.0, self.clock() - self.start_time)
        self.last_grab_time = t
        frame = self.frame_at(t)
        r = target.region
        return frame if r == self._target.region else frame[r.y : r.bottom, r.x : r.right]

    def damaged(self) -> bool:
        """Exact: has the content changed since the last call?  (The first call: True.)"""
        self._require_open()
        key = self._content_key(self.frame_index(max(0.0, self.clock() - self.start_time)))
        changed = key != self._damage_key
        self._damage_key = key
        return changed

    # -- the frames -----------------------------------------------------------------
    def frame_index(self, t: float) -> int:
        """The content frame shown at ``t`` seconds."""
        if not t >= 0:
            raise ValueError(f"t must be >= 0 seconds, got {t!r}")
        # the epsilon keeps t = k / fps on frame k despite float rounding
        return math.floor(t * self.fps + 1e-9)

    def frame_at(self, t: float) -> np.ndarray:
        """The exact BGRA frame (a new array) shown at ``t`` seconds after start."""
        index = self.frame_index(t)
        if self.scenario == "video":
            return self._video_frame(index)
        if self.scenario == "clock":
            return clock_blocks(self.clock_second(index / self.fps), self.width, self.height)
        chars = _STATIC_CHARS if self.scenario == "static" else self.chars_typed(index / self.fps)
        return self._editor(chars)

    def chars_typed(self, t: float) -> int:
        """How many keys the "typing" scenario's typist has pressed by ``t`` seconds."""
        while self._schedule_end <= t:
            self._extend_schedule()
        return bisect.bisect_right(self._key_times, t)

    def clock_second(self, t: float) -> int:
        """The wall-clock second the ``"clock"`` shows at ``t`` (``epoch``: 0 before open)."""
        return math.floor((self.epoch or 0.0) + t)

    def _content_key(self, index: int) -> int:
        if self.scenario == "video":
            return index
        if self.scenario == "clock":
            return self.clock_second(index / self.fps)
        if self.scenario == "static":
            return 0
        return self.chars_typed(index / self.fps)

    def _extend_schedule(self) -> None:
        # one burst or one idle stretch at a time; the rng draws happen in a fixed order,
        # so the schedule depends on the seed only, not on which times were asked for
        rng = self._rng
        start = self._schedule_end
        if self._burst:
            end = start + rng.uniform(*_BURST_SECONDS)
            t = start
            while True:
                t += rng.uniform(*_KEY_GAP)
                if t >= end:
                    break
                self._key_times.append(t)
        else:
            end = start + rng.uniform(*_IDLE_SECONDS)
        self._schedule_end = end
        self._burst = not self._burst

    def _blank_editor(self) -> np.ndarray:
        canvas = np.empty((self.height, self.width, 4), dtype=np.uint8)
        canvas[:] = _BACKGROUND
        canvas[:, : min(_MARGIN_X - 8, self.width)] = _GUTTER
        canvas[: min(_MARGIN_Y - 8, self.height)] = _TITLE_BAR
        return canvas

    def _editor(self, chars: int) -> np.ndarray:
        capacity = self._cols * self._rows
        page = max(0, chars - 1) // capacity
        on_page = chars - page * capacity
        cached = self._page
        if cached is None or cached[0] != page or cached[1] > on_page:
            cached = (page, 0, self._blank_editor())
        _, drawn, canvas = cached
        for k in range(drawn, on_page):
            self._draw_char(canvas, k, page * capacity + k)
        self._page = (page, on_page, canvas)
        return canvas.copy()

    def _draw_char(self, canvas: np.ndarray, cell: int, char_no: int) -> None:
        glyph = self._glyphs[self._text[char_no % len(self._text)]]
        if not glyph.any():
            return
        row, col = divmod(cell, self._cols)
        x = _MARGIN_X + col * _CELL_W
        y = _MARGIN_Y + row * _CELL_H + 3
        mask = np.repeat(np.repeat(glyph, _GLYPH_SCALE, axis=0), _GLYPH_SCALE, axis=1)
        h = min(mask.shape[0], self.height - y)
        w = min(mask.shape[1], self.width - x)
        if h > 0 and w > 0:
            canvas[y : y + h, x : x + w][mask[:h, :w]] = _INK[self._ink[char_no % len(self._ink)]]

    def _video_frame(self, index: int) -> np.ndarray:
        if self._texture is None:
            # smooth random blobs: noise on a coarse grid, blown up and blurred by repeat
            rng = np.random.default_rng(self.seed + 1)
            coarse = rng.integers(0, 256, size=(self.height // 16 + 2, self.width // 16 + 2, 4),
                                  dtype=np.uint8)
            big = np.repeat(np.repeat(coarse, 16, axis=0), 16, axis=1)
            y = np.arange(big.shape[0], dtype=np.uint16)[:, None]
            x = np.arange(big.shape[1], dtype=np.uint16)[None, :]
            big[..., 0] += ((x * 3) & 0xFF).astype(np.uint8)
            big[..., 1] += ((y * 2) & 0xFF).astype(np.uint8)
            big[..., 3] = 255
            self._texture = big
        tex = self._texture
        th, tw = tex.shape[:2]
        # a diagonal pan that never comes back to the same offset within a minute at 60 fps
        dy, dx = (index * 5) % th, (index * 7) % tw
        rows = (np.arange(self.height) + dy) % th
        cols = (np.arange(self.width) + dx) % tw
        frame: np.ndarray = tex[rows[:, None], cols[None, :]]
        # a bright square crossing the screen: motion the eye (and the diff) can follow
        size = max(2, min(self.width, self.height) // 8)
        sx = (index * 11) % max(1, self.width - size)
        sy = (index * 3) % max(1, self.height - size)
        frame[sy : sy + size, sx : sx + size] = (255, 255, 255, 255)
        return frame


def _clock_code(second: int) -> list[bool]:
    value = second & 0xFFFFFFFF
    data = value.to_bytes(4, "big")
    check = (sum(data) & 0xFF) ^ 0xA5  # all-black (all zero) pictures fail the check
    code = int.from_bytes(data + bytes([check]), "big")
    return [bool(code >> (_CLOCK_BITS - 1 - k) & 1) for k in range(_CLOCK_BITS)]


def _clock_cell(k: int, width: int, height: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of bit ``k``'s block in a ``width`` x ``height`` picture."""
    row, col = divmod(k, _CLOCK_COLS)
    inner_w, inner_h = width - 2 * _CLOCK_MARGIN, height - 2 * _CLOCK_MARGIN
    x0 = _CLOCK_MARGIN + col * inner_w // _CLOCK_COLS
    y0 = _CLOCK_MARGIN + row * inner_h // _CLOCK_ROWS
    x1 = _CLOCK_MARGIN + (col + 1) * inner_w // _CLOCK_COLS
    y1 = _CLOCK_MARGIN + (row + 1) * inner_h // _CLOCK_ROWS
    return x0, y0, x1, y1


def clock_blocks(second: int, width: int, height: int) -> np.ndarray:
    """The ``"clock"`` picture (BGRA) of the epoch ``second``: 40 blocks, white for 1."""
    if width < 4 * _CLOCK_COLS + 2 * _CLOCK_MARGIN or height < 4 * _CLOCK_ROWS + 2 * _CLOCK_MARGIN:
        raise ValueError(f"clock_blocks: {width}x{height} is too small for {_CLOCK_COLS}x{_CLOCK_ROWS} blocks")
    canvas = np.empty((height, width, 4), dtype=np.uint8)
    canvas[:] = _CLOCK_EDGE
    for k, bit in enumerate(_clock_code(second)):
        x0, y0, x1, y1 = _clock_cell(k, width, height)
        canvas[y0:y1, x0:x1] = _CLOCK_ON if bit else _CLOCK_OFF
    return canvas


def decode_clock(picture: np.ndarray) -> int | None:
    """The epoch second a ``"clock"`` picture shows, or None when it is not one.

    ``picture``: height x width x channels (grey, BGR(A) or RGB(A): the blocks are grey
    levels) at any scale; each block is read as the mean of its middle half, so coding
    noise at the block edges does not matter.
    """
    if picture.ndim == 3:
        picture = picture[..., :3].mean(axis=2)
    height, width = picture.shape[:2]
    if width < 4 * _CLOCK_COLS + 2 * _CLOCK_MARGIN or height < 4 * _CLOCK_ROWS + 2 * _CLOCK_MARGIN:
        return None
    code = 0
    for k in range(_CLOCK_BITS):
        x0, y0, x1, y1 = _clock_cell(k, width, height)
        qx, qy = (x1 - x0) // 4, (y1 - y0) // 4
        level = float(picture[y0 + qy : y1 - qy, x0 + qx : x1 - qx].mean())
        code = code << 1 | (level >= 128)
    second = code >> 8
    return second if _clock_code(second) == [bool(code >> (_CLOCK_BITS - 1 - k) & 1)
                                             for k in range(_CLOCK_BITS)] else None


class VideoFileSource(CaptureSource):
    """Frames of a video file (PyAV), as BGRA.

    ``realtime=True``: each :meth:`locate` moves to the last frame due at the time elapsed
    since :meth:`open` (frames in between are skipped, like a screen nobody grabbed);
    ``realtime=False``: each :meth:`locate` moves to the next frame.
    At the end of the file ``locate()`` returns ``None`` (``pause_reason`` "end of file"),
    or starts again with ``loop=True``.  The region follows the frame size.
    """

    def __init__(self, path: str | Path, *, realtime: bool = True, loop: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ValueError(f"VideoFileSource.path: no such file {str(self.path)!r}")
        self.realtime, self.loop, self.clock = realtime, loop, clock
        self._container: Any = None
        self._frames: Any = None
        self._next: tuple[float, Any] | None = None  # decoded, not shown yet
        self._current: np.ndarray | None = None
        self._current_time = 0.0
        self._first_time: float | None = None
        self._offset = 0.0  # file seconds played in earlier loops
        self._frame_duration = 0.1
        self._start = 0.0
        self._pause_reason: str | None = None
        self.frames_shown = 0

    def _open(self) -> None:
        import av  # local: the capture package imports without PyAV

        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, OSError) as exc:
            raise CaptureError(f"cannot open video {str(self.path)!r}: {exc}") from exc
        if not self._container.streams.video:
            self._container.close()
            self._container = None
            raise CaptureError(f"{str(self.path)!r} has no video stream")
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        if rate:
            self._frame_duration = 1.0 / float(rate)
        self._frames = self._container.decode(stream)
        self._start = self.clock()

    def _close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
            self._frames = None

    def _peek(self) -> tuple[float, Any] | None:
        """The next frame and its time (seconds since the file's first frame, growing
        across loops), without consuming it; ``None`` at the end."""
        if self._next is None:
            for attempt in range(2):
                try:
                    frame = next(self._frames)
                except StopIteration:
                    if not self.loop or attempt or self._first_time is None:
                        return None
                    # play it again: later frames continue the timeline
                    self._offset = self._current_time + self._frame_duration
                    self._first_time = None
                    stream = self._container.streams.video[0]
                    self._container.seek(0, stream=stream)
                    self._frames = self._container.decode(stream)
                    continue
                t = float(frame.time) if frame.time is not None else 0.0
                if self._first_time is None:
                    self._first_time = t
                self._next = (self._offset + t - self._first_time, frame)
                break
        return self._next

    def _show_next(self) -> None:
        assert self._next is not None
        self._current_time, frame = self._next
        self._next = None
        self._current = frame.to_ndarray(format="bgra")
        self.frames_shown += 1

    def windows(self) -> list[WindowInfo]:
        """Generated pixels hold no windows: no window rule ever matches."""
        return []

    def locate(self) -> Target | None:
        self._require_open()
        if self.realtime:
            now = self.clock() - self._start
            while (upcoming := self._peek()) is not None:
                if self._current is not None and upcoming[0] > now:
                    break  # not due yet
                self._show_next()
            # the last frame is shown for one frame duration, then the file has ended
            ended = self._peek() is None and (
                self._current is None or now >= self._current_time + self._frame_duration)
        else:
            ended = self._peek() is None
            if not ended:
                self._show_next()
        if ended:
            self._pause_reason = "end of file"
            return None
        assert self._current is not None
        self._pause_reason = None
        h, w = self._current.shape[:2]
        return Target(Region(0, 0, w, h), reason=f"video {self.path.name}")

    @property
    def current_time(self) -> float:
        """File time (seconds from the first frame) of the frame :meth:`grab` returns."""
        return self._current_time

    def grab(self, target: Target) -> np.ndarray:
        self._require_open()
        if self._current is None:
            raise CaptureError("VideoFileSource.grab before a successful locate()")
        h, w = self._current.shape[:2]
        r = target.region
        if not Region(0, 0, w, h).contains(r):
            raise CaptureError(f"target region {r} is not inside the {w}x{h} video frame")
        return self._current[r.y : r.bottom, r.x : r.right].copy()
