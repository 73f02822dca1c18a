"""The playlist played by its real consumer: the vendored hls.js in Debian's headless
chromium, over HTTP byte ranges from a minimal Range-serving HTTP server (not the admin
server: this checks the media layer alone).  A recorded session plays through all its
parts on one timeline that matches :class:`~fastrec.server.media.playlist.Timeline`, and a
session still being recorded is followed live across a rotation."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from media_recording import CONNECTION, SESSION, Recorded, recorded  # noqa: F401
from x11_windows import wait_until

import fastrec.server
from fastrec.engine.protocol import SegmentPolicy
from fastrec.manager import RecordingManager
from fastrec.server.media.fmp4 import FragmentIndexError, index_fragments
from fastrec.server.media.playlist import PartMedia, build_timeline, media_playlist, part_media
from fastrec.settings import load_settings
from fastrec.storage import iter_metadata
from fastrec.storage.metadata import SegmentMetadata

HLS_JS = Path(fastrec.server.__file__).parent / "static" / "vendor" / "hls.min.js"
CHROMIUM = "/usr/bin/chromium"

PAGE = """<!doctype html><html><body><video id="v" muted playsinline></video>
<script src="/hls.min.js"></script><script>
window.errors = [];
const v = document.getElementById("v");
const hls = new Hls(%s);
window.hls = hls;
hls.on(Hls.Events.ERROR, (event, data) => window.errors.push([data.type, data.details, data.fatal]));
// the fragment being played (hls.playingDate is computed from it): set once hls.js has
// caught up with a seek
hls.on(Hls.Events.FRAG_CHANGED, (event, data) => { window.playing = data.frag; });
hls.loadSource("/playlist.m3u8");
hls.attachMedia(v);
</script></body></html>"""

pytestmark = pytest.mark.skipif(not (HLS_JS.is_file() and Path(CHROMIUM).exists()),
                                reason="needs the vendored hls.js and /usr/bin/chromium")


class _Handler(BaseHTTPRequestHandler):
    server: _MediaServer

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/":
            self._send(200, PAGE.encode() % self.server.config.encode(), "text/html")
        elif self.path == "/hls.min.js":
            self._send(200, HLS_JS.read_bytes(), "text/javascript")
        elif self.path == "/playlist.m3u8":
            self._send(200, self.server.playlist().encode(), "application/vnd.apple.mpegurl")
        elif match := re.fullmatch(r"/parts/(\d+)\.mp4", self.path):
            path = self.server.files().get(int(match.group(1)))
            if path is None:
                self._send(404, b"", "text/plain")
                return
            data = path.read_bytes()
            wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
            if wanted is None:
                self._send(200, data, "video/mp4")
                return
            first, last = int(wanted.group(1)), int(wanted.group(2) or len(data) - 1)
            body = data[first:last + 1]
            self._send(206, body, "video/mp4", {"Content-Range": f"bytes {first}-{first + len(body) - 1}/{len(data)}"})
        else:
            self._send(404, b"", "text/plain")

    def _send(self, status: int, body: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class _MediaServer(ThreadingHTTPServer):
    def __init__(self, playlist: Callable[[], str], files: Callable[[], dict[int, Path]], config: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.playlist, self.files, self.config = playlist, files, config


@contextmanager
def _player(browser, playlist: Callable[[], str], files: Callable[[], dict[int, Path]],  # type: ignore[no-untyped-def]
            config: dict[str, object]) -> Iterator:
    server = _MediaServer(playlist, files, json.dumps(config))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
            yield page
        finally:
            context.close()
    finally:
        server.shutdown()
        server.server_close()


def _uri(meta: SegmentMetadata) -> str:
    return f"/parts/{meta.chain.part}.mp4"


def _when(page, expression: str, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    if not wait_until(lambda: page.evaluate(expression), timeout):
        state = page.evaluate("(() => { const v = document.getElementById('v'); const b = [];"
                              " for (let i = 0; i < v.buffered.length; i++) b.push([v.buffered.start(i), v.buffered.end(i)]);"
                              " return {currentTime: v.currentTime, seeking: v.seeking, readyState: v.readyState,"
                              " buffered: b, playing: window.playing && [window.playing.sn, window.playing.start,"
                              " window.playing.duration], errors: window.errors}; })()")
        raise AssertionError(f"{what}: not true after {timeout:.0f} s; the player: {state}")


def test_a_recorded_session_plays_as_one_timeline_across_its_parts(recorded: Recorded, chromium_browser):  # type: ignore[no-untyped-def]
    parts = [part_media(m, index_fragments(recorded.video(m)), _uri(m)) for m in recorded.parts]
    timeline = build_timeline(parts, session_id=SESSION)
    files = {m.chain.part: recorded.video(m) for m in recorded.parts}
    with _player(chromium_browser, lambda: media_playlist(parts), lambda: files, {}) as page:
        _when(page, "() => Number.isFinite(document.getElementById('v').duration)", "the duration known")
        assert page.evaluate("document.getElementById('v').duration") == pytest.approx(timeline.duration, abs=0.05)
        # a seek into every part shows that part's frames at the wall-clock time the timeline says
        for placed in timeline.parts:
            target = placed.offset + placed.duration / 2
            page.evaluate(f"document.getElementById('v').currentTime = {target}")
            _when(page, f"() => {{ const v = document.getElementById('v'); return !v.seeking && v.readyState >= 2"
                        f" && Math.abs(v.currentTime - {target}) < 0.01 && hls.playingDate !== null"
                        f" && window.playing && window.playing.start <= {target}"
                        f" && {target} < window.playing.start + window.playing.duration; }}",
                  f"the seek into part {placed.part}")
            shown = datetime.fromtimestamp(page.evaluate("hls.playingDate.getTime()") / 1000, placed.wall_start.tzinfo)
            assert abs((shown - timeline.wall_clock(target)).total_seconds()) < 0.005
        # played from the start to the end: every part buffered, no fatal error
        page.evaluate("(() => { const v = document.getElementById('v'); v.currentTime = 0; v.playbackRate = 8;"
                      " v.play(); })()")
        _when(page, "() => document.getElementById('v').ended", "playback to the end", 120)
        assert not [e for e in page.evaluate("window.errors") if e[2]], page.evaluate("window.errors")
        played = page.evaluate("(() => { const r = document.getElementById('v').played; const out = [];"
                               " for (let i = 0; i < r.length; i++) out.push([r.start(i), r.end(i)]); return out; })()")
        assert played[0][0] == pytest.approx(0, abs=0.05) and played[-1][1] == pytest.approx(timeline.duration, abs=0.05)


def test_a_live_viewer_seeks_into_the_middle_of_a_keyframe_group(recorded: Recorded, chromium_browser):  # type: ignore[no-untyped-def]
    # bug: the low-latency playlist listed every fragment as a segment of its own; a seek
    # into one that does not start with a keyframe never showed a frame (hls.js appended it
    # without the frames it depends on and chromium dropped it: bufferAppendNoProgress)
    parts = [part_media(m, index_fragments(recorded.video(m)), _uri(m)) for m in recorded.parts]
    live = [*parts[:-1], dataclasses.replace(parts[-1], recording=True)]
    first = parts[0]  # starts at 0 on the timeline
    fragment = next(f for f in first.index.fragments if not f.keyframe)
    target = round(fragment.sample_times[0] + min(0.05, fragment.duration / 2), 3)
    files = {m.chain.part: recorded.video(m) for m in recorded.parts}
    with _player(chromium_browser, lambda: media_playlist(live, low_latency=True), lambda: files, {}) as page:
        _when(page, "() => hls.levels.length > 0 && hls.levels[0].details !== undefined", "the playlist loaded")
        page.evaluate(f"document.getElementById('v').currentTime = {target}")
        # shown: the position is buffered (decodable) and dated by the part's start
        _when(page, f"() => {{ const v = document.getElementById('v'); if (v.seeking || v.readyState < 2"
                    f" || Math.abs(v.currentTime - {target}) > 0.01 || hls.playingDate === null) return false;"
                    f" for (let i = 0; i < v.buffered.length; i++) if (v.buffered.start(i) <= v.currentTime"
                    f" && v.currentTime < v.buffered.end(i)) return Math.abs(hls.playingDate.getTime() - "
                    f"({first.start_time.timestamp() * 1000} + v.currentTime * 1000)) < 5; return false; }}",
              "the seek into the middle of a keyframe group", 30)
        assert not [e for e in page.evaluate("window.errors") if e[2]], page.evaluate("window.errors")


def test_a_session_being_recorded_is_followed_live_across_a_rotation(tmp_path: Path, chromium_browser):  # type: ignore[no-untyped-def]
    out = tmp_path / "rec"
    settings = load_settings(enabled=True, output_dir=str(out), encoder_workers=1, fps=10)
    manager = RecordingManager(settings, mode="synthetic",
                               source_options={"width": 320, "height": 240, "fps": 10, "scenario": "video"},
                               segment_policy=SegmentPolicy(max_seconds=6.0))

    def metadata() -> list[SegmentMetadata]:
        found = [m for _, m in iter_metadata(out) if isinstance(m, SegmentMetadata) and m.session_id == SESSION]
        return sorted(found, key=lambda m: m.chain.part)

    def playlist() -> str:  # what the server does on every request: the parts as they are now
        parts: list[PartMedia] = []
        for meta in metadata():
            try:
                parts.append(part_media(meta, index_fragments(out / meta.file.name), _uri(meta)))
            except FragmentIndexError:
                continue  # not there yet
        return media_playlist(parts, low_latency=True)

    try:
        assert manager.initialize() and manager.start_session_recording(SESSION, CONNECTION)
        assert wait_until(lambda: "#EXTINF" in playlist(), 30)  # a first fragment to play
        with _player(chromium_browser, playlist, lambda: {m.chain.part: out / m.file.name for m in metadata()}, {}) as page:
            page.evaluate("document.getElementById('v').play()")
            _when(page, "() => hls.playingDate !== null && !document.getElementById('v').paused"
                        " && document.getElementById('v').currentTime > 0", "live playback")
            # the viewer plays into the next part while the recorder writes it
            assert wait_until(lambda: len(metadata()) >= 2, 60)
            second = metadata()[1]
            _when(page, f"() => hls.playingDate !== null && hls.playingDate.getTime() > "
                        f"{(second.start_time.timestamp() + 1) * 1000}", "playback in part 2")
            lag = datetime.now().timestamp() - page.evaluate("hls.playingDate.getTime()") / 1000
            assert metadata()[-1].status == "recording"
            # rewinding into the first part shows the frame captured then, wherever the seek
            # lands in a keyframe group (a fragment listed as a segment of its own made
            # hls.js append frames without their keyframe: the seek never showed a frame)
            first = metadata()[0]
            target = (first.duration_seconds or 0) * 0.7
            page.evaluate(f"document.getElementById('v').currentTime = {target}")
            # shown and dated together (one evaluation): the frame at the position played
            # after the seek, dated by the first part's start (the first part starts at 0)
            _when(page, f"() => {{ const v = document.getElementById('v'); return !v.seeking && v.readyState >= 2"
                        f" && v.currentTime >= {target} && v.currentTime < {target} + 1 && hls.playingDate !== null"
                        f" && Math.abs(hls.playingDate.getTime() - ({first.start_time.timestamp() * 1000}"
                        f" + v.currentTime * 1000)) < 5; }}", "the rewind into part 1")
            assert not [e for e in page.evaluate("window.errors") if e[2]], page.evaluate("window.errors")
            print(f"live lag {lag:.2f} s; hls.latency {page.evaluate('hls.latency'):.2f} s")
    finally:
        manager.shutdown()
