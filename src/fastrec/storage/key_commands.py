"""``python -m fastrec keys init|rotate|show``: the key ring that signs the integrity chain.

The ring file (:mod:`fastrec.storage.signing`) is created 0600 and never overwritten by
``init``; ``rotate`` adds a key and makes it the signing one, keeping the old keys so that
old recordings verify.  ``show`` prints key ids, never key bytes.  The file defaults to
``FASTREC_SIGNING_KEY_FILE``; keep it outside the recordings directory and the object store.

Exit codes: 0 done; 1 the file cannot be created or read (the message says why); 2 no file
named (neither ``--file`` nor FASTREC_SIGNING_KEY_FILE).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from fastrec.printable import printable

__all__ = ["add_keys_command", "keys"]

EPILOG = ("Every gateway and the admin server set FASTREC_SIGNING_KEY_FILE to a copy of the same ring "
          "(or FASTREC_SIGNING_KEY to the same 64 hex digits). Exit codes: 0 done; 1 the file cannot be "
          "created or read; 2 no file named.")


def add_keys_command(commands: Any) -> Any:
    """Add ``keys`` (actions ``init``, ``rotate``, ``show``) to ``commands``; returns its
    actions, where the encryption keys' are added (:func:`fastrec.crypt.commands.add_crypt_commands`)."""
    parser = commands.add_parser("keys", help="create or rotate the signing key ring or the encryption keys",
                                 description="Manage the HMAC-SHA256 key ring that signs every metadata file "
                                             "and deletion record (init, rotate, show) and the key-encryption "
                                             "keys of encryption at rest (init-encryption, rotate-encryption).",
                                 epilog=EPILOG)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (("init", "create a new key ring file (0600) with one random key; never overwrites"),
                       ("rotate", "add a new random key and sign with it from now on; old keys stay"),
                       ("show", "print the key ids and which one signs (never the keys)")):
        action = actions.add_parser(name, help=text, description=text + ".", epilog=EPILOG)
        action.add_argument("--file", type=Path, default=None,
                            help="the key ring file (default: FASTREC_SIGNING_KEY_FILE)")
    return actions


def keys(args: argparse.Namespace) -> int:
    """``python -m fastrec keys ACTION``."""
    if args.action.endswith("-encryption"):
        from fastrec.crypt.commands import encryption_keys

        return encryption_keys(args)
    from fastrec.storage.signing import KEY_FILE_ENV, SigningKeyError, create_keyring_file, keyring_from_env, \
        rotate_keyring_file

    name = f"fastrec keys {args.action}"
    path = args.file or (Path(os.environ[KEY_FILE_ENV]) if os.environ.get(KEY_FILE_ENV) else None)
    if path is None:
        print(f"{name}: no key ring file named: pass --file PATH or set {KEY_FILE_ENV}", file=sys.stderr)
        return 2
    try:
        if args.action == "init":
            ring = create_keyring_file(path)
        elif args.action == "rotate":
            ring = rotate_keyring_file(path)
        else:
            ring = keyring_from_env({KEY_FILE_ENV: str(path)})
            assert ring is not None
    except FileExistsError:
        print(f"{name}: {printable(path)} already exists (init never overwrites a key ring; use rotate)",
              file=sys.stderr)
        return 1
    except (OSError, SigningKeyError) as exc:
        print(f"{name}: {printable(exc)}", file=sys.stderr)
        return 1
    print(f"key ring {printable(path)}:")
    for kid in ring.keys:
        print(f"  {kid}" + ("  (signs)" if kid == ring.active else ""))
    return 0
