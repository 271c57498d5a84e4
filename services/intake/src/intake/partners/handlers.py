"""``agreement.*`` events keep intake's copy of the sharing agreements."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from intake.partners.models import SharingAgreement
from tirek.events.admin import AgreementGranted, AgreementRevoked


async def apply_agreement_event(
    session: AsyncSession, payload: AgreementGranted | AgreementRevoked, *, at: datetime
) -> None:
    """Apply one agreement event (the caller's inbox makes it once), in any order."""
    if isinstance(payload, AgreementGranted):
        terms = {
            "from_tenant": payload.from_tenant,
            "to_tenant": payload.to_tenant,
            "valid_from": payload.valid_from,
            "valid_until": payload.valid_until,
        }
        statement = insert(SharingAgreement).values(id=payload.agreement_id, **terms)
        # Never resets revoked_at: a revocation that came first stays.
        await session.execute(
            statement.on_conflict_do_update(index_elements=[SharingAgreement.id], set_=terms)
        )
    else:
        statement = insert(SharingAgreement).values(id=payload.agreement_id, revoked_at=at)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[SharingAgreement.id],
                set_={"revoked_at": func.coalesce(SharingAgreement.revoked_at, at)},
            )
        )
