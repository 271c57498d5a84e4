"""Turn one event into upserts of the projections: idempotent and tolerant of disorder.

Every function here may run twice for one event (a redelivery, a replay racing a live
handler) and may see events of one aggregate in any order (the case's assistance before the
case, an old ``case.updated`` after a newer one): a row's mutable fields change only when the
event is newer than the one that last set them (``state_at``), the first time of each
transition is kept (``LEAST``), and facts that never change are written by whichever event
carries them. Applying the same set of events in any order gives the same rows.

An event never moves a row to another owner: an upsert whose row exists with another tenant
(a case, an assistance record, a contact) or other parties (a referral, a return) changes
nothing and raises :class:`~tirek.events.ForgedTenant`, so the event is dead-lettered with
that reason and its inbox row rolls back with it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    Table,
    Text,
    TextClause,
    Uuid,
    and_,
    bindparam,
    case,
    cast,
    column,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB, Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession

from reporting.models import (
    assistance_facts,
    case_facts,
    contact_facts,
    referral_facts,
    return_facts,
    tenants,
)
from tirek.events import Envelope, ForgedTenant
from tirek.events.admin import TenantOffboarded, TenantOnboarded
from tirek.events.intake import (
    AssistanceRecorded,
    CaseClosed,
    CaseRegistered,
    CaseUpdated,
    ContactRecorded,
)
from tirek.events.referral import (
    ReferralCompleted,
    ReferralDeclined,
    ReferralFacts,
    ReferralOverdue,
    ReferralSent,
    ReturnArrived,
    ReturnFacts,
    ReturnOverdue,
    ReturnPlanned,
)
from tirek.events.registry import UnknownEventType

__all__ = [
    "PROJECTED_TYPES",
    "SWAP_LOCK",
    "Update",
    "Upsert",
    "apply_event",
    "planned_writes",
    "receive",
    "writing_all_tenants",
]

#: Projection writes span tenants (a referral row belongs to two): the RLS policies let a
#: transaction that set this see and write every tenant's rows. Only the projector and the
#: cross-NGO (suppressed) reports set it.
_ALL_TENANTS = text("SELECT set_config('app.all_tenants', 'on', true)")

#: ``referral.<x>`` -> the column holding the first time of that transition.
_TRANSITION_COLUMN = {
    "referral.submitted": "submitted_at",
    "referral.approved": "approved_at",
    "referral.blocked": "blocked_at",
    "referral.sent": "sent_at",
    "referral.accepted": "accepted_at",
    "referral.declined": "declined_at",
    "referral.in_progress": "started_at",
    "referral.completed": "completed_at",
    "referral.cancelled": "cancelled_at",
}

#: Event types that change a projection (everything else is acknowledged and ignored).
PROJECTED_TYPES = frozenset(
    {
        "tenant.onboarded",
        "tenant.offboarded",
        "case.registered",
        "case.updated",
        "case.closed",
        "assistance.recorded",
        "contact.recorded",
        *_TRANSITION_COLUMN,
        "referral.overdue",
        "referral.message_posted",
        "referral.package_purged",
        "return.planned",
        "return.updated",
        "return.arrived",
        "return.overdue",
    }
)


#: Key of the advisory lock between live projection writes (shared) and a rebuild's swap
#: (exclusive): shared advisory locks live in memory, unlike ``FOR SHARE`` row locks, which
#: write to the row and serialise concurrent handlers.
SWAP_LOCK = 0x7265706F  # "repo"


async def writing_all_tenants(session: AsyncSession) -> None:
    """Let the current transaction read and write every tenant's projection rows."""
    await session.execute(_ALL_TENANTS)


#: The inbox row (``tirek.messaging.inbox`` semantics: one ``INSERT ... ON CONFLICT DO
#: NOTHING``, rolled back with the effect) and the open generations in one round trip; a
#: cached ``text()`` because the kernel's ``first_delivery`` compiles an uncacheable statement
#: per call, which dominated the handler's time.
_RECEIVE = text(
    "WITH first AS (INSERT INTO inbox (consumer, event_id) VALUES (:consumer, :event_id) "
    "ON CONFLICT DO NOTHING RETURNING event_id) "
    "SELECT set_config('app.all_tenants', 'on', true), pg_advisory_xact_lock_shared(:lock), "
    "g.active, g.building, EXISTS (SELECT 1 FROM first) AS first "
    "FROM projection_generations g WHERE g.id = 1"
).bindparams(bindparam("event_id", type_=Uuid()))


async def receive(session: AsyncSession, *, consumer: str, event_id: uuid.UUID) -> list[int]:
    """Record ``(consumer, event_id)`` in the inbox and return the generations to write to:
    none when the event was already applied (a redelivery), else the active one and the one
    being rebuilt, if any. The shared advisory lock holds off a rebuild's swap until this
    transaction commits, so no event lands only in a generation about to be dropped.
    """
    row = (
        await session.execute(
            _RECEIVE, {"consumer": consumer, "event_id": event_id, "lock": SWAP_LOCK}
        )
    ).one()
    if not row.first:
        return []
    return [row.active] if row.building is None else [row.active, row.building]


async def apply_event(session: AsyncSession, envelope: Envelope, gens: Sequence[int]) -> bool:
    """Apply ``envelope`` to generations ``gens``; ``False`` when the event is not projected."""
    writes = planned_writes(envelope, gens)
    for write, params in writes:
        written = await session.execute(write.statement, params)
        # An upsert answers its row unless the row belongs to someone else; a plain update
        # (a former partner's label) answers nothing and proves nothing.
        if isinstance(write, Upsert) and written.first() is None:
            raise ForgedTenant(
                f"{envelope.type}: the {write.table.name} row it names belongs to another tenant"
            )
    return bool(writes) or envelope.type in PROJECTED_TYPES


def planned_writes(
    envelope: Envelope, gens: Sequence[int]
) -> list[tuple[Upsert | Update, dict[str, Any]]]:
    """The writes that apply ``envelope`` to generations ``gens`` (none when it is not
    projected), each with its parameters. Upserts commute (see the module docstring), so writes
    of several events may be grouped by statement and sent together
    (:meth:`Upsert.write_many`, which also tells which rows were refused)."""
    if envelope.type not in PROJECTED_TYPES:
        return []
    try:
        payload = envelope.payload()
    except UnknownEventType:
        return []
    return [
        (upsert, upsert.params(values))
        for generation in gens
        for upsert, values in _statements(envelope, payload, generation)
    ]


def _newer(table: Table, stmt: Insert) -> ColumnElement[bool]:
    stored = table.c.state_at
    return stored.is_(None) | (stmt.excluded.state_at > stored)


def _guarded(table: Table, stmt: Insert, columns: Iterable[str]) -> dict[str, Any]:
    """``SET column = excluded.column`` only when the incoming event is newer."""
    newer = _newer(table, stmt)
    return {
        name: case((newer, stmt.excluded[name]), else_=table.c[name])
        for name in (*columns, "state_at")
    }


def _first(table: Table, stmt: Insert, columns: Iterable[str]) -> dict[str, Any]:
    """``SET column = LEAST(stored, incoming)`` (LEAST skips NULLs)."""
    return {name: func.least(table.c[name], stmt.excluded[name]) for name in columns}


def _keep(table: Table, stmt: Insert, columns: Iterable[str]) -> dict[str, Any]:
    """``SET column = COALESCE(incoming, stored)`` for facts that never change."""
    return {name: func.coalesce(stmt.excluded[name], table.c[name]) for name in columns}


@dataclass(frozen=True, eq=False)
class Upsert:
    """An upsert of every column of ``table``, compiled once: of one row (``statement``) and
    of many (``many``: the rows as one JSON array, read with ``jsonb_to_recordset``).

    SQLAlchemy never caches the compilation of PostgreSQL's ``INSERT ... ON CONFLICT``
    (``postgresql.Insert.inherit_cache = False``), and compiling it per event cost more than
    the database round trip; a ``text()`` with typed bind parameters is cached.

    ``owners`` are the columns a stored row must share with the event for the upsert to change
    it: a row with other owners is left as it is and not returned.
    """

    table: Table
    statement: TextClause
    many: TextClause
    owners: tuple[str, ...] = ()

    def params(self, values: dict[str, Any]) -> dict[str, Any]:
        return dict.fromkeys(self.table.columns.keys()) | values

    async def write_many(self, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
        """Upsert ``rows`` (each of :meth:`params`) in as few statements as their keys allow;
        returns how many were refused (their stored row has other owners).

        One statement per group instead of one per row: the projections' statement triggers
        (the report rollups) then run once for the group. A statement may not change a row
        twice, so rows naming the same key go to successive statements; upserts commute, so
        that order is as good as any."""
        keys = [column.key for column in self.table.primary_key.columns]
        waves: list[list[dict[str, Any]]] = []
        seen: Counter[tuple[Any, ...]] = Counter()
        for row in rows:
            key = tuple(row[name] for name in keys)
            if seen[key] == len(waves):
                waves.append([])
            waves[seen[key]].append(row)
            seen[key] += 1
        refused = 0
        for wave in waves:
            written = await session.execute(self.many, {"rows": json.dumps(wave, default=str)})
            refused += len(wave) - len(written.all())
        return refused


def _compile(table: Table, stmt: ClauseElement) -> TextClause:
    columns = list(table.columns)
    dialect = postgresql.psycopg2.dialect()  # type: ignore[no-untyped-call]
    compiled = stmt.compile(dialect=dialect, column_keys=[c.key for c in columns])
    # psycopg2's "%(name)s::TYPE" becomes "CAST(:name AS TYPE)" for text().
    sql = re.sub(
        r"%\((\w+)\)s::([A-Za-z_]+(?:\(\d+\))?(?:\[\])?)", r"CAST(:\1 AS \2)", compiled.string
    )
    sql = re.sub(r"%\((\w+)\)s", r":\1", sql)
    return text(sql).bindparams(*(bindparam(c.key, type_=c.type) for c in columns))


def _compile_many(table: Table, stmt: ClauseElement) -> TextClause:
    """:func:`_compile` of a statement whose one parameter is ``rows`` (text, cast to jsonb)."""
    dialect = postgresql.psycopg2.dialect()  # type: ignore[no-untyped-call]
    sql = re.sub(r"%\(rows\)s", ":rows", stmt.compile(dialect=dialect).string)
    return text(sql).bindparams(bindparam("rows", type_=Text()))


def _many_rows(table: Table) -> Any:
    """The rows of a JSON array ``:rows``, one column of ``table``'s type per column."""
    rows = func.jsonb_to_recordset(cast(bindparam("rows", type_=Text()), JSONB))
    typed = rows.table_valued(*(column(c.key, c.type) for c in table.columns))
    return typed.render_derived(name="x", with_types=True)


def _upsert(
    table: Table, build: Callable[[Insert], dict[str, Any]] | None, owners: Sequence[str] = ()
) -> Upsert:
    """Insert, or on conflict set ``build``'s columns; with ``owners``, only where the stored
    row has the same owner columns (else no row is returned: the caller refuses the event).
    Facts that never change (``build`` is None) rewrite their owners, to return the row."""
    keys = list(table.primary_key.columns)

    def on_conflict(stmt: Insert) -> Any:
        set_ = build(stmt) if build is not None else {n: stmt.excluded[n] for n in owners}
        same_owner = [table.c[name] == stmt.excluded[name] for name in owners]
        upsert = stmt.on_conflict_do_update(
            index_elements=keys, set_=set_, where=and_(*same_owner) if same_owner else None
        )
        return upsert.returning(keys[0])

    rows = _many_rows(table)
    many = insert(table).from_select(
        [c.key for c in table.columns], select(*(rows.c[c.key] for c in table.columns))
    )
    return Upsert(
        table,
        _compile(table, on_conflict(insert(table))),
        _compile_many(table, on_conflict(many)),
        tuple(owners),
    )


_CASE_STATE = (
    "sex",
    "age_band",
    "citizenship",
    "categories",
    "exploitation_forms",
    "trm_stage",
    "status",
    "risk_level",
)
_CASE_FIXED = ("person_id", "country", "opened_on", "origin_referral_id")
_RETURN_PLAN = (
    "planned_date",
    "origin_country",
    "destination_country",
    "border_crossing",
    "transport",
)

_TENANT = _upsert(
    tenants, lambda s: _guarded(tenants, s, ("code", "country", "region", "kind", "names"))
)
# case.registered and case.updated: newest state wins; registration facts are kept whenever
# they arrive (an update carries them as NULL).
_OWNER = ("tenant_id",)
_PARTIES = ("sender_tenant", "receiver_tenant")
_CASE_STATE_UPSERT = _upsert(
    case_facts,
    lambda s: _guarded(case_facts, s, _CASE_STATE) | _keep(case_facts, s, _CASE_FIXED),
    _OWNER,
)
_CASE_CLOSED = _upsert(
    case_facts, lambda s: _keep(case_facts, s, ("closed_on", "closure_reason")), _OWNER
)
_ASSISTANCE = _upsert(assistance_facts, None, _OWNER)
_CONTACT = _upsert(contact_facts, None, _OWNER)
_REFERRAL = _upsert(
    referral_facts,
    lambda s: (
        _guarded(referral_facts, s, ("state", "services", "urgency"))
        | _first(referral_facts, s, _TRANSITION_COLUMN.values())
        | _keep(referral_facts, s, ("decline_reason", "outcomes"))
        | {
            # The latest due time wins (an overdue referral's next period).
            "due_at": func.greatest(referral_facts.c.due_at, s.excluded.due_at),
            "overdue_periods": func.greatest(
                referral_facts.c.overdue_periods, s.excluded.overdue_periods
            ),
        }
    ),
    _PARTIES,
)
_RETURN = _upsert(
    return_facts,
    lambda s: (
        _guarded(return_facts, s, _RETURN_PLAN)
        | _first(return_facts, s, ("planned_at", "arrived_at", "overdue_at"))
        | _keep(return_facts, s, ("arrived_on",))
        | {"overdue": return_facts.c.overdue | s.excluded.overdue}
    ),
    _PARTIES,
)


@dataclass(frozen=True)
class Update:
    """A plain cached statement taking exactly the values given."""

    statement: TextClause

    def params(self, values: dict[str, Any]) -> dict[str, Any]:
        return values


#: What reports show of an NGO that left the consortium (``tenant.offboarded``): its facts
#: stay, so that a donor report of a past period reads as it did when it was sent, but no
#: longer under the NGO's name or code — under ``EX-<country>``, one row for every former
#: partner of that country (the country stays, so figures by country do not move either).
#: Only a newer event changes a label, as for every other guarded field.
_FORMER_PARTNER = Update(
    text(
        "UPDATE tenant_labels SET code = 'EX-' || country, region = '', kind = 'former', "
        "names = CAST(:names AS jsonb), state_at = :state_at "
        "WHERE generation = :generation AND id = :id AND state_at < :state_at"
    ).bindparams(bindparam("id", type_=Uuid()))
)
FORMER_PARTNER_NAMES = {"en": "Former partner", "ru": "Бывший партнёр"}


def _statements(
    envelope: Envelope, payload: Any, generation: int
) -> list[tuple[Upsert | Update, dict[str, Any]]]:
    when = envelope.time
    if isinstance(payload, TenantOffboarded):
        return [
            (
                _FORMER_PARTNER,
                {
                    "generation": generation,
                    "id": payload.tenant_id,
                    "names": json.dumps(FORMER_PARTNER_NAMES, ensure_ascii=False),
                    "state_at": when,
                },
            )
        ]
    if isinstance(payload, TenantOnboarded):
        return [
            (
                _TENANT,
                {
                    "generation": generation,
                    "id": payload.tenant_id,
                    "code": payload.code,
                    "country": payload.country,
                    "region": payload.region,
                    "kind": payload.kind,
                    "names": payload.names,
                    "state_at": when,
                },
            )
        ]
    if isinstance(payload, CaseRegistered | CaseUpdated):
        registered = isinstance(payload, CaseRegistered)
        return [
            (
                _CASE_STATE_UPSERT,
                {
                    "generation": generation,
                    "case_id": payload.case_id,
                    "tenant_id": envelope.tenant,
                    "sex": payload.sex.value,
                    "age_band": payload.age_band.value,
                    "citizenship": payload.citizenship,
                    "categories": [c.value for c in payload.categories],
                    "exploitation_forms": [f.value for f in payload.exploitation_forms],
                    "trm_stage": payload.trm_stage.value,
                    "status": payload.status.value,
                    "risk_level": payload.risk_level.value,
                    "state_at": when,
                    "person_id": payload.person_id if registered else None,  # type: ignore[union-attr]
                    "country": payload.country if registered else None,  # type: ignore[union-attr]
                    "opened_on": payload.opened_on if registered else None,  # type: ignore[union-attr]
                    "origin_referral_id": (
                        payload.origin_referral_id if registered else None  # type: ignore[union-attr]
                    ),
                },
            )
        ]
    if isinstance(payload, CaseClosed):
        return [
            (
                _CASE_CLOSED,
                {
                    "generation": generation,
                    "case_id": payload.case_id,
                    "tenant_id": envelope.tenant,
                    "closed_on": payload.closed_on,
                    "closure_reason": payload.reason.value,
                },
            )
        ]
    if isinstance(payload, AssistanceRecorded):
        return [
            (
                _ASSISTANCE,
                {
                    "generation": generation,
                    "assistance_id": payload.assistance_id,
                    "tenant_id": envelope.tenant,
                    "case_id": payload.case_id,
                    "person_id": payload.person_id,
                    "type": payload.type.value,
                    "mode": payload.mode.value,
                    "provided_on": payload.provided_on,
                    "outcome": payload.outcome.value,
                    "project_code": payload.project_code,
                },
            )
        ]
    if isinstance(payload, ContactRecorded):
        return [
            (
                _CONTACT,
                {
                    "generation": generation,
                    "contact_id": payload.contact_id,
                    "tenant_id": envelope.tenant,
                    "received_on": payload.received_on,
                    "mode": payload.mode.value,
                    "topic": payload.topic.value,
                    "country": payload.country,
                    "sex": payload.sex.value,
                    "project_code": payload.project_code,
                },
            )
        ]
    if isinstance(payload, ReferralFacts):
        return [(_REFERRAL, _referral(envelope.type, payload, generation))]
    if isinstance(payload, ReturnFacts):
        return [(_RETURN, _return(payload, generation))]
    return []


def _referral(event_type: str, payload: ReferralFacts, generation: int) -> dict[str, Any]:
    values: dict[str, Any] = {
        "generation": generation,
        "referral_id": payload.referral_id,
        "sender_tenant": payload.sender_tenant,
        "receiver_tenant": payload.receiver_tenant,
        "case_id": payload.case_id,
        "services": [s.value for s in payload.services],
        "urgency": payload.urgency.value,
        "state": payload.state.value,
        "state_at": payload.at,
        "due_at": None,
        "overdue_periods": 0,
        "decline_reason": None,
        "outcomes": None,
    }
    values |= dict.fromkeys(_TRANSITION_COLUMN.values())
    column = _TRANSITION_COLUMN.get(event_type)
    if column is not None:
        values[column] = payload.at
    if isinstance(payload, ReferralSent | ReferralOverdue):
        values["due_at"] = payload.due_at
    if isinstance(payload, ReferralOverdue):
        values["overdue_periods"] = payload.period
    if isinstance(payload, ReferralDeclined):
        values["decline_reason"] = payload.reason.value
    if isinstance(payload, ReferralCompleted):
        values["outcomes"] = {k.value: v.value for k, v in payload.outcomes.items()}
    return values


def _return(payload: ReturnFacts, generation: int) -> dict[str, Any]:
    return {
        "generation": generation,
        "return_id": payload.return_id,
        "referral_id": payload.referral_id,
        "sender_tenant": payload.sender_tenant,
        "receiver_tenant": payload.receiver_tenant,
        "planned_date": payload.planned_date,
        "origin_country": payload.origin_country,
        "destination_country": payload.destination_country,
        "border_crossing": payload.border_crossing,
        "transport": payload.transport,
        "state_at": payload.at,
        "planned_at": payload.at if isinstance(payload, ReturnPlanned) else None,
        "arrived_on": payload.arrived_on if isinstance(payload, ReturnArrived) else None,
        "arrived_at": payload.at if isinstance(payload, ReturnArrived) else None,
        "overdue_at": payload.at if isinstance(payload, ReturnOverdue) else None,
        "overdue": isinstance(payload, ReturnOverdue),
    }
