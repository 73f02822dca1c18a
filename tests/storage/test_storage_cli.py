"""The read-only commands (list, info, verify, storage, cleanup, recover) over damaged or
hostile directories: one bad file is reported, never fatal; no link is followed.

The commands run in-process (``fastrec.cli.main``) on real files in tmp_path.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from storage_builders import NOW, write_segment, write_session

from fastrec.cli import main
from fastrec.storage import INDEX_FILE
from fastrec.storage.integrity import NO_KEY

SESSION = "rdp_123_1729950022"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [n for n in os.environ if n.startswith("RECORDING_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def edit(meta_file: Path, **changes: object) -> None:
    """Change top-level or dotted keys of a metadata file as an editor would."""
    data = json.loads(meta_file.read_text())
    for key, value in changes.items():
        *parents, leaf = key.split("__")
        node = data
        for parent in parents:
            node = node[parent]
        node[leaf] = value
    meta_file.write_text(json.dumps(data))


def test_list_never_follows_a_link_at_the_index(recordings: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    write_session(recordings, 2)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    os.chmod(victim, 0o644)
    (recordings / INDEX_FILE).symlink_to(victim)
    code, _, err = run(capsys, "list", "--output-dir", str(recordings))
    assert code == 1
    assert f"recording index {recordings / INDEX_FILE}: is a symbolic link (to {victim})" in err
    assert victim.read_text() == "precious" and victim.stat().st_mode & 0o777 == 0o644


def test_list_with_a_naive_start_and_an_aware_end(recordings: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, meta_file, _ = write_segment(recordings)
    edit(meta_file, start_time="2025-10-26T14:30:22", end_time="2025-10-26T15:00:22" + NOW.astimezone().strftime("%z"))
    code, out, err = run(capsys, "list", "--output-dir", str(recordings))
    assert (code, err) == (0, "")
    [row] = [line for line in out.splitlines() if line.startswith(SESSION)]
    assert row.split()[4] == "1800.0"  # SECONDS: both times compare


def test_storage_with_a_start_time_in_year_1(recordings: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_session(recordings, 2)
    _, meta_file, _ = write_segment(recordings, session_id="odd", con_codigo=5)
    edit(meta_file, start_time="0001-01-01T00:00:00")
    code, out, err = run(capsys, "storage", "--json", "--output-dir", str(recordings))
    assert (code, err) == (0, "")
    info = json.loads(out)
    assert info["session_count"] == 1 and info["segment_count"] == 2
    assert info["oldest"].startswith("2025-10-26T14:30:22")


def test_verify_of_a_huge_part_number_is_a_few_lines(recordings: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parts = write_session(recordings, 2)
    edit(parts[1][1], chain__part=10_000_000)
    code, out, _ = run(capsys, "verify", SESSION, "--output-dir", str(recordings))
    assert code == 1
    assert out.splitlines() == [
        f"session {SESSION}: 2 segment(s), 2 problem(s)",
        (f"  part 2 ({parts[1][0].name}): missing - part 1 names it as the next part; "
         "no readable metadata (its video is still there)"),
        f"  {parts[1][1].name}: metadata cannot be read",
        f"  signatures not checked: {NO_KEY}",
    ]


def test_deeply_nested_metadata_breaks_no_command(recordings: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_session(recordings, 2)
    deep = recordings / "session_123_Production_Server_20251026_143022_part3_metadata.json"
    deep.write_text("{\"a\": " * 100_000 + "1" + "}" * 100_000)
    for command in (["list"], ["info", SESSION], ["storage"], ["status"], ["cleanup", "--dry-run"]):
        code, out, err = run(capsys, *command, "--output-dir", str(recordings))
        assert (command, code, "Error" in err) == (command, 0, False), err
        assert out
    code, out, err = run(capsys, "verify", SESSION, "--output-dir", str(recordings))
    assert code == 1 and f"  {deep.name}: metadata cannot be read" in out.splitlines()
    assert deep.exists()


@pytest.mark.parametrize("command", ["list", "status", "cleanup"])
def test_reading_commands_write_nothing_into_a_directory_others_may_write(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    # found in review: `record` refused a shared 1777 directory, but list, status and
    # cleanup created the index and the cleanup statistics in it (whose names others can
    # race with links)
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    os.chown(shared, 65534, -1)  # nobody's
    code, out, err = run(capsys, command, "--output-dir", str(shared))
    assert code == 1
    assert f"{shared}: owned by uid 65534" in err and "mode 1777" in err
    assert os.listdir(shared) == []
