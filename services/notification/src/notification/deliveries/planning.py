"""From an event to deliveries: rules name the recipients, templates word the message.

Runs in the event handler. Each tenant's deliveries are written in one transaction together
with that tenant's inbox mark for the event, so a redelivered event (or a crash half-way
through several tenants) never adds a second delivery; the unique constraint on
(tenant, event, recipient, channel) backs that up.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notification.channels.service import states
from notification.deliveries.models import Delivery
from notification.recipients.service import matching
from notification.rules.cache import COORDINATION, PlanningCache, disabled_key, rules_key
from notification.rules.models import Rule
from notification.rules.service import Target, disabled_rules, rules_for, targets_of
from notification.templates.render import MessageContext, Renderer, context_from_event
from notification.tenants.service import coordination_tenants, names_of
from tirek.db import UnitOfWork
from tirek.events import Envelope
from tirek.messaging.inbox import first_delivery

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
        #: Rules, coordination tenants and disabled rules (views invalidate what they change).
        self.cache = cache or PlanningCache(0)
        self._renderer = renderer
        self._link_base = link_base
        self._clock = clock
        self._digest_hour = digest_hour

    async def plan(self, envelope: Envelope, *, consumer: str) -> int:
        """Create the deliveries ``envelope`` calls for; returns how many were new.

        ``consumer`` names the handler in the inbox (one mark per tenant and event).
        """
        rules = await self.cache.get(rules_key(envelope.type), self._load_rules(envelope.type))
        if not rules:
            return 0
        coordination = await self.cache.get(COORDINATION, self._load_coordination)
        targets = [
            target
            for rule in rules
            for target in targets_of(
                rule, envelope.data, owner=envelope.tenant, coordination=coordination
            )
        ]
        mentioned = []
        for key in ("sender_tenant", "receiver_tenant"):
            try:
                mentioned.append(uuid.UUID(str(envelope.data.get(key))))
            except ValueError:
                pass
        names: dict[uuid.UUID, Mapping[str, str]] = {}
        if mentioned:
            async with UnitOfWork(self._sessions, None) as session:
                names = await names_of(session, mentioned)
        context = context_from_event(
            event_type=envelope.type,
            data=envelope.data,
            tenant_names=names,
            link_base=self._link_base,
        )
        by_tenant: dict[uuid.UUID, list[Target]] = defaultdict(list)
        for target in targets:
            by_tenant[target.tenant_id].append(target)
        created = 0
        for tenant_id, tenant_targets in by_tenant.items():
            async with UnitOfWork(self._sessions, tenant_id) as session:
                mark = f"{consumer}:{tenant_id}"
                if await first_delivery(session, consumer=mark, event_id=envelope.id):
                    created += await self._plan_tenant(
                        session, tenant_id, tenant_targets, envelope, context
                    )
        return created

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

    async def _plan_tenant(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        targets: Sequence[Target],
        envelope: Envelope,
        context: MessageContext,
    ) -> int:
        off = await self.cache.get(disabled_key(tenant_id), lambda: disabled_rules(session))
        channels = await states(session)
        now = self._clock()
        created = 0
        webhook_rule: str | None = None
        webhook_language: str | None = None
        template_of_webhook = ""
        for target in targets:
            if target.rule_id in off:
                continue
            if webhook_rule is None:
                webhook_rule, template_of_webhook = target.rule_id, target.template
            for recipient in await matching(session, role=target.role, user_id=target.user_id):
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
                    created += await _insert(
                        session,
                        tenant_id=tenant_id,
                        envelope=envelope,
                        rule_id=target.rule_id,
                        recipient_key=recipient.user_id,
                        channel=kind,
                        address=address,
                        language=rendered.language,
                        subject=rendered.subject,
                        body=rendered.body,
                        link=context.link,
                        status="held" if digest else "pending",
                        due=next_digest(now, self._digest_hour) if digest else now,
                    )
        webhook = channels["webhook"]
        if webhook_rule is not None and webhook.enabled and webhook.url:
            rendered = self._renderer.render(template_of_webhook, webhook_language, context)
            created += await _insert(
                session,
                tenant_id=tenant_id,
                envelope=envelope,
                rule_id=webhook_rule,
                recipient_key=TENANT_KEY,
                channel="webhook",
                address=webhook.url,
                language=rendered.language,
                subject=rendered.subject,
                body=rendered.body,
                link=context.link,
                status="pending",
                due=now,
            )
        return created


async def _insert(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    envelope: Envelope,
    rule_id: str,
    recipient_key: str,
    channel: str,
    address: str | None,
    language: str,
    subject: str,
    body: str,
    link: str,
    status: str,
    due: datetime,
) -> int:
    statement = (
        insert(Delivery)
        .values(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            event_id=envelope.id,
            event_type=envelope.type,
            rule_id=rule_id,
            recipient_key=recipient_key,
            channel=channel,
            address=address,
            language=language,
            subject=subject,
            body=body,
            link=link,
            status=status,
            attempts=0,
            next_attempt_at=due,
        )
        .on_conflict_do_nothing()
        .returning(Delivery.id)
    )
    return 1 if (await session.execute(statement)).first() is not None else 0
