"""Blind indexes: a keyed, truncated HMAC of a normalised value, for exact search on a field
stored encrypted.

The key is the tenant's own random blind-index key (:mod:`tirek.crypto.keyring`), wrapped by
the master key like its data keys, so rotating the master key leaves every index valid; each
field gets its own subkey (HMAC of the field name), so equal values in two NGOs, or in two
fields, give unrelated indexes. 128 bits keep accidental collisions out of reach while
revealing nothing of the value.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["blind_index", "field_key"]


def field_key(tenant_key: bytes, field: str) -> bytes:
    """The subkey of one field under a tenant's blind-index key."""
    return hmac.new(tenant_key, b"tirek/blind/" + field.encode(), hashlib.sha256).digest()


def blind_index(tenant_key: bytes, *, field: str, value: str) -> str:
    """The index of ``value`` (already normalised: a name key, a document number in capitals
    without separators) in ``field``: 32 hex characters."""
    mac = hmac.new(field_key(tenant_key, field), value.encode(), hashlib.sha256)
    return mac.hexdigest()[:32]
