"""The replay in a real chromium over an encrypted multi-part session: the admin server
decrypts the byte ranges hls.js asks for, so seeking across part boundaries shows the frame
of the wall-clock time the player displays, as for a plain recording."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_harness import (
    CLOCK,
    CLOCK_PARTS,
    IDLE_SECONDS,
    RunningServer,
    create_users,
    record_fixtures,
    run_server,
    shown_clock,
)
from test_ui_replay import _long_parts, _mid_second, _open_paused, _seek_by_clicking

from fastrec.crypt.keys import add_key_to_file

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def encrypted_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    base = tmp_path_factory.mktemp("encrypted-ui")
    key_file = base / "kek"
    add_key_to_file(key_file, create=True)
    directory = base / "recordings"
    record_fixtures(directory, encryption_key_file=str(key_file))
    create_users(directory)
    with run_server(directory, FASTREC_IDLE_SECONDS=IDLE_SECONDS, FASTREC_ENCRYPTION_KEY_FILE=str(key_file)) as server:
        yield server


def test_seeking_in_an_encrypted_session_across_parts_shows_the_frame_of_the_wall_clock(
        encrypted_server: RunningServer, new_page) -> None:  # type: ignore[no-untyped-def]
    videos = list(Path(encrypted_server.settings.recordings_dir).glob("*.mp4"))
    assert videos and all(b"ftyp" not in v.read_bytes() for v in videos)  # nothing a player reads on disk
    page = new_page()
    timeline = _open_paused(page, encrypted_server.url, f"/replay/{CLOCK}")
    parts = _long_parts(timeline)
    assert len(parts) >= CLOCK_PARTS - 1, timeline["parts"]
    seen = []
    for index in [0, 2, 1, 3][:len(parts)]:  # forward and back across part boundaries
        _seek_by_clicking(page, _mid_second(parts[index]))
        wall_ms = int(page.get_attribute("#wall-clock", "data-epoch-ms"))
        second = shown_clock(page)
        assert second is not None, "the video shows no clock frame"
        assert second == math.floor(wall_ms / 1000), (index, wall_ms, second)
        seen.append(second)
    assert len(set(seen)) == len(seen)
