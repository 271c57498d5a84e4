"""``referral.*`` events drive intake's side of the referral saga (see :mod:`.service`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from faststream.exceptions import RejectMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake.shares import service
from tirek.crypto import Keyring
from tirek.db import UnitOfWork
from tirek.events import Envelope, ForgedTenant
from tirek.events.referral import ReferralAccepted, ReferralApproved
from tirek.messaging.inbox import first_delivery
from tirek.messaging.streams import INTAKE_REFERRALS

_log = logging.getLogger("intake.shares")

#: The referral events intake acts on; every other ``referral.*`` type is acknowledged unread.
HANDLED_TYPES = frozenset({ReferralApproved.event_type, ReferralAccepted.event_type})


class ReferralSaga:
    """Intake's handlers of ``referral.approved`` and ``referral.accepted``.

    Each runs at most once per event (inbox row in the transaction of its effect). Logs carry
    ids only, never anything from the package.
    """

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        keyring: Keyring,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._keyring = keyring
        self._clock = clock

    async def handle(self, envelope: Envelope) -> None:
        """Dispatch one ``referral.*`` envelope (others are ignored).

        Only the sender approves and only the receiver accepts: the same event in the other
        party's name is forged (:class:`~tirek.events.ForgedTenant`, dead-lettered), and would
        otherwise let one NGO ask for the other's package or case.
        """
        if envelope.type not in HANDLED_TYPES:
            return
        payload = envelope.payload()
        if isinstance(payload, ReferralApproved):
            if envelope.tenant != payload.sender_tenant:
                raise ForgedTenant("referral.approved not in the name of its sender")
            await self.on_approved(envelope, payload)
        elif isinstance(payload, ReferralAccepted):
            if envelope.tenant != payload.receiver_tenant:
                raise ForgedTenant("referral.accepted not in the name of its receiver")
            await self.on_accepted(envelope, payload)

    async def on_approved(self, envelope: Envelope, approved: ReferralApproved) -> None:
        await self._keyring.keys(
            approved.sender_tenant
        )  # before the transaction holds a connection
        async with UnitOfWork(self._sessions, approved.sender_tenant) as session:
            if not await first_delivery(
                session, consumer=INTAKE_REFERRALS.name, event_id=envelope.id
            ):
                return
            now = self._clock()
            reason = await service.prepare(
                session=session,
                keyring=self._keyring,
                approved=approved,
                today=now.date(),
                now=now,
            )
        _log.info(
            "share package %s",
            "refused" if reason else "prepared",
            extra={"referral_id": str(approved.referral_id), "reason": reason},
        )

    async def on_accepted(self, envelope: Envelope, accepted: ReferralAccepted) -> None:
        for tenant in (accepted.sender_tenant, accepted.receiver_tenant):
            await self._keyring.keys(tenant)  # before a transaction holds a connection
        # The package is the sender's row: read it with the sender's tenant set (read only).
        async with UnitOfWork(self._sessions, accepted.sender_tenant) as session:
            try:
                package = await service.open_package(
                    session=session,
                    keyring=self._keyring,
                    referral_id=accepted.referral_id,
                    receiver_tenant=accepted.receiver_tenant,
                )
            except service.PackageDoesNotOpen as error:
                # No redelivery makes it open: dead-letter it at once.
                raise RejectMessage() from error
        if package is None:
            _log.warning(
                "accepted referral has no share package (refused or purged); no linked case",
                extra={"referral_id": str(accepted.referral_id)},
            )
            return
        async with UnitOfWork(self._sessions, accepted.receiver_tenant) as session:
            if not await first_delivery(
                session, consumer=INTAKE_REFERRALS.name, event_id=envelope.id
            ):
                return
            # Raises ReceiverNotOnboarded: the message is retried, then dead-lettered.
            case = await service.open_linked_case(
                session=session,
                accepted=accepted,
                package=package,
                today=self._clock().date(),
                keyring=self._keyring,
            )
        if case is not None:
            _log.info(
                "linked case opened",
                extra={"referral_id": str(accepted.referral_id), "case_id": str(case.id)},
            )
