"""Fixtures of the browser tests: one recordings directory and one admin server per test
session (recording takes seconds), one chromium; a fresh browser context per page, so no
test sees another's cookies.  A page that throws or breaks the Content-Security-Policy
fails its test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_harness import IDLE_SECONDS, VIEWPORT, RunningServer, create_users, record_fixtures, run_server


@pytest.fixture(scope="session")
def ui_recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("ui") / "recordings"
    record_fixtures(directory)
    create_users(directory)
    return directory


@pytest.fixture(scope="session")
def ui_server(ui_recordings: Path) -> Iterator[RunningServer]:
    with run_server(ui_recordings, FASTREC_IDLE_SECONDS=IDLE_SECONDS) as server:
        yield server


@pytest.fixture(scope="session")
def chromium(chromium_browser: Any) -> Any:
    return chromium_browser


@pytest.fixture
def new_page(chromium: Any) -> Iterator[Callable[[], Any]]:
    """``new_page()``: a page in a fresh context (no cookies) at 1366x768."""
    contexts: list[Any] = []
    problems: list[str] = []

    def make() -> Any:
        context = chromium.new_context(viewport=VIEWPORT)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
        page.on("console", lambda message: problems.append(f"console: {message.text}")
                if message.type == "error" and "Content Security Policy" in message.text else None)
        return page

    try:
        yield make
    finally:
        for context in contexts:
            context.close()
    assert not problems, problems
