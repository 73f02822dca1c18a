"""The kinds of personal data fastrec recognises (one vocabulary for detection, rules and
the recording policy).

Detection lives in :mod:`fastrec.privacy.pii`; a privacy rule of the recording policy
names these kinds as its target.  A new kind is added here first, on purpose, with its
detector.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from fastrec.core.mask_kinds import MaskKind


class PiiKind(StrEnum):
    """A kind of personal data found in text (window titles, metadata, on-screen text)."""

    EMAIL = "email"
    PHONE = "phone"
    CARD = "card"  # payment card number: issuer prefix, length and Luhn check
    SSN = "ssn"  # US social security number, never-issued numbers excluded
    IBAN = "iban"  # international bank account number, mod-97 check
    CUSTOM = "custom"  # a configured pattern


#: the mask of a privacy rule on PII that names no ``mask``: the reference's presets
#: (redact e-mail addresses and phone numbers, block the highly sensitive rest)
PII_DEFAULT_MASK: Final = {PiiKind.EMAIL: MaskKind.REDACT, PiiKind.PHONE: MaskKind.REDACT,
                           PiiKind.CARD: MaskKind.BLOCK, PiiKind.SSN: MaskKind.BLOCK,
                           PiiKind.IBAN: MaskKind.BLOCK, PiiKind.CUSTOM: MaskKind.BLOCK}
