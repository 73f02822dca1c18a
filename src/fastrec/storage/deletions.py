"""Deleting a recorded session on purpose, with a record that the integrity chain keeps.

An auditor must be able to tell a recording that was deleted by an admin from one that
vanished.  Each deletion appends one record to the deletion log
(:mod:`fastrec.storage.deletion_log`: chained, signed when a key is configured): who,
when, why, and every part's file name, SHA-256 and chain hash (the chain as it was);
``verify`` then reports those parts as deleted, not missing.

Invariants:

- The record is written and fsync'ed *before* any file is removed: a crash part-way
  leaves a record naming files that may still exist (harmless), never a silent deletion.
- Only the files the session's own metadata names are removed (a
  :func:`~fastrec.storage.segments.scan_segments` segment: video, temporary files,
  metadata last), never a link or a file another program put there.
- A part whose recorder still runs is never deleted (:class:`DeletionRefused`).
- Parts uploaded to the directory's object store (:func:`~fastrec.storage.videos.store_for`)
  are deleted there first; a store that is down raises (an OSError) with the local files kept.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from fastrec.storage.deletion_log import (
    DELETIONS_FILE,
    DeletedPart,
    DeletionRecord,
    append_deletion,
    read_deletions,
    verify_deletions,
)
from fastrec.storage.recovery import recorder_alive
from fastrec.storage.segments import Segment, scan_segments
from fastrec.storage.videos import store_for

__all__ = ["DELETIONS_FILE", "DeletionRecord", "DeletionRefused", "delete_session", "read_deletions",
           "verify_deletions"]


class DeletionRefused(RuntimeError):
    """The session cannot be deleted now; the message says why."""


def delete_session(directory: str | os.PathLike[str], session_id: str, *, by: str,
                   reason: str = "") -> DeletionRecord | None:
    """Delete every part of ``session_id`` in ``directory``; the record, or None when the
    session has no parts there.  Raises :class:`DeletionRefused` while a part's recorder
    runs, OSError when a file or an object cannot be removed (the record says what was meant)."""
    folder = Path(directory)
    segments: list[Segment] = [s for s in scan_segments(folder) if s.session_id == session_id]
    if not segments:
        return None
    for segment in segments:
        meta = segment.meta
        if meta is not None and meta.status == "recording" and meta.recorder is not None \
                and recorder_alive(meta.recorder) is not False:
            raise DeletionRefused(f"session {session_id!r} part {meta.chain.part} is still being recorded "
                                  f"(pid {meta.recorder.pid}); stop it first")
    parts = [DeletedPart(part=s.part, file=s.video_path.name,
                         sha256=s.meta.file.sha256 if s.meta else None,
                         chain_hash=s.meta.chain.chain_hash if s.meta else None,
                         size_bytes=s.meta.file.size_bytes if s.meta else None)
             for s in sorted(segments, key=lambda s: s.part)]
    record = append_deletion(folder, DeletionRecord(at=time.time(), session_id=session_id, by=by, reason=reason,
                                                    parts=parts))
    store = store_for(folder)
    for segment in segments:
        if store is not None:  # the uploaded copies first: the local metadata records them until then
            store.delete_segment(segment.basename)
        for path in segment.files:  # video, temps, metadata last
            try:
                path.unlink()
            except FileNotFoundError:
                continue
    return record
