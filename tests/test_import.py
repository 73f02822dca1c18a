"""Without its compiled core fastrec refuses to run a kernel, with a message that says what
to do; the commands that only read recordings need no core at all."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fastrec

BUILD_ERROR = "fastrec's compiled core is missing"


def test_missing_extension_fails_loudly():
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "fastrec._ext._convert":
                    raise ImportError("No module named 'fastrec._ext._convert'")
        sys.meta_path.insert(0, Block())
        import fastrec  # light: nothing compiled is loaded yet
        from fastrec import Scaler
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert BUILD_ERROR in proc.stderr
    assert "pip install" in proc.stderr


def test_public_api_is_importable():
    for name in fastrec.__all__:
        assert hasattr(fastrec, name), name
    assert sorted(dir(fastrec)) == sorted(fastrec.__all__)
    with pytest.raises(AttributeError, match="module 'fastrec' has no attribute 'nope'"):
        fastrec.nope  # noqa: B018


@pytest.fixture(scope="module")
def coreless(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    """A copy of the package without its compiled core (the environment to run it with),
    and a recordings directory made by the real package."""
    root = tmp_path_factory.mktemp("coreless")
    shutil.copytree(Path(fastrec.__file__).parent, root / "src" / "fastrec",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECORDING_")}
    out = root / "rec"
    made = subprocess.run([sys.executable, "-m", "fastrec", "record", "--mode", "synthetic", "--duration", "1",
                           "--output-dir", str(out), "--session-id", "s1", "--user", "alice"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0, made.stderr
    env["PYTHONPATH"] = str(root / "src")
    return root, env, out


def _coreless_run(coreless: tuple[Path, dict[str, str], Path], *args: str) -> subprocess.CompletedProcess[str]:
    root, env, _ = coreless
    return subprocess.run([sys.executable, *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_the_copy_really_has_no_core(coreless: tuple[Path, dict[str, str], Path]):
    root = coreless[0]
    proc = _coreless_run(coreless, "-c", "import fastrec; print(fastrec.__file__); fastrec.TileDiff")
    assert proc.stdout.startswith(str(root / "src" / "fastrec"))
    assert proc.returncode == 1 and BUILD_ERROR in proc.stderr


@pytest.mark.parametrize("command", ["list", "info", "verify", "storage", "cleanup", "status", "recover"])
def test_reading_commands_need_no_compiled_core(coreless: tuple[Path, dict[str, str], Path], command: str):
    out = coreless[2]
    assert _coreless_run(coreless, "-m", "fastrec", command, "--help").returncode == 0
    args = {"info": ["s1"], "verify": ["s1"], "cleanup": ["--dry-run", "--older-than", "0"],
            "recover": ["--dry-run"]}.get(command, [])
    proc = _coreless_run(coreless, "-m", "fastrec", command, *args, "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    expected = {"list": "alice", "info": "session s1: 1 part(s)", "verify": "chain intact",
                "storage": "session_count        1", "cleanup": "would delete 2 file(s)",
                "status": "nothing is being recorded", "recover": "nothing to recover"}[command]
    assert expected in proc.stdout


def test_recording_without_the_core_is_a_clear_error(coreless: tuple[Path, dict[str, str], Path], tmp_path: Path):
    proc = _coreless_run(coreless, "-m", "fastrec", "record", "--mode", "synthetic", "--duration", "1",
                         "--output-dir", str(tmp_path / "rec"))
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"fastrec record: ImportError: {BUILD_ERROR}") and "Traceback" not in proc.stderr
