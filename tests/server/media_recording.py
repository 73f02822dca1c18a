"""A session recorded by the real engine for the media-layer tests (imported as a fixture).

The synthetic "typing" desktop (bursts of keys, idle stretches of 1.5-5 s) through
RecordingManager, rotated into parts of about 4 s, keyframes every 2 s, then stopped
and started again under the same session id after a pause: parts that abut (rotation)
and a gap (the restart), idle stretches, and sealed metadata, as the server reads them.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from x11_windows import wait_until

from fastrec.engine.protocol import SegmentPolicy
from fastrec.manager import RecordingManager
from fastrec.settings import load_settings
from fastrec.storage import iter_metadata
from fastrec.storage.metadata import SegmentMetadata

SESSION = "media_1"
SYNTHETIC = {"width": 320, "height": 240, "fps": 10, "scenario": "typing"}
KEYFRAME_INTERVAL = 2.0
RESTART_PAUSE = 1.5  # seconds at least between the end of the first recording and the second
CONNECTION = {"con_codigo": 7, "ip": "10.0.0.7", "name": "media", "user": "auditor", "connection_type": "RDP"}


@dataclass(frozen=True)
class Recorded:
    directory: Path
    parts: tuple[SegmentMetadata, ...]  # every part of the session, in chain order
    first_recording: int  # how many of them the first recording wrote

    def video(self, meta: SegmentMetadata) -> Path:
        return self.directory / meta.file.name


def _record(manager: RecordingManager, parts: int) -> None:
    """Record until the ``parts``-th part has 10 frames or more."""
    assert manager.start_session_recording(SESSION, CONNECTION)

    def status() -> dict:
        return manager.get_recording_status(SESSION)

    assert wait_until(lambda: status()["segments"] >= parts, 90)
    encoded = status()["frames"]["encoded"]
    assert wait_until(lambda: status()["frames"]["encoded"] >= encoded + 10, 60)
    assert manager.stop_session_recording(SESSION)
    assert manager.wait_for_session(SESSION, 60)


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    out = tmp_path_factory.mktemp("media") / "rec"
    settings = load_settings(enabled=True, output_dir=str(out), encoder_workers=1, fps=10,
                             keyframe_interval_seconds=KEYFRAME_INTERVAL)
    manager = RecordingManager(settings, mode="synthetic", source_options=SYNTHETIC,
                               segment_policy=SegmentPolicy(max_seconds=4.0))
    try:
        assert manager.initialize()
        _record(manager, 3)
        first = _parts(out)
        # the restart comes at least RESTART_PAUSE after the first recording's last frame
        ended = max(m.start_time for m in first) + timedelta(seconds=max(m.duration_seconds or 0 for m in first))
        assert wait_until(lambda: datetime.now().astimezone() >= ended + timedelta(seconds=RESTART_PAUSE + 0.5), 30)
        _record(manager, 2)
    finally:
        manager.shutdown()
    parts = _parts(out)
    assert all(m.status == "complete" for m in parts), [(m.file.name, m.status, m.errors) for m in parts]
    return Recorded(out, tuple(parts), len(first))


def _parts(out: Path) -> list[SegmentMetadata]:
    found = [m for _, m in iter_metadata(out) if isinstance(m, SegmentMetadata) and m.session_id == SESSION]
    return sorted(found, key=lambda m: m.chain.part)


def ffprobe_packets(path: Path) -> list[tuple[float, int, bool]]:
    """(pts seconds, size, keyframe) of every video packet, as ffprobe reads them."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                          "packet=pts_time,size,flags", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True).stdout
    rows = [line.split(",") for line in out.splitlines() if line.strip()]
    return [(float(pts), int(size), flags.startswith("K")) for pts, size, flags in rows]
