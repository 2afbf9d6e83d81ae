"""The lifecycle of a request and its grant, and which moves are allowed.

Every move is one conditional write in the store (``UPDATE … WHERE state IN (…)``), so two
actors racing for the same move cannot both win; this table is what they race over.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    GRANTING = "granting"
    ACTIVE = "active"
    REVOKING = "revoking"
    REVOKED = "revoked"
    EXPIRED = "expired"
    DENIED = "denied"
    CANCELLED = "cancelled"
    FAILED = "failed"
    TIMED_OUT = "timed_out"  # pending, and nobody decided within pending_timeout


FINAL = frozenset(
    {State.REVOKED, State.EXPIRED, State.DENIED, State.CANCELLED, State.FAILED, State.TIMED_OUT}
)
#: States in which the member may hold access because of this request.
LIVE = frozenset({State.GRANTING, State.ACTIVE, State.REVOKING})

TRANSITIONS: dict[State, frozenset[State]] = {
    State.PENDING: frozenset(
        {State.APPROVED, State.DENIED, State.CANCELLED, State.FAILED, State.TIMED_OUT}
    ),
    State.APPROVED: frozenset({State.GRANTING, State.FAILED, State.CANCELLED}),
    State.GRANTING: frozenset({State.ACTIVE, State.FAILED, State.REVOKING}),
    State.ACTIVE: frozenset({State.REVOKING}),
    State.REVOKING: frozenset({State.REVOKED, State.EXPIRED}),
}


class IllegalMove(ValueError):
    """A move the table above does not allow: a bug in the caller, never a user's mistake."""


def can_move(source: State, target: State) -> bool:
    return target in TRANSITIONS.get(source, frozenset())


def check_move(sources: tuple[State, ...], target: State) -> None:
    """Raise :class:`IllegalMove` unless every one of ``sources`` may move to ``target``.

    The store calls this before each conditional write, so the table is the law, not a comment:
    a write that could move a row along an edge the table lacks is refused before it is tried.
    """
    if not sources:
        raise IllegalMove(f"no source state given for a move to {target.value}")
    illegal = [s for s in sources if not can_move(s, target)]
    if illegal:
        moves = ", ".join(f"{s.value} -> {target.value}" for s in illegal)
        raise IllegalMove(f"illegal state move: {moves} (see bot/access/states.TRANSITIONS)")
