"""fastrec.printable (untrusted text on a terminal) and fastrec.checks (one range wording)."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from fastrec.checks import bounded_option, check_int, check_number
from fastrec.printable import printable


@pytest.mark.parametrize(("raw", "shown"), [
    ("plain name", "plain name"),
    ("CORP\\alice", "CORP\\alice"),  # a domain user keeps its backslash
    ("Grabación – São Paulo 東京", "Grabación – São Paulo 東京"),
    ("a\x1b[2Jb", "a\\x1b[2Jb"),  # CSI: clear the screen
    ("t\x1b]0;owned\x07", "t\\x1b]0;owned\\x07"),  # OSC: set the window title
    ("one\ntwo\rthree\tfour", "one\\ntwo\\rthree\\tfour"),
    ("\x00\x7f\x9b\x85", "\\x00\\x7f\\x9b\\x85"),  # NUL, DEL, 8-bit CSI, NEL
    ("abc\u202edef\u2066\u2028", "abc\\u202edef\\u2066\\u2028"),  # bidi override/isolate, line separator
    (b"caf\xe9".decode("utf-8", "surrogateescape"), "caf\\xe9"),  # a byte that was not UTF-8
    ("\ud800", "\\ud800"),
])
def test_printable_shows_control_characters(raw: str, shown: str):
    assert printable(raw) == shown
    printable(raw).encode("utf-8")  # always writable to a UTF-8 terminal


def test_printable_takes_any_object():
    assert printable(None) == "None" and printable(3) == "3"
    assert printable(ValueError("bad\nline")) == "bad\\nline"


def test_range_checks_say_name_value_and_range():
    assert check_int("slots", 3, 2, 256) == 3
    with pytest.raises(ValueError, match="^slots must be between 2 and 256, got 1$"):
        check_int("slots", 1, 2, 256)
    with pytest.raises(ValueError, match="^slot_size must be between 1 and 9 bytes, got 10$"):
        check_int("slot_size", 10, 1, 9, " bytes")
    for bad in (True, 2.0, "3"):
        with pytest.raises(TypeError, match="^slots must be an integer, got "):
            check_int("slots", bad, 2, 256)
    assert check_number("scale", np.float32(0.5), 0.1, 2.0) == np.float32(0.5)
    for bad in (0.05, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="^scale must be between 0.1 and 2.0, got "):
            check_number("scale", bad, 0.1, 2.0)
    with pytest.raises(TypeError, match="^scale must be a number between 0.1 and 2.0, got '1'$"):
        check_number("scale", "1", 0.1, 2.0)


def test_bounded_option_for_argparse():
    fps = bounded_option(int, 1, 60)
    assert fps("10") == 10 and fps.__name__ == "int"
    with pytest.raises(argparse.ArgumentTypeError, match="^must be between 1 and 60, got 0$"):
        fps("0")
    with pytest.raises(argparse.ArgumentTypeError, match="^must be an integer between 1 and 60, got 'ten'$"):
        fps("ten")
    with pytest.raises(argparse.ArgumentTypeError, match="^must be between 0.1 and 2.0, got nan$"):
        bounded_option(float, 0.1, 2.0)("nan")
