"""Referral use cases. Each runs in the caller's unit of work: the referral, its history row
and its event (through the outbox) commit together, or nothing does.

Every transition goes through :func:`referral.referrals.states.transition`; a refused one
raises a problem before anything was written.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from referral.deadlines import service as deadlines
from referral.deadlines.service import DeadlineKind
from referral.directory import service as directory
from referral.referrals.models import (
    Referral,
    ReferralNumberCounter,
    ReferralParties,
    ReferralTransition,
    SharePackage,
)
from referral.referrals.schemas import (
    AcceptIn,
    CancelIn,
    CompleteIn,
    DeclineIn,
    ReferralIn,
    ReferralOut,
    SharePackageOut,
)
from referral.referrals.states import Action, Side, TransitionRefused, allowed_actions, transition
from tirek.auth import Principal
from tirek.crypto import Keyring, SealError, open_record, open_sealed, seal_record
from tirek.crypto.records import is_opened, key_owner
from tirek.events import Envelope
from tirek.events.envelope import Contract
from tirek.events.intake import SharePrepared, ShareRefused
from tirek.events.referral import (
    ReferralAccepted,
    ReferralApproved,
    ReferralBlocked,
    ReferralCancelled,
    ReferralCompleted,
    ReferralDeclined,
    ReferralPackagePurged,
    ReferralSent,
    ReferralService,
    ReferralStarted,
    ReferralState,
    ReferralSubmitted,
    ServiceOutcome,
    Urgency,
)
from tirek.messaging.outbox import add_to_outbox
from tirek.web.problems import Conflict, Forbidden, NotFound, Unprocessable

_log = logging.getLogger("referral.referrals")

#: Purpose and context of the share package's seal (agreed with intake).
SHARE_PURPOSE = "share"


def _not_found() -> NotFound:
    # One answer for "does not exist" and "belongs to other NGOs": nothing to tell them apart.
    return NotFound("No such referral.", title="Referral not found", slug="referral-not-found")


def visible_to(tenant_id: uuid.UUID) -> Any:
    """Which referrals an NGO sees: its own outgoing ones, and incoming ones once sent.

    Row-level security enforces the same rule underneath (see the 0001 migration).
    """
    return or_(
        Referral.sender_tenant == tenant_id,
        and_(Referral.receiver_tenant == tenant_id, Referral.sent_at.is_not(None)),
    )


async def get(
    *, session: AsyncSession, tenant_id: uuid.UUID, referral_id: uuid.UUID, lock: bool = False
) -> Referral:
    """The referral as ``tenant_id`` may see it, or 404."""
    query = select(Referral).where(Referral.id == referral_id, visible_to(tenant_id))
    if lock:
        query = query.with_for_update()
    referral = await session.scalar(query)
    if referral is None:
        raise _not_found()
    return referral


async def reveal(keyring: Keyring, records: list[Any]) -> None:
    """Decrypt ``records`` for reading with their owners' keys: the only way referral reads
    the free text and packages it stores (an access log belongs here)."""
    for record in records:
        if is_opened(record):
            continue
        keys = await keyring.keys(key_owner(record), version=record.key_version)
        open_record(record, keys)


async def seal(keyring: Keyring, record: Any) -> None:
    """Encrypt ``record``'s free text with its owner's current data key."""
    seal_record(record, await keyring.keys(key_owner(record)))


def side_of(referral: Referral, tenant_id: uuid.UUID) -> Side:
    return Side.SENDER if referral.sender_tenant == tenant_id else Side.RECEIVER


def facts(referral: Referral, *, actor: str | None, at: datetime) -> dict[str, Any]:
    """The fields every ``referral.*`` event carries."""
    return {
        "referral_id": referral.id,
        "referral_number": referral.number,
        "case_id": referral.case_id,
        "sender_tenant": referral.sender_tenant,
        "receiver_tenant": referral.receiver_tenant,
        "services": [ReferralService(s) for s in referral.services],
        "urgency": Urgency(referral.urgency),
        "state": ReferralState(referral.state),
        "actor": actor,
        "at": at,
    }


async def publish(
    session: AsyncSession, referral: Referral, payload: Contract, *, tenant: uuid.UUID
) -> None:
    """Write a referral event to the outbox (``tenant``: the acting NGO)."""
    await add_to_outbox(session, Envelope.wrap(payload, tenant=tenant, subject=referral.id))


async def _move(
    session: AsyncSession,
    referral: Referral,
    action: Action,
    *,
    principal: Principal | None,
    now: datetime,
    reason: str | None = None,
) -> None:
    """Apply ``action`` through the state machine and write its history row."""
    side = Side.SYSTEM if principal is None else side_of(referral, principal.tenant_id)
    source = ReferralState(referral.state)
    try:
        target = transition(
            source,
            action,
            side=side,
            roles=principal.roles if principal else frozenset(),
            is_creator=principal is not None and principal.user_id == referral.created_by,
        )
    except TransitionRefused as refused:
        if refused.code in ("role", "four_eyes"):
            raise Forbidden(
                refused.message, title="Not allowed to do this", slug="referral-" + refused.code
            ) from None
        raise Conflict(
            refused.message,
            title="Transition not allowed",
            slug="referral-transition",
            state=source.value,
            action=action.value,
        ) from None
    referral.state = target.value
    referral.updated_at = now
    session.add(
        ReferralTransition(
            referral_id=referral.id,
            sender_tenant=referral.sender_tenant,
            receiver_tenant=referral.receiver_tenant,
            action=action.value,
            from_state=source.value,
            to_state=target.value,
            actor=principal.user_id if principal else None,
            actor_tenant=principal.tenant_id if principal else None,
            at=now,
            reason=reason,
        )
    )
    await session.flush()


async def _next_number(session: AsyncSession, tenant_id: uuid.UUID, year: int) -> int:
    statement = (
        insert(ReferralNumberCounter)
        .values(tenant_id=tenant_id, year=year, last_value=1)
        .on_conflict_do_update(
            index_elements=[ReferralNumberCounter.tenant_id, ReferralNumberCounter.year],
            set_={"last_value": ReferralNumberCounter.last_value + 1},
        )
        .returning(ReferralNumberCounter.last_value)
    )
    return int((await session.execute(statement)).scalar_one())


async def create(
    *,
    session: AsyncSession,
    principal: Principal,
    data: ReferralIn,
    now: datetime,
    keyring: Keyring,
) -> Referral:
    """Draft a referral, where a sharing agreement in force allows it."""
    sender = principal.tenant_id
    if data.receiver_tenant == sender:
        raise Unprocessable(
            "An NGO cannot refer a case to itself.", title="Invalid receiver", slug="self-referral"
        )
    receiver = await directory.get_partner(session, data.receiver_tenant)
    if receiver is not None and not receiver.active:
        raise Unprocessable(
            "The receiving NGO is suspended and cannot receive referrals.",
            title="Receiver suspended",
            slug="receiver-suspended",
        )
    services = [s.value for s in data.services]
    if not await directory.may_refer(
        session,
        from_tenant=sender,
        to_tenant=data.receiver_tenant,
        services=services,
        today=now.date(),
    ):
        raise Unprocessable(
            "No sharing agreement in force lets your NGO refer cases to this NGO for "
            "these services.",
            title="No sharing agreement",
            slug="no-sharing-agreement",
        )
    partner = await directory.get_partner(session, sender)
    country, code = (partner.country, partner.code) if partner else ("XX", "NGO")
    number = await _next_number(session, sender, now.year)
    referral = Referral(
        id=uuid.uuid4(),
        number=f"R-{country}-{code}-{now.year}-{number:06d}",
        sender_tenant=sender,
        receiver_tenant=data.receiver_tenant,
        case_id=data.case_id,
        consent_id=data.consent_id,
        services=services,
        urgency=data.urgency.value,
        reason=data.reason,
        fields=list(data.fields),
        state=ReferralState.DRAFT.value,
        created_by=principal.user_id,
        created_at=now,
        updated_at=now,
    )
    await seal(keyring, referral)
    session.add(referral)
    session.add(
        ReferralParties(
            referral_id=referral.id,
            sender_tenant=sender,
            receiver_tenant=data.receiver_tenant,
            consent_id=data.consent_id,
        )
    )
    await session.flush()
    session.add(
        ReferralTransition(
            referral_id=referral.id,
            sender_tenant=sender,
            receiver_tenant=data.receiver_tenant,
            action="create",
            from_state=None,
            to_state=ReferralState.DRAFT.value,
            actor=principal.user_id,
            actor_tenant=sender,
            at=now,
        )
    )
    await session.flush()
    return referral


async def submit(
    *, session: AsyncSession, principal: Principal, referral_id: uuid.UUID, now: datetime
) -> Referral:
    referral = await get(
        session=session, tenant_id=principal.tenant_id, referral_id=referral_id, lock=True
    )
    await _move(session, referral, Action.SUBMIT, principal=principal, now=now)
    await publish(
        session,
        referral,
        ReferralSubmitted(**facts(referral, actor=principal.user_id, at=now)),
        tenant=principal.tenant_id,
    )
    return referral


async def approve(
    *, session: AsyncSession, principal: Principal, referral_id: uuid.UUID, now: datetime
) -> Referral:
    """A case manager other than the creator approves: intake then prepares the package."""
    referral = await get(
        session=session, tenant_id=principal.tenant_id, referral_id=referral_id, lock=True
    )
    await _move(session, referral, Action.APPROVE, principal=principal, now=now)
    referral.approved_by = principal.user_id
    await publish(
        session,
        referral,
        ReferralApproved(
            **facts(referral, actor=principal.user_id, at=now),
            consent_id=referral.consent_id,
            fields=referral.fields,
        ),
        tenant=principal.tenant_id,
    )
    return referral


async def accept(
    *,
    session: AsyncSession,
    principal: Principal,
    referral_id: uuid.UUID,
    data: AcceptIn,
    now: datetime,
) -> Referral:
    referral = await get(
        session=session, tenant_id=principal.tenant_id, referral_id=referral_id, lock=True
    )
    await _move(session, referral, Action.ACCEPT, principal=principal, now=now)
    referral.responsible_user = data.responsible_user
    await deadlines.close(session, kind=DeadlineKind.UNANSWERED, referral_id=referral.id, now=now)
    await publish(
        session,
        referral,
        ReferralAccepted(
            **facts(referral, actor=principal.user_id, at=now),
            responsible_user=data.responsible_user,
        ),
        tenant=principal.tenant_id,
    )
    return referral


async def decline(
    *,
    session: AsyncSession,
    principal: Principal,
    referral_id: uuid.UUID,
    data: DeclineIn,
    now: datetime,
    keyring: Keyring,
) -> Referral:
    referral = await get(
        session=session, tenant_id=principal.tenant_id, referral_id=referral_id, lock=True
    )
    await reveal(keyring, [referral])
    await _move(
        session, referral, Action.DECLINE, principal=principal, now=now, reason=data.reason.value
    )
    referral.decline_reason = data.reason.value
    referral.decline_note = data.note
    await seal(keyring, referral)
    await deadlines.close(session, kind=DeadlineKind.UNANSWERED, referral_id=referral.id, now=now)
    await publish(
        session,
        referral,
        ReferralDeclined(**facts(referral, actor=principal.user_id, at=now), reason=data.reason),
        tenant=principal.tenant_id,
    )
    return referral


async def start(
    *, session: AsyncSession, principal: Principal, referral_id: uuid.UUID, now: datetime
) -> Referral:
    referral = await get(
        session=session, tenant_id=principal.tenant_id, referral_id=referral_id, lock=True
    )
    await _move(session, referral, Action.START, principal=principal, now=now)
    await publish(
        session,
        referral,
        ReferralStarted(**facts(referral, actor=principal.user_id, at=now)),
        tenant=principal.tenant_id,
    )
    return referral


async def complete(
    *,
    session: AsyncSession,
    principal: Principal,
    referral_id: uuid.UUID,
    data: CompleteIn,
    now: datetime,
) -> Referral:
    """The receiver records the outcome of every requested service and closes the loop."""
    referral = await get(
        session=session, tenant_id=principal.tenant_id, referral_id=referral_id, lock=True
    )
    await _move(session, referral, Action.COMPLETE, principal=principal, now=now)
    requested = set(referral.services)
    given = {s.value for s in data.outcomes}
    if given != requested:
        raise Unprocessable(
            "Give an outcome for every requested service, and only for those: "
            f"{', '.join(sorted(requested))}.",
            title="Outcomes incomplete",
            slug="referral-outcomes",
        )
    referral.outcomes = {s.value: o.value for s, o in data.outcomes.items()}
    await publish(
        session,
        referral,
        ReferralCompleted(
            **facts(referral, actor=principal.user_id, at=now), outcomes=dict(data.outcomes)
        ),
        tenant=principal.tenant_id,
    )
    return referral


async def cancel(
    *,
    session: AsyncSession,
    principal: Principal,
    referral_id: uuid.UUID,
    data: CancelIn,
    now: datetime,
    keyring: Keyring,
) -> Referral:
    referral = await get(
        session=session, tenant_id=principal.tenant_id, referral_id=referral_id, lock=True
    )
    await reveal(keyring, [referral])
    await _move(
        session, referral, Action.CANCEL, principal=principal, now=now, reason=data.reason.value
    )
    referral.cancel_reason = data.reason.value
    referral.cancel_note = data.note
    await seal(keyring, referral)
    referral.cancelled_by_tenant = principal.tenant_id
    for kind in DeadlineKind:
        await deadlines.close(session, kind=kind, referral_id=referral.id, now=now)
    await publish(
        session,
        referral,
        ReferralCancelled(
            **facts(referral, actor=principal.user_id, at=now), reason=data.reason.value
        ),
        tenant=principal.tenant_id,
    )
    return referral


# ----------------------------------------------------------------------------- the saga


async def _for_saga(session: AsyncSession, referral_id: uuid.UUID) -> Referral | None:
    # The caller has scoped the transaction to the sender, who always sees its referrals.
    referral: Referral | None = await session.scalar(
        select(Referral).where(Referral.id == referral_id).with_for_update()
    )
    return referral


async def attach_package(
    *,
    session: AsyncSession,
    payload: SharePrepared,
    now: datetime,
    answer_within: timedelta,
    urgent_answer_within: timedelta,
    keyring: Keyring,
) -> bool:
    """``share.prepared``: open the package sealed for the receiver and store it encrypted
    under the receiver's data key, send the referral, start the answer deadline. Returns
    ``False`` (and changes nothing) when the referral cannot take it.

    A package that does not open (sealed under a master key this service lacks, or
    tampered) is attached empty: the receiver sees the referral without its data, as before.
    """
    referral = await _for_saga(session, payload.referral_id)
    if referral is None:
        _log.warning("share package for an unknown referral ignored")
        return False
    if payload.receiver_tenant != referral.receiver_tenant:
        # Sealed for another NGO than the one named: the receiver could not open it anyway.
        _log.warning("share package sealed for the wrong receiver ignored")
        return False
    if referral.state != ReferralState.APPROVED.value:
        _log.info("share package for a referral that is no longer approved ignored")
        return False
    await _move(session, referral, Action.SHARE_PREPARED, principal=None, now=now)
    referral.sent_at = now
    package = SharePackage(
        referral_id=referral.id,
        sender_tenant=referral.sender_tenant,
        receiver_tenant=referral.receiver_tenant,
        consent_id=payload.consent_id,
        fields=payload.fields,
        package=_open_transport(keyring, referral.receiver_tenant, referral.id, payload.sealed),
        received_at=now,
    )
    await seal(keyring, package)
    session.add(package)
    period = urgent_answer_within if referral.urgency == Urgency.URGENT else answer_within
    due_at = now + period
    await deadlines.schedule(
        session,
        kind=DeadlineKind.UNANSWERED,
        referral_id=referral.id,
        sender_tenant=referral.sender_tenant,
        due_at=due_at,
        period=period,
    )
    await publish(
        session,
        referral,
        ReferralSent(**facts(referral, actor=None, at=now), due_at=due_at),
        tenant=referral.sender_tenant,
    )
    return True


async def block(*, session: AsyncSession, payload: ShareRefused, now: datetime) -> bool:
    """``share.refused``: the referral is blocked, and the sender sees intake's reason."""
    referral = await _for_saga(session, payload.referral_id)
    if referral is None or referral.state != ReferralState.APPROVED.value:
        _log.info("share refusal for a referral that is not awaiting its package ignored")
        return False
    await _move(
        session, referral, Action.SHARE_REFUSED, principal=None, now=now, reason=payload.reason
    )
    referral.blocked_reason = payload.reason
    await publish(
        session,
        referral,
        ReferralBlocked(**facts(referral, actor=None, at=now), reason=payload.reason),
        tenant=referral.sender_tenant,
    )
    return True


async def purge_packages(*, session: AsyncSession, consent_id: uuid.UUID, now: datetime) -> int:
    """``consent.withdrawn``: delete every package shared under the consent, mark its referral
    and tell both NGOs (``referral.package_purged``). Returns how many were purged.

    Every package held is purged, whatever the referral's state: data shared under a
    withdrawn consent has no reason to stay (a declined or completed referral included).
    """
    referrals = list(
        await session.scalars(
            select(Referral)
            .where(Referral.consent_id == consent_id, Referral.package_purged_at.is_(None))
            .with_for_update()
        )
    )
    purged = 0
    for referral in referrals:
        removed = await session.execute(
            delete(SharePackage).where(SharePackage.referral_id == referral.id)
        )
        if not removed.rowcount:  # type: ignore[attr-defined]
            continue  # never sent: intake will refuse it now the consent is withdrawn
        referral.package_purged_at = now
        referral.updated_at = now
        await publish(
            session,
            referral,
            ReferralPackagePurged(**facts(referral, actor=None, at=now), consent_id=consent_id),
            tenant=referral.sender_tenant,
        )
        purged += 1
    return purged


# ----------------------------------------------------------------------------- reading


async def list_for(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    direction: str | None,
    state: ReferralState | None,
    limit: int,
    offset: int,
) -> list[Referral]:
    query = select(Referral).where(visible_to(tenant_id))
    if direction == "outgoing":
        query = query.where(Referral.sender_tenant == tenant_id)
    elif direction == "incoming":
        query = query.where(Referral.receiver_tenant == tenant_id)
    if state is not None:
        query = query.where(Referral.state == state.value)
    query = query.order_by(Referral.created_at.desc(), Referral.id).limit(limit).offset(offset)
    return list(await session.scalars(query))


async def history(
    *, session: AsyncSession, tenant_id: uuid.UUID, referral_id: uuid.UUID
) -> list[ReferralTransition]:
    await get(session=session, tenant_id=tenant_id, referral_id=referral_id)
    return list(
        await session.scalars(
            select(ReferralTransition)
            .where(ReferralTransition.referral_id == referral_id)
            .order_by(ReferralTransition.seq)
        )
    )


def _open_transport(
    keyring: Keyring, receiver: uuid.UUID, referral_id: uuid.UUID, sealed: str
) -> dict[str, Any] | None:
    """The package as intake sealed it for ``receiver``; None if it does not open."""
    try:
        plaintext = open_sealed(
            keyring.provider,
            tenant=receiver,
            purpose=SHARE_PURPOSE,
            sealed=sealed,
            context=referral_id.bytes,
        )
        data = json.loads(plaintext)
    except (SealError, ValueError):
        _log.warning("a share package does not open for its receiver")
        return None
    return data if isinstance(data, dict) else None


async def open_package(keyring: Keyring, package: SharePackage) -> dict[str, Any] | None:
    """The package's data for the receiver (a row from before encryption at rest still holds
    the transport seal)."""
    if package.key_version is None:
        return _open_transport(
            keyring, package.receiver_tenant, package.referral_id, package.package_sealed or ""
        )
    await reveal(keyring, [package])
    data = package.package
    return data if isinstance(data, dict) else None


async def present(
    *,
    session: AsyncSession,
    referral: Referral,
    tenant_id: uuid.UUID,
    keyring: Keyring,
    with_package: bool = False,
) -> ReferralOut:
    """The referral as ``tenant_id`` sees it; ``with_package``: the receiver's opened package."""
    side = side_of(referral, tenant_id)
    await reveal(keyring, [referral])
    out = ReferralOut(
        id=referral.id,
        number=referral.number,
        side="sender" if side is Side.SENDER else "receiver",
        sender_tenant=referral.sender_tenant,
        receiver_tenant=referral.receiver_tenant,
        services=[ReferralService(s) for s in referral.services],
        urgency=Urgency(referral.urgency),
        reason=referral.reason,
        fields=referral.fields,
        state=ReferralState(referral.state),
        allowed_actions=allowed_actions(ReferralState(referral.state), side),
        blocked_reason=referral.blocked_reason if side is Side.SENDER else None,
        decline_reason=referral.decline_reason,
        decline_note=referral.decline_note,
        cancel_reason=referral.cancel_reason,
        cancel_note=referral.cancel_note,
        outcomes=(
            {ReferralService(s): ServiceOutcome(o) for s, o in referral.outcomes.items()}
            if referral.outcomes
            else None
        ),
        sent_at=referral.sent_at,
        package_purged_at=referral.package_purged_at,
        created_at=referral.created_at,
        updated_at=referral.updated_at,
    )
    if side is Side.SENDER:
        return out.model_copy(
            update={
                "case_id": referral.case_id,
                "consent_id": referral.consent_id,
                "created_by": referral.created_by,
                "approved_by": referral.approved_by,
            }
        )
    update: dict[str, Any] = {"responsible_user": referral.responsible_user}
    if with_package:
        package = await session.get(SharePackage, referral.id)
        if package is not None:
            update["package"] = SharePackageOut(
                fields=package.fields,
                received_at=package.received_at,
                data=await open_package(keyring, package),
            )
    return out.model_copy(update=update)
