"""Privacy: what the recorder may keep about a connection and the people in it.

This folder holds the rules that decide what reaches metadata, logs and events --
today :mod:`fastrec.privacy.connection` (connection_info without credentials); later the
privacy rules and the PII patterns used to mask what is recorded.
"""
