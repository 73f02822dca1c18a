"""Starting the engine's processes (fastrec.engine.launch)."""

from __future__ import annotations

import sys

import psutil
import pytest

from fastrec.engine import launch
from fastrec.engine.encoder.pool import _worker_main


def test_a_child_is_a_named_interpreter_that_exits_when_told():
    child = launch.start(_worker_main, name="fastrec-encoder-test")
    try:
        assert "fastrec-encoder-test" in psutil.Process(child.pid).cmdline()
        child.conn.send(None)  # an encoder worker's "no more sessions"
        child.join(30)
        assert child.exitcode == 0
    finally:
        child.kill()
        child.conn.close()


def test_a_child_exits_when_its_parent_end_closes():
    child = launch.start(_worker_main, name="fastrec-encoder-test")
    try:
        child.conn.close()  # as when the embedding application dies
        child.join(30)
        assert child.exitcode == 0
    finally:
        child.kill()


def test_a_frozen_application_gets_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    with pytest.raises(NotImplementedError, match="frozen application"):
        launch.start(_worker_main, name="fastrec-encoder-test")
