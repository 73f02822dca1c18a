"""The recordings index: search by every field, rebuild from metadata, recover a lost database.

The tests taking ``database_url`` run against both back-ends (SQLite files and PostgreSQL);
the ones about the SQLite file itself (links, modes, corruption) against SQLite only."""

from __future__ import annotations

import os
import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from storage_builders import NOW, write_segment, write_session

from fastrec.storage import INDEX_FILE, RecordingIndex, read_metadata
from fastrec.storage.index import IndexUnavailable


@pytest.fixture
def populated(recordings: Path) -> Path:
    write_session(recordings, 2, session_id="rdp_1", con_codigo=1, server="Servidor São Paulo", user="ana",
                  ip="10.0.0.1", start=NOW - timedelta(days=2))
    write_segment(recordings, session_id="rdp_2", con_codigo=2, server="Production Server", user="Administrator",
                  ip="192.168.1.100", start=NOW - timedelta(days=1))
    write_segment(recordings, session_id="ssh_3", con_codigo=3, server="Production Server", user="bob",
                  ip="192.168.1.101", connection_type="SSH", start=NOW, status="recording")
    return recordings


def sessions(entries: list) -> list[tuple[str, int]]:
    return [(e.session_id, e.part) for e in entries]


def test_missing_database_is_rebuilt_from_metadata(populated: Path) -> None:
    db = populated / INDEX_FILE
    assert not db.exists()
    with RecordingIndex(db) as index:
        assert index.count() == 4
        assert sessions(index.search()) == [("rdp_1", 1), ("rdp_1", 2), ("rdp_2", 1), ("ssh_3", 1)]
        wal = db.with_name(db.name + "-wal")
        assert wal.exists() and wal.stat().st_mode & 0o777 == 0o600  # WAL holds the same data
    assert db.stat().st_mode & 0o777 == 0o600
    db.unlink()
    with RecordingIndex(db, populated) as index:  # lost again: rebuilt again
        assert index.count() == 4


def test_search_by_each_field(populated: Path, database_url: str | None) -> None:
    with RecordingIndex(populated / INDEX_FILE, database_url=database_url) as index:
        assert sessions(index.search(server="servidor são paulo")) == [("rdp_1", 1), ("rdp_1", 2)]
        assert sessions(index.search(server="SERVIDOR SÃO PAULO")) == [("rdp_1", 1), ("rdp_1", 2)]
        assert sessions(index.search(server="Production Server")) == [("rdp_2", 1), ("ssh_3", 1)]
        assert sessions(index.search(user="administrator")) == [("rdp_2", 1)]
        assert sessions(index.search(ip="192.168.1.101")) == [("ssh_3", 1)]
        assert sessions(index.search(connection_type="ssh")) == [("ssh_3", 1)]
        assert sessions(index.search(connection_type="RDP")) == [("rdp_1", 1), ("rdp_1", 2), ("rdp_2", 1)]
        assert sessions(index.search(session_id="rdp_2")) == [("rdp_2", 1)]
        assert sessions(index.search(con_codigo=1)) == [("rdp_1", 1), ("rdp_1", 2)]
        assert sessions(index.search(server="Production Server", user="bob")) == [("ssh_3", 1)]
        assert index.search(server="Production") == []  # whole values, not substrings


def test_search_by_time(populated: Path, database_url: str | None) -> None:
    with RecordingIndex(populated / INDEX_FILE, database_url=database_url) as index:
        # rdp_1 runs 2 days ago from +0 to +60 min (two 30-minute parts)
        since = NOW - timedelta(days=2) + timedelta(minutes=45)
        assert sessions(index.search(since=since, until=since)) == [("rdp_1", 2)]
        assert sessions(index.search(since=NOW - timedelta(hours=30))) == [("rdp_2", 1), ("ssh_3", 1)]
        assert sessions(index.search(until=NOW - timedelta(days=1, minutes=-1))) == [
            ("rdp_1", 1), ("rdp_1", 2), ("rdp_2", 1)]
        # a segment still being recorded matches any later window
        assert sessions(index.search(since=NOW + timedelta(days=5))) == [("ssh_3", 1)]


def test_entries_carry_the_metadata(populated: Path, database_url: str | None) -> None:
    with RecordingIndex(populated / INDEX_FILE, database_url=database_url) as index:
        [entry] = index.search(session_id="rdp_2")
    meta = read_metadata(entry.metadata_path)
    assert entry.path == populated / meta.file.name
    assert (entry.server, entry.user, entry.ip, entry.con_codigo) == ("Production Server", "Administrator",
                                                                      "192.168.1.100", "2")
    assert entry.start_time == meta.start_time and entry.end_time == meta.end_time
    assert (entry.status, entry.size_bytes, entry.sha256) == ("complete", meta.file.size_bytes, meta.file.sha256)


def test_add_and_remove(recordings: Path, database_url: str | None) -> None:
    with RecordingIndex(recordings / INDEX_FILE, database_url=database_url) as index:
        assert index.count() == 0
        video, meta_file, meta = write_segment(recordings, session_id="new")
        index.add(meta, video)
        [entry] = index.search(session_id="new")
        assert entry.metadata_path == meta_file
        meta.status = "interrupted"
        index.add(meta, video)  # replaces, never duplicates
        assert [e.status for e in index.search(session_id="new")] == ["interrupted"]
        assert index.remove(video) is True
        assert index.remove(video) is False
        index.add(meta, video)
        assert index.remove(meta_file) is True  # by its metadata path too
        assert index.count() == 0


def test_rebuild_skips_corrupt_metadata(populated: Path, database_url: str | None) -> None:
    (populated / "session_9_X_20251026_143022_metadata.json").write_text("{oops")
    with RecordingIndex(populated / INDEX_FILE, database_url=database_url) as index:
        assert index.count() == 4
        assert index.rebuild(populated) == 4


def test_existing_database_is_not_rebuilt(populated: Path, database_url: str | None) -> None:
    db = populated / INDEX_FILE
    with RecordingIndex(db, database_url=database_url) as index:
        index.remove(index.search(session_id="rdp_2")[0].path)
    with RecordingIndex(db, database_url=database_url) as index:
        assert index.count() == 3  # opened as it was, not silently rebuilt


def test_an_index_set_up_already_is_opened_without_writing_and_a_lost_index_is_recreated(populated: Path) -> None:
    # issue 14: every record opens the index; a commit there (and its WAL sync) was redundant
    db = populated / INDEX_FILE
    RecordingIndex(db).close()
    watcher = sqlite3.connect(db)
    try:
        def data_version() -> int:  # changes when another connection commits
            return watcher.execute("PRAGMA data_version").fetchone()[0]

        before = data_version()
        with RecordingIndex(db) as index:
            assert index.count() == 4
        assert data_version() == before
        watcher.execute("DROP INDEX segments_ip")  # an index of the schema lost: set up again
        watcher.commit()
        with RecordingIndex(db) as index:
            assert index.count() == 4
        assert watcher.execute("SELECT count(*) FROM sqlite_master WHERE name = 'segments_ip'").fetchone()[0] == 1
    finally:
        watcher.close()


def test_corrupt_database_is_set_aside_and_rebuilt(populated: Path) -> None:
    db = populated / INDEX_FILE
    db.write_bytes(b"this is not a database" * 100)
    with RecordingIndex(db) as index:
        assert index.count() == 4
    aside = [p for p in populated.iterdir() if p.name.startswith(f"{INDEX_FILE}.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not a database")


def test_closed_index_and_threads(populated: Path, database_url: str | None) -> None:
    index = RecordingIndex(populated / INDEX_FILE, database_url=database_url)
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(50):
                assert len(index.search(server="production server")) == 2
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for _ in range(20):
        index.rebuild()
    for thread in threads:
        thread.join()
    assert errors == []
    index.close()
    index.close()
    with pytest.raises(ValueError, match="is closed"):
        index.search()


# --- planted links and damaged derived data (issue 8: bugs 10 and 14) ---

def test_link_at_the_index_path_is_never_followed(populated: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    os.chmod(victim, 0o644)
    absent = tmp_path / "absent.db"
    for target in (victim, absent):
        link = populated / INDEX_FILE
        link.unlink(missing_ok=True)
        link.symlink_to(target)
        with pytest.raises(IndexUnavailable, match=f"{INDEX_FILE}: is a symbolic link \\(to {target}\\)"):
            RecordingIndex(link)
        assert link.is_symlink()
    assert victim.read_text() == "precious" and victim.stat().st_mode & 0o777 == 0o644
    assert not absent.exists()  # not created through the link
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recordings", "victim.txt"]


def test_link_at_a_journal_path_is_refused(populated: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (populated / f"{INDEX_FILE}-wal").symlink_to(victim)
    with pytest.raises(IndexUnavailable, match=f"{INDEX_FILE}-wal is a symbolic link"):
        RecordingIndex(populated / INDEX_FILE)
    assert victim.read_text() == "precious" and not (populated / INDEX_FILE).exists()


def test_new_index_is_private_whatever_the_umask(populated: Path) -> None:
    old = os.umask(0)
    try:
        RecordingIndex(populated / INDEX_FILE).close()
    finally:
        os.umask(old)
    assert (populated / INDEX_FILE).stat().st_mode & 0o777 == 0o600


def test_directory_at_the_index_path_is_one_clear_error(populated: Path) -> None:
    (populated / INDEX_FILE).mkdir()
    with pytest.raises(IndexUnavailable) as caught:
        RecordingIndex(populated / INDEX_FILE)
    assert str(caught.value) == f"recording index {populated / INDEX_FILE}: is a directory, not a database file"
    assert caught.value.path == populated / INDEX_FILE


@pytest.mark.parametrize("user_version", [0, 7])
def test_database_of_another_program_is_left_untouched(populated: Path, user_version: int) -> None:
    db = populated / INDEX_FILE
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
        conn.execute("INSERT INTO users VALUES ('ana')")
        if user_version:
            conn.execute("CREATE TABLE segments (x)")  # even a table of the same name
            conn.execute(f"PRAGMA user_version = {user_version}")
    conn.close()
    before = db.read_bytes()
    with pytest.raises(IndexUnavailable, match="a database of another program .* tables: segments, users|"
                                               "a database of another program .* tables: users"):
        RecordingIndex(db)
    assert db.read_bytes() == before
    assert sorted(p.name for p in populated.iterdir() if p.name.startswith(INDEX_FILE)) == [INDEX_FILE]


def test_older_index_of_ours_without_application_id_is_kept(populated: Path) -> None:
    db = populated / INDEX_FILE
    with RecordingIndex(db) as index:
        index.remove(index.search(session_id="rdp_2")[0].path)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA application_id = 0")  # as written before the id existed
    conn.close()
    with RecordingIndex(db) as index:
        assert index.count() == 3


def test_deeply_nested_metadata_is_skipped_by_the_rebuild(populated: Path, database_url: str | None) -> None:
    deep = populated / "session_8_X_20251026_143022_metadata.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with RecordingIndex(populated / INDEX_FILE, database_url=database_url) as index:
        assert index.count() == 4
        assert sessions(index.search(session_id="rdp_2")) == [("rdp_2", 1)]


_OPEN_AT_ONCE = """
import sys
from pathlib import Path
from fastrec.logs import configure_logging
from fastrec.storage.index import INDEX_FILE, IndexUnavailable, RecordingIndex

configure_logging("console", "error", stream=sys.stderr)
print("ready", flush=True)
for line in sys.stdin:  # one new directory per line, opened when the line comes
    folder = Path(line.strip())
    try:
        RecordingIndex(folder / INDEX_FILE, folder).close()
        print("ok", flush=True)
    except IndexUnavailable as exc:
        print(f"refused: {exc}", flush=True)
"""


def test_recorders_creating_one_new_index_at_the_same_moment_both_open_it(tmp_path: Path) -> None:
    # two recorders of one machine starting together on a new directory: neither may see
    # the other's half-made schema as "a database of another program"
    import subprocess
    import sys

    openers = [subprocess.Popen([sys.executable, "-c", _OPEN_AT_ONCE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True) for _ in range(2)]
    try:
        for opener in openers:
            assert opener.stdout is not None and opener.stdout.readline().strip() == "ready"
        answers: list[str] = []
        for n in range(200):  # the race showed about once in 300 openings
            folder = tmp_path / f"rec{n}"
            folder.mkdir()
            for opener in openers:  # both get the directory before either answers
                assert opener.stdin is not None
                opener.stdin.write(f"{folder}\n")
                opener.stdin.flush()
            answers += [opener.stdout.readline().strip() for opener in openers]  # type: ignore[union-attr]
        assert set(answers) == {"ok"}, [a for a in answers if a != "ok"][:3]
    finally:
        for opener in openers:
            opener.kill()
            opener.wait(10)
