"""The referral's state machine: one table of allowed transitions, by action, role and side.

Pure: no database, no HTTP. :func:`transition` answers "may this actor do this now, and where
does it lead?" and raises :class:`TransitionRefused` for everything the table does not list,
so a disallowed transition changes nothing (the views answer 409).

Sides: the SENDER is the NGO that refers (it drafts, submits, approves), the RECEIVER the NGO
asked for services (it accepts or declines, starts, completes), SYSTEM the saga with intake
(``share.prepared`` / ``share.refused``). Either NGO may cancel before completion; the
receiver only once the referral reached it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from tirek.auth import Role
from tirek.events.referral import ReferralState as S


class Side(StrEnum):
    SENDER = "sender"
    RECEIVER = "receiver"
    SYSTEM = "system"


class Action(StrEnum):
    SUBMIT = "submit"
    APPROVE = "approve"
    SHARE_PREPARED = "share_prepared"
    SHARE_REFUSED = "share_refused"
    ACCEPT = "accept"
    DECLINE = "decline"
    START = "start"
    COMPLETE = "complete"
    CANCEL = "cancel"


@dataclass(frozen=True)
class Transition:
    action: Action
    source: S
    target: S
    side: Side
    #: Roles allowed to act (empty for SYSTEM transitions).
    roles: frozenset[Role]
    #: Four-eyes rule: the user who created the referral may not take this transition.
    not_by_creator: bool = False


_STAFF: Final = frozenset({Role.CASEWORKER, Role.CASE_MANAGER})
_MANAGER: Final = frozenset({Role.CASE_MANAGER})
_NONE: Final = frozenset[Role]()

#: Every allowed transition. Anything not listed here is refused.
TRANSITIONS: Final[tuple[Transition, ...]] = (
    Transition(Action.SUBMIT, S.DRAFT, S.AWAITING_APPROVAL, Side.SENDER, _STAFF),
    Transition(
        Action.APPROVE, S.AWAITING_APPROVAL, S.APPROVED, Side.SENDER, _MANAGER, not_by_creator=True
    ),
    Transition(Action.SHARE_PREPARED, S.APPROVED, S.SENT, Side.SYSTEM, _NONE),
    Transition(Action.SHARE_REFUSED, S.APPROVED, S.BLOCKED, Side.SYSTEM, _NONE),
    Transition(Action.ACCEPT, S.SENT, S.ACCEPTED, Side.RECEIVER, _STAFF),
    Transition(Action.DECLINE, S.SENT, S.DECLINED, Side.RECEIVER, _STAFF),
    Transition(Action.START, S.ACCEPTED, S.IN_PROGRESS, Side.RECEIVER, _STAFF),
    Transition(Action.COMPLETE, S.IN_PROGRESS, S.COMPLETED, Side.RECEIVER, _STAFF),
    *(
        Transition(Action.CANCEL, source, S.CANCELLED, Side.SENDER, _STAFF)
        for source in (
            S.DRAFT,
            S.AWAITING_APPROVAL,
            S.APPROVED,
            S.BLOCKED,
            S.SENT,
            S.ACCEPTED,
            S.IN_PROGRESS,
        )
    ),
    *(
        Transition(Action.CANCEL, source, S.CANCELLED, Side.RECEIVER, _STAFF)
        for source in (S.SENT, S.ACCEPTED, S.IN_PROGRESS)
    ),
)

_BY_KEY: Final = {(t.action, t.source, t.side): t for t in TRANSITIONS}


class TransitionRefused(Exception):
    """The transition is not in the table (or breaks the four-eyes rule)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        #: ``state`` (not allowed from the current state), ``side``, ``role`` or ``four_eyes``.
        self.code = code


def allowed_actions(state: S, side: Side) -> list[Action]:
    """The actions ``side`` may take on a referral in ``state`` (for a UI's buttons)."""
    return [t.action for t in TRANSITIONS if t.source is state and t.side is side]


def transition(
    state: S,
    action: Action,
    *,
    side: Side,
    roles: frozenset[Role] = frozenset(),
    is_creator: bool = False,
) -> S:
    """The state after ``action``; raises :class:`TransitionRefused` when it is not allowed."""
    found = _BY_KEY.get((action, state, side))
    if found is None:
        if any(t.action is action and t.source is state for t in TRANSITIONS):
            raise TransitionRefused(
                f"The {side.value} may not {action.value} a referral that is {state.value}.",
                code="side",
            )
        raise TransitionRefused(
            f"A referral that is {state.value} cannot be {action.value}: not allowed from "
            "this state.",
            code="state",
        )
    if found.side is not Side.SYSTEM and roles.isdisjoint(found.roles):
        needed = ", ".join(sorted(r.value for r in found.roles))
        raise TransitionRefused(f"To {action.value} a referral requires: {needed}.", code="role")
    if found.not_by_creator and is_creator:
        raise TransitionRefused(
            "The creator of a referral cannot approve it: another case manager must "
            "(four-eyes rule).",
            code="four_eyes",
        )
    return found.target
