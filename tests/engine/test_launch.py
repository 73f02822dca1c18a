"""Starting the engine's processes (fastrec.engine.launch)."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil
import pytest

from fastrec.engine import launch
from fastrec.engine.encoder.worker import worker_main as _worker_main
from polling import wait_for


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


@pytest.mark.skipif(os.name != "posix", reason="sessions and process groups are POSIX's")
def test_a_child_is_out_of_reach_of_the_terminals_ctrl_c():
    # a terminal signals its foreground process group: the parent's, never the child's
    child = launch.start(_worker_main, name="fastrec-encoder-test")
    try:
        assert os.getsid(child.pid) == child.pid and os.getpgid(child.pid) == child.pid
        assert os.getpgid(child.pid) != os.getpgid(0)
    finally:
        child.conn.send(None)
        child.join(30)
        child.kill()
        child.conn.close()


def _thp_enabled(pid: int) -> str | None:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("THP_enabled:"):
                return line.split()[1]
    return None


@pytest.mark.skipif(not sys.platform.startswith("linux") or _thp_enabled(os.getpid()) is None,
                    reason="prctl(PR_SET_THP_DISABLE) and its /proc status line are Linux's (5.0+)")
def test_a_child_runs_without_transparent_huge_pages_and_its_parent_keeps_them():
    # libx264 madvises huge pages for its frame buffers, each resident whole: ~4 MB at 1080p
    # the encoder never touches (issue 14); the parent (the embedding application) is left alone
    parent = _thp_enabled(os.getpid())
    child = launch.start(_worker_main, name="fastrec-encoder-test")
    try:
        wait_for(lambda: _thp_enabled(child.pid) == "0" or None, what="the child's THP_enabled: 0")
        assert _thp_enabled(os.getpid()) == parent
    finally:
        child.conn.send(None)
        child.join(30)
        child.kill()
        child.conn.close()


# a parent that starts an encoder worker, prints its pid and waits to be killed
_PARENT = """
import sys
from fastrec.engine import launch
from fastrec.engine.encoder.worker import worker_main as _worker_main
child = launch.start(_worker_main, name="fastrec-encoder-orphan-test")
print(child.pid, flush=True)
sys.stdin.read()
"""


def test_a_child_exits_on_its_own_when_its_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", _PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    assert parent.stdout is not None
    child = psutil.Process(int(parent.stdout.readline()))
    try:
        assert "fastrec-encoder-orphan-test" in child.cmdline()
        parent.kill()  # SIGKILL, TerminateProcess: no clean-up runs, only the connection's EOF tells
        parent.wait(30)
        child.wait(30)  # raises psutil.TimeoutExpired if it lives on (not our child: no exit code)
        assert not child.is_running()
    finally:
        if child.is_running():
            child.kill()
        parent.kill()
        parent.wait(30)


def test_a_frozen_application_gets_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    with pytest.raises(NotImplementedError, match="frozen application"):
        launch.start(_worker_main, name="fastrec-encoder-test")


def test_the_children_launched_by_name_name_real_functions():
    # the supervisor names the children's bodies (launch.Target) so as not to import them
    from importlib import import_module

    from fastrec.engine.encoder.pool import WORKER_MAIN
    from fastrec.engine.recorder import CAPTURE_SESSIONS

    for target in (CAPTURE_SESSIONS, WORKER_MAIN):
        assert callable(getattr(import_module(target.module), target.qualname)), target
