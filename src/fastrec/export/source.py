"""A session as the exports read it: its parts in chain order, their files, their
integrity verdicts and where each sits in wall-clock time.

Invariants:

- The files read are the ones the session's own metadata names, directly in the recordings
  directory, regular files only (a link is never followed), or their copies in the object
  store once uploaded (:mod:`fastrec.storage.videos`): no name from a caller reaches the
  filesystem or the store.
- Each part's wall-clock span is its metadata ``start_time`` (the capture time of the frame
  at its pts 0) plus the media times of its fragments (:mod:`fastrec.server.media.fmp4`):
  what the file holds, not what the metadata claims.
- Integrity is :func:`~fastrec.storage.integrity.verify_session`'s verdict per part.
  :meth:`SessionSource.require_verified` refuses parts that are not ``ok`` (modified,
  missing, reordered, unsealed) with :class:`UnverifiedParts` naming each and why, unless
  the caller explicitly allows them (``--allow-unverified``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastrec.server.media.fmp4 import FragmentIndex, FragmentIndexError, index_fragments
from fastrec.storage.integrity import SegmentCheck, VerifyReport, verify_session
from fastrec.storage.metadata import MetadataError, SegmentMetadata, iter_metadata
from fastrec.storage.videos import VideoFile, open_video, videos_for

__all__ = ["NoSuchSession", "PartSource", "SessionSource", "UnverifiedParts"]


class NoSuchSession(LookupError):
    """No readable metadata names this session in the directory."""


class UnverifiedParts(RuntimeError):
    """Parts whose integrity is not verified; the message names each and why."""


@dataclass(frozen=True, slots=True)
class PartSource:
    """One part: its metadata, its verdict, its video (None when unusable) and its media."""

    meta: SegmentMetadata
    check: SegmentCheck | None
    video: Path | None
    index: FragmentIndex | None  # None when the video is gone or not a fragmented MP4
    problem: str | None  # why the video cannot be read (None when it can)

    @property
    def part(self) -> int:
        return self.meta.chain.part

    @property
    def verified(self) -> bool:
        return self.check is not None and self.check.status == "ok"

    @property
    def start(self) -> datetime:
        """Wall-clock time of the part's media time 0."""
        return self.meta.start_time

    @property
    def first_frame(self) -> datetime:
        if self.index is None or not self.index.fragments:
            return self.start
        return self.start + timedelta(seconds=self.index.fragments[0].start)

    @property
    def end(self) -> datetime:
        """Wall-clock end of its last frame (what the file holds), else of its metadata."""
        if self.index is not None and self.index.fragments:
            return self.start + timedelta(seconds=self.index.fragments[-1].end)
        if self.meta.end_time is not None:
            return self.meta.end_time
        return self.start + timedelta(seconds=max(0.0, self.meta.duration_seconds or 0.0))

    @property
    def frames(self) -> int:
        return self.index.frames if self.index is not None else 0

    def open_video(self, decrypt: bool = True) -> VideoFile:
        """The part's bytes, on disk or in the object store (FileNotFoundError when gone);
        an encrypted part's plaintext unless ``decrypt`` is False (the bytes as stored)."""
        if self.video is None:
            raise FileNotFoundError(f"{self.meta.file.name}: {self.problem or 'no video'}")
        return open_video(self.video, decrypt=decrypt)

    @property
    def encrypted(self) -> bool:
        """Whether the part's video is stored encrypted (False when it cannot be read)."""
        if self.video is None:
            return False
        try:
            with self.open_video(decrypt=False) as video:
                return video.encrypted
        except OSError:
            return False

    @contextmanager
    def demux(self) -> Iterator[Any]:
        """The part's video opened by PyAV (an ``av`` input container), wherever it is."""
        import av

        with self.open_video() as video, av.open(video.handle, format="mp4") as container:
            yield container


@dataclass(frozen=True, slots=True)
class SessionSource:
    """All parts of one session in one recordings directory, in chain order."""

    directory: Path
    session_id: str
    parts: tuple[PartSource, ...]
    report: VerifyReport

    @classmethod
    def load(cls, directory: str | os.PathLike[str], session_id: str, *, verify: bool = True) -> SessionSource:
        """Read the session's metadata, verify its chain and index its videos.

        ``verify=False`` skips the chain verdict (which hashes every file): for readers that
        only show what is there (heatmaps); every part's ``check`` is then None and the
        report lists no segment, so :meth:`require_verified` refuses every part.
        :class:`NoSuchSession` when no readable metadata names ``session_id``.
        """
        folder = Path(directory).resolve()
        metas = [m for _, m in iter_metadata(folder)
                 if not isinstance(m, MetadataError) and m.session_id == session_id]
        if not metas:
            raise NoSuchSession(f"session {session_id!r}: no such recording in {folder}")
        metas.sort(key=lambda m: (m.chain.part, m.start_time.timestamp(), m.file.name))
        report = verify_session(folder, session_id) if verify else VerifyReport(session_id, folder, ())
        checks = {(c.part, c.file): c for c in report.segments}
        parts = tuple(_part(folder, meta, checks.get((meta.chain.part, meta.file.name))) for meta in metas)
        return cls(folder, session_id, parts, report)

    @property
    def start(self) -> datetime:
        """Wall-clock time of the session's first frame."""
        return min(p.first_frame for p in self.parts)

    @property
    def end(self) -> datetime:
        return max(p.end for p in self.parts)

    @property
    def size_bytes(self) -> int:
        return sum(p.meta.file.size_bytes or 0 for p in self.parts)

    @property
    def encrypted(self) -> bool:
        """Whether any part is stored encrypted: then no export of it may put plaintext on
        disk but the file a user asked for (:mod:`fastrec.export.output`)."""
        return any(p.encrypted for p in self.parts)

    def playable(self) -> list[PartSource]:
        """Parts with a readable video holding frames, in chain order."""
        return [p for p in self.parts if p.index is not None and p.index.fragments]

    def overlapping(self, start: datetime, end: datetime) -> list[PartSource]:
        """Playable parts with frames shown between ``start`` and ``end``."""
        return [p for p in self.playable() if p.first_frame < end and p.end > start]

    def require_verified(self, parts: list[PartSource], allow_unverified: bool) -> list[str]:
        """The problems of ``parts`` (and of unreadable metadata of the session), one line each.

        Raises :class:`UnverifiedParts` with those lines unless ``allow_unverified``; then
        they are returned, for the export to say what it let through.
        """
        lines = [f"part {p.part} ({p.meta.file.name}): "
                 + (f"{p.check.status} - {'; '.join(p.check.problems) or 'not ok'}" if p.check is not None
                    else "not in the chain verdict")
                 for p in parts if not p.verified]
        lines += [f"{name}: metadata cannot be read" for name in self.report.unreadable]
        if lines and not allow_unverified:
            raise UnverifiedParts(f"session {self.session_id!r}: refused, {len(lines)} part(s) do not verify "
                                  "against their hashes and the chain (--allow-unverified exports them "
                                  "anyway, and says so): " + " | ".join(lines))
        return lines


def _part(folder: Path, meta: SegmentMetadata, check: SegmentCheck | None) -> PartSource:
    name = meta.file.name
    if not name or Path(name).name != name or name in (".", ".."):
        return PartSource(meta, check, None, None, f"metadata names no plain video file ({name!r})")
    video = folder / name
    try:
        regular = stat.S_ISREG(os.lstat(video).st_mode)
    except OSError:  # not on disk: uploaded to the object store, or gone
        regular = videos_for(folder).exists(video)
        if not regular:
            return PartSource(meta, check, None, None, "video file is gone")
    if not regular:
        return PartSource(meta, check, None, None, "video is not a regular file")
    try:
        index = index_fragments(video)
    except FragmentIndexError as exc:
        return PartSource(meta, check, video, None, exc.problem)
    return PartSource(meta, check, video, index, None if index.fragments else "holds no whole fragment")
