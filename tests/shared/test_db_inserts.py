"""tirek.db.inserts.insert_new: new records written without the unit of work, as a flush
would write them (column and server defaults, sealed fields), and never an unsealed one."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import DateTime, String, Text, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tirek.crypto import SealedField, SealedRecord, TenantKeys, UnsealedWrite, seal_record
from tirek.db import create_engine
from tirek.db.inserts import insert_new

TENANT = uuid.uuid4()
KEYS = TenantKeys(TENANT, 1, {1: AESGCM(secrets.token_bytes(32))}, b"b" * 32)


class Base(DeclarativeBase):
    pass


class Letter(SealedRecord, Base):
    __tablename__ = "letters"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID]
    body = SealedField()
    body_sealed: Mapped[str | None] = mapped_column("body", Text)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(8)), default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


@pytest.fixture
async def engine(make_database: Callable[[str], Awaitable[Any]]) -> AsyncIterator[AsyncEngine]:
    db = await make_database("inserts")
    engine = create_engine(db.owner_url, pool_size=1, application_name="tirek-inserts-test")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


def letter(body: str) -> Letter:
    record = Letter(id=uuid.uuid4(), tenant_id=TENANT)
    record.body = body
    return record


async def test_a_record_is_written_as_a_flush_would_and_given_what_the_database_made(
    engine: AsyncEngine,
) -> None:
    record = letter("Улица Абая 12")
    seal_record(record, KEYS)
    async with async_sessionmaker(engine)() as session, session.begin():
        await insert_new(session, record)
        assert record not in session  # transient: a later flush cannot write it again
    async with engine.connect() as conn:
        row = (await conn.execute(select(Letter.__table__))).one()
    assert row.id == record.id and row.tenant_id == TENANT
    assert row.body == record.body_sealed and "Абая" not in row.body  # the sealed text
    assert row.key_version == 1
    assert row.tags == []  # a column default, as a flush applies it
    assert record.created_at == row.created_at  # the server default, read back


async def test_an_unsealed_record_is_refused_before_anything_is_written(
    engine: AsyncEngine,
) -> None:
    sealed, unsealed = letter("sealed"), letter("Сабиров Тахир")
    seal_record(sealed, KEYS)
    sessions = async_sessionmaker(engine, class_=AsyncSession)
    async with sessions() as session, session.begin():  # committed: nothing to roll back
        with pytest.raises(UnsealedWrite):
            await insert_new(session, sealed, unsealed)
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM letters")) == 0
