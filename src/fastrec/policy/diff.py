"""Line diffs of two policy versions: every line tagged, additions and deletions counted.

One :class:`difflib.SequenceMatcher` (without its "junk" heuristic, which would make the
result depend on how often a line repeats) gives both the full listing the web UI shows
(:attr:`PolicyDiff.lines`) and the unified diff the command line prints
(:meth:`PolicyDiff.unified`), so the two and the counts always agree.  A changed line
counts once as a deletion and once as an addition.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["DiffLine", "PolicyDiff", "diff_texts"]

LineKind = Literal["equal", "add", "remove"]


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of the listing: ``old``/``new`` are its line numbers (1-based) in the old
    and the new text, None where it is not in that text."""

    kind: LineKind
    text: str
    old: int | None
    new: int | None


@dataclass(frozen=True, slots=True)
class PolicyDiff:
    """``old_version`` -> ``new_version`` (0 stands for the default policy)."""

    old_version: int | None
    new_version: int | None
    lines: tuple[DiffLine, ...]
    additions: int
    deletions: int
    _old: tuple[str, ...] = field(repr=False, compare=False)
    _new: tuple[str, ...] = field(repr=False, compare=False)

    @property
    def changed(self) -> bool:
        return bool(self.additions or self.deletions)

    def unified(self, context: int = 3) -> list[str]:
        """The unified diff (``---``/``+++`` headers, ``@@`` hunks, ``+``/``-``/`` `` lines),
        ``context`` lines around each change; empty when nothing changed."""
        matcher = difflib.SequenceMatcher(None, self._old, self._new, autojunk=False)
        out: list[str] = []
        for group in matcher.get_grouped_opcodes(context):
            if not out:
                out += [f"--- {_label(self.old_version)}", f"+++ {_label(self.new_version)}"]
            first, last = group[0], group[-1]
            out.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@")
            for tag, i1, i2, j1, j2 in group:
                if tag == "equal":
                    out += [f" {line}" for line in self._old[i1:i2]]
                    continue
                out += [f"-{line}" for line in self._old[i1:i2]]
                out += [f"+{line}" for line in self._new[j1:j2]]
        return out

    def summary(self) -> str:
        """``2 additions, 1 deletion``."""
        return f"{_count(self.additions, 'addition')}, {_count(self.deletions, 'deletion')}"


def _label(version: int | None) -> str:
    return "policy" if version is None else ("default policy" if version == 0 else f"policy version {version}")


def _range(start: int, stop: int) -> str:
    """The unified format's ``start,length`` (1-based; an empty range names the line before)."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def diff_texts(old: str, new: str, old_version: int | None = None, new_version: int | None = None) -> PolicyDiff:
    """The line diff of ``old`` -> ``new`` (lines split as :meth:`str.splitlines` does)."""
    a, b = tuple(old.splitlines()), tuple(new.splitlines())
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    lines: list[DiffLine] = []
    additions = deletions = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            lines += [DiffLine("equal", a[i1 + k], i1 + k + 1, j1 + k + 1) for k in range(i2 - i1)]
            continue
        lines += [DiffLine("remove", a[i], i + 1, None) for i in range(i1, i2)]
        lines += [DiffLine("add", b[j], None, j + 1) for j in range(j1, j2)]
        deletions += i2 - i1
        additions += j2 - j1
    return PolicyDiff(old_version, new_version, tuple(lines), additions, deletions, a, b)
