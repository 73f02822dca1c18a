"""A fleet on one PostgreSQL database (FASTREC_DATABASE_URL): two gateways and an admin server
see each other's rows, migrations run once however many start at once, a newer schema is
refused untouched, and a dropped connection is opened again.  The PostgreSQL cluster is the
private one of tests/postgres.py; the per-store behaviour is tested on both back-ends by
the stores' own test modules (their ``database_url`` fixture)."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from cli_jobs import fastrec
from polling import wait_for
from storage_builders import NOW, write_segment, write_session

from fastrec.policy.store import PolicyStore
from fastrec.server.accounts import Accounts, Role
from fastrec.server.audit import ActorType, AuditAction, AuditLog
from fastrec.server.db import ADMIN_DB_FILE, AdminDatabase
from fastrec.storage.database import DatabaseUnavailable, PgConnection, migrate, schema_versions
from fastrec.storage.index import INDEX_FILE, PG_COMPONENT, PG_MIGRATIONS, IndexUnavailable, RecordingIndex

POLICY = "connections:\n  default: skip\n"


def gateway_dir(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir(mode=0o700)
    return folder


def test_two_gateways_see_each_others_recordings_and_rebuild_only_their_own(tmp_path: Path,
                                                                             postgres_url: str) -> None:
    east, west = gateway_dir(tmp_path, "east"), gateway_dir(tmp_path, "west")
    write_session(east, 2, session_id="rdp_east", server="Billing", user="ana", start=NOW - timedelta(hours=2))
    write_segment(west, session_id="rdp_west", server="Payroll", user="bob", start=NOW - timedelta(hours=1))
    with RecordingIndex(east / INDEX_FILE, east, database_url=postgres_url) as a, \
            RecordingIndex(west / INDEX_FILE, west, database_url=postgres_url) as b:
        # each gateway indexed its own directory when it joined; both see the fleet
        for index in (a, b):
            assert [(e.session_id, e.part) for e in index.search()] == [
                ("rdp_east", 1), ("rdp_east", 2), ("rdp_west", 1)]
        video, _, meta = write_segment(west, session_id="rdp_west_2", start=NOW)
        b.add(meta, video)
        assert [e.session_id for e in a.search(session_id="rdp_west_2")] == ["rdp_west_2"]
        # east's rebuild replaces east's rows only; west's recordings stay listed
        assert a.rebuild() == 2
        assert sorted({e.session_id for e in b.search()}) == ["rdp_east", "rdp_west", "rdp_west_2"]
        # a gateway removes only what it indexed, even given another's path
        assert a.remove(video) is False and b.remove(video) is True
        assert a.count() == b.count() == 3
    assert not (east / INDEX_FILE).exists() and not (west / INDEX_FILE).exists()  # nothing on the disks


def test_two_admin_servers_share_users_audit_and_policy(tmp_path: Path, postgres_url: str) -> None:
    with AdminDatabase(tmp_path / "one" / ADMIN_DB_FILE, database_url=postgres_url) as one, \
            AdminDatabase(tmp_path / "two" / ADMIN_DB_FILE, database_url=postgres_url) as two, \
            PolicyStore(tmp_path / "one", database_url=postgres_url) as policy_one, \
            PolicyStore(tmp_path / "two", database_url=postgres_url) as policy_two:
        Accounts(one).create_user("ana", "longenough", Role.ADMIN)
        assert Accounts(two).authenticate("ANA", "longenough").name == "ana"  # signed in on the other server
        first = AuditLog(one).record(AuditAction.LOGIN, actor="ana", actor_type=ActorType.USER)
        second = AuditLog(two).record(AuditAction.LOGIN, actor="ana", actor_type=ActorType.USER)
        entries, total = AuditLog(one).query(actor="ana")
        assert total == 2 and [e.id for e in entries] == [second, first]  # one sequence, newest first
        saved = policy_one.save(POLICY, author="ana", comment="skip by default")
        assert policy_two.active() == saved


def test_concurrent_start_ups_migrate_once(postgres_url: str) -> None:
    conns = [PgConnection(postgres_url) for _ in range(6)]
    start = threading.Barrier(len(conns))
    taken: list[int] = []
    errors: list[BaseException] = []

    def open_gateway(conn: PgConnection) -> None:
        try:
            start.wait()
            taken.append(migrate(conn, PG_COMPONENT, PG_MIGRATIONS))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_gateway, args=(c,)) for c in conns]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert sorted(taken) == [0] * (len(conns) - 1) + [len(PG_MIGRATIONS)]  # one migrated, the rest found it done
        assert schema_versions(conns[0]) == {PG_COMPONENT: len(PG_MIGRATIONS)}
    finally:
        for conn in conns:
            conn.close()


def test_db_upgrade_from_two_machines_at_once(tmp_path: Path, postgres_url: str) -> None:
    import concurrent.futures

    env = {"FASTREC_DATABASE_URL": postgres_url}
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda name: fastrec("db", "upgrade", "--output-dir", str(tmp_path / name),
                                                  cwd=tmp_path, env=env), ("gw1", "gw2")))
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert "admin: schema version 1" in run.stdout and "policy: schema version 1" in run.stdout
        assert "recordings_index: schema version 1" in run.stdout and "keystore: schema version 1" in run.stdout
    conn = PgConnection(postgres_url)
    try:
        assert schema_versions(conn) == {"admin": 1, "keystore": 1, "policy": 1, "recordings_index": 1}
    finally:
        conn.close()
    assert not list((tmp_path / "gw1").glob("*.sqlite3"))  # nothing went to SQLite files


def test_db_upgrade_names_an_unreachable_database_without_its_password(tmp_path: Path) -> None:
    run = fastrec("db", "upgrade", "--output-dir", str(tmp_path / "rec"), cwd=tmp_path,
                  env={"FASTREC_DATABASE_URL": "postgresql://fleet:s3cret@127.0.0.1:1/fastrec"})
    assert run.returncode == 1
    assert "postgresql://fleet@127.0.0.1:1/fastrec: cannot connect" in run.stderr and "s3cret" not in run.stderr
    bad = fastrec("db", "upgrade", cwd=tmp_path, env={"FASTREC_DATABASE_URL": "mysql://fleet:s3cret@db/x"})
    assert bad.returncode == 2 and "FASTREC_DATABASE_URL=mysql://fleet@db/x: must start with postgresql://" \
        in bad.stderr and "s3cret" not in bad.stderr


def test_a_newer_schema_is_refused_and_left_untouched(tmp_path: Path, postgres_url: str) -> None:
    AdminDatabase(tmp_path / ADMIN_DB_FILE, database_url=postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE fastrec_schema SET version = 99 WHERE component = 'admin'")
    with pytest.raises(DatabaseUnavailable, match=r"the admin schema is version 99, newer than this fastrec "
                                                  r"understands \(1\); upgrade fastrec"):
        AdminDatabase(tmp_path / ADMIN_DB_FILE, database_url=postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        assert conn.execute("SELECT version FROM fastrec_schema WHERE component = 'admin'").fetchone() == (99,)


def test_an_unreachable_database_leaves_recording_without_an_index(tmp_path: Path) -> None:
    with pytest.raises(IndexUnavailable) as caught:
        RecordingIndex(tmp_path / INDEX_FILE, tmp_path, database_url="postgresql://gw:s3cret@127.0.0.1:1/fastrec")
    assert str(caught.value).startswith("recording index postgresql://gw@127.0.0.1:1/fastrec: cannot connect")
    assert "s3cret" not in str(caught.value)


def test_a_dropped_connection_is_opened_again(tmp_path: Path, postgres_url: str) -> None:
    with AdminDatabase(tmp_path / ADMIN_DB_FILE, database_url=postgres_url) as db:
        accounts = Accounts(db)
        accounts.create_user("ana", "longenough")
        admin_kill(postgres_url)
        assert accounts.count_users() == 1  # read again on a new connection
        admin_kill(postgres_url)
        accounts.create_user("bob", "longenough")  # a write's transaction begins on a new one
        assert [u.name for u in accounts.list_users()] == ["ana", "bob"]


def admin_kill(url: str) -> None:
    """Terminate every connection of fastrec's to the database (a server restart, as the
    stores see it)."""
    ours = "FROM pg_stat_activity WHERE application_name = 'fastrec' AND pid <> pg_backend_pid()"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"SELECT pg_terminate_backend(pid) {ours}")
        # gone for good before the store's next statement, so it meets a dropped connection
        wait_for(lambda: admin.execute(f"SELECT count(*) {ours}").fetchone()[0] == 0, what="backends to exit")


def test_two_recording_gateways_and_an_admin_catalogue_on_one_database(tmp_path: Path, postgres_url: str) -> None:
    from fastrec.manager import RecordingManager
    from fastrec.server.catalogue import Catalogue
    from fastrec.settings import load_settings

    synthetic = {"width": 160, "height": 120, "fps": 10, "scenario": "video"}
    gateways = [RecordingManager(load_settings(enabled=True, output_dir=str(tmp_path / name), encoder_workers=1,
                                               database_url=postgres_url),
                                 mode="synthetic", source_options=synthetic) for name in ("gw1", "gw2")]
    with PolicyStore(tmp_path / "admin", database_url=postgres_url) as policy:  # saved once, for the fleet
        policy.save("connections:\n  default: record\n  rules:\n    - name: lab\n      action: skip\n"
                    "      server: lab-*\n", author="ana", comment="no lab recordings")
    try:
        for n, manager in enumerate(gateways):
            assert manager.start_session_recording(f"rdp_gw{n}", {"name": f"srv{n}", "user": "ana"}) is True
            assert manager.start_session_recording(f"lab_gw{n}", {"name": "lab-3", "user": "ana"}) is False
        for n, manager in enumerate(gateways):
            assert wait_for(lambda m=manager, n=n: m.get_recording_status(f"rdp_gw{n}")["segments"] >= 1,
                            what="a segment")
            assert manager.stop_session_recording(f"rdp_gw{n}") and manager.wait_for_session(f"rdp_gw{n}", 30)
    finally:
        for manager in gateways:
            manager.shutdown()
    catalogue = Catalogue(tmp_path / "admin", database_url=postgres_url)  # an admin server elsewhere
    try:
        rows = {row.session_id: row for row in catalogue.sessions()}
        assert sorted(rows) == ["rdp_gw0", "rdp_gw1"]
        assert {rows[s].server for s in rows} == {"srv0", "srv1"} and not any(r.recording for r in rows.values())
    finally:
        catalogue.close()
