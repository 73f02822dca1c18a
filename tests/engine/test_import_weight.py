"""Each process of a recording imports only what it needs (issue 14: the fixed cost of every
recording is its interpreters' imports).

A real ``python -m fastrec record`` runs with a ``sitecustomize`` that writes every
interpreter's ``sys.modules`` at exit: the command (the supervisor), its capture process and
its encoder worker.  Each must lack the heavy packages it has no use for: a regression here
costs every recording ~0.1-0.3 CPU-s and several MB per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# at exit, this interpreter's modules and its role (its command line) go to a file of its own
_SITECUSTOMIZE = textwrap.dedent("""
    import atexit, json, os, sys

    def _built_models():
        # the pydantic models whose validators this process built (defer_build: on first use)
        base = getattr(sys.modules.get("pydantic"), "BaseModel", None)
        found, todo = [], list(base.__subclasses__()) if base is not None else []
        while todo:
            cls = todo.pop()
            todo.extend(cls.__subclasses__())
            if cls.__module__.startswith("fastrec.") and cls.__dict__.get("__pydantic_complete__"):
                found.append(f"{cls.__module__}.{cls.__qualname__}")
        return sorted(found)

    def _dump():
        path = os.path.join(os.environ["FASTREC_TEST_MODULES_DIR"], f"{os.getpid()}.json")
        # a module registered but never run (fastrec.deferred_module) is not imported
        modules = sorted(name for name, module in sys.modules.items()
                         if type(module).__name__ != "_DeferredModule")
        with open(path, "w") as out:
            json.dump({"argv": sys.argv, "modules": modules, "models": _built_models()}, out)

    atexit.register(_dump)
""")

# never in any process of a plain recording (no server, no fleet, no encryption, no OCR, no policy file)
_NOWHERE = ("rich", "yaml", "psycopg", "boto3", "botocore", "cryptography", "tesserocr", "cv2",
            "fastapi", "starlette", "uvicorn", "redis")
_ONLY_SUPERVISOR = ("pydantic", "pydantic_settings", "structlog", "asyncio", "sqlite3", "Xlib",
                    "fastrec.settings", "fastrec.manager", "fastrec.storage.index", "fastrec.policy")
# nowhere either, though structlog imports asyncio: it is run only on first use (the command
# runs no event loop), and ssl comes only with it; greenlet only for structlog.threadlocal
_NOT_RUN = ("asyncio", "ssl", "greenlet")
# what only the children use: pixels, the compiled core, the screen, the encoder
# (psutil: the X11 capture source's; the command reads its own start time from /proc, fastrec.process_start)
_ONLY_CHILDREN = ("numpy", "av", "mss", "psutil", "fastrec._ext", "fastrec.engine.ring",
                  "fastrec.engine.capture_loop", "fastrec.engine.encoder.worker", "fastrec.capture.screen")

_ROLES = {"fastrec-capture": "capture", "fastrec-encoder": "encoder"}


def _role(argv: list[str]) -> str:
    for arg in argv:
        for prefix, role in _ROLES.items():
            if arg.startswith(prefix):
                return role
    return "command"


def _present(modules: list[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(p for p in packages if any(m == p or m.startswith(p + ".") for m in modules))


@pytest.fixture(scope="module")
def dumps_by_role(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("import-weight")
    site = root / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    dumps = root / "modules"
    dumps.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDING_", "FASTREC_"))}
    package_root = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join([str(site), package_root, env.get("PYTHONPATH", "")])
    env["FASTREC_TEST_MODULES_DIR"] = str(dumps)
    proc = subprocess.run([sys.executable, "-m", "fastrec", "record", "--mode", "synthetic", "--duration", "0.5",
                           "--output-dir", str(root / "rec"), "--session-id", "weight"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    found: dict[str, dict] = {}
    for dump in dumps.glob("*.json"):
        data = json.loads(dump.read_text())
        found[_role(data["argv"])] = data
    assert sorted(found) == ["capture", "command", "encoder"], found.keys()
    return found


@pytest.fixture(scope="module")
def modules_by_role(dumps_by_role: dict[str, dict]) -> dict[str, list[str]]:
    return {role: data["modules"] for role, data in dumps_by_role.items()}


@pytest.mark.parametrize("role", ["command", "capture", "encoder"])
def test_no_process_imports_what_a_plain_recording_never_uses(modules_by_role: dict[str, list[str]], role: str):
    assert _present(modules_by_role[role], _NOWHERE) == []


@pytest.mark.parametrize("role", ["capture", "encoder"])
def test_the_children_import_none_of_the_supervisors_packages(modules_by_role: dict[str, list[str]], role: str):
    assert _present(modules_by_role[role], _ONLY_SUPERVISOR) == []


def test_the_supervisor_imports_no_pixel_or_encoder_package(modules_by_role: dict[str, list[str]]):
    # it forwards ring endpoints and names the children's bodies (launch.Target), no more
    assert _present(modules_by_role["command"], _ONLY_CHILDREN) == []


def test_the_encoder_does_not_import_psutil(modules_by_role: dict[str, list[str]]):
    # ~1.6 MB PSS: the ring's liveness check and the CPU time are read without it on Linux
    # (fastrec.process_start.process_alive, fastrec.engine.usage)
    assert _present(modules_by_role["encoder"], ("psutil",)) == [] or sys.platform != "linux"


def test_only_the_encoder_imports_pyav_and_only_the_capture_process_the_screen(modules_by_role: dict[str, list[str]]):
    assert "av" in modules_by_role["encoder"] and "av" not in modules_by_role["capture"]
    assert "fastrec.capture.screen" not in modules_by_role["encoder"]


@pytest.mark.parametrize("role", ["command", "capture", "encoder"])
def test_no_process_runs_asyncio(modules_by_role: dict[str, list[str]], role: str):
    assert _present(modules_by_role[role], _NOT_RUN) == []


def test_the_supervisor_builds_only_the_pydantic_models_a_recording_uses(dumps_by_role: dict[str, dict]):
    # defer_build: the events' models (a synthetic screen has no input), the deletion log,
    # signatures and the live alerts are built on first use, never in a plain recording
    built = dumps_by_role["command"]["models"]
    assert "fastrec.settings.RecordingSettings" in built and "fastrec.storage.metadata.SegmentMetadata" in built
    unused = ("fastrec.events.model.", "fastrec.storage.deletion_log.", "fastrec.storage.signing.",
              "fastrec.live.model.LiveAlert", "fastrec.live.model.AlertRaised")
    assert [name for name in built if name.startswith(unused)] == []


def test_a_whole_screen_capture_imports_no_psutil():
    # ~1.6 MB PSS in the capture process: X DAMAGE lives in fastrec.capture.x11, whose window
    # list alone asks psutil for a window's process name (imported there, when it does)
    probe = ("import sys, fastrec.engine.capture_loop, fastrec.capture.screen, fastrec.capture.x11; "
             "print('psutil' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")})
    assert out.stdout.strip() == "False"
