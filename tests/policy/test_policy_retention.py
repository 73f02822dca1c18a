"""The recording policy's retention section applies: where it sets a limit, cleanup (the
recorder's schedule, ``perform_cleanup``, the CLI's ``cleanup``) and the storage figures use
it instead of the RECORDING_* setting, and say where the limits came from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from storage_builders import DAY, write_session

from fastrec.manager import RecordingManager
from fastrec.policy.store import PolicyStore
from fastrec.settings import load_settings


def _sessions(out: Path, ages_days: list[float]) -> None:
    now = time.time()
    for i, age in enumerate(ages_days):
        write_session(out, parts=1, session_id=f"s{i}", con_codigo=100 + i, mtime=now - age * DAY)


def test_the_policy_retention_replaces_the_settings_limits(tmp_path: Path):
    out = tmp_path / "rec"
    out.mkdir(mode=0o700)
    _sessions(out, [40, 10, 1])
    settings = load_settings(enabled=True, output_dir=str(out), max_file_age_days=30)
    manager = RecordingManager(settings, mode="synthetic", cleanup_schedule=False)
    try:
        assert manager.get_storage_info()["limits_from"] == "settings"
        with PolicyStore(out) as store:
            store.save("retention:\n  max_file_age_days: 7\n", author="alice", comment="a week")
        result = manager.perform_cleanup(dry_run=True)
        assert result["limits_from"] == "policy version 1" and result["max_file_age_days"] == 7
        assert result["target_size_gb"] == settings.max_total_size_gb  # unset in the policy: the setting's
        assert len(result["deleted"]) == 4  # two sessions (video + metadata each): 40 and 10 days old
        info = manager.get_storage_info()
        assert (info["max_file_age_days"], info["limits_from"]) == (7, "policy version 1")
    finally:
        manager.shutdown()
    # the command line applies the same limits
    env = {**os.environ, "RECORDING_OUTPUT_DIR": str(out)}
    run = subprocess.run([sys.executable, "-m", "fastrec", "cleanup", "--json"], env=env, capture_output=True,
                         text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["limits_from"] == "policy version 1" and result["deleted_segments"] == 2
    (kept,) = out.glob("*.mp4")
    assert "_102_" in kept.name  # the day-old session
