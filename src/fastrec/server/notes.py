"""Reviews ("mark as reviewed": who, when, a note — what PCI-style audits ask for) and
bookmarks (a note at a moment of the replay, shown to the next viewer as a marker)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastrec.server.db import AdminDatabase

__all__ = ["Bookmark", "Review", "ReviewNotes"]

MAX_NOTE = 2000


@dataclass(frozen=True, slots=True)
class Review:
    id: int
    session_id: str
    user: str
    at: float
    note: str


@dataclass(frozen=True, slots=True)
class Bookmark:
    id: int
    session_id: str
    moment: float  # wall clock (epoch seconds) of the replay moment
    note: str
    user: str
    created_at: float


def _note(text: str) -> str:
    text = str(text).strip()
    if len(text) > MAX_NOTE:
        raise ValueError(f"note: must be at most {MAX_NOTE} characters (got {len(text)})")
    return text


class ReviewNotes:
    def __init__(self, db: AdminDatabase) -> None:
        self.db = db

    def review(self, session_id: str, user: str, note: str = "") -> Review:
        at = time.time()
        with self.db.write() as conn:
            row_id = conn.execute("INSERT INTO reviews (session_id, user_name, at, note) VALUES (?,?,?,?) "
                                  "RETURNING id", (session_id, user, at, _note(note))).fetchone()[0]
        return Review(int(row_id), session_id, user, at, _note(note))

    def reviews(self, session_id: str) -> list[Review]:
        rows = self.db.read("SELECT * FROM reviews WHERE session_id = ? ORDER BY at", (session_id,))
        return [Review(r["id"], r["session_id"], r["user_name"], r["at"], r["note"]) for r in rows]

    def reviewed(self, session_ids: list[str]) -> dict[str, Review]:
        """The latest review of each of ``session_ids`` that has one."""
        if not session_ids:
            return {}
        marks = ",".join("?" * len(session_ids))
        rows = self.db.read(f"SELECT * FROM reviews WHERE session_id IN ({marks}) ORDER BY at", session_ids)
        return {r["session_id"]: Review(r["id"], r["session_id"], r["user_name"], r["at"], r["note"]) for r in rows}

    def add_bookmark(self, session_id: str, user: str, moment: float, note: str) -> Bookmark:
        created = time.time()
        text = _note(note)
        if not text:
            raise ValueError("note: a bookmark needs a note (1 character at least)")
        with self.db.write() as conn:
            row_id = conn.execute("INSERT INTO bookmarks (session_id, moment, note, user_name, created_at) "
                                  "VALUES (?,?,?,?,?) RETURNING id",
                                  (session_id, moment, text, user, created)).fetchone()[0]
        return Bookmark(int(row_id), session_id, moment, text, user, created)

    def bookmarks(self, session_id: str) -> list[Bookmark]:
        rows = self.db.read("SELECT * FROM bookmarks WHERE session_id = ? ORDER BY moment", (session_id,))
        return [Bookmark(r["id"], r["session_id"], r["moment"], r["note"], r["user_name"], r["created_at"])
                for r in rows]

    def delete_bookmark(self, bookmark_id: int, session_id: str) -> bool:
        with self.db.write() as conn:
            return conn.execute("DELETE FROM bookmarks WHERE id = ? AND session_id = ?",
                                (bookmark_id, session_id)).rowcount > 0

    def forget_session(self, session_id: str) -> None:
        """Bookmarks go with a deleted recording; reviews stay (they are audit evidence)."""
        with self.db.write() as conn:
            conn.execute("DELETE FROM bookmarks WHERE session_id = ?", (session_id,))
