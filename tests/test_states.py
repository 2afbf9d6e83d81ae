"""The lifecycle table: which moves a request may make, and which it never may."""

from __future__ import annotations

import pytest

from bot.access.states import (
    FINAL,
    LIVE,
    TRANSITIONS,
    IllegalMove,
    State,
    can_move,
    check_move,
)

ALLOWED = [
    (State.PENDING, State.APPROVED),
    (State.PENDING, State.DENIED),
    (State.PENDING, State.CANCELLED),
    (State.PENDING, State.FAILED),
    (State.PENDING, State.TIMED_OUT),
    (State.APPROVED, State.GRANTING),
    (State.APPROVED, State.FAILED),
    # Approved, not yet granted, and the requester left (deactivated, now a guest…).
    (State.APPROVED, State.CANCELLED),
    (State.GRANTING, State.ACTIVE),
    (State.GRANTING, State.FAILED),
    (State.GRANTING, State.REVOKING),
    (State.ACTIVE, State.REVOKING),
    (State.REVOKING, State.REVOKED),
    (State.REVOKING, State.EXPIRED),
]


@pytest.mark.parametrize(("source", "target"), ALLOWED)
def test_allowed_moves(source, target):
    assert can_move(source, target)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        # Access is never granted without approval and a grant step.
        (State.PENDING, State.ACTIVE),
        (State.PENDING, State.GRANTING),
        (State.APPROVED, State.ACTIVE),
        # A live grant is never just dropped: it goes through revoking, which removes the role.
        (State.ACTIVE, State.REVOKED),
        (State.ACTIVE, State.EXPIRED),
        (State.ACTIVE, State.FAILED),
        (State.GRANTING, State.REVOKED),
        # Decisions are not undone.
        (State.APPROVED, State.DENIED),
        (State.APPROVED, State.PENDING),
        (State.ACTIVE, State.PENDING),
        (State.REVOKING, State.ACTIVE),
    ],
)
def test_forbidden_moves(source, target):
    assert not can_move(source, target)


def test_exactly_the_listed_moves_are_allowed():
    every = {(s, t) for s in State for t in State if can_move(s, t)}
    assert every == set(ALLOWED)


def test_no_state_moves_to_itself():
    assert not any(can_move(s, s) for s in State)


@pytest.mark.parametrize("final", sorted(FINAL))
def test_final_states_have_no_exits(final):
    assert final not in TRANSITIONS
    assert not any(can_move(final, target) for target in State)


def test_final_and_live_are_disjoint_and_non_final_states_can_move():
    assert FINAL.isdisjoint(LIVE)
    for state in State:
        if state not in FINAL:
            assert TRANSITIONS[state], f"{state} is a dead end but not final"


def test_every_state_is_reachable_from_pending():
    seen, frontier = {State.PENDING}, [State.PENDING]
    while frontier:
        for target in TRANSITIONS.get(frontier.pop(), ()):
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(State)


@pytest.mark.parametrize(("source", "target"), ALLOWED)
def test_check_move_accepts_each_allowed_move(source, target):
    check_move((source,), target)


def test_check_move_names_the_illegal_move():
    with pytest.raises(IllegalMove, match="active -> approved"):
        check_move((State.ACTIVE,), State.APPROVED)


def test_check_move_refuses_if_any_source_is_illegal():
    """The conditional write could move the row from any of its sources: each must be legal."""
    with pytest.raises(IllegalMove, match="active -> failed") as caught:
        check_move((State.APPROVED, State.GRANTING, State.ACTIVE), State.FAILED)
    assert "granting -> failed" not in str(caught.value)


def test_check_move_refuses_no_source():
    with pytest.raises(IllegalMove):
        check_move((), State.APPROVED)


def test_states_are_their_stored_text():
    assert State("active") is State.ACTIVE
    assert State.REVOKING == "revoking"
