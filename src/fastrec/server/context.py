"""Everything a request handler needs, built once per server from its settings.

The only state of the server: routes reach it through ``request.app.state.ctx`` (see
:func:`fastrec.server.auth.context`).  :meth:`ServerContext.close` releases what it opened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastrec.crypt.context import encryption_for, encryption_from_settings, use_encryption
from fastrec.policy.active import ActivePolicyReader
from fastrec.policy.store import PolicyStore
from fastrec.server.accounts import Accounts
from fastrec.server.audit import AuditLog
from fastrec.server.catalogue import Catalogue
from fastrec.server.config import ServerSettings
from fastrec.server.db import ADMIN_DB_FILE, AdminDatabase
from fastrec.server.exports import ExportJobs
from fastrec.server.notes import ReviewNotes
from fastrec.server.shares import RedisShareStore, ShareStore, SqliteShareStore
from fastrec.server.throttle import SlidingWindow
from fastrec.storage.files import ensure_private_dir
from fastrec.storage.fleet import FleetMirror, parse_fleet_urls
from fastrec.storage.objectstore import ObjectStore, store_from_settings
from fastrec.storage.signing import keyring_from_env
from fastrec.storage.videos import use_store

__all__ = ["ServerContext"]

ADDRESS_FACTOR = 4  # failed logins from one address, over all accounts: this many times the per-account limit


@dataclass
class ServerContext:
    settings: ServerSettings
    db: AdminDatabase
    accounts: Accounts
    audit: AuditLog
    shares: ShareStore
    catalogue: Catalogue
    notes: ReviewNotes
    policy: PolicyStore  # the recording policy's versions (the recorders read the same file)
    active_policy: ActivePolicyReader  # the active one, parsed once per version: its permissions
    login_failures: SlidingWindow    # per account and address
    address_failures: SlidingWindow  # per address, whatever the account
    ws_attempts: SlidingWindow
    exports: ExportJobs  # export jobs (JSON, MP4, PDF) in the background
    hub: Any = None  # fastrec.live.hub.LiveHub, started with the app
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, settings: ServerSettings) -> ServerContext:
        """Open the admin database in the recordings directory (created 0700 if missing).
        A signing key setting that cannot be used raises SigningKeyError here, at start-up,
        not at the first integrity check."""
        keyring_from_env()
        directory = ensure_private_dir(settings.recordings_dir)
        # parts the recorders uploaded (FASTREC_S3_URL) are read from the store when not on disk
        use_store(directory, store_from_settings(settings))
        # encrypted parts (FASTREC_ENCRYPTION_KEY[_FILE]) are decrypted in memory for replay and export
        use_encryption(directory, encryption_from_settings(settings, directory))
        url = settings.database_url  # None: SQLite files in the recordings directory
        db = AdminDatabase(directory / ADMIN_DB_FILE, database_url=url)
        shares: ShareStore = (RedisShareStore(settings.redis_url, settings.share_link_prefix)
                              if settings.redis_url else SqliteShareStore(db))
        policy = PolicyStore(directory, database_url=url)
        fleet_urls = parse_fleet_urls(settings.s3_fleet_urls)
        fleet = FleetMirror(directory, [ObjectStore(u, settings.s3_endpoint_url) for u in fleet_urls]) \
            if fleet_urls else None
        encryption = encryption_for(directory)
        if fleet is not None and encryption is not None:
            for folder in fleet.folders:  # the gateways' parts too (their session keys: the shared database's)
                use_encryption(folder, encryption)
        catalogue = Catalogue(directory, idle_seconds=settings.idle_seconds, database_url=url, fleet=fleet)
        return cls(settings=settings, db=db,
                   accounts=Accounts(db, settings.session_hours * 3600),
                   audit=AuditLog(db), shares=shares,
                   catalogue=catalogue,
                   notes=ReviewNotes(db), policy=policy, active_policy=ActivePolicyReader(directory, store=policy),
                   login_failures=SlidingWindow(settings.login_max_failures, settings.login_window_seconds),
                   address_failures=SlidingWindow(settings.login_max_failures * ADDRESS_FACTOR,
                                                  settings.login_window_seconds),
                   ws_attempts=SlidingWindow(settings.ws_attempts_per_minute, 60.0),
                   exports=ExportJobs(catalogue.directory_of, settings.export_workers))

    def close(self) -> None:
        self.exports.close()
        use_store(self.catalogue.directory, None)
        if self.catalogue.fleet is not None:
            for folder in self.catalogue.fleet.folders:
                use_encryption(folder, None)
            self.catalogue.fleet.close()
        encryption = encryption_for(self.catalogue.directory)
        if encryption is not None:
            encryption.keystore.close()
        use_encryption(self.catalogue.directory, None)
        self.shares.close()
        self.catalogue.close()
        self.policy.close()
        self.db.close()
