"""Untrusted text made safe to print on a terminal or in a line-oriented log.

Session ids, server and user names, window titles and file names come from the
embedding application, from metadata files on disk, and (``watch``) from the command
line of any process on the machine.  Printed raw, an ESC sequence in one of them can
rewrite the operator's screen (hide a line, fake a status, set the window title) and a
newline can forge a whole log line.  :func:`printable` renders every such character
visibly instead: ``\\x1b``, ``\\n``, ``\\u202e``.

What is escaped: the C0 controls and DEL, the C1 controls (U+0080..U+009F, 8-bit CSI
among them), the Unicode line/paragraph separators, the bidirectional overrides and
isolates (they reorder what the operator reads), and lone surrogates - the bytes that
were not UTF-8 in a file name or argv (``surrogateescape``), shown as the byte they
stand for (``\\xff``) because they cannot be written to a UTF-8 stream at all.
Everything else, backslashes in ``DOMAIN\\user`` included, is printed as it is.
JSON output needs none of this: ``json.dumps`` escapes control characters itself.
"""

from __future__ import annotations

import re

__all__ = ["printable"]

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the undecodable byte itself
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object) -> str:
    """``str(value)`` with every control character shown as an escape (see the module)."""
    text = value if isinstance(value, str) else str(value)
    return _UNSAFE.sub(_escape, text)
