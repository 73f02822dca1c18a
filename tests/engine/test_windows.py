"""The engine following real X11 windows on a private Xvfb with a window manager."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from x11_windows import wait_capture

from fastrec.engine.capture_loop import CaptureConfig
from fastrec.engine.protocol import SegmentNaming, SegmentPolicy
from fastrec.engine.recorder import EncodingOptions, Recorder


def _frames(path: Path) -> list[tuple[float, np.ndarray]]:
    with av.open(str(path)) as container:
        return [(float(f.time), f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]


def _mean_colour(rgb: np.ndarray) -> np.ndarray | None:
    """Mean RGB of the non-black pixels (letterbox and pause frames are black)."""
    lit = rgb.astype(int).sum(axis=2) > 90
    return rgb[lit].mean(axis=0) if lit.mean() > 0.2 else None


def _start(recorder: Recorder, config: CaptureConfig, tmp_path: Path) -> None:
    recorder.start(config, EncodingOptions(), SegmentPolicy(), SegmentNaming(tmp_path, f"s_{config.session_id}"))
    recorder.wait_started(config.session_id)


def test_rdp_window_is_followed_and_pauses_while_minimised_never_showing_the_desktop(
        wm_display, spawn_window, tmp_path: Path):
    rdp = spawn_window(wm_display, "480x270+40+40", "#2040e0", process_name="xfreerdp")
    spawn_window(wm_display, "500x300+700+380", "#20e040")  # another app: must never be recorded
    with Recorder(workers=1) as recorder:
        config = CaptureConfig("r", mode="rdp_window", display=wm_display.display, fps=10)
        _start(recorder, config, tmp_path)
        # a still window is published when it appears or moves (then only every keyframe_interval)
        wait_capture(recorder, "r", lambda c: c["published"] >= 1, "the window's first frame")
        rdp.xdotool("windowmove", "300", "200", sync=True)
        after_move = wait_capture(recorder, "r", lambda c: c["region"][0] >= 290 and c["region"][1] >= 190
                                  and c["published"] >= 2,
                                  "the region to follow the moved window")
        moved = after_move["region"]
        rdp.xdotool("windowminimize", sync=True)
        # 15 paused ticks at 10 fps: the minimised stretch lasts at least 1.5 s of capture time
        paused = wait_capture(recorder, "r", lambda c: len(c["pauses"]) >= 1
                              and c["paused_ticks"] >= after_move["paused_ticks"] + 15,
                              "the minimised window to pause the recording")
        rdp.xdotool("windowactivate", sync=True)
        wait_capture(recorder, "r", lambda c: c["published"] > paused["published"],
                     "a frame of the restored window")
        recorder.stop("r")
        status = recorder.wait("r", timeout=60)
    assert status["state"] == "stopped", status
    capture = status["capture"]
    assert capture["output_size"] == [480, 270] or tuple(capture["output_size"]) == (480, 270)
    assert moved[0] >= 290 and moved[1] >= 190, moved  # the region followed the window
    assert capture["paused_ticks"] >= 15
    frames = _frames(Path(status["segments"][0]))
    colours = [_mean_colour(rgb) for _, rgb in frames]
    blue = [c is not None and c[2] > 150 and c[1] < 120 for c in colours]
    black = [c is None for c in colours]
    odd = [(round(t, 2), c) for (t, _), c, b, k in zip(frames, colours, blue, black) if not (b or k)]
    assert not odd, f"frames showing something other than the window: {odd}"
    assert not any(c is not None and c[1] > 150 for c in colours), "the other app's window leaked"
    # the minimised stretch is one blank frame and a gap in the timeline
    gaps = [t1 - t0 for (t0, _), (t1, _) in zip(frames, frames[1:])]
    assert any(black) and max(gaps) >= 1.5, gaps


def test_active_window_recording_switches_with_the_focus(wm_display, spawn_window, tmp_path: Path):
    red = spawn_window(wm_display, "400x300+50+50", "#e02020")
    blue = spawn_window(wm_display, "600x240+500+300", "#2020e0")
    red.xdotool("windowactivate", sync=True)
    with Recorder(workers=1) as recorder:
        _start(recorder, CaptureConfig("a", mode="active_window", display=wm_display.display, fps=10), tmp_path)
        wait_capture(recorder, "a", lambda c: c["titles"] and c["titles"][-1][1] == red.title
                     and c["published"] >= 1, "a frame of the red window")
        blue.xdotool("windowactivate", sync=True)
        # the title is noted in the tick that publishes the newly focused window
        wait_capture(recorder, "a", lambda c: c["titles"][-1][1] == blue.title,
                     "the recording to switch to the blue window")
        recorder.stop("a")
        status = recorder.wait("a", timeout=60)
    assert status["state"] == "stopped", status
    colours = [_mean_colour(rgb) for _, rgb in _frames(Path(status["segments"][0]))]
    names = ["red" if c[0] > 150 and c[2] < 120 else "blue" if c[2] > 150 and c[0] < 120 else "other"
             for c in colours if c is not None]
    assert names[0] == "red" and names[-1] == "blue", names
    assert "other" not in names
    # one switch, and the blue window (another size) is letterboxed into the same frame size
    assert names.index("blue") == len(names) - names[::-1].index("red")
