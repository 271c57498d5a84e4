from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from notification.deps import AdminWork, Planning
from notification.rules import service
from notification.rules.cache import tenant_key
from notification.rules.schemas import RuleChange, RuleOut
from tirek.web.problems import NotFound

router = APIRouter(prefix="/v1/rules", tags=["rules"])

RuleId = Annotated[str, Path(max_length=80, pattern=r"^[a-z0-9_.:-]+$")]


@router.get("", response_model=list[RuleOut])
async def list_rules(work: AdminWork) -> list[RuleOut]:
    """Every rule, and whether it is on for the caller's organisation."""
    async with work() as session:
        return [
            RuleOut(
                id=rule.id,
                event_type=rule.event_type,
                party=rule.party,
                role=rule.role,
                template=rule.template,
                description=rule.description,
                enabled=enabled,
            )
            for rule, enabled in await service.list_rules(session)
        ]


@router.put("/{rule_id}", response_model=RuleOut)
async def change_rule(
    rule_id: RuleId, change: RuleChange, work: AdminWork, planning: Planning
) -> RuleOut:
    """Turn a rule on or off for the caller's organisation only (planning sees the change
    once it has committed; other instances of notification within their cache's TTL)."""
    async with work() as session:
        planning.invalidate_on_commit(session, tenant_key(work.principal.tenant_id))
        rule = await service.set_enabled(
            session, tenant_id=work.principal.tenant_id, rule_id=rule_id, enabled=change.enabled
        )
        if rule is None:
            raise NotFound(f"No rule {rule_id!r}.", title="Rule not found")
        return RuleOut(
            id=rule.id,
            event_type=rule.event_type,
            party=rule.party,
            role=rule.role,
            template=rule.template,
            description=rule.description,
            enabled=change.enabled,
        )
