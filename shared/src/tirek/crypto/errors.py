"""What goes wrong with keys and ciphertexts. Messages name ids, tables and fields, never values."""

from __future__ import annotations


class CryptoError(Exception):
    """Base of every error of :mod:`tirek.crypto`."""


class KeyUnavailable(CryptoError):
    """A key cannot be had: wrapped under a master key this process does not hold, destroyed by
    a rotation, or its wrapped form does not open (moved to another tenant, or tampered)."""


class DecryptionError(CryptoError, ValueError):
    """A stored ciphertext does not open where it is read: it was moved from another row,
    field or tenant, or tampered with. Never answered with garbage or ``None``."""


class SealError(CryptoError, ValueError):
    """A sealed value that cannot be opened: wrong tenant, wrong purpose, or tampered."""


class UnstorableText(CryptoError, ValueError):
    """A value to seal holds a NUL character, which PostgreSQL could not have stored in clear
    either: refused the same way (422), so encryption changes no answer."""


class RecordNotOpened(CryptoError, RuntimeError):
    """A personal field was read from a record that was not opened (decrypted) first."""


class UnsealedWrite(CryptoError, RuntimeError):
    """A record's personal field was changed but not sealed before the session flushed:
    writing it would silently keep the old ciphertext."""
