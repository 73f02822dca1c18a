"""The privacy presets, expressed as privacy rules of the policy document.

The reference's presets (session-recording-features.md, "Preset Rules") select web form
fields; a screen recording has no fields, so each preset here names what shows that data
on a screen:

============== ============================================================ =========
preset         target                                                       mask
============== ============================================================ =========
passwords      password-manager windows (KeePass/KeePassXC, 1Password,      block
               Bitwarden, LastPass, Enpass, Dashlane, Password Safe) and
               any window whose title says "password"
emails         e-mail addresses found on screen (pii: email)                redact
credit_cards   payment card numbers (pii: card)                             block
ssn            US social security numbers (pii: ssn)                        block
phone          phone numbers (pii: phone)                                   redact
============== ============================================================ =========

Highly sensitive data is blocked, as the reference's security defaults say; e-mail
addresses and phone numbers are redacted, as its presets do.  A document that wants
another mask writes its own rule instead of the preset.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from fastrec.core.mask_kinds import MaskKind
from fastrec.policy.document import PrivacyPreset, PrivacyRule, WindowTarget
from fastrec.privacy.pii_kinds import PiiKind

__all__ = ["PASSWORD_MANAGER_PROCESSES", "PRESETS", "preset_rules"]

#: process-name patterns (case-insensitive globs) of password managers, Linux and Windows
PASSWORD_MANAGER_PROCESSES: Final = ("keepass*", "1password*", "bitwarden*", "lastpass*", "enpass*",
                                     "dashlane*", "pwsafe*", "passwordsafe*")


def _rule(preset: PrivacyPreset, suffix: str = "", **target: object) -> PrivacyRule:
    return PrivacyRule.model_validate({"name": f"preset {preset.value}{suffix}", **target})


PRESETS: Final = MappingProxyType({
    PrivacyPreset.PASSWORDS: (
        _rule(PrivacyPreset.PASSWORDS, " (managers)", mask=MaskKind.BLOCK,
              window=WindowTarget.model_validate({"process": list(PASSWORD_MANAGER_PROCESSES)})),
        _rule(PrivacyPreset.PASSWORDS, " (titles)", mask=MaskKind.BLOCK,
              window=WindowTarget.model_validate({"title": ["*password*"]})),
    ),
    PrivacyPreset.EMAILS: (_rule(PrivacyPreset.EMAILS, mask=MaskKind.REDACT, pii=[PiiKind.EMAIL]),),
    PrivacyPreset.CREDIT_CARDS: (_rule(PrivacyPreset.CREDIT_CARDS, mask=MaskKind.BLOCK, pii=[PiiKind.CARD]),),
    PrivacyPreset.SSN: (_rule(PrivacyPreset.SSN, mask=MaskKind.BLOCK, pii=[PiiKind.SSN]),),
    PrivacyPreset.PHONE: (_rule(PrivacyPreset.PHONE, mask=MaskKind.REDACT, pii=[PiiKind.PHONE]),),
})
"""Each preset's rules (every preset of :class:`PrivacyPreset` has an entry)."""


def preset_rules(preset: PrivacyPreset | str) -> tuple[PrivacyRule, ...]:
    """The rules of ``preset``; ValueError naming the allowed presets for an unknown one."""
    try:
        return PRESETS[PrivacyPreset(preset)]
    except ValueError:
        allowed = ", ".join(p.value for p in PrivacyPreset)
        raise ValueError(f"preset={preset!r}: must be one of {allowed}") from None
