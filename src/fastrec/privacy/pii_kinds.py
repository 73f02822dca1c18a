"""The kinds of personal data fastrec recognises (one vocabulary for detection, rules and
the recording policy).

Detection lives in :mod:`fastrec.privacy.pii`; a privacy rule of the recording policy
names these kinds as its target.  A new kind is added here first, on purpose, with its
detector.
"""

from __future__ import annotations

from enum import StrEnum


class PiiKind(StrEnum):
    """A kind of personal data found in text (window titles, metadata, on-screen text)."""

    EMAIL = "email"
    PHONE = "phone"
    CARD = "card"  # payment card number: issuer prefix, length and Luhn check
    SSN = "ssn"  # US social security number, never-issued numbers excluded
    IBAN = "iban"  # international bank account number, mod-97 check
    CUSTOM = "custom"  # a configured pattern
