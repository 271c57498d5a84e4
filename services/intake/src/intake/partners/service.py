"""Partner hints: keep a person's consortium-keyed indexes, and ask which partner NGOs that
the caller's NGO may refer to hold an equal one."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import (
    Date,
    String,
    Text,
    Uuid,
    bindparam,
    cast,
    delete,
    func,
    insert,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from intake.partners.hints import hint_values
from intake.partners.models import PartnerHintIndex
from intake.partners.schemas import PartnerHint
from intake.tenants.models import Tenant
from tirek.crypto import TenantKeys

#: The partner NGOs holding any of the hint values ``:hints`` that the current transaction's
#: tenant may refer to on ``:today``, by code: (id, code, country, names) rows. Through the
#: one way across tenants (SECURITY DEFINER, see the migration): tenant ids only, of active
#: NGOs. Built once; in a statement of its own (:func:`partners_who_may_know`) or in one that
#: asks more in the same round trip (``tuple_`` rows: a registration's lookups).
_HOLDING = select(Tenant.id, Tenant.code, Tenant.country, Tenant.names).where(
    Tenant.id.in_(
        select(
            # In FROM: run once per statement (see intake.persons.search.matched_persons).
            func.partners_holding_hints(
                cast(bindparam("hints", type_=ARRAY(String())), ARRAY(Text)),
                bindparam("today", type_=Date()),
            ).column_valued("holding_tenant")
        )
    )
)
_PARTNERS = _HOLDING.order_by(Tenant.code)
PARTNER_ROWS = (
    _HOLDING.with_only_columns(tuple_(Tenant.id, Tenant.code, Tenant.country, Tenant.names))
    .order_by(Tenant.code)
    .scalar_subquery()
)


def partners_params(*, hints: Collection[str], today: date) -> dict[str, Any]:
    """The parameters of :data:`PARTNER_ROWS`."""
    return {"hints": sorted(hints), "today": today}


#: A Core statement, built once: the ORM's bulk insert cost more than the rows it wrote.
_INSERT_HINTS = insert(PartnerHintIndex.__table__)  # type: ignore[arg-type] # a Table

#: The hint values of a person just created, as a CTE to run with another statement of the
#: same transaction (intake's registration stores them with its case: one round trip fewer).
#: Parameters: :func:`new_person_hints`.
NEW_PERSON_HINTS = _INSERT_HINTS.from_select(
    ["tenant_id", "person_id", "hint"],
    select(
        bindparam("hints_tenant", type_=Uuid()),
        bindparam("hints_person", type_=Uuid()),
        func.unnest(bindparam("hints", type_=ARRAY(String(32)))),
    ),
).cte("new_person_hints")


def new_person_hints(
    *, tenant_id: uuid.UUID, person_id: uuid.UUID, values: Collection[str]
) -> dict[str, Any]:
    """The parameters of :data:`NEW_PERSON_HINTS` (``values``: :func:`hint_values`)."""
    return {"hints_tenant": tenant_id, "hints_person": person_id, "hints": sorted(values)}


async def index_person(
    session: AsyncSession,
    *,
    consortium: TenantKeys,
    tenant_id: uuid.UUID,
    person_id: uuid.UUID,
    person: Mapping[str, Any],
    replace: bool = True,
) -> set[str]:
    """Store the hint values of ``person`` (its fields in plaintext, as registered or updated)
    in place of the ones it had; ``replace=False`` for a person just created (a registration
    stores them with its case instead: :data:`NEW_PERSON_HINTS`). ``consortium``:
    :meth:`tirek.crypto.Keyring.consortium`. Returns them."""
    values = hint_values(consortium, person)
    if replace:
        await forget_person(session, person_id=person_id)
    if values:
        await session.execute(
            _INSERT_HINTS,
            [{"tenant_id": tenant_id, "person_id": person_id, "hint": v} for v in sorted(values)],
        )
    return values


async def forget_person(session: AsyncSession, *, person_id: uuid.UUID) -> None:
    """Remove a person's hint values (their name, birth date or citizenship changed, or the
    person is erased: an erasure must call this, the values are derived from personal data)."""
    await session.execute(delete(PartnerHintIndex).where(PartnerHintIndex.person_id == person_id))


async def hints_of(session: AsyncSession, *, person_id: uuid.UUID) -> list[str]:
    """The stored hint values of one of the current tenant's persons."""
    rows = await session.scalars(
        select(PartnerHintIndex.hint).where(PartnerHintIndex.person_id == person_id)
    )
    return list(rows)


def _name(names: Mapping[str, str], language: str, code: str) -> str:
    for lang in (language, "ru", "en"):
        if names.get(lang):
            return names[lang]
    return code


async def partners_who_may_know(
    session: AsyncSession, *, hints: Collection[str], today: date, language: str
) -> list[PartnerHint]:
    """The partner NGOs holding any of ``hints`` that the session's tenant may refer to
    under an agreement in force on ``today`` (never the tenant itself), by code."""
    if not hints:
        return []
    rows = await session.execute(_PARTNERS, partners_params(hints=hints, today=today))
    return partner_hints(rows.tuples(), language=language)


def partner_hints(
    rows: Iterable[tuple[uuid.UUID, str, str, Mapping[str, str] | None]], *, language: str
) -> list[PartnerHint]:
    """(id, code, country, names) rows as the answer shows them, named in ``language``."""
    return [
        PartnerHint(
            tenant_id=tenant_id, code=code, country=country, name=_name(names or {}, language, code)
        )
        for tenant_id, code, country, names in rows
    ]
