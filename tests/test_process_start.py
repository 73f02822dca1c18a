"""fastrec.process_start: this process's start time as psutil gives it (recovery and the admin
server compare the two to tell a reused pid), and whether a process is alive as psutil says (the
ring asks it of its peer), read without importing psutil on Linux; fastrec.engine.usage's CPU
time as psutil gives it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil

from fastrec.process_start import process_alive, this_process_started


def test_it_is_psutils_figure_for_this_process() -> None:
    assert this_process_started() == psutil.Process().create_time()


def test_a_new_process_reads_its_own_start_without_importing_psutil() -> None:
    src = Path(__file__).resolve().parents[1] / "src"
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from fastrec.process_start import process_alive, this_process_started\n"
            "print(this_process_started(), 'psutil' in sys.modules)" % str(src))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    expected = psutil.Process(proc.pid).create_time()
    out, _ = proc.communicate(timeout=60)
    started, imported = out.split()
    assert float(started) == expected and float(started) != this_process_started()
    assert imported == "False" or sys.platform != "linux"


def test_process_alive_is_psutils_answer_for_a_live_a_zombie_and_a_gone_process() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        assert process_alive(child.pid) and process_alive(os.getpid())
    finally:
        assert child.stdin is not None
        child.stdin.close()
    # exited and not reaped yet: a zombie, which still answers signals, is not alive
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
    assert psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE or sys.platform != "linux"
    assert not process_alive(child.pid)
    child.wait()
    assert not process_alive(child.pid)  # gone (reaped)


def test_process_alive_does_not_import_psutil() -> None:
    src = Path(__file__).resolve().parents[1] / "src"
    code = ("import os, sys; sys.path.insert(0, %r)\n"
            "from fastrec.process_start import process_alive\n"
            "print(process_alive(os.getpid()), process_alive(os.getppid()), 'psutil' in sys.modules)" % str(src))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    alive, parent, imported = out.split()
    assert alive == parent == "True"
    assert imported == "False" or sys.platform != "linux"


def test_cpu_seconds_is_psutils_user_plus_system_time() -> None:
    from fastrec.engine.usage import cpu_seconds

    sum(i * i for i in range(2_000_000))  # some CPU to measure
    times = psutil.Process().cpu_times()
    ours = cpu_seconds()
    after = psutil.Process().cpu_times()
    # psutil counts in clock ticks (10 ms): ours lies between its readings, within one tick
    assert times.user + times.system - 0.02 <= ours <= after.user + after.system + 0.02
