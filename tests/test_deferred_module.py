"""fastrec.deferred_module: a module registered to run on first use (issue 14: structlog's
asyncio in the record command).  ``import`` statements find it without running it; the
first attribute read runs it once, in place; its submodules import as usual; threads that
read at once see one load; and it is the one module object of its name."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# each case in a fresh interpreter: sys.modules is the state under test
_PACKAGE = {
    "deferred_pkg/__init__.py": """
        import os
        RUNS = int(os.environ.get("DEFERRED_RUNS", "0")) + 1
        os.environ["DEFERRED_RUNS"] = str(RUNS)
        from . import sub
        VALUE = sub.VALUE * 2
    """,
    "deferred_pkg/sub.py": "VALUE = 21\n",
}


def _run(tmp_path: Path, code: str) -> str:
    for name, text in _PACKAGE.items():
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(textwrap.dedent(text))
    src = Path(__file__).resolve().parents[1] / "src"
    prelude = f"import sys, os\nsys.path[:0] = [{str(tmp_path)!r}, {str(src)!r}]\n"
    proc = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_an_import_statement_does_not_run_it_the_first_read_does_once(tmp_path: Path) -> None:
    assert _run(tmp_path, """
        from fastrec.deferred_module import defer_module
        assert defer_module("deferred_pkg")
        import deferred_pkg
        import deferred_pkg as again
        assert "DEFERRED_RUNS" not in os.environ and "deferred_pkg.sub" not in sys.modules
        print(deferred_pkg.VALUE, again.VALUE, os.environ["DEFERRED_RUNS"], type(deferred_pkg).__name__,
              deferred_pkg is sys.modules["deferred_pkg"])
    """) == "42 42 1 module True"


def test_a_submodule_imported_first_and_the_package_run_later_are_one_set_of_modules(tmp_path: Path) -> None:
    assert _run(tmp_path, """
        from fastrec.deferred_module import defer_module
        defer_module("deferred_pkg")
        import deferred_pkg.sub
        assert "DEFERRED_RUNS" not in os.environ
        sub = sys.modules["deferred_pkg.sub"]
        print(deferred_pkg.VALUE, deferred_pkg.sub is sub, os.environ["DEFERRED_RUNS"])
    """) == "42 True 1"


def test_threads_reading_at_once_see_one_load(tmp_path: Path) -> None:
    assert _run(tmp_path, """
        import threading
        from fastrec.deferred_module import defer_module
        defer_module("deferred_pkg")
        import deferred_pkg
        start = threading.Barrier(8)
        seen = []
        def read():
            start.wait()
            seen.append(deferred_pkg.VALUE)
        threads = [threading.Thread(target=read) for _ in range(8)]
        for t in threads: t.start()
        for t in threads: t.join()
        print(sorted(set(seen)), os.environ["DEFERRED_RUNS"])
    """) == "[42] 1"


@pytest.mark.parametrize("name", ["json", "no_such_module_here"])
def test_an_imported_or_missing_module_is_left_alone(tmp_path: Path, name: str) -> None:
    assert _run(tmp_path, f"""
        import json
        from fastrec.deferred_module import defer_module
        before = sys.modules.get({name!r})
        print(defer_module({name!r}), sys.modules.get({name!r}) is before)
    """) == "False True"


def test_asyncio_after_the_record_commands_structlog_import_runs_coroutines(tmp_path: Path) -> None:
    assert _run(tmp_path, """
        from fastrec.plain_structlog import import_structlog_without_rich
        import_structlog_without_rich()
        assert "asyncio.events" not in sys.modules  # structlog imported it, nothing ran it
        import asyncio
        import structlog.stdlib
        async def answer():
            await asyncio.sleep(0)
            return 42
        print(asyncio.run(answer()), structlog.stdlib.asyncio is asyncio is sys.modules["asyncio"])
    """) == "42 True"
