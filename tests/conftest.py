"""Shared fixtures: real parts only (a private Xvfb screen, never the machine's display)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from fastrec.demo.display import VirtualDisplay


@pytest.fixture
def xvfb() -> Iterator[VirtualDisplay]:
    """A private 1280x720 Xvfb server for one test."""
    with VirtualDisplay(1280, 720) as display:
        yield display


@pytest.fixture(autouse=True)
def _no_real_display(monkeypatch: pytest.MonkeyPatch) -> None:
    # a test that forgets its private display must fail, not record the developer's screen
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


@pytest.fixture
def shm_entries() -> Iterator[set[str]]:
    """/dev/shm before the test; the test compares against it after."""
    yield set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
