"""From an event to deliveries: rules name the recipients, templates word the message.

Runs in the event handler, in two steps. :meth:`Planner.decide` works out, per tenant, the
deliveries an event calls for, from what planning keeps in memory (the rules, the tenant
directory, and each tenant's setup: :mod:`notification.rules.cache`); it writes nothing.
:mod:`notification.deliveries.group_commit` then records them: each tenant's deliveries in the
same transaction as that tenant's inbox mark for the event, so a redelivered event (or a crash
before the ack) never adds a second delivery; the unique constraint on (tenant, event,
recipient, channel) backs that up.

A tenant for whom an event calls for no delivery (no rule of the event's type names anyone
there, the rule is turned off, or the person it names is no recipient: every
``case.registered`` until an NGO lists its caseworkers) gets no inbox mark either, and such an
event costs no database work at all. The mark is there so that an effect is never applied
twice; where there was no effect there is nothing to protect. If that event comes again (a
crash before its ack) it is planned afresh against the setup of that moment: should a rule
have been turned on or a recipient added in between, the redelivery notifies, once and with
its mark, as a first delivery at that moment would have. Every delivery is written with its
tenant's mark, so none is ever written twice.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notification.channels.service import ChannelState, states
from notification.recipients.service import Addressee, active, matching
from notification.rules.cache import COORDINATION, NAMES, PlanningCache, rules_key, tenant_key
from notification.rules.models import Rule
from notification.rules.service import Target, disabled_rules, rules_for, targets_of
from notification.templates.render import MessageContext, Renderer, context_from_event
from notification.tenants.service import all_names, coordination_tenants
from tirek.db import UnitOfWork
from tirek.events import Envelope

Clock = Callable[[], datetime]
#: Channels addressed to one user, and the recipient field holding each one's address.
USER_CHANNELS = ("inbox", "email", "telegram")
#: The inbox is where the digest would be read: it is always immediate.
DIGESTIBLE = frozenset({"email", "telegram"})
TENANT_KEY = "tenant"


def next_digest(now: datetime, hour: int) -> datetime:
    """The next daily digest time (``hour``:00 UTC) strictly after ``now``."""
    today = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return today if today > now else today + timedelta(days=1)


@dataclass(frozen=True)
class TenantSetup:
    """What planning needs of one tenant: the rules it turned off, its channels, its active
    recipients (kept together, forgotten together when any of them changes)."""

    off: frozenset[str]
    channels: Mapping[str, ChannelState]
    recipients: tuple[Addressee, ...]


@dataclass(frozen=True)
class TenantDeliveries:
    """The deliveries one event calls for in one tenant (``deliveries`` rows without
    ``tenant_id``), recorded only together with the inbox mark ``mark``."""

    tenant_id: uuid.UUID
    mark: str
    rows: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class Plan:
    """What one event calls for: only tenants with at least one delivery."""

    event_id: uuid.UUID
    tenants: tuple[TenantDeliveries, ...]


class Planner:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        renderer: Renderer,
        link_base: str,
        clock: Clock,
        digest_hour: int,
        cache: PlanningCache | None = None,
    ) -> None:
        self._sessions = sessions
        #: Rules, the tenant directory and each tenant's setup (changes invalidate theirs).
        self.cache = cache or PlanningCache(0)
        self._renderer = renderer
        self._link_base = link_base
        self._clock = clock
        self._digest_hour = digest_hour

    async def decide(self, envelope: Envelope, *, consumer: str) -> Plan | None:
        """The deliveries ``envelope`` calls for, by tenant; ``None`` if it calls for none.

        ``consumer`` names the handler in the inbox marks (one per tenant and event).
        """
        rules = await self.cache.get(rules_key(envelope.type), self._load_rules(envelope.type))
        if not rules:
            return None
        coordination = await self.cache.get(COORDINATION, self._load_coordination)
        by_tenant: dict[uuid.UUID, list[Target]] = defaultdict(list)
        for rule in rules:
            for target in targets_of(
                rule, envelope.data, owner=envelope.tenant, coordination=coordination
            ):
                by_tenant[target.tenant_id].append(target)
        context: MessageContext | None = None
        now = self._clock()
        tenants = []
        for tenant_id, targets in by_tenant.items():
            setup = await self.cache.get(tenant_key(tenant_id), self._load_setup(tenant_id))
            if not _notifies(setup, targets):
                continue
            if context is None:
                context = await self._context(envelope)
            rows = self._rows(setup, targets, envelope, context, now)
            if rows:
                tenants.append(TenantDeliveries(tenant_id, f"{consumer}:{tenant_id}", rows))
        return Plan(envelope.id, tuple(tenants)) if tenants else None

    def _load_rules(self, event_type: str) -> Callable[[], Awaitable[list[Rule]]]:
        async def load() -> list[Rule]:
            async with UnitOfWork(self._sessions, None) as session:
                rules = await rules_for(session, event_type)
                session.expunge_all()  # kept across sessions: plain, detached rows
                return rules

        return load

    async def _load_coordination(self) -> list[uuid.UUID]:
        async with UnitOfWork(self._sessions, None) as session:
            return await coordination_tenants(session)

    async def _load_names(self) -> dict[uuid.UUID, Mapping[str, str]]:
        async with UnitOfWork(self._sessions, None) as session:
            return await all_names(session)

    def _load_setup(self, tenant_id: uuid.UUID) -> Callable[[], Awaitable[TenantSetup]]:
        async def load() -> TenantSetup:
            async with UnitOfWork(self._sessions, tenant_id) as session:
                return TenantSetup(
                    off=frozenset(await disabled_rules(session)),
                    channels=await states(session),
                    recipients=tuple(await active(session)),
                )

        return load

    async def _context(self, envelope: Envelope) -> MessageContext:
        names: Mapping[uuid.UUID, Mapping[str, str]] = {}
        if any(envelope.data.get(key) for key in ("sender_tenant", "receiver_tenant")):
            names = await self.cache.get(NAMES, self._load_names)
        return context_from_event(
            event_type=envelope.type,
            data=envelope.data,
            tenant_names=names,
            link_base=self._link_base,
        )

    def _rows(
        self,
        setup: TenantSetup,
        targets: Sequence[Target],
        envelope: Envelope,
        context: MessageContext,
        now: datetime,
    ) -> tuple[dict[str, Any], ...]:
        channels = setup.channels
        rows: list[dict[str, Any]] = []
        webhook_rule: str | None = None
        webhook_language: str | None = None
        template_of_webhook = ""

        def row(**values: Any) -> dict[str, Any]:
            return {
                "id": uuid.uuid4(),
                "event_id": envelope.id,
                "event_type": envelope.type,
                "link": context.link,
                **values,
            }

        for target in targets:
            if target.rule_id in setup.off:
                continue
            if webhook_rule is None:
                webhook_rule, template_of_webhook = target.rule_id, target.template
            for recipient in matching(setup.recipients, role=target.role, user_id=target.user_id):
                rendered = self._renderer.render(target.template, recipient.language, context)
                webhook_language = webhook_language or rendered.language
                for kind in USER_CHANNELS:
                    address = {
                        "inbox": recipient.user_id,
                        "email": recipient.email,
                        "telegram": recipient.telegram_chat_id,
                    }[kind]
                    if not channels[kind].enabled or not address:
                        continue
                    digest = kind in DIGESTIBLE and recipient.preferences.get(kind) == "digest"
                    rows.append(
                        row(
                            rule_id=target.rule_id,
                            recipient_key=recipient.user_id,
                            channel=kind,
                            address=address,
                            language=rendered.language,
                            subject=rendered.subject,
                            body=rendered.body,
                            status="held" if digest else "pending",
                            next_attempt_at=next_digest(now, self._digest_hour) if digest else now,
                        )
                    )
        webhook = channels["webhook"]
        if webhook_rule is not None and webhook.enabled and webhook.url:
            rendered = self._renderer.render(template_of_webhook, webhook_language, context)
            rows.append(
                row(
                    rule_id=webhook_rule,
                    recipient_key=TENANT_KEY,
                    channel="webhook",
                    address=webhook.url,
                    language=rendered.language,
                    subject=rendered.subject,
                    body=rendered.body,
                    status="pending",
                    next_attempt_at=now,
                )
            )
        return tuple(rows)


def _notifies(setup: TenantSetup, targets: Sequence[Target]) -> bool:
    """Whether any of ``targets`` reaches anyone in the tenant (before rendering anything)."""
    webhook = setup.channels["webhook"]
    for target in targets:
        if target.rule_id in setup.off:
            continue
        if webhook.enabled and webhook.url:
            return True
        if matching(setup.recipients, role=target.role, user_id=target.user_id):
            return True
    return False
