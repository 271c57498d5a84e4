"""Duplicate suggestions of a case with their state, and the caseworker's decisions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from intake.cases import service as cases
from intake.cases.models import Case
from intake.duplicates.models import DuplicateDecision
from intake.duplicates.schemas import (
    Decision,
    DuplicateOut,
    MatchedOn,
    SuggestionState,
)
from tirek.auth import Principal
from tirek.events.intake import CaseStatus
from tirek.web.problems import Unprocessable

#: How many suggestions a case lists at most.
MAX_SUGGESTIONS = 50


def pair(one: uuid.UUID, other: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """The pair in stored order (PostgreSQL orders uuids as Python does: by their bytes)."""
    return (one, other) if one < other else (other, one)


def matched_on(case: Case, other: Case) -> list[MatchedOn]:
    """Why two cases' persons match now (their blind indexes meet)."""
    found: list[MatchedOn] = []
    if set(case.person.name_indexes) & set(other.person.name_indexes):
        found.append(MatchedOn.NAME)
    if set(case.person.document_indexes) & set(other.person.document_indexes):
        found.append(MatchedOn.DOCUMENT)
    return found


def _out(case: Case, other: Case, decision: DuplicateDecision | None) -> DuplicateOut:
    return DuplicateOut(
        case_id=other.id,
        number=other.number,
        opened_on=other.opened_on,
        status=CaseStatus(other.status),
        state=SuggestionState(decision.decision) if decision else SuggestionState.SUGGESTED,
        matched_on=matched_on(case, other),
        decided_by=decision.decided_by if decision else None,
        decided_at=decision.decided_at if decision else None,
    )


async def _decisions_of(
    session: AsyncSession, case_id: uuid.UUID
) -> dict[uuid.UUID, DuplicateDecision]:
    rows = await session.scalars(
        select(DuplicateDecision).where(
            or_(DuplicateDecision.case_a == case_id, DuplicateDecision.case_b == case_id)
        )
    )
    return {(d.case_b if d.case_a == case_id else d.case_a): d for d in rows}


async def suggestions(
    *, session: AsyncSession, case: Case, include_dismissed: bool = False
) -> list[DuplicateOut]:
    """The cases that match ``case`` now, undecided or confirmed, and every confirmed pair
    even if the two no longer match; dismissed pairs only when asked for."""
    decisions = await _decisions_of(session, case.id)
    dismissed = {other for other, d in decisions.items() if d.decision == Decision.DISMISSED.value}
    matches = await cases.possible_duplicates(
        session=session,
        case=case,
        limit=MAX_SUGGESTIONS,
        exclude=() if include_dismissed else dismissed,
    )
    wanted = {
        other
        for other, d in decisions.items()
        if include_dismissed or d.decision == Decision.CONFIRMED.value
    } - {m.id for m in matches}
    decided = (
        list((await session.scalars(select(Case).where(Case.id.in_(wanted)))).unique())
        if wanted
        else []
    )
    items = [_out(case, other, decisions.get(other.id)) for other in [*matches, *decided]]
    # Decided pairs first (confirmed before dismissed), then the newest suggestions.
    rank = {
        SuggestionState.CONFIRMED: 0,
        SuggestionState.DISMISSED: 1,
        SuggestionState.SUGGESTED: 2,
    }
    return sorted(items, key=lambda i: (rank[i.state], -i.opened_on.toordinal(), str(i.case_id)))


async def decide(
    *,
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    other_id: uuid.UUID,
    decision: Decision,
    now: datetime,
) -> DuplicateOut:
    """Record that two of the NGO's cases are (or are not) about the same person; a later
    decision on the same pair replaces the earlier one. Nothing is merged."""
    if other_id == case_id:
        raise Unprocessable(title="Same case", detail="A case is not a duplicate of itself.")
    case = await cases.get(session=session, case_id=case_id)
    other = await cases.get(session=session, case_id=other_id)
    case_a, case_b = pair(case.id, other.id)
    values = {"decision": decision.value, "decided_by": principal.user_id, "decided_at": now}
    statement = insert(DuplicateDecision).values(
        id=uuid.uuid4(), tenant_id=principal.tenant_id, case_a=case_a, case_b=case_b, **values
    )
    stored = await session.scalar(
        statement.on_conflict_do_update(constraint="tenant_pair", set_=values).returning(
            DuplicateDecision
        )
    )
    return _out(case, other, stored)
