"""Privacy: what the recorder may keep about a connection and the people in it.

This folder holds the rules that decide what reaches metadata, logs and events --
:mod:`fastrec.privacy.connection` (connection_info without credentials or personal data)
and :mod:`fastrec.privacy.pii` (personal data in text, of the kinds
:mod:`fastrec.privacy.pii_kinds` names: find it, replace it by markers); later the privacy
rules used to mask what is recorded.
"""
