"""Sealing a value in transit for one tenant: envelope encryption under the master key.

Used for the share package of a referral (the one event with personal data) and by
notification for channel secrets. A fresh one-time key encrypts the value (AES-256-GCM); the
:class:`~tirek.crypto.kek.KeyProvider` wraps that key under the current master key. Both are
bound to the purpose, the tenant and a context (the referral id, say), so a sealed value moved
to another tenant or referral does not open. Whoever stores a sealed value for longer than its
trip re-encrypts it under its own per-tenant data key (see :mod:`tirek.crypto.keyring`): a
retired master key then leaves nothing unreadable at rest.

Format: ``v2.<kek id>.<base64url wrapped key>.<base64url nonce | ciphertext>``. Values sealed
before wrapped keys existed (``v1.``: a key derived with HKDF from the master key) still open
with a local provider that holds that master key.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import uuid
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tirek.crypto.errors import KeyUnavailable, SealError
from tirek.crypto.kek import KeyProvider, WrappedKey

__all__ = ["open_sealed", "seal"]

_VERSION = "v2"


@runtime_checkable
class _HoldsMasterKeys(Protocol):
    def legacy_master_keys(self) -> list[bytes] | tuple[bytes, ...]: ...


def _aad(tenant: uuid.UUID, purpose: str, context: bytes) -> bytes:
    return b"\x00".join((b"tirek/seal/v2", purpose.encode(), tenant.bytes, context))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def seal(
    provider: KeyProvider, *, tenant: uuid.UUID, purpose: str, plaintext: bytes, context: bytes
) -> str:
    """Encrypt ``plaintext`` for ``tenant``; ``purpose`` and ``context`` must be given again to
    open it."""
    aad = _aad(tenant, purpose, context)
    one_time = secrets.token_bytes(32)
    nonce = secrets.token_bytes(12)
    ciphertext = AESGCM(one_time).encrypt(nonce, plaintext, aad)
    wrapped = provider.wrap(one_time, context=aad)
    return f"{_VERSION}.{wrapped.kek_id}.{_b64(wrapped.blob)}.{_b64(nonce + ciphertext)}"


def open_sealed(
    provider: KeyProvider, *, tenant: uuid.UUID, purpose: str, sealed: str, context: bytes
) -> bytes:
    """Decrypt a value from :func:`seal`; raises :class:`SealError` when it does not open."""
    version, _, body = sealed.partition(".")
    if version == "v1":
        return _open_v1(provider, tenant=tenant, purpose=purpose, body=body, context=context)
    if version != _VERSION:
        raise SealError("unknown seal version")
    aad = _aad(tenant, purpose, context)
    try:
        kek_id, wrapped_b64, data_b64 = body.split(".")
        one_time = provider.unwrap(
            WrappedKey(kek_id, base64.urlsafe_b64decode(wrapped_b64)), context=aad
        )
        raw = base64.urlsafe_b64decode(data_b64)
        return AESGCM(one_time).decrypt(raw[:12], raw[12:], aad)
    except (InvalidTag, binascii.Error, ValueError, KeyUnavailable) as error:
        raise SealError("the sealed value does not open for this tenant and context") from error


def _open_v1(
    provider: KeyProvider, *, tenant: uuid.UUID, purpose: str, body: str, context: bytes
) -> bytes:
    """A value sealed before wrapped keys existed: a key derived from the master key itself."""
    if not isinstance(provider, _HoldsMasterKeys):
        raise SealError("a v1 sealed value opens only where the old master key is held")
    try:
        raw = base64.urlsafe_b64decode(body.encode())
    except (binascii.Error, ValueError) as error:
        raise SealError("the sealed value is not base64") from error
    for master in provider.legacy_master_keys():
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=b"tirek-tenant-key",
            info=f"tirek/{purpose}/".encode() + tenant.bytes,
        )
        try:
            return AESGCM(hkdf.derive(master)).decrypt(raw[:12], raw[12:], context)
        except (InvalidTag, ValueError):
            continue
    raise SealError("the sealed value does not open for this tenant and context")
