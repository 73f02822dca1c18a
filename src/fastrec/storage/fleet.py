"""The admin server's view of a fleet: the metadata every gateway uploaded, mirrored from
the object store, so that its parts are listed, replayed, exported and verified there.

A gateway keeps its recordings in its own directory and uploads each sealed part's video
and metadata under its own prefix of the store (``FASTREC_S3_URL=s3://bucket/gateway-1``).
An admin server on another machine names those prefixes (``FASTREC_S3_FLEET_URLS``);
:class:`FleetMirror` copies each prefix's metadata files (a few kB a part) into a
directory of its own (``recordings/fleet/<bucket>_<prefix>``) and registers the prefix's
store for that directory (:func:`~fastrec.storage.videos.use_store`), so every reader --
replay, the HTTP part route, exports, ``verify`` -- reads the videos from the store with
range requests, exactly as for a gateway whose local copies were evicted.

Invariants:

- The mirror is a cache of what the store holds: a metadata file is copied again when its
  object's ETag or size changes, and a mirrored file whose object is gone (retention on
  the gateway) is removed; only names the recorder gives (``*_metadata.json`` of a
  recording) are ever written or removed, and only in the mirror's own directories.
- Nothing in the mirror is trusted more than on a gateway: ``verify`` checks the hashes
  against the stored bytes and, with the fleet's signing key, each metadata signature.
- The store is asked at most once per :data:`MIN_SYNC_SECONDS` (a page asking for many
  parts costs one listing per prefix).
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

from pydantic_core import PydanticCustomError

from fastrec.storage.files import ensure_private_dir, write_private
from fastrec.storage.metadata import MetadataError, read_metadata
from fastrec.storage.naming import METADATA_SUFFIX
from fastrec.storage.objectstore import ObjectStore, parse_s3_url
from fastrec.storage.videos import use_store

__all__ = ["MIN_SYNC_SECONDS", "FleetMirror", "fleet_urls_value", "parse_fleet_urls"]

MIN_SYNC_SECONDS = 1.0
FLEET_DIR = "fleet"


def parse_fleet_urls(text: str | None) -> list[str]:
    """``FASTREC_S3_FLEET_URLS``: comma-separated ``s3://bucket/prefix`` URLs (empty: none)."""
    return [url.strip() for url in (text or "").split(",") if url.strip()]


def fleet_urls_value(value: Any) -> Any:
    """``FASTREC_S3_FLEET_URLS`` as the admin server reads it: None when empty, else the URLs
    joined by commas; a PydanticCustomError naming the URL and what is allowed."""
    if not isinstance(value, str):
        return value
    urls = parse_fleet_urls(value)
    for url in urls:
        try:
            parse_s3_url(url)
        except ValueError as exc:
            raise PydanticCustomError("s3_fleet_urls", "{url}: {reason}; allowed: s3://bucket/prefix, comma-separated",
                                      {"url": url, "reason": str(exc)}) from None
    return ",".join(urls) or None


def _folder_name(store: ObjectStore) -> str:
    location = store.location
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{location.bucket}_{location.prefix.rstrip('/')}").strip("_.")


class FleetMirror:
    """The metadata of the gateways' prefixes, one mirror directory per prefix (thread-safe)."""

    def __init__(self, root: Path, stores: list[ObjectStore]) -> None:
        self.root = ensure_private_dir(Path(root) / FLEET_DIR)
        self.folders: dict[Path, ObjectStore] = {}
        for store in stores:
            folder = ensure_private_dir(self.root / _folder_name(store)).resolve()
            self.folders[folder] = store
            use_store(folder, store)
        self._lock = threading.Lock()
        self._seen: dict[Path, dict[str, tuple[int, str]]] = {folder: {} for folder in self.folders}
        self._sessions: dict[str, Path] = {}
        self._synced_at = float("-inf")

    def close(self) -> None:
        for folder in self.folders:
            use_store(folder, None)

    def directory_of(self, session_id: str) -> Path | None:
        """The mirror directory holding ``session_id``'s metadata (after a sync when unknown)."""
        with self._lock:
            if session_id not in self._sessions:
                self._sync_locked(force=False)
            return self._sessions.get(session_id)

    def sync(self, *, force: bool = False) -> int:
        """Bring every mirror directory up to its store; the number of files copied or removed.
        A store that cannot be reached keeps its mirror as it was (OSError is not raised)."""
        with self._lock:
            return self._sync_locked(force=force)

    def _sync_locked(self, *, force: bool) -> int:
        if not force and time.monotonic() - self._synced_at < MIN_SYNC_SECONDS:
            return 0
        self._synced_at = time.monotonic()
        changed = 0
        for folder, store in self.folders.items():
            try:
                listing = {n: v for n, v in store.listing().items() if n.endswith(METADATA_SUFFIX)}
            except OSError:
                continue  # the store is down: replay of what is mirrored says so when it reads
            seen = self._seen[folder]
            for name, version in listing.items():
                if seen.get(name) == version and (folder / name).is_file():
                    continue
                try:
                    data = store.read_range(name, 0, version[0])
                except OSError:
                    continue
                write_private(folder / name, data)
                seen[name] = version
                changed += 1
            for path in folder.glob(f"*{METADATA_SUFFIX}"):
                if path.name not in listing:  # deleted from the store (retention on its gateway)
                    path.unlink(missing_ok=True)
                    seen.pop(path.name, None)
                    changed += 1
        self._sessions = self._scan()
        return changed

    def _scan(self) -> dict[str, Path]:
        sessions: dict[str, Path] = {}
        for folder in self.folders:
            for path in folder.glob(f"*{METADATA_SUFFIX}"):
                try:
                    sessions.setdefault(read_metadata(path).session_id, folder)
                except MetadataError:
                    continue
        return sessions
