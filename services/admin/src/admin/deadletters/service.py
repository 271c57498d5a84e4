"""Dead-letter use cases over the ``DLQ`` stream (:mod:`tirek.messaging.deadletter`).

The stream keeps every dead letter (limits retention); what an administrator did with one is
recorded in ``dead_letter_resolutions``. A replay republishes the original body to its
original subject and stream with a new ``Nats-Msg-Id`` (the original id is still inside the
stream's duplicate window, or has been seen already), so the stream accepts it; consumers'
inboxes key on the envelope id, so the effect still happens once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from admin.deadletters.models import DeadLetterAction, DeadLetterResolution
from admin.deadletters.schemas import DeadLetterDetail, DeadLetterOut, ResolutionOut
from tirek.auth import Principal
from tirek.messaging.deadletter import (
    HEADER_DEAD_LETTERED_AT,
    HEADER_ORIGINAL_MSG_ID,
    DeadLetter,
    read_dead_letters,
)
from tirek.messaging.naming import Naming
from tirek.messaging.streams import DLQ_STREAM
from tirek.web.problems import Conflict, NotFound, ServiceUnavailable

#: Headers of the dead letter that travel with a replay (tracing and content type).
_REPLAYED_HEADERS = ("traceparent", "tracestate", "Content-Type", "content-type")
HEADER_REPLAY_OF = "Tirek-Replay-Of"


def _when(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _summary(letter: DeadLetter, resolution: DeadLetterResolution | None) -> dict[str, Any]:
    return {
        "sequence": letter.sequence,
        "consumer": letter.consumer,
        "reason": letter.reason,
        "deliveries": letter.deliveries,
        "original_subject": letter.original_subject,
        "original_stream": letter.original_stream,
        "original_sequence": letter.original_sequence,
        "original_msg_id": letter.headers.get(HEADER_ORIGINAL_MSG_ID),
        "dead_lettered_at": _when(letter.headers.get(HEADER_DEAD_LETTERED_AT)),
        "resolution": ResolutionOut.model_validate(resolution) if resolution else None,
    }


async def _resolutions(
    session: AsyncSession, sequences: list[int]
) -> dict[int, DeadLetterResolution]:
    rows = await session.scalars(
        select(DeadLetterResolution).where(DeadLetterResolution.dlq_sequence.in_(sequences))
    )
    return {row.dlq_sequence: row for row in rows}


async def list_dead_letters(
    *,
    session: AsyncSession,
    js: JetStreamContext,
    naming: Naming,
    consumer: str | None,
    after: int,
    limit: int,
    unresolved_only: bool,
) -> list[DeadLetterOut]:
    """Dead letters in stream order after sequence ``after``, with what was done about them."""
    result: list[DeadLetterOut] = []
    start = after + 1
    # Resolved letters may be skipped: read pages until ``limit`` are kept or the stream ends.
    while len(result) < limit:
        try:
            letters = await read_dead_letters(
                js, naming, consumer=consumer, start_sequence=start, limit=limit
            )
        except NatsError as exc:
            raise ServiceUnavailable("The message broker did not answer.") from exc
        if not letters:
            break
        resolutions = await _resolutions(session, [letter.sequence for letter in letters])
        for letter in letters:
            resolution = resolutions.get(letter.sequence)
            if unresolved_only and resolution is not None:
                continue
            result.append(DeadLetterOut(**_summary(letter, resolution)))
            if len(result) == limit:
                break
        start = letters[-1].sequence + 1
    return result


async def _letter(js: JetStreamContext, naming: Naming, sequence: int) -> DeadLetter:
    try:
        letters = await read_dead_letters(js, naming, start_sequence=sequence, limit=1)
    except NatsError as exc:
        raise ServiceUnavailable("The message broker did not answer.") from exc
    if not letters or letters[0].sequence != sequence:
        raise NotFound("No such dead letter.", slug="dead-letter-not-found")
    return letters[0]


async def inspect(
    *, session: AsyncSession, js: JetStreamContext, naming: Naming, sequence: int
) -> DeadLetterDetail:
    """One dead letter with its body."""
    letter = await _letter(js, naming, sequence)
    resolution = (await _resolutions(session, [sequence])).get(sequence)
    body: Any | None
    text: str | None = None
    try:
        body = letter.json()
    except ValueError:  # not JSON (or not UTF-8): show it as text, undecodable bytes replaced
        body = None
        text = letter.data.decode("utf-8", "replace")
    return DeadLetterDetail(**_summary(letter, resolution), body=body, body_text=text)


async def _claim(
    session: AsyncSession,
    letter: DeadLetter,
    *,
    action: DeadLetterAction,
    principal: Principal,
    reason: str,
    now: datetime,
    replay_msg_id: str | None = None,
) -> DeadLetterResolution:
    # One resolution per dead letter: the unique sequence decides between two administrators.
    inserted = await session.scalar(
        insert(DeadLetterResolution)
        .values(
            id=uuid.uuid4(),
            dlq_sequence=letter.sequence,
            consumer=letter.consumer,
            original_subject=letter.original_subject,
            action=action.value,
            reason=reason,
            actor=principal.user_id,
            at=now,
            replay_msg_id=replay_msg_id,
        )
        .on_conflict_do_nothing(index_elements=["dlq_sequence"])
        .returning(DeadLetterResolution.id)
    )
    if inserted is None:
        raise Conflict("This dead letter was already resolved.", slug="dead-letter-resolved")
    resolution = await session.get(DeadLetterResolution, inserted)
    assert resolution is not None
    return resolution


async def replay(
    *,
    session: AsyncSession,
    js: JetStreamContext,
    naming: Naming,
    principal: Principal,
    sequence: int,
    reason: str,
    now: datetime,
) -> DeadLetterDetail:
    """Republish a dead letter to its original subject; audited. 409 when already resolved.

    The audit row is written first and committed after the broker's ack: a failed publish
    leaves the letter unresolved (503). Should the commit fail after the ack, the letter stays
    unresolved and a second replay reuses the same ``Nats-Msg-Id``, which the stream drops
    within its duplicate window (and consumers' inboxes after it).
    """
    letter = await _letter(js, naming, sequence)
    # Deterministic per dead letter: a retried replay within the duplicate window is dropped.
    msg_id = f"replay.{naming.stream(DLQ_STREAM)}.{letter.sequence}"
    await _claim(
        session,
        letter,
        action=DeadLetterAction.REPLAYED,
        principal=principal,
        reason=reason,
        now=now,
        replay_msg_id=msg_id,
    )
    headers = {key: value for key, value in letter.headers.items() if key in _REPLAYED_HEADERS}
    headers["Nats-Msg-Id"] = msg_id
    headers[HEADER_REPLAY_OF] = str(letter.sequence)
    try:
        await js.publish(
            letter.original_subject,
            letter.data,
            stream=letter.original_stream or None,
            headers=headers,
            timeout=5.0,
        )
    except NatsError as exc:
        raise ServiceUnavailable("The message broker did not accept the replay.") from exc
    return await inspect(session=session, js=js, naming=naming, sequence=sequence)


async def discard(
    *,
    session: AsyncSession,
    js: JetStreamContext,
    naming: Naming,
    principal: Principal,
    sequence: int,
    reason: str,
    now: datetime,
) -> DeadLetterDetail:
    """Mark a dead letter as discarded (kept on the stream; audited). 409 when resolved."""
    letter = await _letter(js, naming, sequence)
    await _claim(
        session,
        letter,
        action=DeadLetterAction.DISCARDED,
        principal=principal,
        reason=reason,
        now=now,
    )
    return await inspect(session=session, js=js, naming=naming, sequence=sequence)
