"""Recording storage: file names, metadata, integrity chain, retention and the index.

One module per job: :mod:`naming` (safe, unique file names), :mod:`files` (private
directories, atomic writes), :mod:`metadata` (the ``_metadata.json`` model, validated on
read), :mod:`integrity` (SHA-256, the hash chain, probing a video), :mod:`segments`
(what is on disk, and which of it is ours), :mod:`retention` (age/size cleanup and its
schedule), :mod:`index` (SQLite search), :mod:`dbfile` (private SQLite files) and :mod:`recovery` (sealing the parts a killed
recorder left in status ``recording``).

Neither the compiled core nor PyAV is needed to import any of it: PyAV is imported
inside :func:`~fastrec.storage.integrity.probe_video` only.

The names below are imported on first use (PEP 562), so a process that needs one module
(an encoder worker writing files) does not load pydantic and sqlite3 with the rest.
"""

from __future__ import annotations

from fastrec.lazy_exports import lazy_getattr

_EXPORTS = {
    "CaptureInfo": "metadata",
    "ChainInfo": "metadata",
    "CleanupScheduler": "retention",
    "DatabaseFileProblem": "dbfile",
    "ConnectionInfo": "metadata",
    "EventsFileInfo": "metadata",
    "FileInfo": "metadata",
    "FrameCounts": "metadata",
    "GB": "retention",
    "INDEX_FILE": "index",
    "IndexEntry": "index",
    "IndexUnavailable": "index",
    "MetadataError": "metadata",
    "RecorderProcess": "metadata",
    "RecorderSettings": "metadata",
    "RecoveryReport": "recovery",
    "UnsafeDirectory": "files",
    "VideoProbe": "integrity",
    "RecordingIndex": "index",
    "RotationManager": "retention",
    "STATS_FILE": "retention",
    "Segment": "segments",
    "SegmentCheck": "integrity",
    "SegmentMetadata": "metadata",
    "TimedNote": "metadata",
    "VerifyReport": "integrity",
    "atomic_writer": "files",
    "chain_hash": "integrity",
    "claim_database_file": "dbfile",
    "claim_basename": "naming",
    "events_path": "naming",
    "ensure_private_dir": "files",
    "iter_metadata": "metadata",
    "link_next": "integrity",
    "metadata_path": "naming",
    "part_basename": "naming",
    "probe_video": "integrity",
    "read_metadata": "metadata",
    "recover_interrupted": "recovery",
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


__getattr__ = lazy_getattr("fastrec.storage", {name: "." + module for name, module in _EXPORTS.items()}, globals())


def __dir__() -> list[str]:
    return __all__
