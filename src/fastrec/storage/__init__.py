"""Recording storage: file names, metadata, integrity chain, retention and the index.

One module per job: :mod:`naming` (safe, unique file names), :mod:`files` (private
directories, atomic writes), :mod:`metadata` (the ``_metadata.json`` model),
:mod:`integrity` (SHA-256 and the hash chain), :mod:`segments` (what is on disk),
:mod:`retention` (age/size cleanup and its schedule) and :mod:`index` (SQLite search).

The names below are imported on first use (PEP 562), so a process that needs one module
(an encoder worker writing files) does not load pydantic and sqlite3 with the rest.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "CaptureInfo": "metadata",
    "ChainInfo": "metadata",
    "CleanupScheduler": "retention",
    "ConnectionInfo": "metadata",
    "FileInfo": "metadata",
    "FrameCounts": "metadata",
    "GB": "retention",
    "INDEX_FILE": "index",
    "IndexEntry": "index",
    "MetadataError": "metadata",
    "RecorderSettings": "metadata",
    "RecordingIndex": "index",
    "RotationManager": "retention",
    "STATS_FILE": "retention",
    "Segment": "segments",
    "SegmentCheck": "integrity",
    "SegmentMetadata": "metadata",
    "VerifyReport": "integrity",
    "atomic_writer": "files",
    "chain_hash": "integrity",
    "claim_basename": "naming",
    "ensure_private_dir": "files",
    "iter_metadata": "metadata",
    "link_next": "integrity",
    "metadata_path": "naming",
    "read_metadata": "metadata",
    "recording_basename": "naming",
    "sanitize_component": "naming",
    "scan_segments": "segments",
    "seal_segment": "integrity",
    "sha256_file": "integrity",
    "verify_session": "integrity",
    "video_path": "naming",
    "write_metadata": "metadata",
    "write_private": "files",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fastrec.storage' has no attribute {name!r}")
    value = getattr(import_module(f"fastrec.storage.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
