"""tirek.db.inserts.insert_new and insert_new_with: new records written without the unit of work, as a flush
would write them (column and server defaults, sealed fields), and never an unsealed one."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    Uuid,
    bindparam,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tirek.crypto import SealedField, SealedRecord, TenantKeys, UnsealedWrite, seal_record
from tirek.db import create_engine
from tirek.db.inserts import insert_new, insert_new_with

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


class Tally(Base):
    __tablename__ = "tallies"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_value: Mapped[int]


class Stamp(Base):
    __tablename__ = "stamps"

    letter_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    word: Mapped[str] = mapped_column(String(8), primary_key=True)


#: What intake's registration does: a number taken from a counter, and rows written alongside.
_NEXT = (
    text("UPDATE tallies SET last_value = last_value + 1 WHERE id = 1 RETURNING last_value")
    .columns(last_value=Integer)
    .cte("next")
)
_COMPUTED = {
    "tags": select(array([func.concat("n", _NEXT.c.last_value)], type_=String(8))).scalar_subquery()
}
_STAMPS = (
    insert(Stamp)
    .from_select(
        ["letter_id", "word"],
        select(
            bindparam("stamp_letter", type_=Uuid()),
            func.unnest(bindparam("words", type_=ARRAY(String(8)))),
        ),
    )
    .cte("stamps")
)


async def test_a_record_is_written_with_a_computed_column_and_rows_alongside(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO tallies (id, last_value) VALUES (1, 41)"))
    first, second = letter("one"), letter("two")
    for record in (first, second):
        seal_record(record, KEYS)
    async with async_sessionmaker(engine)() as session, session.begin():
        for record in (first, second):
            await insert_new_with(
                session,
                record,
                computed=_COMPUTED,
                ctes=(_STAMPS,),
                params={"stamp_letter": record.id, "words": ["a", "b"]},
            )
    assert (first.tags, second.tags) == (["n42"], ["n43"])  # set on the record from RETURNING
    async with engine.connect() as conn:
        tags = dict((await conn.execute(select(Letter.id, Letter.tags))).all())
        stamps = (await conn.execute(select(func.count()).select_from(Stamp))).scalar_one()
    assert tags == {first.id: ["n42"], second.id: ["n43"]}
    assert stamps == 4, "the rows of the CTE nothing reads were not written"
    assert first.created_at is not None  # the server default, read back as before


async def test_insert_new_with_refuses_an_unsealed_record(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO tallies (id, last_value) VALUES (1, 0)"))
    sessions = async_sessionmaker(engine, class_=AsyncSession)
    async with sessions() as session, session.begin():
        with pytest.raises(UnsealedWrite):
            await insert_new_with(
                session,
                letter("Сабиров Тахир"),
                computed=_COMPUTED,
                ctes=(_STAMPS,),
                params={"stamp_letter": uuid.uuid4(), "words": ["a"]},
            )
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT last_value FROM tallies"))).scalar_one() == 0


class Reply(Base):
    """A record that refers to a letter: written with the letter in one statement."""

    __tablename__ = "replies"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    letter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("letters.id"))
    number: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


_REPLY_NUMBER = {"number": select(func.concat("R-", _NEXT.c.last_value)).scalar_subquery()}


async def test_a_record_written_alongside_is_stored_by_the_same_statement_as_a_flush_would(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO tallies (id, last_value) VALUES (1, 6)"))
    written = letter("Улица Абая 12")
    seal_record(written, KEYS)
    reply = Reply(id=uuid.uuid4(), letter_id=written.id)
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    async with async_sessionmaker(engine)() as session, session.begin():
        # The reply refers to the letter: its foreign key holds at the statement's end.
        await insert_new_with(
            session,
            reply,
            computed=_REPLY_NUMBER,
            ctes=(_STAMPS,),
            alongside=(written,),
            params={"stamp_letter": written.id, "words": ["x"]},
        )
    assert len([s for s in statements if "INSERT" in s]) == 1, statements
    assert reply.number == "R-7" and reply.created_at is not None
    async with engine.connect() as conn:
        row = (await conn.execute(select(Letter.__table__))).one()
        replies = (await conn.execute(select(Reply.letter_id, Reply.number))).all()
    assert row.id == written.id and row.body == written.body_sealed and "Абая" not in row.body
    assert row.tags == []  # the column default, applied to a record written alongside too
    assert written.created_at == row.created_at  # what the database filled, read back
    assert replies == [(written.id, "R-7")]


async def test_a_record_written_alongside_must_be_sealed_and_nothing_is_written_otherwise(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO tallies (id, last_value) VALUES (1, 0)"))
    unsealed = letter("Сабиров Тахир")
    sessions = async_sessionmaker(engine, class_=AsyncSession)
    async with sessions() as session, session.begin():
        with pytest.raises(UnsealedWrite):
            await insert_new_with(
                session,
                Reply(id=uuid.uuid4(), letter_id=unsealed.id),
                computed=_REPLY_NUMBER,
                alongside=(unsealed,),
                params={},
            )
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM letters")) == 0
        assert await conn.scalar(text("SELECT last_value FROM tallies")) == 0
