"""HTTP for dead letters: ``/v1/dead-letters``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from admin.deadletters import service
from admin.deadletters.schemas import DeadLetterDetail, DeadLetterOut, ResolveIn
from admin.deps import AdminWork, JetStream, Names, Now, PlatformAdmin

router = APIRouter(prefix="/v1/dead-letters", tags=["dead letters"])

Sequence = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("", response_model=list[DeadLetterOut])
async def list_dead_letters(
    principal: PlatformAdmin,
    work: AdminWork,
    js: JetStream,
    naming: Names,
    consumer: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")] = None,
    after: Annotated[int, Query(ge=0, le=2**63 - 2)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    unresolved_only: bool = False,
) -> list[DeadLetterOut]:
    """Dead letters after stream sequence ``after``, with their reasons and resolutions."""
    async with work() as session:
        return await service.list_dead_letters(
            session=session,
            js=js,
            naming=naming,
            consumer=consumer,
            after=after,
            limit=limit,
            unresolved_only=unresolved_only,
        )


@router.get("/{sequence}", response_model=DeadLetterDetail)
async def inspect_dead_letter(
    sequence: Sequence, principal: PlatformAdmin, work: AdminWork, js: JetStream, naming: Names
) -> DeadLetterDetail:
    async with work() as session:
        return await service.inspect(session=session, js=js, naming=naming, sequence=sequence)


@router.post("/{sequence}/replay", response_model=DeadLetterDetail)
async def replay_dead_letter(
    sequence: Sequence,
    data: ResolveIn,
    principal: PlatformAdmin,
    work: AdminWork,
    js: JetStream,
    naming: Names,
    now: Now,
) -> DeadLetterDetail:
    """Republish the message to its original subject (new ``Nats-Msg-Id``); audited."""
    async with work() as session:
        return await service.replay(
            session=session,
            js=js,
            naming=naming,
            principal=principal,
            sequence=sequence,
            reason=data.reason,
            now=now,
        )


@router.post("/{sequence}/discard", response_model=DeadLetterDetail)
async def discard_dead_letter(
    sequence: Sequence,
    data: ResolveIn,
    principal: PlatformAdmin,
    work: AdminWork,
    js: JetStream,
    naming: Names,
    now: Now,
) -> DeadLetterDetail:
    """Mark the dead letter as discarded, with the reason; audited."""
    async with work() as session:
        return await service.discard(
            session=session,
            js=js,
            naming=naming,
            principal=principal,
            sequence=sequence,
            reason=data.reason,
            now=now,
        )
