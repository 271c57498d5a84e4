"""Keys and encryption of personal data: per-tenant data keys wrapped by a master key.

The key hierarchy:

- a **master key** (key-encryption key) behind a :class:`KeyProvider` (:mod:`.kek`): a local
  key file for ``make run``, the environment for containers, or a Vault-transit / cloud-KMS
  provider implementing ``wrap``/``unwrap``; it never leaves its provider;
- per tenant, in the owning service's database (:mod:`.store`), random 256-bit **data keys**
  (versioned, rotatable) and one **blind-index key**, stored only wrapped by the master key;
- a :class:`Keyring` (:mod:`.keyring`) caches a tenant's unwrapped keys as :class:`TenantKeys`.

What they protect:

- personal fields at rest, AES-256-GCM bound to (tenant, table, row, field) (:mod:`.aead`),
  declared on ORM models with :class:`SealedField` and opened or sealed explicitly
  (:mod:`.records`);
- exact search on them through blind indexes (:mod:`.blind`);
- values in transit for one tenant, such as a referral's share package (:func:`seal`,
  :mod:`.seal`): envelope-encrypted under the master key, re-encrypted at rest by whoever keeps
  them;
- rotation (:mod:`.rotation`): re-wrap every key under a new master key, or re-encrypt one
  tenant's rows under a new data key, online and resumable.
"""

from tirek.crypto.aead import FieldRef
from tirek.crypto.errors import (
    CryptoError,
    DecryptionError,
    KeyUnavailable,
    RecordNotOpened,
    SealError,
    UnsealedWrite,
)
from tirek.crypto.kek import (
    FileKeyProvider,
    KeyProvider,
    LocalKeyProvider,
    StaticKeyProvider,
    WrappedKey,
    key_provider,
)
from tirek.crypto.keyring import CONSORTIUM, Keyring, TenantKeys
from tirek.crypto.records import SealedField, SealedRecord, open_record, seal_record
from tirek.crypto.seal import open_sealed, seal
from tirek.settings import ServiceSettings

__all__ = [
    "CONSORTIUM",
    "CryptoError",
    "DecryptionError",
    "FieldRef",
    "FileKeyProvider",
    "KeyProvider",
    "KeyUnavailable",
    "Keyring",
    "LocalKeyProvider",
    "RecordNotOpened",
    "SealError",
    "SealedField",
    "SealedRecord",
    "StaticKeyProvider",
    "TenantKeys",
    "UnsealedWrite",
    "WrappedKey",
    "key_provider",
    "key_provider_for",
    "open_record",
    "open_sealed",
    "seal",
    "seal_record",
]


def key_provider_for(settings: ServiceSettings) -> KeyProvider:
    """The master-key provider a service's settings describe (``TIREK_MASTER_KEY`` and
    ``TIREK_MASTER_KEYS_ACCEPTED``, else the local key file)."""
    return key_provider(
        master_key=settings.master_key,
        master_key_file=settings.master_key_file,
        accepted_master_keys=settings.master_keys_accepted,
    )
