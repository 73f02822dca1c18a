"""The README's embedding example runs unchanged in the Windows interpreter (issue 10): the
desktop connection manager calls exactly this."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import WAIT

README = Path(__file__).resolve().parents[2] / "README.md"


def _embedding_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Embedding"):]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "README's embedding section has no python example"
    return match.group(1)


def test_the_readme_embedding_example_runs_unchanged(tmp_path: Path, mstsc):
    mstsc()  # an RDP client window to record (RECORDING_MODE defaults to rdp_window)
    script = tmp_path / "embed.py"
    script.write_text(_embedding_example(), encoding="utf-8")
    out = tmp_path / "rec"
    env = {**os.environ, "RECORDING_ENABLED": "true", "RECORDING_OUTPUT_DIR": str(out)}
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=4 * WAIT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    log = result.stdout + result.stderr
    # the session it started stopped cleanly (it stops before a frame was due: no file)
    assert re.search(r"Recording stopped for session: rdp_123_1729950022 errors=0", log), log
    assert "Recording manager shut down" in log
