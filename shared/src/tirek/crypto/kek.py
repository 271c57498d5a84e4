"""Key-encryption keys (master keys) behind :class:`KeyProvider`: wrap and unwrap, nothing more.

The master key never leaves its provider: callers hand it a key to wrap and get back an opaque
:class:`WrappedKey` naming the master key (``kek_id``) that wrapped it, and hand that back to
unwrap. A Vault-transit provider implements the same two methods with ``transit/encrypt`` and
``transit/decrypt`` (the ``context`` as associated data), a cloud KMS with ``Encrypt`` and
``Decrypt`` (the ``context`` as encryption context); neither ever shows the master key.

Rotation: a provider wraps with its *current* master key and unwraps with the current one or
any *accepted* older (or, while a switch is being rolled out, newer) one, chosen by the
``kek_id`` stored with the wrapped key. Services' ``keys rewrap`` commands then re-wrap every
stored data key under the current master key, after which the old one can be retired.

The local providers hold 32-byte AES keys in the process: :class:`FileKeyProvider` for
``make run`` (``.tirek/keys/master.key``, created 0600 on first use, and older keys one per
line in ``master.key.accepted``), :class:`StaticKeyProvider` for containers
(``TIREK_MASTER_KEY`` and ``TIREK_MASTER_KEYS_ACCEPTED``, base64, comma-separated).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tirek.crypto.errors import KeyUnavailable

__all__ = [
    "FileKeyProvider",
    "KeyProvider",
    "LocalKeyProvider",
    "StaticKeyProvider",
    "WrappedKey",
    "decode_key",
    "kek_id_of",
    "key_provider",
    "new_encoded_key",
]

_WRAP_AAD = b"tirek/wrap/v1\x00"


@dataclass(frozen=True)
class WrappedKey:
    """A key wrapped by the master key ``kek_id``; ``blob`` is opaque to everyone but the provider."""

    kek_id: str
    blob: bytes


class KeyProvider(Protocol):
    """Where the master key lives. Implementations never expose it."""

    def current_kek_id(self) -> str:
        """Id of the master key that :meth:`wrap` uses now."""
        ...

    def wrap(self, key: bytes, *, context: bytes) -> WrappedKey:
        """Encrypt ``key`` under the current master key, bound to ``context``."""
        ...

    def unwrap(self, wrapped: WrappedKey, *, context: bytes) -> bytes:
        """The key inside ``wrapped``; raises :class:`KeyUnavailable` when this provider does
        not hold the master key it names, or it does not open with ``context``."""
        ...


def kek_id_of(master_key: bytes) -> str:
    """A master key's public id: a keyed fingerprint that reveals nothing of the key."""
    return hmac.new(master_key, b"tirek/kek-id", hashlib.sha256).hexdigest()[:16]


def decode_key(encoded: str | bytes) -> bytes:
    """A 32-byte key from its base64 form."""
    raw = encoded.encode() if isinstance(encoded, str) else encoded
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except binascii.Error as error:
        raise ValueError("a master key is not base64") from error
    if len(key) != 32:
        raise ValueError("a master key must be 32 bytes")
    return key


def new_encoded_key() -> str:
    """A fresh random 256-bit key, base64 (what ``openssl rand -base64 32`` prints)."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


class LocalKeyProvider:
    """Master keys held in this process: ``current`` wraps, it and every ``accepted`` unwraps."""

    def __init__(self, current: bytes, accepted: Iterable[bytes] = ()) -> None:
        if len(current) != 32:
            raise ValueError("a master key must be 32 bytes")
        self._current = current
        self._keys = {kek_id_of(current): current}
        for key in accepted:
            if len(key) != 32:
                raise ValueError("a master key must be 32 bytes")
            self._keys.setdefault(kek_id_of(key), key)

    def current_kek_id(self) -> str:
        return kek_id_of(self._current)

    def wrap(self, key: bytes, *, context: bytes) -> WrappedKey:
        nonce = secrets.token_bytes(12)
        blob = nonce + AESGCM(self._current).encrypt(nonce, key, _WRAP_AAD + context)
        return WrappedKey(self.current_kek_id(), blob)

    def unwrap(self, wrapped: WrappedKey, *, context: bytes) -> bytes:
        master = self._keys.get(wrapped.kek_id)
        if master is None:
            raise KeyUnavailable(
                f"a key is wrapped under master key {wrapped.kek_id}, which this service does "
                "not hold (retired, or not yet configured)"
            )
        try:
            return AESGCM(master).decrypt(wrapped.blob[:12], wrapped.blob[12:], _WRAP_AAD + context)
        except (InvalidTag, ValueError) as error:
            raise KeyUnavailable(
                "a wrapped key does not open for its tenant and purpose (moved or tampered)"
            ) from error

    def legacy_master_keys(self) -> Sequence[bytes]:
        """Every held master key, for values sealed before wrapped keys existed (``v1``)."""
        return list(self._keys.values())


class StaticKeyProvider(LocalKeyProvider):
    """Master keys given as base64 (from the environment in containers, or by tests)."""

    def __init__(self, encoded: str, accepted: Iterable[str] | str = ()) -> None:
        if isinstance(accepted, str):
            accepted = [part for part in accepted.split(",") if part.strip()]
        super().__init__(decode_key(encoded), [decode_key(a) for a in accepted])


class FileKeyProvider:
    """The master key in a local file, created (mode 0600) on first use; for local runs only.

    Older (or, during a switch, newer) keys that must still unwrap live one per line in
    ``<file>.accepted``. Both files are read on every call, so a key rotated on disk
    (``python -m tirek.crypto rotate-master-file``) reaches running services at once.
    """

    def __init__(self, path: Path) -> None:
        self._path = path

    @property
    def accepted_path(self) -> Path:
        return self._path.with_name(self._path.name + ".accepted")

    def _provider(self) -> LocalKeyProvider:
        if not self._path.exists():
            self._path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process created it first
            else:
                with os.fdopen(fd, "w") as out:
                    out.write(new_encoded_key())
        accepted: list[bytes] = []
        if self.accepted_path.exists():
            lines = self.accepted_path.read_text().splitlines()
            accepted = [decode_key(line) for line in lines if line.strip()]
        return LocalKeyProvider(decode_key(self._path.read_bytes()), accepted)

    def current_kek_id(self) -> str:
        return self._provider().current_kek_id()

    def wrap(self, key: bytes, *, context: bytes) -> WrappedKey:
        return self._provider().wrap(key, context=context)

    def unwrap(self, wrapped: WrappedKey, *, context: bytes) -> bytes:
        return self._provider().unwrap(wrapped, context=context)

    def legacy_master_keys(self) -> Sequence[bytes]:
        return self._provider().legacy_master_keys()

    def rotate(self) -> tuple[str, str]:
        """Make a new current master key; the old one moves to the accepted file.

        Returns (old id, new id). Run every service's ``keys rewrap`` next, then
        :meth:`retire` the old key.
        """
        old = self._provider()
        old_key = self._path.read_text().strip()
        lines = self.accepted_path.read_text().splitlines() if self.accepted_path.exists() else []
        self._write_private(self.accepted_path, "\n".join([old_key, *lines]) + "\n")
        self._write_private(self._path, new_encoded_key())
        return old.current_kek_id(), self.current_kek_id()

    def retire(self, kek_id: str) -> bool:
        """Drop the accepted master key ``kek_id``; whether it was there."""
        if not self.accepted_path.exists():
            return False
        lines = [line for line in self.accepted_path.read_text().splitlines() if line.strip()]
        kept = [line for line in lines if kek_id_of(decode_key(line)) != kek_id]
        self._write_private(self.accepted_path, "".join(f"{line}\n" for line in kept))
        return len(kept) != len(lines)

    @staticmethod
    def _write_private(path: Path, content: str) -> None:
        temporary = path.with_name(path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(content)
        os.replace(temporary, path)


def key_provider(
    *, master_key: str | None, master_key_file: str, accepted_master_keys: str = ""
) -> KeyProvider:
    """The environment's master key if given (with ``accepted_master_keys``, base64 and
    comma-separated), else the local key file."""
    if master_key:
        return StaticKeyProvider(master_key, accepted_master_keys)
    return FileKeyProvider(Path(master_key_file))
