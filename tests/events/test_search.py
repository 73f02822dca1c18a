"""Search across recordings on a real recorded window session (tests/clicks_session.py):
a window title finds the moment it was first shown, an event kind finds its events (only
while a matching title was shown, with both), server/user/time narrow through the index;
the CLI prints replay links at those moments and the admin API returns the same hits."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from clicks_session import CONNECTION, TITLE_AFTER, TITLE_BEFORE, ClickSession
from x11_windows import needs_x

from fastrec.events.model import EventKind
from fastrec.search.finder import SearchQuery, search_recordings
from fastrec.storage.index import INDEX_FILE, RecordingIndex

pytestmark = needs_x


def search(directory: Path, **filters: object) -> list:
    with RecordingIndex(directory / INDEX_FILE, directory) as index:
        return search_recordings(index, SearchQuery(**filters)).hits  # type: ignore[arg-type]


def test_a_window_title_finds_the_moment_it_was_shown(click_session: ClickSession):
    [hit] = search(click_session.directory, title="invoice 4711")  # any case, part of the title
    assert (hit.session_id, hit.kind, hit.text, hit.server, hit.user) == \
        (click_session.session_id, "title", TITLE_AFTER, CONNECTION["name"], CONNECTION["user"])
    assert abs((hit.moment - click_session.title_moment).total_seconds()) < 0.5
    [before] = search(click_session.directory, title="CUSTOMERS")
    assert before.text == TITLE_BEFORE and before.moment < hit.moment
    assert search(click_session.directory, title="payroll") == []
    # the replay link opens at that moment
    query = parse_qs(urlparse(hit.replay_path()).query)
    assert urlparse(hit.replay_path()).path == f"/replay/{click_session.session_id}"
    assert datetime.fromisoformat(query["t"][0]) == hit.moment


def test_events_are_found_by_kind_and_by_the_title_shown_when_they_happened(click_session: ClickSession):
    [rage] = search(click_session.directory, event=EventKind.RAGE_CLICK)
    assert rage.moment == click_session.rage_moment and rage.title == TITLE_AFTER and "clicks=3" in rage.text
    clicks = search(click_session.directory, event=EventKind.CLICK)
    assert len(clicks) == 6 and [h.moment for h in clicks] == sorted((h.moment for h in clicks), reverse=True)
    [early] = search(click_session.directory, event=EventKind.CLICK, title="customers")
    assert "x=75.0, y=75.0" in early.text
    assert len(search(click_session.directory, event=EventKind.CLICK, title="invoice")) == 5
    assert search(click_session.directory, event=EventKind.RAGE_CLICK, title="customers") == []


def test_server_user_and_time_narrow_the_search(click_session: ClickSession):
    assert len(search(click_session.directory, title="invoice", server="SRV-HEAT", user="dora")) == 1
    assert search(click_session.directory, title="invoice", server="srv-other") == []
    assert search(click_session.directory, title="invoice", user="eve") == []
    moment = click_session.title_moment
    assert search(click_session.directory, title="invoice", until=moment - timedelta(seconds=1)) == []
    assert len(search(click_session.directory, title="invoice", since=moment - timedelta(seconds=1))) == 1
    [session] = search(click_session.directory, server="srv-heat")  # no title, no event: the session
    assert session.kind == "session"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fastrec", "search", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_the_cli_prints_each_hit_with_its_moment_and_replay_link(click_session: ClickSession):
    done = run_cli("--title", "Invoice", "--output-dir", str(click_session.directory), "--base-url",
                   "https://rec.example:8080/")
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    assert click_session.session_id in line and TITLE_AFTER in line and "srv-heat/dora" in line
    link = line.split()[-1]
    assert link.startswith(f"https://rec.example:8080/replay/{click_session.session_id}?t=")
    assert datetime.fromisoformat(parse_qs(urlparse(link).query)["t"][0]) == \
        search(click_session.directory, title="invoice")[0].moment
    as_json = json.loads(run_cli("--event", "rage_click", "--json", "--output-dir",
                                 str(click_session.directory)).stdout)
    assert [h["kind"] for h in as_json["hits"]] == ["rage_click"] and as_json["sessions"] == 1
    nothing = run_cli("--title", "payroll", "--output-dir", str(click_session.directory))
    assert nothing.returncode == 0 and "no matches (1 session(s) searched)" in nothing.stdout
    bad = run_cli("--since", "yesterday", "--output-dir", str(click_session.directory))
    assert bad.returncode == 2 and "--since='yesterday'" in bad.stderr
    assert run_cli("--event", "keystroke").returncode == 2


def test_a_damaged_events_file_is_named_and_the_titles_of_the_metadata_still_found(
        click_session: ClickSession, tmp_path: Path):
    copy = tmp_path / "rec"
    shutil.copytree(click_session.directory, copy)
    [events] = list(copy.glob("*_events.jsonl"))
    events.write_bytes(events.read_bytes() + b'{"kind": "click", "at": ')  # a torn last line
    with RecordingIndex(copy / INDEX_FILE, copy) as index:
        index.rebuild()
        result = search_recordings(index, SearchQuery(title="invoice"))
    assert [h.text for h in result.hits] == [TITLE_AFTER]
    assert any("last line incomplete" in p for p in result.problems)


def test_the_admin_api_searches_like_the_cli(click_session: ClickSession):
    from fastapi.testclient import TestClient

    from fastrec.server.app import create_app
    from fastrec.server.config import ServerSettings

    app = create_app(ServerSettings(recordings_dir=click_session.directory))
    with TestClient(app) as client:
        assert client.get("/api/search", params={"title": "invoice"}).status_code == 401
        app.state.ctx.accounts.create_user("vic", "correct horse battery", "viewer")
        assert client.post("/api/auth/login", json={"username": "vic", "password": "correct horse battery"}
                           ).status_code == 200
        found = client.get("/api/search", params={"title": "invoice"}).json()
        [hit] = found["hits"]
        expected = search(click_session.directory, title="invoice")[0]
        assert hit["replay"] == expected.replay_path() and hit["kind"] == "title"
        assert datetime.fromisoformat(hit["moment"]) == expected.moment
        rage = client.get("/api/search", params={"event": "rage_click", "title": "invoice"}).json()["hits"]
        assert len(rage) == 1
        bad = client.get("/api/search", params={"since": "soon"})
        assert bad.status_code == 422 and "since='soon'" in bad.json()["detail"]
        assert client.get("/api/search", params={"event": "keystroke"}).status_code == 422
