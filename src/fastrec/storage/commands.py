"""``python -m fastrec db upgrade``: bring every database of fastrec to this version's schema.

The stores migrate themselves when they open (the recorders, the admin server, the CLI), so
this command is never required; an operator runs it to upgrade a fleet's PostgreSQL
database during a maintenance window, before the gateways start, and to see that the
database can be reached with the configured ``FASTREC_DATABASE_URL``.  It opens, and so
migrates, the admin database, the policy store and the recordings index - SQLite files in
the recordings directory when no URL is set - and prints each one's schema version.

Exit codes: 0 done; 1 a database cannot be used (the message says which and why, the URL
without its password); 2 a bad setting (the variable, the value and what is allowed).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fastrec.printable import printable

__all__ = ["add_db_command", "db"]

EPILOG = ("FASTREC_DATABASE_URL=postgresql://user@host:5432/db puts the admin database, the policy versions "
          "and the recordings index of every gateway in PostgreSQL; unset, they are SQLite files in the "
          "recordings directory. Exit codes: 0 done; 1 a database cannot be used; 2 a bad value.")


def add_db_command(commands: Any) -> None:
    """Add ``db`` (action ``upgrade``) to ``commands``."""
    from fastrec.server.commands import add_directory_options

    parser = commands.add_parser(
        "db", help="upgrade the databases (SQLite files, or PostgreSQL with FASTREC_DATABASE_URL)",
        description="Manage fastrec's databases: the admin database, the policy versions, the recordings "
                    "index and (PostgreSQL) the encryption key store.", epilog=EPILOG)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    upgrade = actions.add_parser(
        "upgrade", help="migrate every database to this fastrec's schema (they also migrate when opened)",
        description="Migrate the admin database, the policy store and the recordings index to this fastrec's "
                    "schema, and print their versions. Safe to run at any time and from several machines at "
                    "once: migrations are versioned and take turns under a lock.", epilog=EPILOG)
    add_directory_options(upgrade)


def db(args: argparse.Namespace) -> int:
    """``python -m fastrec db ACTION`` (``upgrade``)."""
    from fastrec.policy.store import PolicyStore
    from fastrec.server.commands import server_settings
    from fastrec.server.db import ADMIN_DB_FILE, AdminDatabase
    from fastrec.storage.database import PgConnection, schema_versions, shown_url
    from fastrec.storage.files import ensure_private_dir
    from fastrec.storage.index import INDEX_FILE, IndexUnavailable, RecordingIndex

    from fastrec.logs import configure_logging

    configure_logging("console", "warning")  # the versions, not the stores' progress, on the screen
    settings = server_settings(args)  # SettingsError: reported by the caller (exit 2)
    name = f"fastrec db {args.action}"
    url = settings.database_url
    try:
        directory = ensure_private_dir(settings.recordings_dir)
        with AdminDatabase(directory / ADMIN_DB_FILE, database_url=url), \
                PolicyStore(directory, database_url=url), \
                RecordingIndex(directory / INDEX_FILE, directory, database_url=url):
            pass
        if url is not None:  # the session keys' table of encryption at rest (fastrec.crypt.keystore)
            from fastrec.crypt.keystore import PG_COMPONENT, PG_MIGRATIONS
            from fastrec.storage.database import connect_migrated

            connect_migrated(url, PG_COMPONENT, PG_MIGRATIONS).close()
    except (OSError, IndexUnavailable) as exc:
        print(f"{name}: {printable(exc)}", file=sys.stderr)
        return 1
    if url is None:
        from fastrec.policy.store import POLICY_FILE
        from fastrec.policy.store import SCHEMA_VERSION as POLICY_VERSION
        from fastrec.server.db import SCHEMA_VERSION as ADMIN_VERSION
        from fastrec.storage.index import SCHEMA_VERSION as INDEX_VERSION

        print(f"SQLite files in {printable(directory)}:")
        for file, version in ((ADMIN_DB_FILE, ADMIN_VERSION), (POLICY_FILE, POLICY_VERSION),
                              (INDEX_FILE, INDEX_VERSION)):
            print(f"  {file}: schema version {version}")
        return 0
    conn = PgConnection(url)
    try:
        versions = schema_versions(conn)
    finally:
        conn.close()
    print(f"PostgreSQL {printable(shown_url(url))}:")
    for component, version in sorted(versions.items()):
        print(f"  {component}: schema version {version}")
    return 0
