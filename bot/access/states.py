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


def can_move(source: State, target: State) -> bool:
    return target in TRANSITIONS.get(source, frozenset())


def sources_for(target: State) -> tuple[State, ...]:
    """The states from which ``target`` may be reached (the WHERE of the conditional write)."""
    return tuple(s for s, targets in TRANSITIONS.items() if target in targets)
