"""Sealing data for one tenant: AES-256-GCM under a key derived for that tenant.

Used for the share package of a referral (the one event with personal data): intake seals it
for the receiving tenant, the stream and every other consumer see only ciphertext, and the
referral service opens it for that tenant alone. The associated data binds the ciphertext to
its purpose (e.g. the referral id), so a package moved to another referral fails to open.

Keys: one 32-byte master key from a :class:`KeyProvider` (a local key file for ``make run``,
an environment variable for containers; the interface is what a Vault-transit or cloud-KMS
provider implements), and per tenant and purpose a key derived with HKDF-SHA256. Per-tenant
wrapped data keys and rotation come with encryption at rest (issue 7), behind this interface.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import uuid
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1"


class SealError(ValueError):
    """A sealed value that cannot be opened: wrong tenant, wrong purpose, or tampered."""


class KeyProvider(Protocol):
    def master_key(self) -> bytes:
        """The 32-byte master key."""
        ...


class FileKeyProvider:
    """A master key in a local file, created (mode 0600) on first use. For local runs only."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def master_key(self) -> bytes:
        if not self._path.exists():
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(base64.b64encode(secrets.token_bytes(32)))
        return _decode_key(self._path.read_bytes())


class StaticKeyProvider:
    """A master key given as base64 (from the environment in containers, or by tests)."""

    def __init__(self, encoded: str) -> None:
        self._key = _decode_key(encoded.encode())

    def master_key(self) -> bytes:
        return self._key


def _decode_key(encoded: bytes) -> bytes:
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error as error:
        raise ValueError("the master key is not base64") from error
    if len(key) != 32:
        raise ValueError("the master key must be 32 bytes")
    return key


def key_provider(*, master_key: str | None, master_key_file: str) -> KeyProvider:
    """The environment's key if given, else the local key file."""
    return StaticKeyProvider(master_key) if master_key else FileKeyProvider(Path(master_key_file))


def _tenant_key(provider: KeyProvider, tenant: uuid.UUID, purpose: str) -> AESGCM:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"tirek-tenant-key",
        info=f"tirek/{purpose}/".encode() + tenant.bytes,
    )
    return AESGCM(hkdf.derive(provider.master_key()))


def seal(
    provider: KeyProvider, *, tenant: uuid.UUID, purpose: str, plaintext: bytes, context: bytes
) -> str:
    """Encrypt ``plaintext`` for ``tenant``; ``context`` must be given again to open it."""
    nonce = secrets.token_bytes(12)
    ciphertext = _tenant_key(provider, tenant, purpose).encrypt(nonce, plaintext, context)
    return f"{_VERSION}.{base64.urlsafe_b64encode(nonce + ciphertext).decode()}"


def open_sealed(
    provider: KeyProvider, *, tenant: uuid.UUID, purpose: str, sealed: str, context: bytes
) -> bytes:
    """Decrypt a value from :func:`seal`; raises :class:`SealError` when it does not open."""
    version, _, body = sealed.partition(".")
    if version != _VERSION:
        raise SealError("unknown seal version")
    try:
        raw = base64.urlsafe_b64decode(body.encode())
        return _tenant_key(provider, tenant, purpose).decrypt(raw[:12], raw[12:], context)
    except (InvalidTag, binascii.Error, ValueError) as error:
        raise SealError("the sealed value does not open for this tenant and context") from error


def blind_index(provider: KeyProvider, *, tenant: uuid.UUID, field: str, value: str) -> str:
    """A keyed, truncated HMAC of ``value`` for exact search on a field stored encrypted.

    One key per tenant and field (HKDF from the master key), so equal values in two NGOs, or in
    two fields, give unrelated indexes; 128 bits keep accidental collisions out of reach while
    revealing nothing of the value. ``value`` must already be normalised (a name key, a
    document number in capitals without separators).
    """
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"tirek-blind-index",
        info=f"tirek/blind/{field}/".encode() + tenant.bytes,
    )
    mac = hmac.new(hkdf.derive(provider.master_key()), value.encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def consortium_index(provider: KeyProvider, *, field: str, value: str) -> str:
    """A keyed, truncated HMAC of ``value`` that is equal in every tenant of the consortium.

    Unlike :func:`blind_index` (one key per tenant, so two NGOs' indexes never meet), the key
    here is one per ``field`` for the whole consortium (HKDF from the master key with its own
    salt and info, so it is unrelated to every tenant key): equal values held by two NGOs give
    equal indexes. For cross-NGO matching only (e.g. intake's "a partner NGO may already know
    this person"); store it apart from the tenant's own data and reveal only which tenant
    holds a match. ``value`` must already be normalised. Rotating the master key changes every
    index: rebuild them afterwards.
    """
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"tirek-consortium-index",
        info=f"tirek/consortium/{field}".encode(),
    )
    mac = hmac.new(hkdf.derive(provider.master_key()), value.encode(), hashlib.sha256)
    return mac.hexdigest()[:32]
