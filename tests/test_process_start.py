"""fastrec.process_start: this process's start time as psutil gives it (recovery and the admin
server compare the two to tell a reused pid), read without importing psutil on Linux."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil

from fastrec.process_start import this_process_started


def test_it_is_psutils_figure_for_this_process() -> None:
    assert this_process_started() == psutil.Process().create_time()


def test_a_new_process_reads_its_own_start_without_importing_psutil() -> None:
    src = Path(__file__).resolve().parents[1] / "src"
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from fastrec.process_start import this_process_started\n"
            "print(this_process_started(), 'psutil' in sys.modules)" % str(src))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    expected = psutil.Process(proc.pid).create_time()
    out, _ = proc.communicate(timeout=60)
    started, imported = out.split()
    assert float(started) == expected and float(started) != this_process_started()
    assert imported == "False" or sys.platform != "linux"
