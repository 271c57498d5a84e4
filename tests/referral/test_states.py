"""The referral state machine as a plain function: every transition not in the table is refused."""

from __future__ import annotations

import itertools

import pytest

from referral.referrals.states import (
    TRANSITIONS,
    Action,
    Side,
    TransitionRefused,
    allowed_actions,
    transition,
)
from tirek.auth import Role
from tirek.events.referral import ReferralState as S

STAFF = frozenset({Role.CASEWORKER, Role.CASE_MANAGER})
ALLOWED = {(t.action, t.source, t.side) for t in TRANSITIONS}


def test_the_happy_path_of_a_referral_runs_from_draft_to_completed() -> None:
    steps = [
        (Action.SUBMIT, Side.SENDER, S.AWAITING_APPROVAL),
        (Action.APPROVE, Side.SENDER, S.APPROVED),
        (Action.SHARE_PREPARED, Side.SYSTEM, S.SENT),
        (Action.ACCEPT, Side.RECEIVER, S.ACCEPTED),
        (Action.START, Side.RECEIVER, S.IN_PROGRESS),
        (Action.COMPLETE, Side.RECEIVER, S.COMPLETED),
    ]
    state = S.DRAFT
    for action, side, expected in steps:
        state = transition(state, action, side=side, roles=STAFF)
        assert state is expected, f"{action} should lead to {expected}, led to {state}"


@pytest.mark.parametrize(
    ("action", "state", "side"),
    [combo for combo in itertools.product(Action, S, Side) if combo not in ALLOWED],
    ids=lambda v: str(v),
)
def test_every_transition_not_in_the_table_is_refused(action: Action, state: S, side: Side) -> None:
    with pytest.raises(TransitionRefused) as refused:
        transition(state, action, side=side, roles=STAFF)
    assert refused.value.code in ("state", "side")


def test_nothing_leaves_a_final_state() -> None:
    for final in (S.COMPLETED, S.CANCELLED, S.DECLINED, S.BLOCKED):
        for side in Side:
            actions = allowed_actions(final, side)
            # A blocked referral can only be cancelled by its sender.
            assert actions == ([Action.CANCEL] if (final, side) == (S.BLOCKED, Side.SENDER) else [])


def test_the_creator_cannot_approve_their_own_referral() -> None:
    with pytest.raises(TransitionRefused) as refused:
        transition(
            S.AWAITING_APPROVAL,
            Action.APPROVE,
            side=Side.SENDER,
            roles=frozenset({Role.CASE_MANAGER}),
            is_creator=True,
        )
    assert refused.value.code == "four_eyes"


def test_only_a_case_manager_approves() -> None:
    with pytest.raises(TransitionRefused) as refused:
        transition(
            S.AWAITING_APPROVAL,
            Action.APPROVE,
            side=Side.SENDER,
            roles=frozenset({Role.CASEWORKER}),
        )
    assert refused.value.code == "role"
    assert (
        transition(
            S.AWAITING_APPROVAL,
            Action.APPROVE,
            side=Side.SENDER,
            roles=frozenset({Role.CASE_MANAGER}),
        )
        is S.APPROVED
    )


@pytest.mark.parametrize("roles", [frozenset(), frozenset({Role.TENANT_ADMIN, Role.COORDINATOR})])
def test_users_without_a_case_role_take_no_transition(roles: frozenset[Role]) -> None:
    for t in TRANSITIONS:
        if t.side is Side.SYSTEM:
            continue
        with pytest.raises(TransitionRefused):
            transition(t.source, t.action, side=t.side, roles=roles)


def test_the_receiver_answers_and_the_sender_cannot_answer_for_it() -> None:
    for action in (Action.ACCEPT, Action.DECLINE):
        with pytest.raises(TransitionRefused) as refused:
            transition(S.SENT, action, side=Side.SENDER, roles=STAFF)
        assert refused.value.code == "side"
    assert transition(S.SENT, Action.DECLINE, side=Side.RECEIVER, roles=STAFF) is S.DECLINED


def test_either_side_cancels_before_completion_and_nobody_after() -> None:
    for side in (Side.SENDER, Side.RECEIVER):
        for state in (S.SENT, S.ACCEPTED, S.IN_PROGRESS):
            assert transition(state, Action.CANCEL, side=side, roles=STAFF) is S.CANCELLED
        with pytest.raises(TransitionRefused):
            transition(S.COMPLETED, Action.CANCEL, side=side, roles=STAFF)
    # The receiver never saw a draft: only the sender may cancel it.
    with pytest.raises(TransitionRefused):
        transition(S.DRAFT, Action.CANCEL, side=Side.RECEIVER, roles=STAFF)


def test_only_the_saga_attaches_or_refuses_a_package() -> None:
    for side in (Side.SENDER, Side.RECEIVER):
        for action in (Action.SHARE_PREPARED, Action.SHARE_REFUSED):
            with pytest.raises(TransitionRefused):
                transition(S.APPROVED, action, side=side, roles=STAFF)
    assert transition(S.APPROVED, Action.SHARE_REFUSED, side=Side.SYSTEM) is S.BLOCKED
