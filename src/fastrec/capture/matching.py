"""Platform-independent window logic: which window is the RDP client, what covers it.

The X11 and Win32 backends turn their window lists into :class:`WindowInfo` records; the
choices made from them live here, so they are unit-tested without a display and are the
same on both platforms.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from fastrec.capture.base import Region


@dataclass(frozen=True, slots=True)
class WindowInfo:
    """One top-level window as a backend sees it.

    ``geometry``: the window's content (client) area in screen coordinates, without the
    window manager's title bar and borders -- what a window source records.
    ``frame``: the outer bounds including decorations -- what the window covers of windows
    below it; ``None`` means the same as ``geometry``.
    ``classes``: X11 WM_CLASS (instance and class) or the Win32 window class.
    ``mapped``: shown on screen (X11 viewable; Win32 visible and not cloaked).
    ``minimised``: iconified/minimised (a minimised window is usually also unmapped).
    ``stacking``: position in the stacking order, 0 = bottom; larger is on top.
    ``managed``: a window-manager client (an application window).  Unmanaged windows --
    override-redirect menus and tooltips on X11 -- only ever count as covering others.
    ``pid``/``process_name``: the owning process when known (local clients only).
    """

    id: int
    geometry: Region
    frame: Region | None = None
    pid: int | None = None
    process_name: str = ""
    classes: tuple[str, ...] = ()
    title: str = ""
    mapped: bool = True
    minimised: bool = False
    stacking: int = 0
    managed: bool = True

    @property
    def visible(self) -> bool:
        """On screen: mapped and not minimised."""
        return self.mapped and not self.minimised

    @property
    def bounds(self) -> Region:
        """What the window covers: its frame, or its content area without a frame."""
        return self.frame if self.frame is not None else self.geometry

    def describe(self) -> str:
        """``0x400005 'title' (xfreerdp, pid 123)`` for logs and Target.reason."""
        owner = ", ".join(p for p in (self.process_name,
                                      f"pid {self.pid}" if self.pid else "") if p)
        return f"{self.id:#x} {self.title!r}" + (f" ({owner})" if owner else "")


def compile_pattern(pattern: str, field_name: str = "pattern") -> re.Pattern[str]:
    """A case-insensitive matcher: ``re:<regex>`` (searched anywhere in the value) or a
    shell glob (``*``, ``?``, ``[...]``) that must match the whole value."""
    if not isinstance(pattern, str) or not pattern:
        raise ValueError(f"{field_name} must be non-empty strings, got {pattern!r}")
    if pattern.startswith("re:"):
        try:
            return re.compile(pattern[3:], re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"{field_name}: invalid regular expression {pattern!r}: {exc}") from None
    # fnmatch.translate anchors only the end (\Z); \A anchors the start, so that search()
    # is a full match ("lab-*" must not match "rdp://admin@lab-01", nor "xfreerdp" "my-xfreerdp")
    return re.compile(r"\A" + fnmatch.translate(pattern), re.IGNORECASE)


# Process names and window classes of RDP clients.  Linux: FreeRDP's X11, Wayland and SDL
# clients (2.x and 3.x names), rdesktop, Remmina.  Windows: mstsc.exe, whose session
# window has class TscShellContainerClass.
DEFAULT_PROCESS_NAMES = ("xfreerdp", "xfreerdp3", "wlfreerdp", "wlfreerdp3", "sdl-freerdp",
                         "sdl-freerdp3", "rdesktop", "remmina", "mstsc.exe")
DEFAULT_CLASSES = ("xfreerdp", "xfreerdp3", "wlfreerdp", "sdl-freerdp", "sdl-freerdp3",
                   "rdesktop", "org.remmina.Remmina", "TscShellContainerClass")
# Windows of those processes that are not a session: mstsc's connection dialog (class
# #32770, the Win32 dialog class) and Remmina's connection list.
DEFAULT_EXCLUDE_CLASSES = ("#32770",)
DEFAULT_EXCLUDE_TITLES = ("Remmina Remote Desktop Client",)

# Points for each kind of match: a process-name match is the strongest evidence (the
# server-side PID on X11), a class match next; a title alone is weak (a browser tab can be
# called "Remote Desktop"), so it is off by default and only breaks ties when configured.
_PROCESS_SCORE, _CLASS_SCORE, _TITLE_SCORE = 4, 2, 1


@dataclass(frozen=True)
class WindowPatterns:
    """How to recognise the RDP client window.

    Each pattern is a case-insensitive shell glob (``"xfreerdp*"``) or ``"re:<regex>"``.
    A window is a candidate if its process name, one of its classes or its title matches,
    none of the exclude patterns matches, and -- when ``pids`` is given -- it belongs to
    one of those processes (an embedding app that launched mstsc knows its PID: pinning it
    keeps one connection's recording off another connection's window).
    """

    process_names: tuple[str, ...] = DEFAULT_PROCESS_NAMES
    classes: tuple[str, ...] = DEFAULT_CLASSES
    titles: tuple[str, ...] = ()
    exclude_classes: tuple[str, ...] = DEFAULT_EXCLUDE_CLASSES
    exclude_titles: tuple[str, ...] = DEFAULT_EXCLUDE_TITLES
    pids: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("process_names", "classes", "titles", "exclude_classes", "exclude_titles"):
            value = getattr(self, name)
            if isinstance(value, str):  # a lone string would match letter by letter
                value = (value,)
            object.__setattr__(self, name, tuple(value))
            for pattern in getattr(self, name):
                compile_pattern(pattern, f"WindowPatterns.{name}")
        pids = (self.pids,) if isinstance(self.pids, int) else tuple(self.pids)
        for pid in pids:
            if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
                raise ValueError(f"WindowPatterns.pids must be positive integers, got {pid!r}")
        object.__setattr__(self, "pids", pids)
        if not (self.process_names or self.classes or self.titles):
            raise ValueError("WindowPatterns needs at least one of process_names, classes, titles")

    @cached_property
    def _compiled(self) -> dict[str, list[re.Pattern[str]]]:
        names = ("process_names", "classes", "titles", "exclude_classes", "exclude_titles")
        return {n: [compile_pattern(p) for p in getattr(self, n)] for n in names}

    def score(self, window: WindowInfo) -> int:
        """How well ``window`` matches: 0 = not a candidate, higher = better."""
        c = self._compiled
        if self.pids and window.pid not in self.pids:
            return 0
        if _any(c["exclude_classes"], window.classes) or _any(c["exclude_titles"], [window.title]):
            return 0
        score = 0
        if window.process_name and _any(c["process_names"], [window.process_name]):
            score += _PROCESS_SCORE
        if _any(c["classes"], window.classes):
            score += _CLASS_SCORE
        if window.title and _any(c["titles"], [window.title]):
            score += _TITLE_SCORE
        return score


def _any(patterns: Sequence[re.Pattern[str]], values: Iterable[str]) -> bool:
    return any(p.search(v) for p in patterns for v in values if v)


def pick_rdp_window(windows: Sequence[WindowInfo], patterns: WindowPatterns,
                    previous: int | None = None) -> WindowInfo | None:
    """The RDP client window among ``windows``, or ``None``.

    Best match first: highest score, then shown rather than minimised, then topmost, then
    the lowest id (deterministic).  Stable: the ``previous`` choice is kept -- even while
    minimised -- as long as it exists and no window matches strictly better (mstsc shows
    a helper window before its session window: that one must not stick).
    Windows that are neither shown nor minimised (hidden helper windows, other virtual
    desktops) are only kept as ``previous``, never picked anew.
    """
    best: WindowInfo | None = None
    best_key: tuple[int, bool, int, int] | None = None
    kept: WindowInfo | None = None
    kept_score = 0
    for window in windows:
        if not window.managed:
            continue
        score = patterns.score(window)
        if score == 0:
            continue
        if window.id == previous:
            kept, kept_score = window, score
        hidden_helper = not (window.mapped or window.minimised)
        if hidden_helper or (window.visible and window.geometry.is_empty):
            continue
        key = (score, window.visible, window.stacking, -window.id)
        if best_key is None or key > best_key:
            best, best_key = window, key
    if kept is not None and (best_key is None or kept_score >= best_key[0]):
        return kept
    return best


def pick_active_window(windows: Sequence[WindowInfo], active: int | None) -> WindowInfo | None:
    """The managed window with id ``active`` (the focused window), or ``None``."""
    if active is None:
        return None
    return next((w for w in windows if w.id == active and w.managed), None)


def windows_above(windows: Sequence[WindowInfo], target: WindowInfo) -> list[Region]:
    """Bounds of the shown windows stacked above ``target`` (what can cover it)."""
    return [w.bounds for w in windows
            if w.visible and w.stacking > target.stacking and w.id != target.id]


def occlusion(target: Region, above: Iterable[Region]) -> tuple[bool, tuple[Region, ...]]:
    """Which parts of ``target`` the rectangles ``above`` cover.

    Returns ``(fully_covered, occluded)``: ``occluded`` is the covered area as disjoint
    rectangles relative to ``target``'s top-left corner, sorted top to bottom, left to
    right; ``fully_covered`` is true when nothing of ``target`` remains visible (an empty
    target counts as covered).
    """
    covered: list[Region] = []  # disjoint, absolute coordinates
    for rect in above:
        cut = target.intersection(rect)
        if cut is None:
            continue
        # add only what is not covered yet, so the pieces stay disjoint and areas add up
        pieces = [cut]
        for done in covered:
            pieces = [p for piece in pieces for p in piece.subtract(done)]
            if not pieces:
                break
        covered.extend(pieces)
    covered_area = sum(r.area for r in covered)
    fully = covered_area >= target.area
    occluded = sorted((r.relative_to(target) for r in _merge(covered)),
                      key=lambda r: (r.y, r.x, r.height, r.width))
    return fully, tuple(occluded)


def _merge(rects: list[Region]) -> list[Region]:
    """Join disjoint rectangles that share a whole edge (fewer, larger mask rectangles)."""
    rects = list(rects)
    merged = True
    while merged:
        merged = False
        for i in range(len(rects)):
            for j in range(i + 1, len(rects)):
                a, b = rects[i], rects[j]
                joined = None
                if a.y == b.y and a.height == b.height and (a.right == b.x or b.right == a.x):
                    joined = Region.from_edges(min(a.x, b.x), a.y, max(a.right, b.right), a.bottom)
                elif a.x == b.x and a.width == b.width and (a.bottom == b.y or b.bottom == a.y):
                    joined = Region.from_edges(a.x, min(a.y, b.y), a.right, max(a.bottom, b.bottom))
                if joined is not None:
                    rects[i] = joined
                    del rects[j]
                    merged = True
                    break
            if merged:
                break
    return rects
