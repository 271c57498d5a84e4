"""``/v1/admin/rebuild``: platform administrators rebuild every projection by replay."""

from __future__ import annotations

import contextlib

from fastapi import APIRouter, Request
from pydantic import BaseModel

from reporting.deps import PlatformAdmin
from reporting.projections.rebuild import RebuildInProgress, rebuild
from tirek.db import UnitOfWork
from tirek.web import Idempotency
from tirek.web.problems import Conflict

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class RebuildOut(BaseModel):
    generation: int
    events: int


@router.post("/rebuild", response_model=RebuildOut)
async def rebuild_projections(
    principal: PlatformAdmin, request: Request, idempotency: Idempotency
) -> RebuildOut:
    """Replay the streams into fresh projections and swap them in (waits until done).

    With an ``Idempotency-Key`` a retry waits for the running rebuild or answers its result.
    The rebuild commits in steps of its own, so a crash midway releases the key."""
    state = request.app.state
    holding_key = (
        UnitOfWork(state.sessions, principal.tenant_id, idempotency=idempotency)
        if idempotency is not None
        else contextlib.nullcontext()
    )
    async with holding_key:
        try:
            result = await rebuild(
                state.sessions, state.broker.connection.jetstream(), state.naming
            )
        except RebuildInProgress as exc:
            raise Conflict(str(exc), title="A rebuild is running") from None
        return RebuildOut(generation=result.generation, events=result.events)
