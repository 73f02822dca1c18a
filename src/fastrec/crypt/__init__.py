"""Encryption at rest (issue 13): envelope keys and the chunked AEAD file format.

- :mod:`~fastrec.crypt.keys`: key-encryption keys (the KeyEncryptionKey protocol a KMS/HSM
  can implement, a local key ring from FASTREC_ENCRYPTION_KEY_FILE / FASTREC_ENCRYPTION_KEY);
- :mod:`~fastrec.crypt.keystore`: one session key per session, wrapped by a KEK, kept
  apart from the recordings; crypto-shredding destroys it;
- :mod:`~fastrec.crypt.container`: the encrypted file format (chunks aligned with the MP4
  fragments, random access by chunk);
- :mod:`~fastrec.crypt.context`: which key ring and key store read a recordings directory.
"""
