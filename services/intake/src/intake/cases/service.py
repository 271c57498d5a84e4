"""Use cases on cases. Each runs inside the caller's unit of work (one transaction) and writes
its event to the outbox in that same transaction."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from intake.cases import rules
from intake.cases.models import Case
from intake.cases.schemas import CaseClose, CasePatch
from intake.partners import service as partners
from intake.partners.hints import HINT_FIELDS
from intake.persons.models import Person
from intake.persons.search import (
    document_index,
    index_person,
    name_indexes,
    persons_matching,
)
from intake.privacy.reveal import reveal_case
from tirek.auth import Principal, Role
from tirek.crypto import Keyring, TenantKeys, seal_record
from tirek.events import Envelope
from tirek.events.intake import (
    AgeBand,
    CaseCategory,
    CaseClosed,
    CaseStatus,
    CaseUpdated,
    ExploitationForm,
    RiskLevel,
    Sex,
    TrmStage,
)
from tirek.messaging.outbox import add_to_outbox
from tirek.web.problems import BadRequest, Conflict, Forbidden, NotFound, Unprocessable


def age_band(opened_on: date, person: Person) -> str:
    """Derived from the birth date (or the estimate) while it is in clear, before encryption."""
    return rules.age_band_on(
        opened_on, birth_date=person.birth_date, estimated_age=person.estimated_age
    ).value


def seal_case(case: Case, keys: TenantKeys, *, names: Collection[str] | None = None) -> None:
    """Encrypt the case's and its person's personal fields (their blind indexes first;
    ``names``: the person's name keys, when the caller has them already)."""
    index_person(case.person, keys, names=names)
    seal_record(case.person, keys)
    seal_record(case, keys)


async def get(*, session: AsyncSession, case_id: uuid.UUID, for_update: bool = False) -> Case:
    """The case, if the current tenant owns it (RLS hides every other NGO's case: 404).

    Still sealed: :func:`read` (or :func:`intake.privacy.reveal.reveal_case`) opens it."""
    statement = select(Case).where(Case.id == case_id)
    if for_update:
        statement = statement.with_for_update(of=Case)
    case = await session.scalar(statement)
    if case is None:
        raise NotFound(title="Case not found", detail="No such case in your organisation.")
    return case


async def read(
    *, session: AsyncSession, case_id: uuid.UUID, keyring: Keyring, for_update: bool = False
) -> Case:
    """The case and its person, opened for reading."""
    case = await get(session=session, case_id=case_id, for_update=for_update)
    return await reveal_case(keyring, case)


def case_facts(case: Case, person: Person) -> dict[str, Any]:
    """The facts of a case that ``case.registered`` and ``case.updated`` both carry, as the
    events' codes (no personal data: sex, age band and citizenship only)."""
    return {
        "sex": Sex(person.sex),
        "age_band": AgeBand(case.age_band),
        "citizenship": person.citizenship,
        "categories": [CaseCategory(c) for c in case.categories],
        "exploitation_forms": [ExploitationForm(f) for f in case.exploitation_forms],
        "trm_stage": TrmStage(case.trm_stage),
        "status": CaseStatus(case.status),
        "risk_level": RiskLevel(case.risk_level),
        "assigned_to": case.assigned_to,
    }


def _updated_event(case: Case, changed: list[str]) -> CaseUpdated:
    return CaseUpdated(
        case_id=case.id,
        case_number=case.number,
        changed=changed,
        **case_facts(case, case.person),
    )


async def update(
    *,
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    patch: CasePatch,
    keyring: Keyring,
) -> Case:
    """Change a case and its person; publishes ``case.updated`` naming the changed fields."""
    case = await read(session=session, case_id=case_id, keyring=keyring, for_update=True)
    if case.person.erased_at is not None:
        raise Conflict(
            title="Person erased",
            detail="The personal data of this case was erased; it cannot be changed.",
        )
    if rules.is_closed(case.status):
        raise Conflict(title="Case is closed", detail="A closed case cannot be changed.")
    fields = patch.model_dump(mode="json", exclude_unset=True, exclude={"person"})
    if "assigned_to" in fields and fields["assigned_to"] != case.assigned_to:
        if not principal.has_any(Role.CASE_MANAGER):
            raise Forbidden(
                title="Case managers only", detail="Only a case manager reassigns a case."
            )
    if "status" in fields and CaseStatus(fields["status"]) not in rules.OPEN_STATUSES:
        raise Unprocessable(
            title="Use close", detail="Close a case with POST /v1/cases/{id}/close."
        )
    changed: list[str] = []
    for name, value in fields.items():
        if getattr(case, name) != value:
            setattr(case, name, value)
            changed.append(name)
    if patch.person is not None:
        person_fields = patch.person.model_dump(mode="json", exclude_unset=True)
        if "birth_date" in person_fields:
            person_fields["birth_date"] = patch.person.birth_date
        for name, value in person_fields.items():
            if getattr(case.person, name) != value:
                if name == "birth_date":
                    case.person.set_birth_date(value)
                else:
                    setattr(case.person, name, value)
                changed.append(f"person.{name}")
        if {"birth_date", "estimated_age"} & person_fields.keys():
            case.age_band = age_band(case.opened_on, case.person)
    if not changed:
        return case
    # Every personal field of the case and its person is sealed again, under the current key
    # (before any statement: a flush refuses a record changed but not sealed).
    seal_case(case, await keyring.keys(case.tenant_id))
    if any(f"person.{name}" in changed for name in HINT_FIELDS):
        await partners.index_person(
            session,
            consortium=await keyring.consortium(),
            tenant_id=case.tenant_id,
            person_id=case.person_id,
            person={name: getattr(case.person, name) for name in HINT_FIELDS},
        )
    case.revision += 1
    await session.flush()
    await add_to_outbox(
        session,
        Envelope.wrap(_updated_event(case, changed), tenant=case.tenant_id, subject=case.id),
    )
    return case


async def close(
    *, session: AsyncSession, case_id: uuid.UUID, data: CaseClose, today: date, keyring: Keyring
) -> Case:
    """Close a case (case managers only, checked by the view); publishes ``case.closed``."""
    case = await read(session=session, case_id=case_id, keyring=keyring, for_update=True)
    if rules.is_closed(case.status):
        raise Conflict(title="Case is closed", detail="This case is already closed.")
    closed_on = data.closed_on or today
    if closed_on < case.opened_on:
        raise Unprocessable(title="Closed before opened", detail="closed_on is before opened_on.")
    case.status = (
        CaseStatus.CLOSED_REFERRED.value if data.reason == "referred" else CaseStatus.CLOSED.value
    )
    case.closed_on = closed_on
    case.closure_reason = data.reason.value
    case.revision += 1
    await session.flush()
    await add_to_outbox(
        session,
        Envelope.wrap(
            CaseClosed(
                case_id=case.id, case_number=case.number, closed_on=closed_on, reason=data.reason
            ),
            tenant=case.tenant_id,
            subject=case.id,
        ),
    )
    return case


# ----------------------------------------------------------------------------- listing


@dataclass(frozen=True)
class CaseFilter:
    status: CaseStatus | None = None
    category: CaseCategory | None = None
    trm_stage: TrmStage | None = None
    assigned_to: str | None = None
    opened_from: date | None = None
    opened_to: date | None = None
    #: A full name in any script or spelling, matched by its cross-alphabet key.
    name: str | None = None
    #: A document number, matched exactly (case and separators ignored).
    document: str | None = None


def encode_cursor(case: Case) -> str:
    raw = json.dumps([case.created_at.isoformat(), str(case.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, case_id = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(created_at), uuid.UUID(case_id)
    except (ValueError, TypeError) as error:
        raise BadRequest(
            title="Invalid cursor", detail="Pass next_cursor as it was given."
        ) from error


async def list_cases(
    *,
    session: AsyncSession,
    filters: CaseFilter,
    cursor: str | None,
    limit: int,
    keyring: Keyring,
    tenant: uuid.UUID,
) -> tuple[list[Case], str | None]:
    """One page of the tenant's cases, newest first, and the cursor of the next page.

    The rows are not opened: a list shows no personal data."""
    statement: Select[tuple[Case]] = select(Case)
    if filters.name or filters.document:
        keys = await keyring.keys(tenant)
    if filters.name:
        wanted = name_indexes(keys, [filters.name])
        statement = statement.where(Case.person_id.in_(persons_matching(wanted, [])))
    if filters.document:
        index = document_index(keys, filters.document)
        statement = statement.where(Case.person_id.in_(persons_matching([], [index])))
    if filters.status:
        statement = statement.where(Case.status == filters.status.value)
    if filters.category:
        statement = statement.where(Case.categories.contains([filters.category.value]))
    if filters.trm_stage:
        statement = statement.where(Case.trm_stage == filters.trm_stage.value)
    if filters.assigned_to:
        statement = statement.where(Case.assigned_to == filters.assigned_to)
    if filters.opened_from:
        statement = statement.where(Case.opened_on >= filters.opened_from)
    if filters.opened_to:
        statement = statement.where(Case.opened_on <= filters.opened_to)
    if cursor:
        created_at, case_id = decode_cursor(cursor)
        statement = statement.where(
            or_(
                Case.created_at < created_at, and_(Case.created_at == created_at, Case.id < case_id)
            )
        )
    statement = statement.order_by(Case.created_at.desc(), Case.id.desc()).limit(limit + 1)
    rows = list((await session.scalars(statement)).unique())
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def count_cases(*, session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Case)) or 0)


def _duplicates_of(person: Person) -> Select[tuple[uuid.UUID]] | None:
    """Ids of the NGO's persons with one of ``person``'s name keys or documents (``person``
    among them)."""
    if not person.name_indexes and not person.document_indexes:
        return None
    return persons_matching(person.name_indexes or [], person.document_indexes or [])


async def possible_duplicates(
    *, session: AsyncSession, case: Case, limit: int = 10, exclude: Collection[uuid.UUID] = ()
) -> list[Case]:
    """Other cases of the NGO whose person's name or document matches this one's (but for the
    cases in ``exclude``: pairs the caseworker dismissed).

    A suggestion for the caseworker, never a merge: the same name key or document number.
    """
    matches = _duplicates_of(case.person)
    if matches is None:
        return []
    statement = select(Case).where(Case.person_id.in_(matches), Case.person_id != case.person_id)
    if exclude:
        statement = statement.where(Case.id.notin_(exclude))
    rows = await session.scalars(statement.order_by(Case.opened_on.desc()).limit(limit))
    return list(rows.unique())
