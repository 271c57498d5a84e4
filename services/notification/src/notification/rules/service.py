"""Which rules an event triggers and whom each one names (pure functions, plus rule queries)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from notification.rules.models import Rule, RuleSetting

#: Who a rule can name, relative to the event.
PARTIES = frozenset(
    {
        "sender",  # the referral's sending NGO (recipients with the rule's role)
        "receiver",  # the referral's receiving NGO
        "counterpart",  # on a message: the NGO of the referral that did not write it
        "responsible",  # the receiver's named responsible caseworker (referral.accepted)
        "assignee",  # the case's assigned caseworker (case.*), in the owning NGO
        "coordination",  # coordinators, in every coordination tenant
    }
)


@dataclass(frozen=True)
class Target:
    """Recipients of one tenant: those holding ``role``, or the one user ``user_id``."""

    rule_id: str
    template: str
    tenant_id: uuid.UUID
    role: str | None = None
    user_id: str | None = None


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def targets_of(
    rule: Rule,
    data: Mapping[str, Any],
    *,
    owner: uuid.UUID,
    coordination: Sequence[uuid.UUID],
) -> list[Target]:
    """The recipients ``rule`` names for an event with payload ``data`` owned by ``owner``."""
    if rule.when_changed and rule.when_changed not in (data.get("changed") or []):
        return []
    sender, receiver = _uuid(data.get("sender_tenant")), _uuid(data.get("receiver_tenant"))

    def by_role(*tenants: uuid.UUID | None) -> list[Target]:
        return [
            Target(rule.id, rule.template, tenant, role=rule.role)
            for tenant in tenants
            if tenant is not None
        ]

    match rule.party:
        case "sender":
            return by_role(sender)
        case "receiver":
            return by_role(receiver)
        case "counterpart":
            author = _uuid(data.get("author_tenant"))
            return by_role(*(t for t in (sender, receiver) if t != author))
        case "coordination":
            return by_role(*coordination)
        case "responsible" if receiver and data.get("responsible_user"):
            return [Target(rule.id, rule.template, receiver, user_id=str(data["responsible_user"]))]
        case "assignee" if data.get("assigned_to"):
            return [Target(rule.id, rule.template, owner, user_id=str(data["assigned_to"]))]
    return []


async def rules_for(session: AsyncSession, event_type: str) -> list[Rule]:
    query = select(Rule).where(Rule.event_type == event_type).order_by(Rule.id)
    return list((await session.scalars(query)).all())


async def disabled_rules(session: AsyncSession) -> set[str]:
    """Rules the session's tenant turned off (row-level security scopes the query)."""
    query = select(RuleSetting.rule_id).where(RuleSetting.enabled.is_(False))
    return set((await session.scalars(query)).all())


async def list_rules(session: AsyncSession) -> list[tuple[Rule, bool]]:
    rules = (await session.scalars(select(Rule).order_by(Rule.event_type, Rule.id))).all()
    off = await disabled_rules(session)
    return [(rule, rule.id not in off) for rule in rules]


async def set_enabled(
    session: AsyncSession, *, tenant_id: uuid.UUID, rule_id: str, enabled: bool
) -> Rule | None:
    rule = await session.get(Rule, rule_id)
    if rule is None:
        return None
    statement = insert(RuleSetting).values(tenant_id=tenant_id, rule_id=rule_id, enabled=enabled)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[RuleSetting.tenant_id, RuleSetting.rule_id],
            set_={"enabled": enabled},
        )
    )
    return rule
