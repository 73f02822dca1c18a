"""Search across recordings: by window title, server, user, time range and event kind.

Where each filter is answered - a deliberate split:

- server, user and the time range select *sessions* through the recordings index
  (:meth:`fastrec.storage.index.RecordingIndex.search`, SQLite or PostgreSQL, the same
  portable query for both);
- window titles and events are read from the candidate sessions' own files: the titles
  from each part's metadata (``capture.window_titles``, written whether or not input
  events are recorded) and from ``title_change`` events, the events from the events files.
  The index is not extended with titles or events: they would be a second copy of data
  that the files hold (and the chain seals), a schema migration for both back-ends, and a
  table that grows with every click; a search reads only the sessions the index filters
  left, and an operator narrows those with --server/--user/--since first.

What a hit is (:class:`SearchHit`), the moment the replay opens at:

- ``title``: where a window title containing the text (case-insensitive, Unicode-aware)
  began to be shown - a run of observations of one title is one hit, at its first;
- ``event``: every event of that kind (at its ``at``); with ``title`` too, only those that
  happened while a matching title was shown (the last title seen before the event);
- neither: one hit per session, at its start.

``since``/``until`` also bound the moments (a session overlapping the range may have hits
outside it).  Hits are newest first, at most ``limit``.

Invariant: nothing is re-derived - titles were PII-redacted when recorded; a file that
cannot be read is skipped (named in ``problems``), never fatal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from fastrec.events.file import read_session_events
from fastrec.events.model import Event, EventKind, TitleChange
from fastrec.storage.index import IndexEntry, RecordingIndex
from fastrec.storage.metadata import MetadataError, read_metadata

__all__ = ["MAX_LIMIT", "SearchHit", "SearchQuery", "SearchResult", "parse_moment", "search_recordings"]

MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Every given filter must match; ``title`` is a substring, server/user whole values."""

    title: str | None = None
    server: str | None = None
    user: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    event: EventKind | None = None
    limit: int = 100

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit={self.limit!r}: must be between 1 and {MAX_LIMIT}")
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError(f"since={self.since.isoformat()} is after until={self.until.isoformat()}")


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One place to open the replay at: the session, the moment and what matched there."""

    session_id: str
    server: str | None
    user: str | None
    moment: datetime  # wall-clock, timezone-aware
    kind: str  # "title", an EventKind value, or "session"
    text: str  # the title shown then, or the event's details
    title: str | None = None  # the window title shown at the moment, when known

    def replay_path(self) -> str:
        """The admin UI's replay of this moment: ``/replay/{id}?t=<ISO moment>``."""
        from urllib.parse import quote

        return f"/replay/{quote(self.session_id, safe='')}?t={quote(self.moment.isoformat(), safe='')}"


@dataclass(frozen=True, slots=True)
class SearchResult:
    hits: list[SearchHit]
    sessions: int  # sessions the index selected (before titles and events)
    truncated: bool  # more hits than the limit
    problems: list[str] = field(default_factory=list)


def parse_moment(option: str, text: str | None) -> datetime | None:
    """``text`` given for ``option`` as a timezone-aware time (ISO 8601; no zone: local
    time), None when empty; ValueError naming the option, the value and what is allowed."""
    if text is None or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{option}={text!r}: must be an ISO 8601 time (e.g. 2026-12-01T14:03:10, "
                         "2026-12-01T13:03:10Z)") from None
    return _aware(moment)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.astimezone()


def _titles(entries: list[IndexEntry], events: list[Event], problems: list[str],
            folder: Path | None) -> list[tuple[datetime, str]]:
    """The session's title observations in time order, each run of one title once (the
    metadata read in ``folder`` when given, else where the index says)."""
    seen: list[tuple[datetime, str]] = []
    for entry in entries:
        if entry.metadata_path is None:
            continue
        try:
            meta = read_metadata(entry.metadata_path if folder is None else folder / entry.metadata_path.name)
        except (MetadataError, OSError) as exc:
            problems.append(f"{entry.metadata_path.name}: {exc}")
            continue
        seen += [(meta.start_time + timedelta(seconds=n.at_seconds), n.text) for n in meta.capture.window_titles]
    seen += [(e.at, e.title) for e in events if isinstance(e, TitleChange)]
    seen.sort(key=lambda item: item[0])
    runs: list[tuple[datetime, str]] = []
    for moment, title in seen:
        if not runs or runs[-1][1] != title:
            runs.append((moment, title))
    return runs


def _title_at(runs: list[tuple[datetime, str]], moment: datetime) -> str | None:
    shown = None
    for start, title in runs:
        if start > moment:
            break
        shown = title
    return shown


def _details(event: Event) -> str:
    fields = event.model_dump(mode="json", exclude={"kind", "at", "t"})
    return ", ".join(f"{k}={v}" for k, v in fields.items())


def _session_hits(session_id: str, entries: list[IndexEntry], query: SearchQuery, problems: list[str],
                  folder_of: Callable[[str], Path] | None) -> Iterable[SearchHit]:
    first = entries[0]
    needle = None if query.title is None else query.title.casefold()
    events: list[Event] = []
    runs: list[tuple[datetime, str]] = []
    if needle is not None or query.event is not None:
        # the admin server's fleet sessions: their files are in its mirror, not where the gateway wrote them
        where = None if folder_of is None else folder_of(session_id)
        for folder in sorted({e.path.parent for e in entries} if where is None else {where}):
            found, trouble = read_session_events(folder, session_id)
            events += found
            problems += trouble
        runs = _titles(entries, events, problems, where)

    def shown(title: str | None) -> bool:
        return needle is None or (title is not None and needle in title.casefold())

    if query.event is not None:
        for event in events:
            if event.kind == query.event:
                title = _title_at(runs, event.at)
                if shown(title):
                    yield SearchHit(session_id, first.server, first.user, event.at, str(event.kind),
                                    _details(event), title)
    elif needle is not None:
        for moment, title in runs:
            if shown(title):
                yield SearchHit(session_id, first.server, first.user, moment, "title", title, title)
    else:
        start = min(_aware(e.start_time) for e in entries)
        yield SearchHit(session_id, first.server, first.user, start, "session", "session start")


def search_recordings(index: RecordingIndex, query: SearchQuery,
                      folder_of: Callable[[str], Path] | None = None) -> SearchResult:
    """The hits of ``query`` among the recordings ``index`` knows (see the module docstring).
    ``folder_of(session_id)``: where a session's events files are read, when not beside the
    metadata the index names (the admin server's: the fleet mirror of another gateway's
    sessions, whose files are on that gateway or in the object store)."""
    grouped: dict[str, list[IndexEntry]] = {}
    for entry in index.search(since=query.since, until=query.until, server=query.server, user=query.user):
        grouped.setdefault(entry.session_id, []).append(entry)
    since = None if query.since is None else _aware(query.since)
    until = None if query.until is None else _aware(query.until)
    hits: list[SearchHit] = []
    problems: list[str] = []
    for session_id, entries in grouped.items():
        entries.sort(key=lambda e: (e.part, e.start_time))
        for hit in _session_hits(session_id, entries, query, problems, folder_of):
            if (since is None or hit.moment >= since) and (until is None or hit.moment <= until):
                hits.append(hit)
    hits.sort(key=lambda h: (h.moment, h.session_id), reverse=True)
    return SearchResult(hits[:query.limit], len(grouped), len(hits) > query.limit, problems)
