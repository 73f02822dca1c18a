"""The policy store: save, list, diff, rollback as a new version; an invalid document is
never a version; two writers cannot silently undo each other; the file is ours alone.

Tests taking ``database_url`` (or the ``store`` fixture) run on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from fastrec.policy.active import ActivePolicyReader
from fastrec.policy.document import DEFAULT_POLICY, DEFAULT_POLICY_TEXT, Action, parse_policy
from fastrec.policy.errors import (
    PolicyConflict,
    PolicyError,
    PolicyInputError,
    PolicyNotFound,
    PolicyStoreProblem,
    PolicyUnchanged,
)
from fastrec.policy.store import DEFAULT_VERSION, POLICY_FILE, PolicyStore
from fastrec.privacy.connection import clean_connection_info

SKIP_ALL = "connections:\n  default: skip\n"
INTERNAL = """\
# only internal connections
connections:
  default: skip
  rules:
    - name: internal
      action: record
      ip: [10.0.0.0/8, 192.168.0.0/16]
"""
INTERNAL_AND_LAB = INTERNAL.replace("      ip: [10.0.0.0/8, 192.168.0.0/16]\n",
                                    "      ip: [10.0.0.0/8, 192.168.0.0/16]\n    - name: lab\n"
                                    "      action: record\n      server: lab-*\n")


@pytest.fixture
def store(tmp_path: Path, database_url: str | None):
    with PolicyStore(tmp_path / "rec", database_url=database_url) as opened:
        yield opened


def test_without_a_saved_version_the_default_policy_is_active(store: PolicyStore) -> None:
    assert store.active() is None and store.versions() == []
    assert store.active_or_default() == DEFAULT_VERSION == store.get(0)
    assert parse_policy(DEFAULT_VERSION.text) == DEFAULT_POLICY and DEFAULT_VERSION.text == DEFAULT_POLICY_TEXT
    with pytest.raises(PolicyNotFound, match=r"version=1: no such policy version \(no version has been saved"):
        store.get(1)


def test_round_trip_save_list_diff_rollback(store: PolicyStore) -> None:
    v1 = store.save(INTERNAL, author="alice", comment="only internal connections")
    v2 = store.save(INTERNAL_AND_LAB, author="bob", comment="and the lab", base_version=1)
    assert (v1.version, v2.version) == (1, 2)
    assert store.get(1).text == INTERNAL  # the exact text, comments and spacing included
    assert [(v.version, v.author, v.comment) for v in store.versions()] == [
        (1, "alice", "only internal connections"), (2, "bob", "and the lab")]
    assert store.active() == v2

    changes = store.diff(1, 2)
    assert (changes.additions, changes.deletions) == (3, 0)
    assert [line.text for line in changes.lines if line.kind == "add"] == [
        "    - name: lab", "      action: record", "      server: lab-*"]
    assert changes.unified(context=1) == [
        "--- policy version 1", "+++ policy version 2", "@@ -7 +7,4 @@",
        "       ip: [10.0.0.0/8, 192.168.0.0/16]", "+    - name: lab", "+      action: record", "+      server: lab-*"]
    back = store.diff(2, 1)
    assert (back.additions, back.deletions) == (0, 3) and back.summary() == "0 additions, 3 deletions"
    assert store.diff(1, 1).changed is False

    # a rollback makes the old document active again as a NEW version; nothing is lost
    v3 = store.rollback(1, author="carol", comment="the lab is gone")
    assert (v3.version, v3.rolled_back_from, v3.text, v3.sha256) == (3, 1, INTERNAL, v1.sha256)
    assert [v.version for v in store.versions()] == [1, 2, 3] and store.active() == v3
    assert store.get(2).text == INTERNAL_AND_LAB
    # back to the default policy: version 0's document
    v4 = store.rollback(0, author="carol", comment="record everything again")
    assert v4.text == DEFAULT_POLICY_TEXT and v4.rolled_back_from == 0


def test_an_invalid_document_never_becomes_active(store: PolicyStore) -> None:
    store.save(INTERNAL, author="alice", comment="first")
    with pytest.raises(PolicyError) as caught:
        store.save("connections:\n  default: skip\n  rules:\n    - action: record\n      ip: 10.0.0.300/8\n",
                   author="alice", comment="typo")
    assert caught.value.line == 5 and "10.0.0.300/8" in str(caught.value)
    assert [v.version for v in store.versions()] == [1] and store.active().text == INTERNAL


def test_refused_changes_say_why(store: PolicyStore) -> None:
    store.save(INTERNAL, author="alice", comment="first")
    with pytest.raises(PolicyUnchanged, match=r"the document is the active policy already \(version 1\)"):
        store.save(INTERNAL, author="alice", comment="again")
    with pytest.raises(PolicyUnchanged, match="version 1's document is the active policy already"):
        store.rollback(1, author="alice", comment="again")
    with pytest.raises(PolicyNotFound, match=r"versions 1 to 1 exist; 0 is the default policy"):
        store.rollback(7, author="alice", comment="x")
    for author, comment, message in (("", "why", "author must not be empty"), ("al", "  ", "comment must not be"),
                                     ("al", "x" * 501, "at most 500"), ("al\nice", "c", "one line of printable"),
                                     ("al", "c\ud800", "printable")):
        with pytest.raises(PolicyInputError, match=message):
            store.save(SKIP_ALL, author=author, comment=comment)
    with pytest.raises(PolicyInputError, match="version=-1"):
        store.get(-1)
    assert [v.version for v in store.versions()] == [1]


def test_a_change_made_on_an_outdated_version_is_refused(tmp_path: Path, database_url: str | None) -> None:
    # two editors load version 1; the second save must not silently undo the first
    with PolicyStore(tmp_path, database_url=database_url) as first, \
            PolicyStore(tmp_path, database_url=database_url) as second:
        first.save(INTERNAL, author="alice", comment="v1")
        base = second.active_or_default().version
        first.save(INTERNAL_AND_LAB, author="alice", comment="v2", base_version=base)
        with pytest.raises(PolicyConflict, match="version 2 was saved since version 1"):
            second.save(SKIP_ALL, author="bob", comment="mine", base_version=base)
        assert second.active().version == 2


def test_concurrent_writers_get_consecutive_versions(tmp_path: Path, database_url: str | None) -> None:
    PolicyStore(tmp_path, database_url=database_url).close()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with PolicyStore(tmp_path, database_url=database_url) as own:
                for i in range(10):
                    own.save(f"connections:\n  default: skip\n# writer {n} change {i}\n", author=f"w{n}", comment="c")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with PolicyStore(tmp_path, database_url=database_url) as store:
        assert [v.version for v in store.versions()] == list(range(1, 41))


def test_versions_are_never_changed_or_deleted(store: PolicyStore, database_url: str | None) -> None:
    store.save(INTERNAL, author="alice", comment="first")
    if database_url is None:
        with sqlite3.connect(store.path) as conn:
            with pytest.raises(sqlite3.IntegrityError, match="never changed"):
                conn.execute("UPDATE policy_versions SET text = 'connections: {default: skip}'")
            with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
                conn.execute("DELETE FROM policy_versions")
    else:  # another client of the database, not the store's connection
        import psycopg

        with psycopg.connect(database_url, autocommit=True) as conn:
            for statement, words in (("UPDATE policy_versions SET text = 'connections: {default: skip}'", "changed"),
                                     ("DELETE FROM policy_versions", "deleted"),
                                     ("TRUNCATE policy_versions", "deleted")):
                with pytest.raises(psycopg.errors.RaiseException, match=f"never {words}"):
                    conn.execute(statement)
    assert store.active().text == INTERNAL


def test_the_file_is_private_and_never_opened_through_a_link(tmp_path: Path) -> None:
    directory = tmp_path / "rec"
    PolicyStore(directory).close()
    assert stat.S_IMODE(os.stat(directory / POLICY_FILE).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700

    linked = tmp_path / "linked"
    linked.mkdir(mode=0o700)
    target = tmp_path / "elsewhere.sqlite3"
    target.write_bytes(b"")
    (linked / POLICY_FILE).symlink_to(target)
    with pytest.raises(PolicyStoreProblem, match="symbolic link"):
        PolicyStore(linked)

    foreign = tmp_path / "foreign"
    foreign.mkdir(mode=0o700)
    with sqlite3.connect(foreign / POLICY_FILE) as conn:
        conn.execute("CREATE TABLE theirs (x)")
    os.chmod(foreign / POLICY_FILE, 0o600)
    with pytest.raises(PolicyStoreProblem, match="a database of another program"):
        PolicyStore(foreign)
    with sqlite3.connect(foreign / POLICY_FILE) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("theirs",)]  # left as it was


def test_the_recorder_reads_the_newest_version_and_survives_a_damaged_store(tmp_path: Path, log_stream) -> None:
    directory = tmp_path / "rec"
    directory.mkdir(mode=0o700)
    reader = ActivePolicyReader(directory)
    internal = clean_connection_info({"ip": "10.1.1.1"})
    outside = clean_connection_info({"ip": "8.8.8.8"})
    # nothing saved: the default, and reading creates nothing
    assert reader.current().decide(outside).record is True
    assert list(directory.iterdir()) == []

    with PolicyStore(directory) as store:
        store.save(INTERNAL, author="alice", comment="internal only")
    active = reader.current()
    assert active.version.version == 1 and active.policy.connections.default is Action.SKIP
    assert (active.decide(internal).record, active.decide(outside).record) == (True, False)
    assert reader.current() is active  # parsed once per version

    # a damaged file: the last policy read still applies, and the log says so
    (directory / POLICY_FILE).write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (directory / (POLICY_FILE + suffix)).unlink(missing_ok=True)
    assert reader.current() is active
    errors = [e for e in log_stream.events() if e["level"] == "error"]
    assert errors and errors[-1]["event"].startswith("Recording policy unavailable; using policy version 1, "
                                                     "the last one read: the policy store cannot be read")
    # a new reader (a recorder that starts now) has read nothing: the default applies
    assert ActivePolicyReader(directory).current().decide(outside).record is True
