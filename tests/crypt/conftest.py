"""The encryption tests' fixtures (a key file, signed-in admin clients): :mod:`encrypted_recording`."""

from encrypted_recording import key_file, signed_in  # noqa: F401 - fixtures
