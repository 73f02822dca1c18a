"""``python -m fastrec keys ...`` (the key-encryption key file) and ``shred SESSION``.

- ``keys init-encryption [--key-file F]``: create the key file (0600) with one new KEK;
  refuses an existing file (a second init would orphan every recording it encrypted).
- ``keys rotate-encryption``: append a new KEK, which wraps the keys of sessions started
  from now on; the old ones stay in the file and keep reading older recordings.
- ``shred SESSION``: destroy the session's key (crypto-shredding,
  :meth:`~fastrec.crypt.keystore.SessionKeyStore.shred`); irreversible: it asks for the
  session id typed again unless ``--yes``.  Audit-logged in the admin database (action
  ``shred``, actor ``cli:<os user>``) and in the key store's tombstone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fastrec.printable import printable

__all__ = ["add_crypt_commands", "encryption_keys", "shred"]

EPILOG = ("FASTREC_ENCRYPTION_KEY_FILE names the key file (FASTREC_ENCRYPTION_KEY: one base64 key instead); "
          "FASTREC_ENCRYPTION_KEYSTORE the session keys (default <recordings>/.keys). Exit codes: 0 done; "
          "1 it could not be done; 2 a bad value or refused.")


def add_crypt_commands(commands: Any, key_actions: Any) -> None:
    """Add ``init-encryption`` and ``rotate-encryption`` to the ``keys`` command's
    ``key_actions`` (:func:`fastrec.storage.key_commands.add_keys_command`), and ``shred``."""
    from fastrec.server.commands import add_directory_options

    actions = key_actions
    for name, text in (("init-encryption", "create the key file with a new key (0600)"),
                       ("rotate-encryption", "add a new active key; older keys keep reading older recordings")):
        action = actions.add_parser(name, help=text, description=text[:1].upper() + text[1:] + ".", epilog=EPILOG)
        action.add_argument("--key-file", type=Path, default=None,
                            help="the key file (default FASTREC_ENCRYPTION_KEY_FILE)")
        action.add_argument("--env-file", default=None, help="read settings from this file (default ./.env)")

    shred_parser = commands.add_parser(
        "shred", help="destroy a session's encryption key: its recordings become unrecoverable",
        description="Crypto-shred SESSION: its session key is overwritten and deleted, so no key, no copy "
                    "of its recordings and no backup of them can be decrypted again. Irreversible. "
                    "Audit-logged.", epilog=EPILOG)
    shred_parser.add_argument("session_id", metavar="SESSION")
    shred_parser.add_argument("--yes", action="store_true", help="do not ask for the session id again")
    add_directory_options(shred_parser)


def _settings(args: argparse.Namespace) -> Any:
    from fastrec.settings import load_settings

    overrides = {"output_dir": str(args.output_dir)} if getattr(args, "output_dir", None) is not None else {}
    return load_settings(args.env_file, **overrides)


def encryption_keys(args: argparse.Namespace) -> int:
    """``python -m fastrec keys init-encryption|rotate-encryption``."""
    from fastrec.crypt.keys import KeyError_, add_key_to_file

    settings = _settings(args)
    path = args.key_file or settings.encryption_key_file
    if path is None:
        print(f"fastrec keys {args.action}: --key-file or FASTREC_ENCRYPTION_KEY_FILE is needed", file=sys.stderr)
        return 2
    try:
        key_id = add_key_to_file(path, create=args.action == "init-encryption")
    except (KeyError_, FileExistsError) as exc:
        print(f"fastrec keys {args.action}: {printable(exc)}", file=sys.stderr)
        return 2
    what = "created with" if args.action == "init-encryption" else "now has the active"
    print(f"{path}: {what} key {key_id}; FASTREC_ENCRYPTION_KEY_FILE={path} encrypts new segments with it")
    return 0


def shred(args: argparse.Namespace) -> int:
    """``python -m fastrec shred SESSION``: 2 when refused (no encryption, recording, not confirmed)."""
    import structlog

    from fastrec.crypt.context import encryption_from_settings
    from fastrec.crypt.keystore import Shredded
    from fastrec.server.audit import ActorType, AuditAction, AuditLog, AuditStatus
    from fastrec.server.commands import cli_actor
    from fastrec.server.db import ADMIN_DB_FILE, AdminDatabase
    from fastrec.storage.files import ensure_private_dir
    from fastrec.storage.metadata import SegmentMetadata, iter_metadata

    settings = _settings(args)
    session_id: str = args.session_id
    encryption = encryption_from_settings(settings)
    if encryption is None:
        print("fastrec shred: encryption is off (set FASTREC_ENCRYPTION_KEY_FILE or FASTREC_ENCRYPTION_KEY)",
              file=sys.stderr)
        return 2
    directory = ensure_private_dir(settings.output_dir)
    if any(isinstance(meta, SegmentMetadata) and meta.session_id == session_id and meta.status == "recording"
           for _, meta in iter_metadata(directory)):
        print(f"fastrec shred: session {printable(session_id)!r} is being recorded (a part's status is "
              "'recording'); stop it first (or 'recover' a killed recorder's parts)", file=sys.stderr)
        return 2
    if not args.yes:
        if not sys.stdin.isatty():
            print("fastrec shred: irreversible; pass --yes when not on a terminal", file=sys.stderr)
            return 2
        typed = input(f"Shred session {printable(session_id)!r} for good? Type its id again: ")
        if typed != session_id:
            print("fastrec shred: not confirmed; nothing shredded", file=sys.stderr)
            return 2
    actor = cli_actor()
    db = AdminDatabase(directory / ADMIN_DB_FILE, database_url=settings.database_url)
    try:
        audit = AuditLog(db)
        try:
            record = encryption.keystore.shred(session_id, by=actor)
        except (FileNotFoundError, Shredded) as exc:
            audit.record(AuditAction.SHRED, actor=actor, actor_type=ActorType.SYSTEM, status=AuditStatus.FAILURE,
                         target=f"session:{session_id}", details={"reason": str(exc)})
            print(f"fastrec shred: {printable(exc)}", file=sys.stderr)
            return 2
        audit.record(AuditAction.SHRED, actor=actor, actor_type=ActorType.SYSTEM, target=f"session:{session_id}",
                     details={"kek_id": record.kek_id, "shredded_at": record.shredded_at})
    finally:
        db.close()
        encryption.keystore.close()
    structlog.get_logger("fastrec.crypt").warning("Session crypto-shredded", session_id=session_id, by=actor)
    print(f"session {printable(session_id)!r}: key destroyed at {record.shredded_at}; its recordings "
          "cannot be decrypted any more")
    return 0
