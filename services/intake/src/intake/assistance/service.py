from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from intake.assistance.models import AssistanceRecord
from intake.assistance.schemas import AssistanceIn
from intake.cases import rules
from intake.cases import service as cases
from intake.privacy.reveal import reveal
from tirek.auth import Principal
from tirek.crypto import Keyring, seal_record
from tirek.events import Envelope
from tirek.events.intake import AssistanceRecorded
from tirek.messaging.outbox import add_to_outbox
from tirek.web.problems import Conflict, Unprocessable


async def record(
    *,
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    data: AssistanceIn,
    keyring: Keyring,
) -> AssistanceRecord:
    """Record assistance given on a case; publishes ``assistance.recorded``."""
    case = await cases.get(session=session, case_id=case_id)
    if rules.is_closed(case.status):
        raise Conflict(title="Case is closed", detail="Reopen is not possible; open a new case.")
    if data.provided_on < case.opened_on:
        raise Unprocessable(
            title="Before the case opened", detail="provided_on is before the case's opened_on."
        )
    record = AssistanceRecord(
        id=uuid.uuid4(),
        tenant_id=principal.tenant_id,
        case_id=case.id,
        type=data.type.value,
        mode=data.mode.value,
        provided_on=data.provided_on,
        outcome=data.outcome.value,
        project_code=data.project_code,
        notes=data.notes,
        recorded_by=principal.user_id,
    )
    seal_record(record, await keyring.keys(principal.tenant_id))
    session.add(record)
    await session.flush()
    await add_to_outbox(
        session,
        Envelope.wrap(
            AssistanceRecorded(
                assistance_id=record.id,
                case_id=case.id,
                person_id=case.person_id,
                type=data.type,
                mode=data.mode,
                provided_on=data.provided_on,
                outcome=data.outcome,
                project_code=data.project_code,
            ),
            tenant=principal.tenant_id,
            subject=case.id,
        ),
    )
    return record


async def list_for_case(
    *, session: AsyncSession, case_id: uuid.UUID, keyring: Keyring
) -> list[AssistanceRecord]:
    """The case's assistance records, opened for reading."""
    await cases.get(session=session, case_id=case_id)
    records = await of_cases(session=session, case_ids=[case_id])
    await reveal(keyring, records)
    return records


async def of_cases(*, session: AsyncSession, case_ids: list[uuid.UUID]) -> list[AssistanceRecord]:
    """The assistance records of ``case_ids`` in the order given (still sealed)."""
    rows = await session.scalars(
        select(AssistanceRecord)
        .where(AssistanceRecord.case_id.in_(case_ids))
        .order_by(AssistanceRecord.provided_on, AssistanceRecord.created_at)
    )
    return list(rows)
