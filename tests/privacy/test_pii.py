"""find_pii / redact_pii: personal data in window titles and connection details is found
(cards with the Luhn check, SSNs the SSA issues, IBANs with mod-97, e-mail, phones,
the operator's own patterns) and ordinary text - order numbers, dates, times, versions,
addresses of machines - is left alone.  The end-to-end half (a recorded window's title and
a connection's name never reach metadata, index or log) is test_pii_recording.py."""

from __future__ import annotations

import dataclasses
import json
import pickle
import string
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastrec.monitor import parse_command_line
from fastrec.privacy.connection import clean_connection_info
from fastrec.privacy.pii import (
    ALL,
    IBAN_LENGTHS,
    MAX_SCAN,
    OVERLAP,
    CustomPattern,
    PiiMatch,
    find_pii,
    marker,
    parse_custom_patterns,
    redact_pii,
)
from fastrec.privacy.pii_kinds import PiiKind
from fastrec.storage.metadata import ConnectionInfo, SegmentMetadata, write_metadata

EMAIL, PHONE, CARD, SSN, IBAN, CUSTOM = (PiiKind.EMAIL, PiiKind.PHONE, PiiKind.CARD, PiiKind.SSN,
                                         PiiKind.IBAN, PiiKind.CUSTOM)


def found(text: str, **options) -> list[tuple[str, str]]:
    """(kind, matched text) of every match: what a reader of a failure wants to see."""
    return [(m.kind.value, text[m.start:m.end]) for m in find_pii(text, **options)]


def luhn_complete(partial: str) -> str:
    """``partial`` with the Luhn check digit appended."""
    for check in "0123456789":
        number = partial + check
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2)
                    for i, d in enumerate(int(c) for c in reversed(number)))
        if total % 10 == 0:
            return number
    raise AssertionError("unreachable")


def iban_complete(country: str, bban: str) -> str:
    """An IBAN for ``country`` and ``bban`` with its mod-97 check digits."""
    value = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    return f"{country}{98 - value % 97:02d}{bban}"


def grouped(iban: str) -> str:
    """The print form: groups of four separated by spaces."""
    return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))


# --- the markers -------------------------------------------------------------------------

def test_the_markers_are_stable():
    # recordings' metadata is read for years: these strings are a contract (README)
    assert [marker(k) for k in (EMAIL, PHONE, CARD, SSN, IBAN)] == \
        ["[email]", "[phone]", "[card]", "[ssn]", "[iban]"]
    assert marker(CUSTOM, "employee_id") == "[employee_id]"
    assert redact_pii("Re: invoice - jane.doe@example.com - 4111 1111 1111 1111 - Outlook") == \
        "Re: invoice - [email] - [card] - Outlook"


def test_a_match_holds_no_text_and_may_be_logged():
    text = "mail jane.doe@example.com"
    (match,) = find_pii(text)
    assert [f.name for f in dataclasses.fields(PiiMatch)] == ["kind", "start", "end", "name"]
    assert "jane" not in repr(match) and "jane" not in json.dumps(dataclasses.asdict(match))
    assert (match.kind, text[match.start:match.end], match.marker) == (EMAIL, "jane.doe@example.com",
                                                                      "[email]")


# --- cards -------------------------------------------------------------------------------

VALID_CARDS = [
    "4111111111111111", "4012888888881881", "4222222222222", luhn_complete("4" + "1" * 17),  # Visa 16, 13, 19
    "5555555555554444", "5105105105105100", "2221000000000009", luhn_complete("2720" + "9" * 11),  # Mastercard
    "378282246310005", "371449635398431",  # Amex
    "6011111111111117", "6011000990139424", luhn_complete("644" + "1" * 12),  # Discover 6011, 644-649
    luhn_complete("65" + "3" * 15),  # Discover 65, 18 digits
    "3530111333300000", "3566002020360505",  # JCB
    "30569309025904", "38520000023237", "36227206271667",  # Diners 14
    luhn_complete("3095" + "0" * 9), luhn_complete("39" + "5" * 11),
    luhn_complete("62" + "0" * 13), luhn_complete("62" + "7" * 16),  # UnionPay 16, 19
    "6759649826438453", luhn_complete("5018" + "2" * 8), luhn_complete("6304" + "9" * 14),  # Maestro 16, 13, 19
]


@pytest.mark.parametrize("number", VALID_CARDS)
def test_valid_cards_are_found(number: str):
    assert found(f"Card {number} exp 12/27") == [("card", number)]


@pytest.mark.parametrize("text", [
    "4111 1111 1111 1111", "4111-1111-1111-1111", "5555 5555 5555 4444",
    "3782 822463 10005", "3714-496353-98431",  # Amex 4-6-5
    "3056 930902 5904",  # Diners 4-6-4
    "6011 1111 1111 1117", "4222 2222 2222 2",
])
def test_grouped_cards_are_found(text: str):
    assert found(f"paid with {text}.") == [("card", text)]


@pytest.mark.parametrize("text", [
    "4111111111111112",  # Luhn failure
    "4111 1111 1111 1121",  # one digit changed
    "5555555555554445", "378282246310006",
    luhn_complete("4" + "1" * 13),  # Visa with 15 digits: Luhn fine, length wrong
    luhn_complete("37" + "1" * 13),  # Amex with 16 digits
    luhn_complete("51" + "2" * 15),  # Mastercard with 18 digits
    luhn_complete("2721" + "0" * 11),  # just past Mastercard's 2720
    luhn_complete("2220" + "0" * 11),  # just before its 2221
    luhn_complete("1234" + "5" * 11), luhn_complete("7" * 15), luhn_complete("9" * 15),  # no issuer
    luhn_complete("306" + "0" * 10),  # Diners stops at 305 (and 3095)
    luhn_complete("4" * 19) + "4",  # 20 digits: longer than any card
    "4111 1111-1111 1111",  # two kinds of separator
    "41111 1111 1111 111",  # not a card's grouping
])
def test_invalid_cards_are_not_found(text: str):
    assert ("card", text) not in found(text)
    assert not any(kind == "card" for kind, _ in found(f"ref {text} end"))


LUHN_ISSUERS = [("4", (13, 16, 19)), ("51", (16,)), ("2221", (16,)), ("2720", (16,)), ("34", (15,)),
                ("37", (15,)), ("6011", (16, 19)), ("649", (16,)), ("3528", (16,)), ("3589", (19,)),
                ("300", (14,)), ("36", (14, 17)), ("62", (16, 19)), ("6763", (13, 19))]


@settings(max_examples=300, deadline=None)
@given(issuer=st.sampled_from(LUHN_ISSUERS), data=st.data(),
       separator=st.sampled_from(["", "grouped"]))
def test_any_issued_luhn_number_is_found_and_any_changed_digit_loses_it(issuer, data, separator):
    prefix, lengths = issuer
    length = data.draw(st.sampled_from(lengths))
    body = data.draw(st.text("0123456789", min_size=length - len(prefix) - 1,
                             max_size=length - len(prefix) - 1))
    number = luhn_complete(prefix + body)
    shown = " ".join(number[i:i + 4] for i in range(0, length, 4)) if separator else number
    assert found(f"card: {shown}.") == [("card", shown)]
    # the Luhn check catches every single-digit change
    at = data.draw(st.integers(0, length - 1))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != number[at]]))
    changed = number[:at] + digit + number[at + 1:]
    assert not any(kind == "card" for kind, _ in found(f"card: {changed}."))


# --- social security numbers -------------------------------------------------------------

@pytest.mark.parametrize(("text", "ssn"), [
    ("SSN 123-45-6789 on file", "123-45-6789"),
    ("078-05-1120", "078-05-1120"),
    ("employee 665-12-3456", "665-12-3456"), ("899-99-9999", "899-99-9999"),
    # nine digits, or spaces, only where the words say it is an SSN
    ("SSN: 123456789", "123456789"), ("ssn#123456789", "123456789"),
    ("Social Security Number 123 45 6789", "123 45 6789"), ("soc. sec. no. 123456789", "123456789"),
])
def test_issued_ssns_are_found(text: str, ssn: str):
    assert found(text) == [("ssn", ssn)]


@pytest.mark.parametrize("text", [
    "000-12-3456", "666-12-3456", "900-12-3456", "950-12-3456", "999-12-3456",  # areas never issued
    "123-00-4567",  # group 00
    "123-45-0000",  # serial 0000
    "SSN: 000123456", "SSN 666 12 3456", "SSN: 123004567", "SSN 123450000",
    "123456789", "ID 123 45 6789", "account 123456789",  # bare: no context
    "123-45-67890", "1123-45-6789", "x123-45-6789", "123-45-6789-1",  # part of something longer
])
def test_never_issued_or_unlabelled_ssns_are_not_found(text: str):
    assert not any(kind == "ssn" for kind, _ in found(text)), found(text)


# --- IBANs -------------------------------------------------------------------------------

VALID_IBANS = [
    "DE89370400440532013000", "GB82WEST12345698765432", "FR1420041010050500013M02606",
    "NL91ABNA0417164300", "BE68539007547034", "CH9300762011623852957", "ES9121000418450200051332",
    "IT60X0542811101000000123456", "NO9386011117947", "AT611904300234573201",
    "PL61109010140000071219812874", "LC55HEMM000100010012001200023015",
]


@pytest.mark.parametrize("iban", VALID_IBANS)
def test_valid_ibans_are_found_with_and_without_spaces(iban: str):
    assert found(f"IBAN {iban} (EUR)") == [("iban", iban)]
    assert found(f"IBAN: {grouped(iban)} (EUR)") == [("iban", grouped(iban))]
    assert found(f"iban {iban.lower()}") == [("iban", iban.lower())]


@pytest.mark.parametrize("text", [
    "DE88370400440532013000", "DE89 3704 0044 0532 0130 01", "GB82 WEST 1234 5698 7654 33",  # check digits
    "GB28WEST12345698765432",  # the check digits of another account
    "DE8937040044053201300", "DE893704004405320130000",  # a digit short, a digit too many
    "XX89370400440532013000", "US64SVBKUS6S3300958879",  # countries without IBANs
    "DE89 3704 0044 0532 0130 0012",  # its last group runs on
])
def test_invalid_ibans_are_not_found(text: str):
    assert not any(kind == "iban" for kind, _ in found(text)), found(text)


@settings(max_examples=300, deadline=None)
@given(country=st.sampled_from(sorted(IBAN_LENGTHS)), data=st.data())
def test_any_mod97_iban_is_found_and_any_changed_digit_loses_it(country, data):
    size = IBAN_LENGTHS[country] - 4
    bban = data.draw(st.text(string.digits + string.ascii_uppercase, min_size=size, max_size=size))
    iban = iban_complete(country, bban)
    form = data.draw(st.sampled_from([iban, grouped(iban)]))
    assert found(f"pay to {form}.") == [("iban", form)]
    # mod 97 catches every change of one digit into another (97 is prime, 97 > 9 * 10^0)
    digits = [i for i, c in enumerate(iban) if i >= 2 and c.isdigit()]
    at = data.draw(st.sampled_from(digits))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != iban[at]]))
    changed = iban[:at] + digit + iban[at + 1:]
    assert not any(kind == "iban" for kind, _ in found(f"pay to {changed}.")), changed


# --- e-mail --------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "address"), [
    ("mail jane.doe@example.com now", "jane.doe@example.com"),
    ("<j+tag@sub.example.co.uk>", "j+tag@sub.example.co.uk"),
    ("o'brien@example.ie", "o'brien@example.ie"),
    ("mailto:bob_1@xn--bcher-kva.example.", "bob_1@xn--bcher-kva.example"),
    ("user=ann@corp.example;", "ann@corp.example"),
    ("Inbox (3) - müller@beispiel.de - Thunderbird", "müller@beispiel.de"),
])
def test_email_addresses_are_found(text: str, address: str):
    assert found(text) == [("email", address)]


@pytest.mark.parametrize("text", [
    "admin@10.0.0.5", "rdp://admin@192.168.1.100:3389", "user@localhost", "@example.com",
    "a@b", "x@y.1", "name @ example.com", "foo@-bar.com",
])
def test_user_at_host_and_broken_addresses_are_not_email(text: str):
    assert not any(kind == "email" for kind, _ in found(text)), found(text)


# --- phone numbers ---------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "phone"), [
    ("call +1 415 555 0100 today", "+1 415 555 0100"),
    ("Tel. +44 20 7946 0958", "+44 20 7946 0958"),
    ("+49 (0)30 1234567", "+49 (0)30 1234567"),
    ("+4915112345678", "+4915112345678"),
    ("+33 1 23 45 67 89", "+33 1 23 45 67 89"),
    ("+1 (415) 555-0100", "+1 (415) 555-0100"),
    ("+41.44.668.18.00", "+41.44.668.18.00"),
    ("(415) 555-0100", "(415) 555-0100"), ("415-555-0100", "415-555-0100"),
    ("415.555.0100", "415.555.0100"), ("1-800-555-0199", "1-800-555-0199"),
    ("020 7946 0958", "020 7946 0958"), ("07700 900123", "07700 900123"),
    ("030/1234567", "030/1234567"), ("(030) 1234567", "(030) 1234567"),
    ("06 12 34 56 78", "06 12 34 56 78"), ("0412 345 678", "0412 345 678"),
    ("0171-2345678", "0171-2345678"),
    # a number followed by a date ends before it
    ("+1 415 555 0100 2026-12-01", "+1 415 555 0100"),
])
def test_phone_numbers_are_found(text: str, phone: str):
    assert found(text) == [("phone", phone)]


def test_two_phone_numbers_in_a_row_are_both_found():
    assert found("030 1234567 040 7654321") == [("phone", "030 1234567"), ("phone", "040 7654321")]
    assert found("01 12 2026 030 1234567") == [("phone", "030 1234567")]


# --- what must not be found ------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    # order and invoice numbers
    "Order #4000123456780", "Order 112-3456789-1234567", "ORD-2026-12345", "order no. 20261201-0042",
    "INV-2026-000123", "Invoice 2026/00123", "Invoice #10023456 due", "PO 4500012345",
    # dates and times
    "2026-12-01", "01/12/2026", "01.12.2026", "12-01-2026", "01 12 2026", "2026/12/01 23:59",
    "12:30", "12:30:45", "23:59:59.999", "2026-12-01T12:30:45+01:00", "1 Dec 2026, 09:15",
    # versions
    "1.2.3", "v10.0.19045.1234", "Python 3.11.7", "2.14.0-rc1", "build 2026.12.01.1234",
    "Windows 10.0.22631.4460", "1.2.3.4567",
    # IPv4 addresses and ports
    "192.168.1.100", "10.0.0.5", "255.255.255.0", "172.16.254.1:3389", "010.001.002.003",
    "10.10.100.1000",
    # long numeric ids that fail Luhn, and ids without separators
    "12345678901234567", "4111111111111112", "Ticket 1234567890", "session 41111111111111112222",
    "pid 123456", "0x400005", "uuid 550e8400-e29b-41d4-a716-446655440000",
    # a window title full of numbers and none of them personal
    "Build 2026.12.01 - 12:30 - 10.0.0.5 - order 112-3456789-1234567 - Terminal",
])
def test_ordinary_numbers_are_not_personal_data(text: str):
    assert found(text) == []
    assert redact_pii(text) == text


# --- custom patterns -------------------------------------------------------------------------

def test_a_custom_pattern_is_found_under_its_name():
    employee = CustomPattern("employee_id", r"EMP-\d{6}")
    text = "EMP-123456 - HR portal - EMP-12345"
    assert find_pii(text, custom=[employee]) == [PiiMatch(CUSTOM, 0, 10, "employee_id")]
    assert redact_pii(text, custom=[employee]) == "[employee_id] - HR portal - EMP-12345"
    # without CUSTOM among the kinds, custom patterns do not run
    assert find_pii(text, kinds={EMAIL}, custom=[employee]) == []


def test_custom_patterns_parse_from_the_setting_and_survive_pickling():
    patterns = parse_custom_patterns(r" employee_id=EMP-\d{6}  ticket=(?i)tck\d{8} ")
    assert [p.name for p in patterns] == ["employee_id", "ticket"]
    assert redact_pii("TCK12345678 / emp-123456", custom=patterns) == "[ticket] / emp-123456"
    # a capture process gets them through pickle
    assert pickle.loads(pickle.dumps(patterns)) == patterns
    assert pickle.loads(pickle.dumps(patterns))[1].compiled.search("tck00000000")
    assert parse_custom_patterns("") == ()


@pytest.mark.parametrize(("name", "regex", "message"), [
    ("Employee", "x", r"CustomPattern.name='Employee' is not allowed; allowed: 1 to 32 characters of a-z"),
    ("", "x", r"CustomPattern.name='' is not allowed"),
    ("1st", "x", r"CustomPattern.name='1st' is not allowed"),
    ("email", "x", r"CustomPattern.name='email' is not allowed; .* other than email, phone, card"),
    ("a" * 33, "x", r"CustomPattern.name='a{33}' is not allowed"),
    ("emp", "EMP(", r"CustomPattern.regex='EMP\(' of pattern 'emp' does not compile \(missing \), "
                    r"unterminated subpattern at position 3\); allowed: a Python regular expression"),
    ("emp", "", r"CustomPattern.regex of pattern 'emp' is 0 characters; allowed: .* 1 to 1000 characters"),
    ("emp", "x" * 1001, r"CustomPattern.regex of pattern 'emp' is 1001 characters; allowed"),
    ("emp", r"\d*", r"CustomPattern.regex='\\\\d\*' of pattern 'emp' matches the empty string; allowed"),
    ("emp", r"\b", r"matches the empty string"),
    ("emp", "a|", r"matches the empty string"),
    ("emp", "(?=1)", r"matches the empty string"),
])
def test_a_bad_custom_pattern_is_refused_naming_field_value_and_rule(name, regex, message):
    with pytest.raises(ValueError, match=message):
        CustomPattern(name, regex)


@pytest.mark.parametrize(("text", "message"), [
    ("emp", r"in 'emp': not name=regex; allowed: name=regex items separated by spaces"),
    (r"a=x a=y", r"in 'a=y': the name 'a' is given twice; allowed: each name once"),
    (r"ok=x bad=(", r"in 'bad=\(': CustomPattern.regex='\(' of pattern 'bad' does not compile"),
])
def test_a_bad_setting_names_the_item(text: str, message: str):
    with pytest.raises(ValueError, match=message):
        parse_custom_patterns(text)


def test_kinds_and_custom_are_checked():
    with pytest.raises(ValueError, match=r"kinds: 'passport' is not a kind of personal data; allowed: "
                                         r"email, phone, card, ssn, iban, custom"):
        find_pii("x", kinds={"passport"})
    with pytest.raises(TypeError, match=r"kinds must be a collection of PiiKind, got the str 'email'"):
        find_pii("x", kinds="email")
    with pytest.raises(TypeError, match=r"custom must hold CustomPattern objects, got a str"):
        redact_pii("x", custom=["emp=x"])
    assert found("a@b.example 4111111111111111", kinds=["card"]) == [("card", "4111111111111111")]


# --- overlaps, order, idempotence --------------------------------------------------------------

def test_overlaps_resolve_to_the_longest_then_the_most_specific():
    # a card number as an address's local part: the whole address is the longer match
    assert found("4111111111111111@example.com") == [("email", "4111111111111111@example.com")]
    # the same nine characters are an SSN and a national phone number: the SSN is more specific
    assert found("012-34-5678") == [("ssn", "012-34-5678")]
    # the operator's pattern beats a built-in kind over the same span
    same = CustomPattern("badge", r"\d{3}-\d{2}-\d{4}")
    assert [m.name for m in find_pii("123-45-6789", custom=[same])] == ["badge"]
    # and a longer built-in match beats a shorter custom one
    short = CustomPattern("digits", r"\d{4}")
    assert found("4111 1111 1111 1111", custom=[short]) == [("card", "4111 1111 1111 1111")]


def test_matches_are_sorted_and_disjoint():
    text = ("a@example.com +44 20 7946 0958 4111111111111111 123-45-6789 DE89370400440532013000 "
            "x@y.example")
    matches = find_pii(text)
    assert [m.kind for m in matches] == [EMAIL, PHONE, CARD, SSN, IBAN, EMAIL]
    assert all(a.end <= b.start for a, b in zip(matches, matches[1:]))


_FRAGMENTS = ["jane.doe@example.com", "4111 1111 1111 1111", "4111111111111111", "123-45-6789",
              "+44 20 7946 0958", "020 7946 0958", "DE89 3704 0044 0532 0130 00", "SSN", ": ",
              "2026-12-01", "12:30", "10.0.0.5", "v1.2.3", "@", ".", "-", " ", "0", "7", "42",
              "[email]", "[card]", "[badge]", "[", "]", "x", "com", "EMP-", "123456"]


@settings(max_examples=400, deadline=None)
@given(pieces=st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=6)), max_size=14))
def test_redaction_is_idempotent_and_leaves_nothing_to_find(pieces):
    badge = CustomPattern("badge", r"EMP-\d{6}")
    text = "".join(pieces)
    once = redact_pii(text, custom=[badge])
    assert redact_pii(once, custom=[badge]) == once
    for match in find_pii(once, custom=[badge]):
        # what is left to find lies inside a marker (a custom pattern may match its letters)
        assert once[match.start:match.end] in {"[email]", "[card]", "[badge]"}, (text, once)
    matches = find_pii(text, custom=[badge])
    assert all(a.end <= b.start for a, b in zip(matches, matches[1:]))


def test_redaction_leaves_markers_alone_even_when_a_custom_pattern_matches_their_letters():
    word = CustomPattern("word", r"[a-z]{4,}")
    assert redact_pii("card 4111111111111111", custom=[word]) == "[word] [card]"
    assert redact_pii("[word] [card]", custom=[word]) == "[word] [card]"


# --- long text ---------------------------------------------------------------------------------

@pytest.mark.parametrize("at", [0, MAX_SCAN - OVERLAP - 20, MAX_SCAN - 20, MAX_SCAN - 9, MAX_SCAN - 3,
                                MAX_SCAN, 2 * MAX_SCAN - OVERLAP - 10, 2 * MAX_SCAN - 2 * OVERLAP - 5,
                                3 * MAX_SCAN])
@pytest.mark.parametrize("pii", ["4111 1111 1111 1111", "jane.doe@example.com", "+44 20 7946 0958",
                                 "DE89 3704 0044 0532 0130 00"])
def test_text_longer_than_a_scan_window_is_scanned_whole(at: int, pii: str):
    # at every position, including across the windows' ends and overlaps, found once, whole
    filler = "lorem ipsum " * (4 * MAX_SCAN // 12)
    text = filler[:at] + " " + pii + " " + filler[at:]
    assert found(text) == [(find_pii(pii)[0].kind.value, pii)]
    assert redact_pii(text).count("[") == 1


def test_hostile_text_comes_back_redacted():
    # 300 kB of separators, digits and would-be addresses come back at all (a pattern that
    # backtracked over them would not), and come back right
    n = 100_000
    # twelve digits is the longest national number: groups of "01" go as [phone]s, and what
    # is left between them is too short to be one (nine digits)
    assert "01 01 01 01 01" not in redact_pii("01 " * n).replace("[phone]", "")
    for unchanged in ("a@" * n, "a@b." * n, "a-" * n + "@", "1 " * n, "+1 " * n, "DE89 " * n,
                      "SSN " * n, "0" * n):
        assert redact_pii(unchanged) == unchanged
    catastrophic = CustomPattern("words", r"(\w+\s?)+:")  # polynomial in its input
    assert redact_pii("a " * 3000 + "b:", custom=[catastrophic]).endswith("[words]")


# --- connection details --------------------------------------------------------------------------

def test_connection_details_hold_markers_not_personal_data(tmp_path: Path):
    badge = CustomPattern("badge", r"EMP-\d{6}")
    details = clean_connection_info({
        "con_codigo": "EMP-123456", "ip": "10.0.0.5", "name": "jane.doe@example.com's desktop",
        "user": "jane.doe@example.com:S3cret!", "domain": "CORP", "client": "xfreerdp /v:srv /p:S3cret!",
        "connection_type": "RDP", "port": 3389,
        "card 4111 1111 1111 1111": "an unknown key", "pid": 4111111111111111}, pii_patterns=[badge])
    assert details.as_dict() == {
        "con_codigo": "[badge]", "ip": "10.0.0.5", "name": "[email]'s desktop", "user": "[email]",
        "connection_type": "RDP", "port": 3389, "domain": "CORP", "client": "xfreerdp /v:srv /p:[redacted]"}
    assert details.changed == {"con_codigo": "personal data replaced", "name": "personal data replaced",
                               "user": "credentials removed; personal data replaced",
                               "client": "credentials removed"}
    assert set(details.dropped) == {"card [card]", "pid"}
    assert details.dropped["pid"] == "[card] is not stored (allowed: 1-2147483647)"
    meta = SegmentMetadata(session_id="s1", connection_info=ConnectionInfo(**details.as_dict()),
                           start_time=datetime(2026, 12, 1, tzinfo=timezone.utc))
    stored = write_metadata(tmp_path / "s1_metadata.json", meta).read_text() + details.summary()
    for leak in ("jane", "4111", "S3cret", "123456"):
        assert leak not in stored
    # cleaning what was cleaned changes nothing (the monitor and the manager both clean)
    again = clean_connection_info(details.as_dict(), pii_patterns=[badge])
    assert again.as_dict() == details.as_dict() and not again.changed and not again.dropped


def test_a_user_principal_name_is_an_address_and_a_down_level_name_is_kept():
    assert clean_connection_info({"user": "bob@corp.example"}).user == "[email]"
    assert clean_connection_info({"user": "CORP\\bob"}).user == "CORP\\bob"


def test_the_monitor_cleans_what_it_logs():
    badge = parse_custom_patterns(r"badge=EMP-\d{6}")
    info = parse_command_line("xfreerdp", ["xfreerdp", "/v:srv.example.com", "/u:EMP-123456", "/d:CORP"],
                              pii_patterns=badge)
    assert (info["name"], info["user"]) == ("srv.example.com", "CORP\\[badge]")
    info = parse_command_line("xfreerdp", ["xfreerdp", "/v:srv.example.com", "/u:jane.doe@example.com"])
    assert info["user"] == "[email]" and "jane" not in json.dumps(info)


def test_the_default_is_every_kind():
    assert ALL == frozenset(PiiKind)
