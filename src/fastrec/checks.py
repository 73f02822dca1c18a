"""Range checks for numeric arguments, defined once so that every layer says it alike.

The command line (argparse types), the RECORDING_* settings and the core's argument
checks all report a value out of range as ``NAME must be between LOW and HIGH, got
VALUE``: an operator who meets the message in any of them learns the same fact.  This
module imports nothing heavy (an encoder worker and the CLI's start-up use it).
"""

from __future__ import annotations

import argparse
import math
import numbers
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["between", "bounded_option", "check_int", "check_number"]

N = TypeVar("N", int, float)


def between(low: object, high: object) -> str:
    """The allowed range in words: ``between 1 and 60``."""
    return f"between {low} and {high}"


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None,
              unit: str = "") -> int:
    """``value`` when it is an integer (Python's or numpy's, not a bool) within ``low..high``
    (either bound may be None: unbounded); else TypeError (not an integer) or ValueError
    (out of range) naming ``name``, the value and what is allowed (``unit`` follows the
    bounds, e.g. " bytes")."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        allowed = (between(low, high) if low is not None and high is not None
                   else f">= {low}" if low is not None else f"<= {high}")
        raise ValueError(f"{name} must be {allowed}{unit}, got {value}")
    return int(value)


def check_number(name: str, value: Any, low: float, high: float) -> Any:
    """``value`` (unchanged) when it is a finite real number in ``low..high`` (numpy
    scalars included); else TypeError/ValueError naming ``name``, the value and the range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number {between(low, high)}, got {value!r}")
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be {between(low, high)}, got {value!r}")
    return value


def bounded_option(kind: Callable[[str], N], low: N, high: N) -> Callable[[str], N]:
    """An argparse ``type=``: parses with ``kind`` (int or float) and checks the range.

    argparse prefixes the option's name: ``--fps: must be between 1 and 60, got 0``.
    """
    noun = "an integer" if kind is int else "a number"

    def parse(text: str) -> N:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {noun} {between(low, high)}, got {text!r}") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"must be {between(low, high)}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its own messages
    return parse
