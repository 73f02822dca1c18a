"""Recording storage: file names, metadata, integrity chain, retention and the index.

One module per job: :mod:`naming` (safe, unique file names), :mod:`files` (private
directories, atomic writes), :mod:`metadata` (the ``_metadata.json`` model),
:mod:`integrity` (SHA-256 and the hash chain), :mod:`segments` (what is on disk),
:mod:`retention` (age/size cleanup and its schedule) and :mod:`index` (SQLite search).
"""

from fastrec.storage.files import atomic_writer, ensure_private_dir, write_private
from fastrec.storage.index import INDEX_FILE, IndexEntry, RecordingIndex
from fastrec.storage.integrity import (
    SegmentCheck,
    VerifyReport,
    chain_hash,
    link_next,
    seal_segment,
    sha256_file,
    verify_session,
)
from fastrec.storage.metadata import (
    CaptureInfo,
    ChainInfo,
    ConnectionInfo,
    FileInfo,
    FrameCounts,
    MetadataError,
    RecorderSettings,
    SegmentMetadata,
    iter_metadata,
    read_metadata,
    write_metadata,
)
from fastrec.storage.naming import (
    claim_basename,
    metadata_path,
    recording_basename,
    sanitize_component,
    video_path,
)
from fastrec.storage.retention import GB, STATS_FILE, CleanupScheduler, RotationManager
from fastrec.storage.segments import Segment, scan_segments

__all__ = [
    "GB",
    "INDEX_FILE",
    "STATS_FILE",
    "CaptureInfo",
    "ChainInfo",
    "CleanupScheduler",
    "ConnectionInfo",
    "FileInfo",
    "FrameCounts",
    "IndexEntry",
    "MetadataError",
    "RecorderSettings",
    "RecordingIndex",
    "RotationManager",
    "Segment",
    "SegmentCheck",
    "SegmentMetadata",
    "VerifyReport",
    "atomic_writer",
    "chain_hash",
    "claim_basename",
    "ensure_private_dir",
    "iter_metadata",
    "link_next",
    "metadata_path",
    "read_metadata",
    "recording_basename",
    "sanitize_component",
    "scan_segments",
    "seal_segment",
    "sha256_file",
    "verify_session",
    "video_path",
    "write_metadata",
    "write_private",
]
