"""Regions, window matching and occlusion: the platform-independent logic, without X.

Windows-style data (mstsc.exe, TscShellContainerClass, the #32770 dialog) stands in here
for the Win32 calls that cannot run on Linux.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from x11_windows import mask_occluded

from fastrec.capture import Region, Target, WindowInfo, WindowPatterns, occlusion, pick_rdp_window
from fastrec.capture.matching import compile_pattern, pick_active_window, windows_above

# -- Region and Target ------------------------------------------------------------------


def test_region_geometry_helpers():
    a = Region(10, 20, 100, 50)
    assert (a.right, a.bottom, a.area, a.size) == (110, 70, 5000, (100, 50))
    assert a.intersection(Region(50, 0, 100, 30)) == Region(50, 20, 60, 10)
    assert a.intersection(Region(110, 20, 5, 5)) is None  # touching is not overlapping
    assert a.clip_to(Region(0, 0, 64, 48)) == Region(10, 20, 54, 28)
    assert Region(-50, -50, 10, 10).clip_to(Region(0, 0, 64, 48)) is None
    assert a.relative_to(Region(10, 10, 1, 1)) == Region(0, 10, 100, 50)
    assert a.contains(Region(10, 20, 100, 50)) and not a.contains(Region(9, 20, 2, 2))
    assert str(Region(-5, 7, 30, 40)) == "30x40-5+7"
    assert Region(1, 2, 3, 4).as_mss() == {"left": 1, "top": 2, "width": 3, "height": 4}


def test_region_subtract_leaves_disjoint_pieces_of_the_right_area():
    a = Region(0, 0, 10, 10)
    pieces = a.subtract(Region(3, 3, 4, 4))
    assert sum(p.area for p in pieces) == 100 - 16
    assert len(pieces) == 4
    assert a.subtract(Region(20, 20, 5, 5)) == [a]
    assert a.subtract(Region(-1, -1, 20, 20)) == []


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"x": 1.5, "y": 0, "width": 1, "height": 1}, "Region.x must be an integer, got 1.5"),
    ({"x": 0, "y": 0, "width": -1, "height": 1}, "must be >= 0, got -1x1"),
    ({"x": 0, "y": True, "width": 1, "height": 1}, "Region.y must be an integer, got True"),
])
def test_region_rejects_bad_values(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message.replace("+", r"\+")):
        Region(**kwargs)


def test_region_accepts_numpy_integers():
    r = Region(np.int64(3), np.int32(4), np.uint16(5), 6)
    assert r == Region(3, 4, 5, 6) and type(r.x) is int


def test_target_validates_occluded_parts_against_its_region():
    Target(Region(100, 100, 50, 40), (Region(0, 0, 50, 10),))
    with pytest.raises(ValueError, match="Target.occluded must hold Regions inside 0,0..50x40"):
        Target(Region(100, 100, 50, 40), (Region(100, 100, 5, 5),))  # absolute, not relative
    with pytest.raises(ValueError, match="Target.region must not be empty"):
        Target(Region(0, 0, 0, 10))


def test_occluded_parts_index_the_grab_and_mask_exactly_the_covered_pixels():
    # a screen painted as the windows stack: desktop, the target, then windows above it
    # (one over its corner, one over its lower edge, one elsewhere)
    desktop, mine, theirs = (30, 30, 30, 255), (200, 10, 10, 255), (10, 200, 10, 255)
    screen = np.empty((120, 160, 4), np.uint8)
    screen[...] = desktop
    region = Region(20, 10, 100, 80)
    screen[region.y : region.bottom, region.x : region.right] = mine
    above = [Region(0, 0, 40, 30), Region(90, 60, 50, 50), Region(130, 0, 30, 30)]
    for r in above:
        screen[r.y : r.bottom, r.x : r.right] = theirs
    covered, parts = occlusion(region, above)
    target = Target(region, parts)
    frame = screen[region.y : region.bottom, region.x : region.right].copy()  # what grab() returns
    under = (frame == theirs).all(axis=2)
    assert not covered and under.any()

    mask_occluded(frame, target)  # as the capture loop masks it
    assert not (frame == theirs).all(axis=2).any(), "another window's pixels left in the frame"
    assert (frame[under][:, :3] == 0).all()
    assert (frame[~under] == mine).all(), "the target's own pixels were masked"


# -- patterns -----------------------------------------------------------------------------


def test_patterns_are_case_insensitive_globs_or_regexes():
    assert compile_pattern("xfreerdp*").search("XFreeRDP3")
    assert not compile_pattern("xfreerdp").search("xfreerdp-helper")  # globs match whole names
    assert not compile_pattern("xfreerdp").search("my-xfreerdp")  # from the first character too
    assert not compile_pattern("lab-*").search("rdp://admin@lab-01")
    assert compile_pattern("re:remote desktop").search("Server1 - Remote Desktop Connection")


def test_invalid_regex_error_names_field_and_value():
    with pytest.raises(ValueError, match=r"WindowPatterns.titles: invalid regular expression 're:\('"):
        WindowPatterns(titles=("re:(",))


def test_patterns_reject_bad_pids_and_empty_patterns():
    with pytest.raises(ValueError, match="WindowPatterns.pids must be positive integers, got -3"):
        WindowPatterns(pids=(-3,))
    with pytest.raises(ValueError, match="needs at least one of process_names, classes, titles"):
        WindowPatterns(process_names=(), classes=(), titles=())
    assert WindowPatterns(process_names="mstsc.exe").process_names == ("mstsc.exe",)


def win(wid: int, process: str = "", classes: tuple[str, ...] = (), title: str = "",
        stacking: int = 0, region: Region | None = None, **kw) -> WindowInfo:
    return WindowInfo(wid, region or Region(0, 0, 800, 600), process_name=process, classes=classes, title=title,
                      stacking=stacking, pid=kw.pop("pid", 1000 + wid), **kw)


LINUX_DESKTOP = [
    win(1, "bash", ("xterm", "XTerm"), "terminal", 0),
    win(2, "xfreerdp", ("xfreerdp", "xfreerdp"), "FreeRDP: server1", 1),
    win(3, "firefox", ("Navigator", "firefox"), "Remote Desktop - docs", 2),
]


def test_linux_rdp_clients_are_recognised_by_default():
    patterns = WindowPatterns()
    for process, cls in [("xfreerdp", "xfreerdp"), ("xfreerdp3", "xfreerdp3"),
                         ("wlfreerdp", "wlfreerdp"), ("sdl-freerdp", "sdl-freerdp"),
                         ("rdesktop", "rdesktop"), ("remmina", "org.remmina.Remmina")]:
        assert patterns.score(win(1, process, (cls,))) == 6, process
    assert patterns.score(win(1, "firefox", ("firefox",), "Remote Desktop - docs")) == 0
    # Remmina's own connection list is not a session
    assert patterns.score(win(1, "remmina", ("org.remmina.Remmina",),
                              "Remmina Remote Desktop Client")) == 0


def test_pick_finds_the_rdp_client_not_a_browser_titled_remote_desktop():
    assert pick_rdp_window(LINUX_DESKTOP, WindowPatterns()).id == 2


def test_title_patterns_only_when_asked():
    patterns = WindowPatterns(process_names=(), classes=(), titles=("re:remote desktop",))
    assert pick_rdp_window(LINUX_DESKTOP, patterns).id == 3


WINDOWS_DESKTOP = [
    # stacking bottom to top, like every backend; data as win32.Win32Backend builds it
    win(0x10010, "explorer.exe", ("Progman",), "Program Manager", 0),
    win(0x20020, "mstsc.exe", ("TscShellContainerClass",), "server1 - Remote Desktop Connection", 1),
    win(0x30030, "notepad.exe", ("Notepad",), "notes.txt - Notepad", 2),
    win(0x40040, "mstsc.exe", ("#32770",), "Remote Desktop Connection", 3),
    win(0x50050, "explorer.exe", ("Shell_TrayWnd",), "", 4),
]


def test_mstsc_session_window_wins_over_its_connection_dialog():
    chosen = pick_rdp_window(WINDOWS_DESKTOP, WindowPatterns())
    assert chosen is not None and chosen.classes == ("TscShellContainerClass",)


def test_mstsc_helper_window_is_not_picked_and_does_not_stick():
    helper = win(0x60060, "mstsc.exe", ("IHWindowClass",), "", 0, mapped=False)
    assert pick_rdp_window([helper], WindowPatterns()) is None
    # a process-only match (score 4) is replaced once the session window (6) appears
    splash = win(0x70070, "mstsc.exe", ("OPContainerClass",), "", 1)
    assert pick_rdp_window([splash], WindowPatterns()).id == 0x70070
    session = WINDOWS_DESKTOP[1]
    assert pick_rdp_window([splash, session], WindowPatterns(), previous=0x70070) is session


def test_pick_is_stable_while_the_window_exists():
    a = win(10, "xfreerdp", ("xfreerdp",), "a", stacking=0)
    b = win(11, "xfreerdp", ("xfreerdp",), "b", stacking=1)
    assert pick_rdp_window([a, b], WindowPatterns()).id == 11  # topmost first
    assert pick_rdp_window([a, b], WindowPatterns(), previous=10).id == 10  # then kept
    a_min = win(10, "xfreerdp", ("xfreerdp",), "a", mapped=False, minimised=True)
    assert pick_rdp_window([a_min, b], WindowPatterns(), previous=10).id == 10  # even minimised
    assert pick_rdp_window([b], WindowPatterns(), previous=10).id == 11  # gone: next one


def test_pick_prefers_shown_windows_and_is_deterministic():
    shown = win(20, "xfreerdp", ("xfreerdp",), stacking=0)
    minimised = win(21, "xfreerdp", ("xfreerdp",), stacking=5, mapped=False, minimised=True)
    assert pick_rdp_window([minimised, shown], WindowPatterns()).id == 20
    same = [win(31, "xfreerdp", ("xfreerdp",)), win(30, "xfreerdp", ("xfreerdp",))]
    assert pick_rdp_window(same, WindowPatterns()).id == 30
    assert pick_rdp_window(list(reversed(same)), WindowPatterns()).id == 30


def test_pids_pin_one_connection():
    a = win(10, "mstsc.exe", ("TscShellContainerClass",), pid=111, stacking=1)
    b = win(11, "mstsc.exe", ("TscShellContainerClass",), pid=222, stacking=2)
    assert pick_rdp_window([a, b], WindowPatterns(pids=(111,))).id == 10
    assert pick_rdp_window([b], WindowPatterns(pids=(111,))) is None


def test_unmanaged_windows_are_never_picked():
    popup = win(40, "xfreerdp", ("xfreerdp",), managed=False)
    assert pick_rdp_window([popup], WindowPatterns()) is None
    assert pick_active_window([popup], 40) is None
    assert pick_active_window(LINUX_DESKTOP, 3).id == 3
    assert pick_active_window(LINUX_DESKTOP, None) is None


def test_windows_above_uses_frames_of_shown_windows_only():
    target = win(1, stacking=1, region=Region(10, 30, 100, 100))
    above = win(2, stacking=2, region=Region(50, 50, 10, 10), frame=Region(49, 30, 12, 31))
    hidden = win(3, stacking=3, mapped=False, minimised=True)
    below = win(4, stacking=0)
    assert windows_above([below, target, above, hidden], target) == [Region(49, 30, 12, 31)]


# -- occlusion ----------------------------------------------------------------------------


def test_occlusion_partial_is_relative_to_the_target():
    covered, parts = occlusion(Region(100, 100, 200, 100), [Region(250, 150, 100, 100)])
    assert not covered
    assert parts == (Region(150, 50, 50, 50),)


def test_occlusion_ignores_rectangles_outside():
    assert occlusion(Region(0, 0, 10, 10), [Region(10, 0, 5, 5), Region(-5, -5, 5, 20)]) == (False, ())


def test_occlusion_full_cover_by_several_windows():
    target = Region(0, 0, 100, 100)
    covered, parts = occlusion(target, [Region(-10, -10, 60, 200), Region(40, -10, 100, 200)])
    assert covered
    assert sum(p.area for p in parts) == 100 * 100


def test_occlusion_overlapping_windows_give_disjoint_merged_parts():
    covered, parts = occlusion(Region(0, 0, 100, 100),
                               [Region(0, 0, 50, 50), Region(25, 25, 50, 50), Region(0, 0, 50, 50)])
    assert not covered
    assert sum(p.area for p in parts) == 2500 + 2500 - 625
    assert len(parts) <= 4  # edge-sharing pieces are merged


rects = st.builds(Region, st.integers(-20, 60), st.integers(-20, 60),
                  st.integers(0, 50), st.integers(0, 50))


@settings(max_examples=150, deadline=None)
@given(target=rects.filter(lambda r: not r.is_empty), above=st.lists(rects, max_size=6))
def test_occlusion_matches_a_pixel_mask(target, above):
    covered, parts = occlusion(target, above)
    expected = np.zeros((target.height, target.width), bool)
    for r in above:
        cut = target.intersection(r)
        if cut is not None:
            rel = cut.relative_to(target)
            expected[rel.y : rel.bottom, rel.x : rel.right] = True
    got = np.zeros_like(expected, dtype=int)
    for p in parts:
        assert Region(0, 0, target.width, target.height).contains(p)
        got[p.y : p.bottom, p.x : p.right] += 1
    assert got.max(initial=0) <= 1, "parts overlap"
    assert (got.astype(bool) == expected).all()
    assert covered == bool(expected.all())
