"""Waiting on a state, never on a fixed sleep: poll a condition until it holds or a hang
guard runs out.  Shared by the Linux suite and the Windows suite (tests/windows), so it
imports nothing platform-specific."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
WAIT = 10.0  # seconds: the default hang guard of wait_for


def wait_until(predicate: Callable[[], object], timeout: float = 20.0, step: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes; returns its last truth."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def wait_for(predicate: Callable[[], T], timeout: float = WAIT, what: str = "condition") -> T:
    """Poll ``predicate`` until it returns something other than None/False; fail after
    ``timeout``."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while value is None or value is False:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {value!r}")
        time.sleep(0.02)
        value = predicate()
    return value
