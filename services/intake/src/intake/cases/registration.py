"""Registering a person and opening their case: what a registration stores, in which order and
in how many round trips (``POST /v1/cases``, and the linked case a referral's receiver opens).

:func:`start_registration` builds and seals the person and the case; a view may then read
what its answer shows (:func:`found_on_registration`: the NGO's possible duplicates and the
partners who may know the person, in one round trip); :func:`open_case` stores the person, the
case with the number it takes from the NGO's counter, the person's partner hints and the
``case.registered`` event in one statement. The number comes last because the counter's row
stays locked until the transaction commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Integer, Text, bindparam, cast, func, select, text, true, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from intake.cases import rules
from intake.cases.models import Case
from intake.cases.schemas import CaseIn
from intake.cases.service import age_band, case_facts, seal_case
from intake.partners import service as partners
from intake.partners.hints import hint_values
from intake.partners.schemas import PartnerHint
from intake.persons.models import Person
from intake.persons.search import matched_persons, person_name_keys
from intake.tenants.directory import DIRECTORY, ActiveTenant
from tirek.auth import Principal
from tirek.crypto import Keyring
from tirek.db.inserts import insert_new_with
from tirek.events import Envelope
from tirek.events.intake import (
    CaseRegistered,
    CaseStatus,
)
from tirek.messaging.outbox import outbox_cte, outbox_params
from tirek.web.problems import Conflict


class TenantNotOnboarded(Conflict):
    def __init__(self) -> None:
        super().__init__(
            title="Organisation not onboarded",
            detail="This NGO is not yet known to intake; ask the platform administrator.",
        )


#: The NGO's next sequence number of the year (``case_number_counters``), as a CTE of the
#: statement that stores the case: the counter's row stays locked until the commit, and every
#: other registration of the NGO waits for it, so the case takes its number in the statement
#: that stores it. Text, not ``postgresql.insert``: SQLAlchemy 2.0 cannot key an ON CONFLICT
#: statement for its cache, and would compile the whole registration statement every time.
_NEXT_SEQUENCE = (
    text(
        "INSERT INTO case_number_counters AS counter (tenant_id, year, last_value) "
        "VALUES (:counter_tenant, :counter_year, 1) ON CONFLICT (tenant_id, year) "
        "DO UPDATE SET last_value = counter.last_value + 1 RETURNING last_value"
    )
    .columns(last_value=Integer)
    .cte("next_sequence")
)
_SEQUENCE = cast(_NEXT_SEQUENCE.c.last_value, Text)
#: :func:`intake.cases.rules.case_number`, written by the database: the prefix, then the
#: sequence padded to its digits (longer past a million, never cut). Read by the case and by
#: its ``case.registered`` event.
_NUMBER = select(
    (
        bindparam("number_prefix", type_=Text)
        + func.lpad(_SEQUENCE, func.greatest(rules.SEQUENCE_DIGITS, func.length(_SEQUENCE)), "0")
    ).label("number")
).cte("case_number")
_NUMBERED = {"number": select(_NUMBER.c.number).scalar_subquery()}
#: The ``case.registered`` event, written by the statement that stores the case: its
#: ``case_number`` is the number the statement takes.
_REGISTERED = outbox_cte(
    "registered", completed={"case_number": select(_NUMBER.c.number).scalar_subquery()}
)
#: What the event holds for the number until the statement completes it.
_NUMBER_PENDING = ""


@dataclass
class Registration:
    """A registration under way: the person and the case are built and sealed, nothing is
    stored yet (the case has no number). :func:`open_case` writes both with
    :mod:`tirek.db.inserts`, so the session does not hold them: change them through a record
    loaded anew.

    :func:`start_registration` then :func:`open_case`; between the two a view may read what
    the answer needs. The number comes last because the counter's row stays locked until the
    transaction commits: every other registration of the NGO waits for it."""

    tenant: ActiveTenant
    person: Person
    case: Case
    #: The person's partner hint values (:func:`intake.partners.hints.hint_values`), stored
    #: with the case.
    hints: set[str]


async def start_registration(
    *,
    session: AsyncSession,
    principal: Principal,
    data: CaseIn,
    today: date,
    keyring: Keyring,
    origin_referral_id: uuid.UUID | None = None,
) -> Registration:
    """Build and seal the person and the case, and work out the person's partner hints;
    :func:`open_case` stores them."""
    tenant = await DIRECTORY.active(session, principal.tenant_id)
    if tenant is None:
        raise TenantNotOnboarded()
    keys = await keyring.keys(principal.tenant_id)
    opened_on = data.opened_on or today
    person = Person(
        id=uuid.uuid4(),
        tenant_id=principal.tenant_id,
        **data.person.model_dump(mode="json", exclude={"birth_date"}),
    )
    person.set_birth_date(data.person.birth_date)
    case = Case(
        id=uuid.uuid4(),
        tenant_id=principal.tenant_id,
        person=person,
        person_id=person.id,
        categories=[c.value for c in data.categories],
        exploitation_forms=[f.value for f in data.exploitation_forms],
        trm_stage=data.trm_stage.value,
        status=CaseStatus.ACTIVE.value,
        risk_level=data.risk_level.value,
        assigned_to=data.assigned_to or principal.user_id,
        opened_on=opened_on,
        origin_referral_id=origin_referral_id,
        age_band=age_band(opened_on, person),
        notes=data.notes,
        created_by=principal.user_id,
        revision=1,
    )
    # Reading a name in every script is the costliest pure step of a registration: once, for
    # the NGO's blind indexes and for the consortium's hints.
    registered = data.person.model_dump()
    names = person_name_keys(registered)
    # From the plaintext as registered, before any of it is stored in another form; stored
    # with the case (open_case).
    hints = hint_values(await keyring.consortium(), registered, names=names)
    seal_case(case, keys, names=names)
    return Registration(tenant=tenant, person=person, case=case, hints=hints)


async def open_case(*, session: AsyncSession, registration: Registration) -> Case:
    """Store the person, number and store the case, with the person's partner hints;
    publishes ``case.registered``. One statement: a round trip costs intake and the database
    about as much as a small statement's work, and this one holds the NGO's counter."""
    tenant, person, case = registration.tenant, registration.person, registration.case
    year = case.opened_on.year
    # Not through the session: a flush's bookkeeping cost more than the inserts themselves.
    await insert_new_with(
        session,
        case,
        computed=_NUMBERED,
        ctes=(partners.NEW_PERSON_HINTS, _REGISTERED),
        alongside=(person,),
        params={
            "counter_tenant": tenant.id,
            "counter_year": year,
            "number_prefix": rules.case_number_prefix(tenant.country, tenant.code, year),
            **partners.new_person_hints(
                tenant_id=tenant.id, person_id=person.id, values=registration.hints
            ),
            **outbox_params("registered", _registered(tenant, person, case)),
        },
    )
    return case


def _registered(tenant: ActiveTenant, person: Person, case: Case) -> Envelope:
    """``case.registered`` of a case about to be stored: its number is written by the
    statement that takes it (:data:`_REGISTERED`)."""
    return Envelope.wrap(
        CaseRegistered(
            case_id=case.id,
            case_number=_NUMBER_PENDING,
            person_id=person.id,
            opened_on=case.opened_on,
            country=tenant.country,
            origin_referral_id=case.origin_referral_id,
            **case_facts(case, person),
        ),
        tenant=tenant.id,
        subject=case.id,
    )


async def register(
    *,
    session: AsyncSession,
    principal: Principal,
    data: CaseIn,
    today: date,
    keyring: Keyring,
    origin_referral_id: uuid.UUID | None = None,
) -> Case:
    """Register a person and open their case; publishes ``case.registered``.

    The answer is opened (readable); the rows hold only ciphertext of the personal fields."""
    registration = await start_registration(
        session=session,
        principal=principal,
        data=data,
        today=today,
        keyring=keyring,
        origin_referral_id=origin_referral_id,
    )
    return await open_case(session=session, registration=registration)


@dataclass(frozen=True)
class DuplicateRow:
    id: uuid.UUID
    number: str
    opened_on: date
    status: str


@dataclass(frozen=True)
class Found:
    """What the answer to a registration shows besides the case: the NGO's cases that may be
    about the same person, and the partner NGOs that may know them."""

    duplicates: list[DuplicateRow]
    partners: list[PartnerHint]


#: The NGO's cases of the persons a registration matches, newest first: looked up per
#: matched person (``LATERAL``, kept a subquery by its LIMIT), by ``ix_cases_person_id``. As a
#: join, statistics a little stale (a new NGO's cases counted as a handful) let PostgreSQL read
#: every case of the NGO instead.
_MATCHED = matched_persons(
    bindparam("names", type_=ARRAY(Text)), bindparam("documents", type_=ARRAY(Text))
)
_CASES_OF_MATCHED = (
    select(Case.id, Case.number, Case.opened_on, Case.status)
    .where(Case.person_id == _MATCHED.column)
    .order_by(Case.opened_on.desc())
    .limit(bindparam("limit"))
    .lateral("matched_case")
)

#: :func:`found_on_registration`'s statement, built once: both lookups in one round trip,
#: each as an array of rows.
_FOUND = select(
    func.array(
        select(tuple_(*_CASES_OF_MATCHED.c))
        .select_from(_MATCHED)
        .join(_CASES_OF_MATCHED, true())
        .order_by(_CASES_OF_MATCHED.c.opened_on.desc())
        .limit(bindparam("limit"))
        .scalar_subquery()
    ),
    func.array(partners.PARTNER_ROWS),
)


async def found_on_registration(
    *, session: AsyncSession, registration: Registration, today: date, language: str
) -> Found:
    """:func:`possible_duplicates` of the person being registered (at most 10, newest
    first, the columns the answer shows) and the partners who may know them
    (:func:`intake.partners.service.partners_who_may_know`), in one round trip. Read before
    the case takes its number: the person is not stored yet, so is not among the matches."""
    person = registration.person
    names, documents = person.name_indexes or [], person.document_indexes or []
    if not names and not documents and not registration.hints:
        return Found([], [])
    duplicates, found_partners = (
        await session.execute(
            _FOUND,
            {
                "names": names,
                "documents": documents,
                "limit": 10,
                **partners.partners_params(hints=registration.hints, today=today),
            },
        )
    ).one()
    return Found(
        [DuplicateRow(*row) for row in duplicates],
        partners.partner_hints(found_partners, language=language),
    )
