"""open_source: the RECORDING_MODE values, their options and their errors."""

from __future__ import annotations

import pytest
from x11_windows import needs_x

from fastrec.capture import (
    MODES,
    CaptureError,
    FullScreenSource,
    SyntheticSource,
    WindowPatterns,
    open_source,
    window_backend_module,
)
from fastrec.capture import x11 as x11_module


def test_unknown_mode_names_the_value_and_the_allowed_ones():
    with pytest.raises(ValueError) as err:
        open_source("whole_desktop")
    assert str(err.value) == ("mode must be one of full_screen, rdp_window, active_window, "
                              "synthetic, video_file, got 'whole_desktop'")


def test_unknown_option_lists_the_allowed_ones():
    with pytest.raises(ValueError, match=r"unknown option\(s\) 'monitors' for mode 'full_screen'; "
                                         r"allowed: monitor, grabber"):
        open_source("full_screen", ":1", monitors=2)


def test_modes_build_their_sources():
    assert isinstance(open_source("full_screen", ":1", monitor=1), FullScreenSource)
    source = open_source("rdp_window", ":1", patterns=WindowPatterns(pids=(42,)))
    assert isinstance(source, x11_module.RdpWindowSource)
    assert source.patterns.pids == (42,) and not source.is_open  # built, not opened
    assert isinstance(open_source("active_window", ":1"), x11_module.ActiveWindowSource)
    synthetic = open_source("synthetic", ":1", width=64, height=64, scenario="static")
    assert isinstance(synthetic, SyntheticSource)
    assert set(MODES) >= {"full_screen", "rdp_window", "active_window"}


def test_synthetic_source_end_to_end():
    with open_source("synthetic", width=128, height=96, fps=5, scenario="video") as source:
        frame = source.grab(source.locate())
        assert frame.shape == (96, 128, 4)


def test_backend_by_platform():
    assert window_backend_module("linux").__name__ == "fastrec.capture.x11"
    assert window_backend_module("win32").__name__ == "fastrec.capture.win32"
    with pytest.raises(CaptureError, match="window recording is not supported on darwin"):
        window_backend_module("darwin")


@needs_x
def test_full_screen_on_a_private_display(bare_display):
    with open_source("full_screen", bare_display.display) as source:
        assert source.grab(source.locate()).shape == (720, 1280, 4)
