"""The ``data_keys`` table: every tenant's data keys, stored only wrapped by the master key.

Each service that encrypts at rest keeps its tenants' keys in its own database, created by its
migrations with :func:`create_data_keys_table` (include :data:`crypto_metadata` in Alembic's
``target_metadata``). A tenant has

- ``data`` keys (AES-256-GCM, random 256 bits), one row per version: exactly one ``active``
  (new ciphertexts use it) and, while a rotation runs, ``retiring`` ones (still read, never
  written; destroyed when no row uses them any more);
- one ``blind`` key (random 256 bits) for blind indexes. It is never rotated with the data
  keys (every index would change), but it is wrapped like them, so a new master key leaves
  every index valid.

The wrapped form is bound to tenant, purpose and version (the wrap's associated data): a row
copied to another tenant does not unwrap. The table has FORCE row-level security like every
tenant-owned table; an offboarded tenant's rows deleted here shred everything encrypted for it.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tirek.crypto.kek import KeyProvider, WrappedKey
from tirek.db.rls import enable_tenant_rls, grant_statements

if TYPE_CHECKING:
    from alembic.operations import Operations

__all__ = [
    "ACTIVE",
    "BLIND",
    "DATA",
    "RETIRING",
    "StoredKey",
    "begin_rotation",
    "create_data_keys_table",
    "create_first_keys",
    "crypto_metadata",
    "data_keys",
    "destroy_retiring",
    "rewrap",
    "stored_keys",
    "wrap_context",
]

DATA: Final = "data"
BLIND: Final = "blind"
ACTIVE: Final = "active"
RETIRING: Final = "retiring"

crypto_metadata = sa.MetaData()


def _columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("tenant_id", sa.Uuid(), primary_key=True),
        sa.Column("purpose", sa.String(16), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        # Which master key wrapped it (a fingerprint, tirek.crypto.kek.kek_id_of).
        sa.Column("kek_id", sa.String(64), nullable=False),
        # The wrapped key, base64.
        sa.Column("wrapped", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    ]


data_keys = sa.Table("data_keys", crypto_metadata, *_columns())
_ONE_ACTIVE: Final = "data_keys_one_active"


def create_data_keys_table(op: Operations, app_role: str) -> None:
    """In a service's Alembic migration: the table, its RLS policy and the app role's grants."""
    op.create_table("data_keys", *_columns())
    op.create_index(
        _ONE_ACTIVE,
        "data_keys",
        ["tenant_id", "purpose"],
        unique=True,
        postgresql_where=sa.text("state = 'active'"),
    )
    enable_tenant_rls(op, "data_keys")
    for statement in grant_statements("data_keys", app_role, "SELECT, INSERT, UPDATE, DELETE"):
        op.execute(statement)


def drop_data_keys_table(op: Operations) -> None:
    op.drop_index(_ONE_ACTIVE, table_name="data_keys")
    op.drop_table("data_keys")


def wrap_context(tenant: uuid.UUID, purpose: str, version: int) -> bytes:
    """What a wrapped key is bound to: a row moved to another tenant or version does not open."""
    return b"tirek/data-key/v1\x00" + tenant.bytes + f"\x00{purpose}\x00{version}".encode()


@dataclass(frozen=True)
class StoredKey:
    tenant: uuid.UUID
    purpose: str
    version: int
    state: str
    wrapped: WrappedKey
    created_at: datetime

    def unwrap(self, provider: KeyProvider) -> bytes:
        return provider.unwrap(
            self.wrapped, context=wrap_context(self.tenant, self.purpose, self.version)
        )


async def stored_keys(session: AsyncSession, tenant: uuid.UUID) -> list[StoredKey]:
    """Every key of ``tenant`` (the session's tenant must be set to it)."""
    rows = await session.execute(
        sa.select(data_keys)
        .where(data_keys.c.tenant_id == tenant)
        .order_by(data_keys.c.purpose, data_keys.c.version)
    )
    return [
        StoredKey(
            tenant=row.tenant_id,
            purpose=row.purpose,
            version=row.version,
            state=row.state,
            wrapped=WrappedKey(row.kek_id, base64.b64decode(row.wrapped)),
            created_at=row.created_at,
        )
        for row in rows
    ]


def _row(provider: KeyProvider, tenant: uuid.UUID, purpose: str, version: int) -> dict[str, object]:
    wrapped = provider.wrap(secrets.token_bytes(32), context=wrap_context(tenant, purpose, version))
    return {
        "tenant_id": tenant,
        "purpose": purpose,
        "version": version,
        "state": ACTIVE,
        "kek_id": wrapped.kek_id,
        "wrapped": base64.b64encode(wrapped.blob).decode(),
    }


async def create_first_keys(
    session: AsyncSession, provider: KeyProvider, tenant: uuid.UUID
) -> None:
    """Give ``tenant`` its first data key and its blind-index key unless it has them.

    Safe against a concurrent creator: the first to commit wins and the other's rows are
    dropped (``ON CONFLICT DO NOTHING``); read the keys back afterwards.
    """
    for purpose in (DATA, BLIND):
        await session.execute(
            insert(data_keys).values(**_row(provider, tenant, purpose, 1)).on_conflict_do_nothing()
        )


async def begin_rotation(
    session: AsyncSession, provider: KeyProvider, tenant: uuid.UUID
) -> tuple[int, datetime, bool]:
    """Make a new active data key for ``tenant``; the active one becomes ``retiring``.

    Resumable: when a rotation is already under way (a ``retiring`` key exists), nothing is
    created. Returns (the active version, when it was created, whether this call created it).
    """
    keys = [k for k in await _locked_data_keys(session, tenant) if k.purpose == DATA]
    active = next((k for k in keys if k.state == ACTIVE), None)
    if active is None:
        raise LookupError(f"tenant {tenant} has no data key to rotate")
    if any(k.state == RETIRING for k in keys):
        return active.version, active.created_at, False
    await session.execute(
        sa.update(data_keys)
        .where(data_keys.c.tenant_id == tenant, data_keys.c.purpose == DATA)
        .values(state=RETIRING)
    )
    version = max(k.version for k in keys) + 1
    created = await session.scalar(
        insert(data_keys)
        .values(**_row(provider, tenant, DATA, version))
        .returning(data_keys.c.created_at)
    )
    assert created is not None
    return version, created, True


async def _locked_data_keys(session: AsyncSession, tenant: uuid.UUID) -> list[StoredKey]:
    await session.execute(
        sa.select(data_keys.c.version).where(data_keys.c.tenant_id == tenant).with_for_update()
    )
    return await stored_keys(session, tenant)


async def destroy_retiring(session: AsyncSession, tenant: uuid.UUID) -> list[int]:
    """Delete ``tenant``'s retiring data keys (no row may use them any more); their versions."""
    result = await session.execute(
        sa.delete(data_keys)
        .where(
            data_keys.c.tenant_id == tenant,
            data_keys.c.purpose == DATA,
            data_keys.c.state == RETIRING,
        )
        .returning(data_keys.c.version)
    )
    return sorted(result.scalars())


async def rewrap(session: AsyncSession, provider: KeyProvider, tenant: uuid.UUID) -> int:
    """Re-wrap every key of ``tenant`` not wrapped by the current master key; how many.

    The keys themselves do not change, so nothing encrypted with them does either, and a
    service that cached them unwrapped keeps working throughout.
    """
    current = provider.current_kek_id()
    done = 0
    for key in await _locked_data_keys(session, tenant):
        if key.wrapped.kek_id == current:
            continue
        context = wrap_context(key.tenant, key.purpose, key.version)
        again = provider.wrap(provider.unwrap(key.wrapped, context=context), context=context)
        await session.execute(
            sa.update(data_keys)
            .where(
                data_keys.c.tenant_id == tenant,
                data_keys.c.purpose == key.purpose,
                data_keys.c.version == key.version,
            )
            .values(kek_id=again.kek_id, wrapped=base64.b64encode(again.blob).decode())
        )
        done += 1
    return done
