"""What can be wrong with a policy document or a change to the stored versions.

A refused document is a :class:`PolicyError` holding one :class:`PolicyProblem` per
problem, each with the line (and column) it was found on, the key path it concerns and
what is allowed, e.g. ``line 7: connections.rules[0].ip[1]: '10.0.0.300/8' is not an IP
address or network``.  Lines and columns count from 1, as editors show them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PolicyConflict", "PolicyError", "PolicyInputError", "PolicyNotFound", "PolicyProblem",
           "PolicyStoreProblem", "PolicyUnchanged"]


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """One problem of a document: where (``line``, ``column``, key ``path``) and what."""

    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class PolicyError(ValueError):
    """The document is not a valid recording policy; ``problems`` in the order of their
    lines.  ``str()`` is one problem per line."""

    def __init__(self, problems: list[PolicyProblem] | tuple[PolicyProblem, ...]) -> None:
        if not problems:
            raise ValueError("PolicyError needs at least one problem")
        self.problems = tuple(sorted(problems, key=lambda p: (p.line, p.column)))
        super().__init__("\n".join(map(str, self.problems)))

    @property
    def line(self) -> int:
        """The line of the first problem."""
        return self.problems[0].line

    @property
    def column(self) -> int:
        return self.problems[0].column


class PolicyNotFound(LookupError):
    """No stored version has that number; the message says which versions exist."""


class PolicyConflict(ValueError):
    """A change that cannot be made as asked: the document is already the active one, or
    another version was saved since the one the change was based on."""


class PolicyUnchanged(PolicyConflict):
    """The document is the active one already: nothing to save."""


class PolicyInputError(ValueError):
    """An author, comment or version number that is not allowed; the message names the
    field, the value and what is allowed."""


class PolicyStoreProblem(OSError):
    """The policy store cannot be used (a link, a directory, a database of another program
    or of a newer schema); the message says why.  Nothing was changed."""
