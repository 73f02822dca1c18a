"""The contract between capture sources and the engine: what to record, and the pixels.

A :class:`CaptureSource` answers two questions each frame:

* :meth:`~CaptureSource.locate` -- *what* to record now: a :class:`Target` (a screen
  rectangle plus the parts of it that other windows cover), or ``None`` to pause.  ``None``
  is how a source says "the window is minimised, fully covered or gone"; the engine then
  records a gap.  A source never falls back to the whole desktop: that was the reference
  recorder's privacy leak.
* :meth:`~CaptureSource.grab` -- the BGRA pixels of exactly ``target.region``.

Coordinates are screen pixels (the virtual screen: on Windows a monitor left of the
primary one has negative x).  ``Target.occluded`` is relative to ``target.region``, so it
indexes straight into the grabbed frame.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from fastrec.checks import check_int

if TYPE_CHECKING:
    import numpy as np

    from fastrec.capture.matching import WindowInfo


class CaptureError(RuntimeError):
    """A source cannot work: its display is unreachable, its platform unsupported, ..."""


def _check_int(owner: str, name: str, value: Any) -> None:
    check_int(f"{owner}.{name}", value)  # numpy integers are welcome: slicing code makes them


@dataclass(frozen=True, slots=True)
class Region:
    """A rectangle of screen (or frame) pixels: top-left corner and size.

    ``width`` and ``height`` may be 0 (an empty region); :meth:`intersection` returns
    ``None`` rather than an empty region, so ``None`` checks are all a caller needs.
    """

    x: int
    y: int
    width: int
    height: int

    def __post_init__(self) -> None:
        for name in ("x", "y", "width", "height"):
            _check_int("Region", name, getattr(self, name))
            object.__setattr__(self, name, int(getattr(self, name)))
        if self.width < 0 or self.height < 0:
            raise ValueError(
                f"Region width and height must be >= 0, got {self.width}x{self.height}"
            )

    @classmethod
    def from_edges(cls, left: int, top: int, right: int, bottom: int) -> Region:
        """The region from ``left``/``top`` (inclusive) to ``right``/``bottom`` (exclusive)."""
        return cls(left, top, max(0, right - left), max(0, bottom - top))

    @property
    def right(self) -> int:
        """First column right of the region."""
        return self.x + self.width

    @property
    def bottom(self) -> int:
        """First row below the region."""
        return self.y + self.height

    @property
    def area(self) -> int:
        return self.width * self.height

    @property
    def is_empty(self) -> bool:
        return self.width == 0 or self.height == 0

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``."""
        return self.width, self.height

    def intersection(self, other: Region) -> Region | None:
        """The overlap of two regions, or ``None`` if they do not overlap."""
        left, top = max(self.x, other.x), max(self.y, other.y)
        right, bottom = min(self.right, other.right), min(self.bottom, other.bottom)
        if right <= left or bottom <= top:
            return None
        return Region(left, top, right - left, bottom - top)

    def intersects(self, other: Region) -> bool:
        return self.intersection(other) is not None

    def contains(self, other: Region) -> bool:
        """True if ``other`` lies entirely inside this region."""
        return (self.x <= other.x and self.y <= other.y
                and other.right <= self.right and other.bottom <= self.bottom)

    def clip_to(self, screen: Region) -> Region | None:
        """The part of this region that lies on ``screen``; ``None`` if it is all off screen."""
        return self.intersection(screen)

    def translate(self, dx: int, dy: int) -> Region:
        return Region(self.x + dx, self.y + dy, self.width, self.height)

    def relative_to(self, origin: Region) -> Region:
        """This region in the coordinates of ``origin``'s top-left corner."""
        return self.translate(-origin.x, -origin.y)

    def subtract(self, other: Region) -> list[Region]:
        """The parts of this region not covered by ``other``: up to four disjoint rectangles
        (full-width bands above and below, then the left and right pieces between them)."""
        cut = self.intersection(other)
        if cut is None:
            return [] if self.is_empty else [self]
        pieces = [
            Region.from_edges(self.x, self.y, self.right, cut.y),  # above
            Region.from_edges(self.x, cut.bottom, self.right, self.bottom),  # below
            Region.from_edges(self.x, cut.y, cut.x, cut.bottom),  # left
            Region.from_edges(cut.right, cut.y, self.right, cut.bottom),  # right
        ]
        return [p for p in pieces if not p.is_empty]

    def as_mss(self) -> dict[str, int]:
        """The region as an mss monitor dict."""
        return {"left": self.x, "top": self.y, "width": self.width, "height": self.height}

    def __str__(self) -> str:
        return f"{self.width}x{self.height}{self.x:+d}{self.y:+d}"


@dataclass(frozen=True, slots=True)
class Target:
    """What to record in one frame.

    ``region``: the screen rectangle to grab (never empty).
    ``occluded``: parts of ``region`` covered by *other* windows, relative to ``region``
    (they index the grabbed frame directly).  The capture loop masks them (BLOCK) so
    another application's pixels are never recorded.  They may touch but do not overlap.
    ``window_id``: the recorded window (X11 window id or Win32 HWND), ``None`` for a screen.
    ``title``: the window title when there is one (metadata, event log).
    ``reason``: a short human-readable why, for logs ("rdp window 0x400005 (xfreerdp)").
    """

    region: Region
    occluded: tuple[Region, ...] = ()
    window_id: int | None = None
    title: str = ""
    reason: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.region, Region):
            raise ValueError(f"Target.region must be a Region, got {self.region!r}")  # noqa: TRY004
        if self.region.is_empty:
            raise ValueError(f"Target.region must not be empty, got {self.region}")
        frame = Region(0, 0, self.region.width, self.region.height)
        object.__setattr__(self, "occluded", tuple(self.occluded))
        for part in self.occluded:
            if not isinstance(part, Region) or not frame.contains(part):
                raise ValueError(
                    f"Target.occluded must hold Regions inside 0,0..{frame.width}x{frame.height} "
                    f"(relative to the target region), got {part!r}"
                )

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the frame :meth:`CaptureSource.grab` returns."""
        return self.region.size


class CaptureSource(ABC):
    """Where frames come from.  Use it as a context manager::

        with open_source("rdp_window", display=":1") as source:
            target = source.locate()
            if target is not None:
                frame = source.grab(target)

    A source is used from one thread (X connections and mss handles are not shared).
    """

    _opened = False

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def open(self) -> None:
        """Acquire the display connections and handles; ``with`` calls it."""
        if self._opened:
            return
        self._open()
        self._opened = True

    def close(self) -> None:
        """Release everything (idempotent); ``with`` calls it."""
        if not self._opened:
            return
        self._opened = False
        self._close()

    @property
    def is_open(self) -> bool:
        return self._opened

    def _require_open(self) -> None:
        if not self._opened:
            raise CaptureError(f"{type(self).__name__} is not open: use it in a `with` block")

    @abstractmethod
    def _open(self) -> None: ...

    @abstractmethod
    def _close(self) -> None: ...

    @abstractmethod
    def locate(self) -> Target | None:
        """What to record now, or ``None`` to pause (see :attr:`pause_reason`)."""

    @abstractmethod
    def grab(self, target: Target) -> np.ndarray:
        """BGRA uint8 pixels of exactly ``target.region``, shape ``(height, width, 4)``.

        The array is the caller's: later grabs do not overwrite it.
        """

    def damaged(self) -> bool | None:
        """Did anything change on screen (in the last located region) since the last call?

        ``False`` lets the engine skip the grab; ``None`` means the source cannot tell.
        """
        return None

    def damage(self) -> list[Region] | None:
        """Where the screen changed (inside the last located region, screen coordinates)
        since the last call to this or :meth:`damaged`: ``[]`` nothing, ``None`` unknown
        (grab everything).  Sources that know only *whether* answer through
        :meth:`damaged`, as this default does."""
        return [] if self.damaged() is False else None

    def quiet_handle(self) -> int | None:
        """A file descriptor that turns readable when something is next drawn, valid while
        nothing has been since the last :meth:`damage` and the target cannot change without
        a drawing (the whole screen): an idle capture loop sleeps on it instead of ticking.
        ``None`` (this default): the loop ticks at its frame rate."""
        return None

    def grab_view(self, target: Target, part: Region | None = None) -> np.ndarray:
        """BGRA pixels of ``part`` (screen coordinates, inside ``target.region``; ``None``:
        all of it), shape ``(height, width, 4)``, packed pixels.

        Unlike :meth:`grab` the array may be a read-only view of the source's own buffer,
        valid only until the next grab: the cheap way to read a few damaged rectangles.
        This default slices a :meth:`grab`.
        """
        frame = self.grab(target)
        if part is None:
            return frame
        rel = _part_of(target, part)
        return frame[rel.y : rel.bottom, rel.x : rel.right]

    def windows(self) -> list[WindowInfo]:
        """Every window on the captured screen now, for the privacy rules' window matching.

        Raises (CaptureError or the backend's error) when the list cannot be read: the
        engine then records nothing for that frame (fail closed).  A source that cannot
        list windows says so by raising - the default - never by an empty list; sources
        whose frames hold no windows (synthetic, video files) return ``[]``.
        """
        raise CaptureError(f"{type(self).__name__} cannot list windows")

    @property
    def pause_reason(self) -> str | None:
        """Why the last :meth:`locate` returned ``None`` ("minimised", ...), else ``None``."""
        return getattr(self, "_pause_reason", None)


def check_grab_target(target: Target, screen: Region) -> None:
    """Refuse to grab outside ``screen`` (a stale target after a resolution change)."""
    if not screen.contains(target.region):
        raise CaptureError(
            f"target region {target.region} is not inside the screen {screen}; call locate() again"
        )


def _part_of(target: Target, part: Region) -> Region:
    """``part`` relative to ``target.region``; a ValueError unless it lies inside it."""
    if not target.region.contains(part) or part.is_empty:
        raise ValueError(f"part {part} must be a non-empty rectangle inside the target region {target.region}")
    return part.relative_to(target.region)


def grab_part(target: Target, part: Region | None) -> Region:
    """The screen rectangle a source's ``grab_view(target, part)`` reads (checked)."""
    if part is None:
        return target.region
    _part_of(target, part)
    return part
