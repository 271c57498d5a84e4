"""AES-256-GCM encryption of one stored field, bound to where it is stored.

The associated data names the tenant, table, row id and field (:class:`FieldRef`): a
ciphertext copied into another row, another field or another tenant's row does not open there
and raises :class:`DecryptionError`, so a swapped value fails loudly instead of showing one
person's name on another's case.

A ciphertext is text, ``tk1.<key version>.<base64url(nonce | ciphertext | tag)>``; the key
version says which of the tenant's data keys encrypted it (see :mod:`tirek.crypto.keyring`).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import uuid
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tirek.crypto.errors import DecryptionError

__all__ = ["PREFIX", "FieldRef", "decrypt_field", "encrypt_field", "is_ciphertext", "version_of"]

PREFIX: Final = "tk1"
_AAD: Final = b"tirek/field/v1"


@dataclass(frozen=True)
class FieldRef:
    """Where a value is stored: the tenant whose key encrypts it, table, row id and field."""

    tenant: uuid.UUID
    table: str
    row: uuid.UUID | str
    field: str

    def associated_data(self) -> bytes:
        return b"\x00".join(
            (
                _AAD,
                self.tenant.bytes,
                self.table.encode(),
                str(self.row).encode(),
                self.field.encode(),
            )
        )

    def __str__(self) -> str:
        return f"{self.table}.{self.field} of row {self.row}"


def encrypt_field(key: AESGCM, version: int, ref: FieldRef, plaintext: str) -> str:
    """``plaintext`` encrypted for ``ref`` with data key ``version``."""
    nonce = secrets.token_bytes(12)
    sealed = key.encrypt(nonce, plaintext.encode(), ref.associated_data())
    return f"{PREFIX}.{version}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def is_ciphertext(value: str) -> bool:
    return value.startswith(f"{PREFIX}.")


def version_of(token: str, ref: FieldRef) -> int:
    """The data-key version a ciphertext names; :class:`DecryptionError` if it is none."""
    prefix, _, rest = token.partition(".")
    version, _, _ = rest.partition(".")
    if prefix != PREFIX or not version.isdigit():
        raise DecryptionError(f"{ref} is not a ciphertext of this format")
    return int(version)


def decrypt_field(key: AESGCM, ref: FieldRef, token: str) -> str:
    """The plaintext of ``token`` stored at ``ref``; :class:`DecryptionError` otherwise."""
    version_of(token, ref)
    body = token.split(".", 2)[2]
    try:
        raw = base64.urlsafe_b64decode(body.encode())
        return key.decrypt(raw[:12], raw[12:], ref.associated_data()).decode()
    except (InvalidTag, binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise DecryptionError(
            f"{ref} does not decrypt: the value was moved from another row, field or tenant, "
            "or tampered with"
        ) from error
