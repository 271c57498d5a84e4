"""Idempotency keys: a retried request answers with its first result instead of acting twice.

A client that sends ``Idempotency-Key`` with a request that changes something (and retries
with the same key after a timeout or a dropped connection) gets one effect. The key is claimed
by the use case's own unit of work and the answer is stored in that same transaction, so:

- a crash before the commit leaves nothing: no effect, no key (the retry acts);
- a crash after the commit, before the client heard the answer, leaves both: the retry gets
  the stored answer (status and body), not a second effect;
- two concurrent requests with one key give one effect: the second one's claim waits on the
  first's uncommitted key row (a unique-index wait in PostgreSQL), then answers the stored
  result; if the first rolls back, the second acts. A claim that waits longer than
  :data:`CLAIM_WAIT` gives up with :class:`IdempotencyKeyInUse` (409, retry later);
- the same key with a different request (method, path or body) is refused
  (:class:`IdempotencyKeyReused`, 422) and changes nothing.

Keys are scoped to the caller: ``(tenant, principal, key)``. They expire after a TTL (24 h by
default; :func:`purge_expired_keys` deletes them, run hourly by every service). The stored
body is sealed for the caller's tenant (:mod:`tirek.crypto`): an answer may hold a person's
name, and this table must not become a plaintext copy of encrypted data. Errors (4xx, 5xx)
are never stored: the transaction that raised them rolled back, key included.

The HTTP side (header, fingerprint, answering a stored result) is :mod:`tirek.web.idempotency`;
:class:`tirek.db.UnitOfWork` claims the key and hands its open transaction over.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy import bindparam, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from tirek.crypto import KeyProvider, SealError, open_sealed, seal
from tirek.db.rls import tenant_policy_statements
from tirek.db.unit_of_work import set_tenant

if TYPE_CHECKING:
    from alembic.operations import Operations

__all__ = [
    "CLAIM_WAIT",
    "DEFAULT_TTL",
    "PURGE_SETTING",
    "IdempotencyError",
    "IdempotencyKeyInUse",
    "IdempotencyKeyReused",
    "IdempotentRequest",
    "StoredResult",
    "create_idempotency_table",
    "drop_idempotency_table",
    "idempotency_keys",
    "idempotency_metadata",
    "purge_expired_keys",
]

TABLE: Final = "idempotency_keys"
#: How long a key answers with its first result.
DEFAULT_TTL: Final = timedelta(hours=24)
#: How long a claim waits for a concurrent request holding the same key.
CLAIM_WAIT: Final = timedelta(seconds=10)
#: The transaction-local setting that lets :func:`purge_expired_keys` see expired rows of
#: every tenant (and nothing else).
PURGE_SETTING: Final = "app.purge_idempotency_keys"
_SEAL_PURPOSE: Final = "idempotency"
_LOCK_NOT_AVAILABLE: Final = "55P03"

#: The kernel's MetaData for this table: add it to a service's Alembic ``target_metadata``.
idempotency_metadata: Final = sa.MetaData()


def _columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("tenant_id", sa.Uuid(), primary_key=True),
        # The caller's user id (token ``sub``).
        sa.Column("principal", sa.Text(), primary_key=True),
        sa.Column("key", sa.Text(), primary_key=True),
        # SHA-256 of method, path and body: the same key with another request is refused.
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=True),
        sa.Column("media_type", sa.Text(), nullable=True),
        # The answer's body, sealed for the tenant (tirek.crypto.seal).
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    ]


_EXPIRES_INDEX: Final = "idempotency_keys_expires_at_idx"

idempotency_keys: Final = sa.Table(
    TABLE, idempotency_metadata, *_columns(), sa.Index(_EXPIRES_INDEX, "expires_at")
)


def create_idempotency_table(op: Operations, app_role: str) -> None:
    """In a service's Alembic migration: create ``idempotency_keys`` for ``app_role``.

    The table has FORCE-d tenant row-level security like every tenant-owned table, plus one
    narrow policy: a transaction that set :data:`PURGE_SETTING` sees (and may delete) expired
    rows of every tenant, so the hourly purge needs no tenant. Grants SELECT, INSERT, UPDATE,
    DELETE to ``app_role``.
    """
    op.create_table(TABLE, *_columns())
    op.create_index(_EXPIRES_INDEX, TABLE, ["expires_at"])
    for statement in tenant_policy_statements(TABLE):
        op.execute(statement)
    expired = f"(expires_at <= now() AND current_setting('{PURGE_SETTING}', true) = 'on')"
    for command in ("SELECT", "DELETE"):
        op.execute(
            f"CREATE POLICY expired_purge_{command.lower()} ON {TABLE} "
            f"FOR {command} USING {expired}"
        )
    role = op.get_context().dialect.identifier_preparer.quote(app_role)
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {TABLE} TO {role}")


def drop_idempotency_table(op: Operations) -> None:
    """The downgrade of :func:`create_idempotency_table`."""
    op.drop_table(TABLE)


class IdempotencyError(Exception):
    """Base of what a claim can answer instead of letting the request act."""


class IdempotencyKeyReused(IdempotencyError):
    """The key was used for a different request (method, path or body)."""


class IdempotencyKeyInUse(IdempotencyError):
    """A concurrent request with the same key is still running."""


class StoredResult(IdempotencyError):
    """The key already has an answer: send it again instead of acting."""

    def __init__(self, *, status_code: int, media_type: str | None, body: bytes) -> None:
        super().__init__(f"stored result {status_code}")
        self.status_code = status_code
        self.media_type = media_type
        self.body = body


_CLAIM = text(
    "INSERT INTO idempotency_keys (tenant_id, principal, key, fingerprint, expires_at) "
    "VALUES (:tenant_id, :principal, :key, :fingerprint, now() + make_interval(secs => :ttl)) "
    "ON CONFLICT (tenant_id, principal, key) DO UPDATE SET "
    "fingerprint = EXCLUDED.fingerprint, status_code = NULL, media_type = NULL, "
    "response = NULL, created_at = now(), expires_at = EXCLUDED.expires_at "
    "WHERE idempotency_keys.expires_at <= now() RETURNING true"
).bindparams(bindparam("tenant_id", type_=sa.Uuid()))
_STORED = text(
    "SELECT fingerprint, status_code, media_type, response FROM idempotency_keys "
    "WHERE tenant_id = :tenant_id AND principal = :principal AND key = :key"
).bindparams(bindparam("tenant_id", type_=sa.Uuid()))
_ANSWER = text(
    "UPDATE idempotency_keys SET status_code = :status_code, media_type = :media_type, "
    "response = :response WHERE tenant_id = :tenant_id AND principal = :principal AND key = :key"
).bindparams(bindparam("tenant_id", type_=sa.Uuid()))
# The previous value is read (materialised) before the new one is set.
_LOCK_TIMEOUT = text(
    "WITH p AS MATERIALIZED (SELECT current_setting('lock_timeout') AS previous) "
    "SELECT p.previous, set_config('lock_timeout', :t, true) FROM p"
)
_RESTORE_LOCK_TIMEOUT = text("SELECT set_config('lock_timeout', :t, true)")


class _State(enum.Enum):
    NEW = "new"
    #: A unit of work claimed the key and is running the use case.
    CLAIMED = "claimed"
    #: The use case finished; its transaction waits for the answer (:meth:`finish`).
    HELD = "held"
    DONE = "done"


@dataclass(frozen=True)
class _Scope:
    tenant_id: uuid.UUID
    principal: str
    key: str

    def params(self) -> dict[str, Any]:
        return {"tenant_id": self.tenant_id, "principal": self.principal, "key": self.key}

    def seal_context(self) -> bytes:
        return f"{self.principal}\x00{self.key}".encode()


class IdempotentRequest:
    """One request's ``Idempotency-Key``, bound to its caller.

    The first :class:`~tirek.db.UnitOfWork` given it claims the key in its transaction and,
    on success, does not commit: it hands the transaction over (:meth:`hold`), and the HTTP
    layer commits it with the answer (:meth:`finish`) or rolls it back (:meth:`abandon`).
    """

    def __init__(
        self,
        *,
        key: str,
        fingerprint: str,
        tenant_id: uuid.UUID,
        principal: str,
        keys: KeyProvider,
        ttl: timedelta = DEFAULT_TTL,
        claim_wait: timedelta = CLAIM_WAIT,
    ) -> None:
        self._scope = _Scope(tenant_id, principal, key)
        self.fingerprint = fingerprint
        self._keys = keys
        self._ttl = ttl
        self._claim_wait = claim_wait
        self._state = _State.NEW
        self._session: AsyncSession | None = None

    @property
    def tenant_id(self) -> uuid.UUID:
        return self._scope.tenant_id

    @property
    def claimable(self) -> bool:
        """No unit of work holds the key yet (or the one that did rolled back)."""
        return self._state is _State.NEW

    @property
    def held(self) -> bool:
        """A finished use case's transaction waits for :meth:`finish` or :meth:`abandon`."""
        return self._state is _State.HELD

    async def claim(self, session: AsyncSession, *, current_tenant: uuid.UUID | None) -> None:
        """Claim the key in ``session``'s transaction (whose tenant is ``current_tenant``).

        Returns when the request may act. Raises :class:`StoredResult` when the key already
        answered this request, :class:`IdempotencyKeyReused` when it answered another one,
        :class:`IdempotencyKeyInUse` when a concurrent holder did not finish in time.
        """
        if self._state is not _State.NEW:
            raise RuntimeError("the idempotency key was already claimed")
        if current_tenant != self.tenant_id:
            await set_tenant(session, self.tenant_id)
        previous = (
            await session.execute(
                _LOCK_TIMEOUT, {"t": f"{int(self._claim_wait.total_seconds() * 1000)}ms"}
            )
        ).scalar_one()
        params = self._scope.params()
        try:
            claimed = await session.scalar(
                _CLAIM,
                {**params, "fingerprint": self.fingerprint, "ttl": self._ttl.total_seconds()},
            )
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
                raise IdempotencyKeyInUse("a request with this key is still running") from None
            raise
        await session.execute(_RESTORE_LOCK_TIMEOUT, {"t": previous})
        if not claimed:
            row = (await session.execute(_STORED, params)).one_or_none()
            self._refuse(row)
        if current_tenant != self.tenant_id:
            await set_tenant(session, current_tenant)
        self._state = _State.CLAIMED

    def _refuse(self, row: sa.Row[Any] | None) -> None:
        if row is None or row.status_code is None:
            # Deleted by the purge between the two statements, or never answered: a retry
            # of the claim settles it.
            raise IdempotencyKeyInUse("the key is being settled; retry")
        if row.fingerprint != self.fingerprint:
            raise IdempotencyKeyReused("the key was used for a different request")
        try:
            body = open_sealed(
                self._keys,
                tenant=self.tenant_id,
                purpose=_SEAL_PURPOSE,
                sealed=row.response or "",
                context=self._scope.seal_context(),
            )
        except SealError:
            # The master key changed since: the answer is lost, the effect is not repeated.
            raise IdempotencyKeyReused("the stored answer can no longer be read") from None
        raise StoredResult(status_code=row.status_code, media_type=row.media_type, body=body)

    def release(self) -> None:
        """The claiming unit of work rolled back: the key is free again (nothing was stored)."""
        if self._state is _State.CLAIMED:
            self._state = _State.NEW

    def hold(self, session: AsyncSession) -> None:
        """The claiming unit of work succeeded: keep its transaction open for the answer."""
        if self._state is not _State.CLAIMED:
            raise RuntimeError("hold() without a claim")
        self._session = session
        self._state = _State.HELD

    async def finish(self, *, status_code: int, media_type: str | None, body: bytes) -> None:
        """Store the answer in the held transaction and commit effect and answer together."""
        session = self._take()
        try:
            await set_tenant(session, self.tenant_id)
            sealed = seal(
                self._keys,
                tenant=self.tenant_id,
                purpose=_SEAL_PURPOSE,
                plaintext=body,
                context=self._scope.seal_context(),
            )
            await session.execute(
                _ANSWER,
                {
                    **self._scope.params(),
                    "status_code": status_code,
                    "media_type": media_type,
                    "response": sealed,
                },
            )
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        finally:
            await session.close()

    async def abandon(self) -> None:
        """Roll the held transaction back (the answer was an error): no effect, no key."""
        if self._state is not _State.HELD:
            return
        session = self._take()
        try:
            await session.rollback()
        finally:
            await session.close()

    def _take(self) -> AsyncSession:
        session = self._session
        if session is None or self._state is not _State.HELD:
            raise RuntimeError("no held transaction")
        self._session = None
        self._state = _State.DONE
        return session


_PURGING = text("SELECT set_config('app.purge_idempotency_keys', 'on', true)")
_PURGE = text("DELETE FROM idempotency_keys WHERE expires_at <= now()")


async def purge_expired_keys(session: AsyncSession) -> int:
    """Delete every tenant's expired keys (in the caller's transaction); returns how many."""
    await session.execute(_PURGING)
    result = await session.execute(_PURGE)
    return int(result.rowcount)  # type: ignore[attr-defined]
