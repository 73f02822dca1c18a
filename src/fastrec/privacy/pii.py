"""Personal data in text: :func:`find_pii` finds it, :func:`redact_pii` replaces it.

Used on window titles (as the capture loop takes them, :mod:`fastrec.engine.capture_loop`)
and on connection metadata (:func:`fastrec.privacy.connection.clean_connection_info`)
before either is stored, logged or sent; later on on-screen text.  The kinds are
:class:`~fastrec.privacy.pii_kinds.PiiKind`; each is replaced by a marker that never
changes (a recording's metadata is read for years):

========  ===========  ==============================================================
kind      marker       what is found
========  ===========  ==============================================================
email     ``[email]``  ``local@domain.tld``: a local part of at most 64 characters, a
                       domain of dot-separated labels ending in a letters-only TLD (so
                       ``admin@10.0.0.5`` is a user at a host, not an address)
phone     ``[phone]``  ``+`` and a country code with 8-15 digits in all, separated by
                       spaces, dots, dashes, slashes or a ``(0)``/``(area)`` group;
                       North American ``(415) 555-0100``, ``415-555-0100``,
                       ``1-800-555-0199``; national numbers with a trunk ``0`` and at
                       least one separator, 9-12 digits (``020 7946 0958``,
                       ``030/1234567``, ``06 12 34 56 78``).  Never: a run of digits
                       without separators and without ``+`` (an id), dates
                       (``01/12/2026``, ``2026-12-01``, ``01 12 2026``), times (``:``),
                       versions and IPv4 addresses (dotted groups of 1-3 digits)
card      ``[card]``   13-19 digits, contiguous or grouped 4-4-4-4(-3) / 4-6-5 / 4-6-4
                       with one kind of separator (space or dash), whose issuer prefix
                       and length agree (Visa 4: 13/16/19; Mastercard 51-55 and
                       2221-2720: 16; Amex 34/37: 15; Discover 6011/644-649/65,
                       JCB 3528-3589, UnionPay 62: 16-19; Diners 300-305/3095/36/38/39:
                       14-19; Maestro 5018/5020/5038/5893/6304/6759/6761-6763: 13-19)
                       and that pass the Luhn check
ssn       ``[ssn]``    ``AAA-GG-SSSS``; ``AAA GG SSSS`` and ``AAAGGSSSS`` only right after
                       "SSN", "SS#", "social security (number|no|#)" or "soc. sec."
                       (nine bare digits are too often something else); never a number
                       the SSA never issues: area 000, 666 or 900-999, group 00, serial 0000
iban      ``[iban]``   country code, check digits and BBAN, contiguous or in groups of
                       four separated by single spaces, in either case, with the length
                       of that country (:data:`IBAN_LENGTHS`; other country codes are
                       not IBANs here) and ISO 7064 mod-97 == 1
custom    ``[NAME]``   what a :class:`CustomPattern` matches, NAME being its name
========  ===========  ==============================================================

Digits are ASCII digits.  A number glued to more digits (``x4111111111111111`` is a card,
``41111111111111112`` is not) is judged as the whole run of digits.

Invariants, and why:

- **A match never holds the text it matched.**  :class:`PiiMatch` is a kind, a position
  and (custom patterns) a pattern name, so matches may be logged and counted; whoever
  holds the text can slice it.
- **Overlaps are resolved deterministically**: the longest match wins; between matches of
  the same length, a custom pattern (the operator's explicit word) beats card, IBAN, SSN,
  e-mail, phone, in that order; then the earlier one.  The result is sorted by start and
  holds no two overlapping matches.
- **Bounded scanning.**  No regular-expression search sees more than :data:`MAX_SCAN`
  (4096) characters: longer text is scanned in windows of that size that overlap by
  :data:`OVERLAP` (512) characters, longer than any built-in match can be, and a match
  reaching a window's end is taken from the next window, where it is whole.  A custom
  pattern whose cost grows with the square or cube of its input (``(\\w+\\s?)+:``) thus
  costs at most that of 4096 characters per window, linear in the length of the text; a
  custom match longer than 512 characters may be cut at a window's end in text longer
  than 4096 characters (it is still replaced, cut).  An exponential pattern (``(a+)+b``)
  stays exponential within a window: a length bound cannot help it, so do not write one.
- **redact_pii is idempotent and leaves its own markers alone**: it replaces, then looks
  again until nothing is found (a replaced span can uncover a match it was hiding), and no
  match may overlap a marker of the configured kinds and patterns.  ``redact_pii(t)``
  therefore holds nothing ``find_pii`` would find outside the markers, and redacting it
  again gives it back unchanged.
- **Pure and cheap**: module-level compiled patterns, no state, any thread or process.
  Text without a digit and without ``@`` costs one scan; a window title takes
  microseconds (``benchmarks/test_bench_pii.py``).
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_right
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

from fastrec.privacy.pii_kinds import PiiKind

__all__ = [
    "ALL",
    "BUILTIN_KINDS",
    "IBAN_LENGTHS",
    "MAX_SCAN",
    "OVERLAP",
    "CustomPattern",
    "PiiMatch",
    "find_pii",
    "marker",
    "parse_custom_patterns",
    "redact_pii",
]

ALL: Final[frozenset[PiiKind]] = frozenset(PiiKind)
"""Every kind: the default of :func:`find_pii` and :func:`redact_pii`."""
BUILTIN_KINDS: Final = tuple(k for k in PiiKind if k is not PiiKind.CUSTOM)
MAX_SCAN: Final = 4096
"""Most characters one regular-expression search sees (see the module docstring)."""
OVERLAP: Final = 512
"""Characters shared by consecutive scan windows: more than any built-in match spans."""
_EDGE: Final = 8  # a match ending this close to a window's end may have been cut there
MAX_REGEX: Final = 1000
"""Longest custom regular expression, in characters."""


# --- results ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PiiMatch:
    """Personal data of ``kind`` at ``text[start:end]`` (the text itself is not kept).

    ``name`` is the custom pattern's name for :attr:`PiiKind.CUSTOM`, else None.
    """

    kind: PiiKind
    start: int
    end: int
    name: str | None = None

    @property
    def marker(self) -> str:
        """What :func:`redact_pii` writes in its place: ``[email]``, ``[NAME]``..."""
        return marker(self.kind, self.name)


def marker(kind: PiiKind, name: str | None = None) -> str:
    """``[email]``, ``[phone]``, ``[card]``, ``[ssn]``, ``[iban]``; a custom pattern's
    ``[NAME]``."""
    return f"[{name}]" if kind is PiiKind.CUSTOM and name else f"[{PiiKind(kind).value}]"


# --- custom patterns -------------------------------------------------------------------

_NAME: Final = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_NAME_RULE: Final = ("1 to 32 characters of a-z, 0-9, '_' and '-', starting with a letter, "
                     f"other than {', '.join(BUILTIN_KINDS)}")
_REGEX_RULE: Final = (f"a Python regular expression (re) of 1 to {MAX_REGEX} characters that "
                      "matches at least one character wherever it matches")
# texts on which a pattern able to match nothing shows it (``x*``, ``\b``, ``a|``, ``(?=1)``)
_EMPTY_PROBES: Final = ("", "a", "Z", "0", "1", " ", "-", "@", "a b-1@c.d 0123 ZZ", "[email]")


@dataclass(frozen=True, slots=True)
class CustomPattern:
    """A configured kind of personal data: ``name`` (its marker is ``[name]``) and a
    Python regular expression (``regex``), validated here.

    ``ValueError`` names the field, the value and what is allowed when the name is not
    1-32 of ``a-z 0-9 _ -`` starting with a letter (or is a built-in kind), or the regex
    does not compile, is longer than :data:`MAX_REGEX`, or can match the empty string
    (it would "find" personal data between every two characters).  Flags go inline:
    ``(?i)``.  See the module docstring for how long texts are scanned.
    """

    name: str
    regex: str
    compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or _NAME.fullmatch(self.name) is None \
                or self.name in BUILTIN_KINDS:
            raise ValueError(f"CustomPattern.name={self.name!r} is not allowed; allowed: {_NAME_RULE}")
        if not isinstance(self.regex, str) or not 1 <= len(self.regex) <= MAX_REGEX:
            shown = f"a {type(self.regex).__name__}" if not isinstance(self.regex, str) else \
                f"{len(self.regex)} characters"
            raise ValueError(f"CustomPattern.regex of pattern {self.name!r} is {shown}; "
                             f"allowed: {_REGEX_RULE}")
        try:
            compiled = re.compile(self.regex)
        except re.error as exc:
            raise ValueError(f"CustomPattern.regex={self.regex!r} of pattern {self.name!r} does "
                             f"not compile ({exc}); allowed: {_REGEX_RULE}") from None
        if any(m.start() == m.end() for probe in _EMPTY_PROBES for m in compiled.finditer(probe)):
            raise ValueError(f"CustomPattern.regex={self.regex!r} of pattern {self.name!r} "
                             f"matches the empty string; allowed: {_REGEX_RULE}")
        object.__setattr__(self, "compiled", compiled)


def parse_custom_patterns(text: str) -> tuple[CustomPattern, ...]:
    """RECORDING_PII_PATTERNS: ``name=regex`` items separated by whitespace (a regex
    that needs a space writes ``\\s`` or ``\\x20``), e.g.
    ``employee_id=EMP-\\d{6} ticket=(?i)tck\\d{8}``.  Empty text: none.

    ``ValueError`` names the item and what is allowed (a name given twice is one).
    """
    patterns: list[CustomPattern] = []
    for item in text.split():
        name, sep, regex = item.partition("=")
        if not sep:
            raise ValueError(f"in {item!r}: not name=regex; allowed: name=regex items separated "
                             f"by spaces, the name {_NAME_RULE}")
        try:
            pattern = CustomPattern(name, regex)
        except ValueError as exc:
            raise ValueError(f"in {item!r}: {exc}") from None
        if any(p.name == name for p in patterns):
            raise ValueError(f"in {item!r}: the name {name!r} is given twice; allowed: each "
                             f"name once")
        patterns.append(pattern)
    return tuple(patterns)


# --- the built-in detectors ------------------------------------------------------------

# A detector's check gets the text and the candidate match and returns the span to report
# (a sub-group, or a trimmed end) or None when the candidate is not that kind after all.
_Check = Callable[[str, "re.Match[str]"], "tuple[int, int] | None"]


def _digits(text: str) -> str:
    return "".join(c for c in text if "0" <= c <= "9")


def _whole(_text: str, m: re.Match[str]) -> tuple[int, int] | None:
    return m.span()


# email: no check beyond the pattern.  A local part of the characters addresses use in
# practice (RFC 5322 allows "=", "/"... which would swallow "user=" in front of an
# address), at most 64 (RFC 5321), never starting with a dot; labels of 1-63; a TLD of
# letters only.
_EMAIL: Final = re.compile(
    r"[\w%+'-][\w.%+'-]{0,63}"
    r"@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.){1,8}[^\W\d_]{2,63}(?![\w-])")

# phone, international: +CC then digits, each optionally after one separator, or a
# parenthesised group ("(0)" trunk, "(415)" area)
_PHONE_INTL: Final = re.compile(
    r"(?<![\w+])\+[1-9](?:[ .\-/]?(?:\([0-9]{1,5}\)|[0-9])){6,22}(?![0-9]|[.\-/][0-9])")
# North American: (415) 555-0100, 415-555-0100, 415.555.0100, 1 800 555 0199; area and
# exchange codes start with 2-9 (so no IPv4 address or date fits)
_PHONE_NANP: Final = re.compile(
    r"(?<![\w+.\-/])(?:1[ .\-]?)?"
    r"(?:\([2-9][0-9]{2}\)[ ]?[2-9][0-9]{2}[ .\-]|[2-9][0-9]{2}(?P<sep>[ .\-])[2-9][0-9]{2}(?P=sep))"
    r"[0-9]{4}(?![\w]|[.\-/][0-9])")
# national with a trunk 0: an area code 0[1-9].. then a separator (or in parentheses),
# then groups of 2-8 digits separated by spaces or dashes
_PHONE_TRUNK: Final = re.compile(
    r"(?<![\w+.\-/])(?:\(0[1-9][0-9]{0,4}\)[ ]?|0[1-9][0-9]{0,4}[ \-/])"
    r"[0-9]{2,8}(?:[ \-][0-9]{2,8}){0,5}(?![\w]|[.\-/][0-9])")
# a date inside a phone candidate ends the number there: 2026-12-01, 01/12/2026, 01 12 2026
_DATE: Final = re.compile(
    r"(?<![0-9])(?:(?:19|20)[0-9]{2}(?P<s1>[\-/.])[0-9]{1,2}(?P=s1)[0-9]{1,2}"
    r"|[0-9]{1,2}(?P<s2>[ \-/.])[0-9]{1,2}(?P=s2)(?:19|20)[0-9]{2})(?![0-9])")
_SEPARATORS: Final = " .-/("


def _phone_digits(number: str) -> int:
    # an "(0)" trunk inside an international number is not dialled from abroad
    return len(_digits(number.replace("(0)", "")))


def _phone_span(m: re.Match[str], low: int, high: int) -> tuple[int, int] | None:
    """The match up to a date in it, then cut back group by group (at spaces first: they
    part numbers) while it has more than ``high`` digits; None with fewer than ``low``."""
    number = m.group()
    date = _DATE.search(number)
    if date is not None:
        number = number[: date.start()].rstrip(_SEPARATORS)
    while _phone_digits(number) > high:
        cut = number.rfind(" ")
        if cut <= 0:
            cut = max(number.rfind(c) for c in _SEPARATORS)
        if cut <= 0:
            return None
        number = number[:cut].rstrip(_SEPARATORS)
    if _phone_digits(number) < low:
        return None
    return m.start(), m.start() + len(number)


def _check_nanp(_text: str, m: re.Match[str]) -> tuple[int, int] | None:
    return _phone_span(m, 10, 11)


def _check_intl(_text: str, m: re.Match[str]) -> tuple[int, int] | None:
    return _phone_span(m, 8, 15)


def _check_trunk(_text: str, m: re.Match[str]) -> tuple[int, int] | None:
    return _phone_span(m, 9, 12)


# cards: contiguous, or 4-4-4-x(-x) / 4-6-5 / 4-6-4 with one separator throughout
_CARD: Final = re.compile(
    r"(?<![0-9])(?:[0-9]{13,19}"
    r"|[0-9]{4}(?P<s1>[ \-])[0-9]{4}(?P=s1)[0-9]{4}(?P=s1)[0-9]{1,4}(?:(?P=s1)[0-9]{1,3})?"
    r"|[0-9]{4}(?P<s2>[ \-])[0-9]{6}(?P=s2)[0-9]{4,5})(?![0-9])")

# (first prefix, last prefix - both of the same number of digits -, allowed lengths)
_ISSUERS: Final[tuple[tuple[str, str, frozenset[int]], ...]] = (
    ("4", "4", frozenset({13, 16, 19})),  # Visa
    ("51", "55", frozenset({16})), ("2221", "2720", frozenset({16})),  # Mastercard
    ("34", "34", frozenset({15})), ("37", "37", frozenset({15})),  # American Express
    ("6011", "6011", frozenset(range(16, 20))), ("644", "649", frozenset(range(16, 20))),
    ("65", "65", frozenset(range(16, 20))),  # Discover
    ("3528", "3589", frozenset(range(16, 20))),  # JCB
    ("300", "305", frozenset(range(14, 20))), ("3095", "3095", frozenset(range(14, 20))),
    ("36", "36", frozenset(range(14, 20))), ("38", "39", frozenset(range(14, 20))),  # Diners
    ("62", "62", frozenset(range(16, 20))),  # UnionPay
    *((p, p, frozenset(range(13, 20))) for p in ("5018", "5020", "5038", "5893", "6304",
                                                 "6759", "6761", "6762", "6763")),  # Maestro
)


def _issued(number: str) -> bool:
    """An issuer's prefix with a length that issuer uses."""
    return any(low <= number[: len(low)] <= high and len(number) in lengths
               for low, high, lengths in _ISSUERS)


def _luhn(number: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(number)):
        digit = ord(char) - 48
        if i % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _check_card(_text: str, m: re.Match[str]) -> tuple[int, int] | None:
    number = _digits(m.group())
    return m.span() if _issued(number) and _luhn(number) else None


_SSN: Final = re.compile(
    r"(?<![\w\-])(?P<a>[0-9]{3})-(?P<g>[0-9]{2})-(?P<s>[0-9]{4})(?![\w\-]|\.[0-9])")
# the other forms, only right after words that say what the number is
_SSN_CONTEXT: Final = re.compile(
    r"(?i)(?:\bssn|\bss\#|\bsocial[ ]security(?:[ ](?:number|no\.?|\#))?"
    r"|\bsoc\.?[ ]?sec\.?(?:[ ](?:number|no\.?|\#))?)[ \t]{0,3}[:=\#\-]?[ \t]{0,3}"
    r"(?P<num>(?P<a>[0-9]{3})(?P<sep>[ \-]?)(?P<g>[0-9]{2})(?P=sep)(?P<s>[0-9]{4}))(?![\w\-])")


def _issued_ssn(m: re.Match[str]) -> bool:
    area = m.group("a")
    return area not in ("000", "666") and area[0] != "9" and m.group("g") != "00" \
        and m.group("s") != "0000"


def _check_ssn(_text: str, m: re.Match[str]) -> tuple[int, int] | None:
    return m.span() if _issued_ssn(m) else None


def _check_ssn_context(_text: str, m: re.Match[str]) -> tuple[int, int] | None:
    return m.span("num") if _issued_ssn(m) else None


IBAN_LENGTHS: Final[dict[str, int]] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}
"""IBAN length per country (the SWIFT IBAN registry)."""

_IBAN: Final = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}"
    r"(?:[A-Za-z0-9]{11,30}|(?:[ ][A-Za-z0-9]{4}){2,7}(?:[ ][A-Za-z0-9]{1,3})?)(?![A-Za-z0-9])")


def _check_iban(_text: str, m: re.Match[str]) -> tuple[int, int] | None:
    iban = m.group().replace(" ", "").upper()
    if IBAN_LENGTHS.get(iban[:2]) != len(iban):
        return None
    # ISO 13616: the first four characters go to the end, letters count A=10 .. Z=35
    number = int("".join(str(int(c, 36)) for c in iban[4:] + iban[:4]))
    return m.span() if number % 97 == 1 else None


@dataclass(frozen=True, slots=True)
class _Detector:
    kind: PiiKind
    pattern: re.Pattern[str]
    check: _Check
    needs_digit: bool  # only worth running on text with a digit (all but e-mail)


_DETECTORS: Final = (
    _Detector(PiiKind.EMAIL, _EMAIL, _whole, False),
    _Detector(PiiKind.PHONE, _PHONE_INTL, _check_intl, True),
    _Detector(PiiKind.PHONE, _PHONE_NANP, _check_nanp, True),
    _Detector(PiiKind.PHONE, _PHONE_TRUNK, _check_trunk, True),
    _Detector(PiiKind.CARD, _CARD, _check_card, True),
    _Detector(PiiKind.SSN, _SSN, _check_ssn, True),
    _Detector(PiiKind.SSN, _SSN_CONTEXT, _check_ssn_context, True),
    _Detector(PiiKind.IBAN, _IBAN, _check_iban, True),
)
_DIGIT: Final = re.compile(r"[0-9]")
# ties between matches of one length: the operator's pattern, then the most specific kind
_RANK: Final = {PiiKind.CUSTOM: 0, PiiKind.CARD: 1, PiiKind.IBAN: 2, PiiKind.SSN: 3,
                PiiKind.EMAIL: 4, PiiKind.PHONE: 5}


# --- finding ---------------------------------------------------------------------------

def _scan(pattern: re.Pattern[str], text: str, check: _Check) -> Iterator[tuple[int, int]]:
    """The spans ``check`` accepts, in windows of MAX_SCAN characters (module docstring).

    After an accepted span the search goes on at its end (which ``check`` may have moved
    back: a phone number that ran into a date); after a refused candidate at the next
    character, so a refused long candidate ("01 12 2026 030 1234567") hides nothing in it.
    """
    n = len(text)
    pos = 0
    seen: set[tuple[int, int]] = set()
    while True:
        stop = min(n, pos + MAX_SCAN)
        # the next window starts OVERLAP before this one's end; a match that may have been
        # cut by this end (or judged without what follows it) is whole there
        cut = stop < n
        at = pos
        while at < stop and (m := pattern.search(text, at, stop)) is not None:
            if m.start() == m.end():  # a custom pattern matching nothing here
                at = m.end() + 1
                continue
            if cut and m.end() > stop - _EDGE and m.start() >= stop - OVERLAP:
                break
            span = check(text, m)
            if span is None:
                at = m.start() + 1
                continue
            if span not in seen:
                seen.add(span)
                yield span
            at = span[1]
        if not cut:
            return
        pos = stop - OVERLAP


def _kinds(kinds: Collection[PiiKind]) -> frozenset[PiiKind]:
    if kinds is ALL:
        return ALL
    if isinstance(kinds, str):
        raise TypeError(f"kinds must be a collection of PiiKind, got the str {kinds!r}; "
                        f"allowed: {', '.join(PiiKind)}")
    out: set[PiiKind] = set()
    for kind in kinds:
        try:
            out.add(PiiKind(kind))
        except ValueError:
            raise ValueError(f"kinds: {kind!r} is not a kind of personal data; allowed: "
                             f"{', '.join(PiiKind)}") from None
    return frozenset(out)


def _customs(custom: Sequence[CustomPattern]) -> tuple[CustomPattern, ...]:
    patterns = tuple(custom)
    for pattern in patterns:
        if not isinstance(pattern, CustomPattern):
            raise TypeError(f"custom must hold CustomPattern objects, got a "
                            f"{type(pattern).__name__}")
    return patterns


def _candidates(text: str, kinds: frozenset[PiiKind],
                custom: tuple[CustomPattern, ...]) -> Iterator[PiiMatch]:
    has_digit = _DIGIT.search(text) is not None
    for detector in _DETECTORS:
        if detector.kind in kinds and (has_digit or not detector.needs_digit) \
                and (detector.kind is not PiiKind.EMAIL or "@" in text):
            for start, end in _scan(detector.pattern, text, detector.check):
                yield PiiMatch(detector.kind, start, end)
    if PiiKind.CUSTOM in kinds:
        for pattern in custom:
            for start, end in _scan(pattern.compiled, text, _whole):
                yield PiiMatch(PiiKind.CUSTOM, start, end, pattern.name)


def _resolve(candidates: Iterator[PiiMatch]) -> list[PiiMatch]:
    """Longest first, ties by rank then position; each kept unless it overlaps one kept."""
    ordered = sorted(set(candidates),
                     key=lambda c: (c.start - c.end, _RANK[c.kind], c.start, c.name or ""))
    starts: list[int] = []
    kept: list[PiiMatch] = []  # sorted by start, disjoint
    for match in ordered:
        i = bisect_right(starts, match.start)
        if i > 0 and kept[i - 1].end > match.start:
            continue
        if i < len(kept) and kept[i].start < match.end:
            continue
        starts.insert(i, match.start)
        kept.insert(i, match)
    return kept


def find_pii(text: str, kinds: Collection[PiiKind] = ALL,
             custom: Sequence[CustomPattern] = ()) -> list[PiiMatch]:
    """Every piece of personal data of ``kinds`` in ``text``, sorted by start, none
    overlapping another (module docstring: what each kind is, how overlaps resolve).

    ``custom`` patterns run when ``kinds`` holds :attr:`PiiKind.CUSTOM` (as ALL does).
    ``kinds`` chooses the detectors: with ``{PHONE}`` only, digits inside an IBAN may be
    reported as a phone number.  ``TypeError``/``ValueError`` for a kind that is not a
    PiiKind or a pattern that is not a CustomPattern.
    """
    wanted, patterns = _kinds(kinds), _customs(custom)
    return _resolve(_candidates(text, wanted, patterns)) if text else []


@functools.lru_cache(maxsize=64)
def _markers(names: tuple[str, ...]) -> re.Pattern[str]:
    words = (*BUILTIN_KINDS, *names)
    return re.compile(r"\[(?:" + "|".join(re.escape(w) for w in words) + r")\]")


def redact_pii(text: str, kinds: Collection[PiiKind] = ALL,
               custom: Sequence[CustomPattern] = ()) -> str:
    """``text`` with each piece of personal data :func:`find_pii` finds replaced by its
    marker (``[email]``, ``[card]``, ``[NAME]``...); idempotent (module docstring)."""
    wanted, patterns = _kinds(kinds), _customs(custom)
    markers = _markers(tuple(p.name for p in patterns))
    # Each round turns at least one character outside the markers into a marker, and
    # markers are never matched: the loop ends, and ends with nothing left to find.
    while text:
        protected = [m.span() for m in markers.finditer(text)]
        found = _resolve(c for c in _candidates(text, wanted, patterns)
                         if not _touches(c, protected))
        if not found:
            break
        pieces: list[str] = []
        pos = 0
        for match in found:
            pieces += (text[pos:match.start], match.marker)
            pos = match.end
        pieces.append(text[pos:])
        text = "".join(pieces)
    return text


def _touches(match: PiiMatch, spans: list[tuple[int, int]]) -> bool:
    if not spans:
        return False
    i = bisect_right(spans, (match.start, float("inf")))
    return (i > 0 and spans[i - 1][1] > match.start) or (i < len(spans) and spans[i][0] < match.end)
