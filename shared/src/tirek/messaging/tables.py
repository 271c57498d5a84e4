"""The kernel's messaging tables, ``outbox`` and ``inbox``, and their migration helper.

Every service database has both, created by the service's first Alembic migration with
:func:`create_messaging_tables`. Include :data:`messaging_metadata` in the service's
``target_metadata`` (Alembic accepts a list) so autogenerate leaves the tables alone.

Neither table has tenant row-level security, on purpose: the outbox relay publishes every
tenant's events from one connection without a tenant set, and the inbox is keyed by consumer
and event id only. Neither holds personal data: an event carries none beyond what its
consumers need (the share package is sealed for its one recipient before it is written).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

if TYPE_CHECKING:
    from alembic.operations import Operations

__all__ = [
    "NOTIFY_CHANNEL",
    "create_messaging_tables",
    "drop_messaging_tables",
    "inbox",
    "messaging_metadata",
    "outbox",
]

#: PostgreSQL channel the outbox trigger notifies after a transaction that wrote events commits.
NOTIFY_CHANNEL: Final = "tirek_outbox"
_NOTIFY_FUNCTION: Final = "tirek_outbox_notify"
_UNPUBLISHED_INDEX: Final = "outbox_unpublished_idx"
_PUBLISHED_INDEX: Final = "outbox_published_at_idx"


def _outbox_columns() -> list[sa.Column[Any]]:
    return [
        # The event id: also the Nats-Msg-Id, so a republished row is dropped by the stream.
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("subject_name", sa.Text(), nullable=False),
        # The whole envelope as JSON.
        sa.Column("payload", JSONB(), nullable=False),
        # W3C traceparent of the span that wrote the event: the relay continues that trace.
        sa.Column("traceparent", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("last_error", sa.Text(), nullable=True),
    ]


def _inbox_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("consumer", sa.Text(), primary_key=True),
        sa.Column("event_id", sa.Uuid(), primary_key=True),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    ]


#: The kernel's MetaData: ``outbox`` and ``inbox`` only.
messaging_metadata: Final = sa.MetaData()

outbox: Final = sa.Table(
    "outbox",
    messaging_metadata,
    *_outbox_columns(),
    # The relay reads only unpublished rows, oldest first: keep that index small.
    sa.Index(_UNPUBLISHED_INDEX, "created_at", postgresql_where=sa.text("published_at IS NULL")),
    sa.Index(_PUBLISHED_INDEX, "published_at"),
)

inbox: Final = sa.Table("inbox", messaging_metadata, *_inbox_columns())


def _quote(op: Operations, identifier: str) -> str:
    return op.get_context().dialect.identifier_preparer.quote(identifier)


def create_messaging_tables(op: Operations, app_role: str) -> None:
    """In a service's first Alembic migration: create ``outbox`` and ``inbox``.

    Also the trigger that NOTIFYs :data:`NOTIFY_CHANNEL` after each statement inserting into
    the outbox (delivered at commit, so the relay wakes only for committed events), the
    indexes, and the grants ``app_role`` needs: SELECT/INSERT/UPDATE/DELETE on ``outbox``
    (write events, mark them published, purge old published rows), SELECT/INSERT on
    ``inbox``.
    """
    op.create_table("outbox", *_outbox_columns())
    op.create_index(
        _UNPUBLISHED_INDEX,
        "outbox",
        ["created_at"],
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_index(_PUBLISHED_INDEX, "outbox", ["published_at"])
    op.create_table("inbox", *_inbox_columns())
    op.execute(
        f"CREATE FUNCTION {_NOTIFY_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN PERFORM pg_notify('{NOTIFY_CHANNEL}', ''); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {_NOTIFY_FUNCTION}()"
    )
    role = _quote(op, app_role)
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON outbox TO {role}")
    op.execute(f"GRANT SELECT, INSERT ON inbox TO {role}")


def drop_messaging_tables(op: Operations) -> None:
    """The downgrade of :func:`create_messaging_tables`."""
    op.drop_table("inbox")
    op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
    op.drop_table("outbox")
    op.execute(f"DROP FUNCTION IF EXISTS {_NOTIFY_FUNCTION}()")
