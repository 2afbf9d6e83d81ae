"""Approvers' decisions on requests and on extensions: who may decide (checked where the click
lands, against Slack as it is now) and one quorum count for both, one approval per human.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from bot.access.engine.core import (
    LEFT,
    Part,
    already,
    not_yours,
)
from bot.access.errors import AccessError, AlreadyDecided, NotAllowed, NotFound
from bot.access.identity import same_person
from bot.access.limits import check_reason
from bot.access.model import AccessRequest
from bot.access.ports import Freshness, Person, Recorded, UpstreamError, cannot
from bot.access.states import State
from bot.faults import crash_point
from bot.logs import about_request

log = logging.getLogger(__name__)

#: When the decision on this thread began (``time.monotonic()``), while one is being made.
_DECISION_BEGAN: ContextVar[float | None] = ContextVar("decision_began", default=None)
F = TypeVar("F", bound=Callable[..., Any])


def reads_once(method: F) -> F:
    """Within one decision, each person and group is read from Slack once: fresh since the
    decision began (not a cached answer from before it), then reused by every later check
    of the same decision (the clicker, the current approvers, one approval per human)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = _DECISION_BEGAN.set(time.monotonic())
        try:
            return method(*args, **kwargs)
        finally:
            _DECISION_BEGAN.reset(token)

    return wrapper  # type: ignore[return-value]


def _fresh() -> Freshness:
    """What a decision's directory reads ask for: read since it began, else read now."""
    began = _DECISION_BEGAN.get()
    return True if began is None else began


class Decisions(Part):
    def check_decider(self, request: AccessRequest, actor_id: str) -> list[str]:
        """Authorise a decision where it happens: a current approver, never the requester
        (per person, not per account). Returns the current approvers."""
        actor, current = self._current_approver(
            request,
            actor_id,
            own="You cannot approve or deny your own request.",
            same_person_as_requester=(
                "You cannot approve or deny your own request: this Slack account belongs to "
                "the same person as the requester's."
            ),
        )
        if actor_id not in current:
            if actor is not None and actor.ineligible:
                raise NotAllowed(cannot(actor.ineligible, "approve access to Elastic Cloud"))
            raise NotAllowed(f"You are no longer an approver of request {request.ref}.")
        if request.state is not State.PENDING:
            raise AlreadyDecided(already(request))
        return current

    def _current_approver(
        self, request: AccessRequest, actor_id: str, own: str, same_person_as_requester: str
    ) -> tuple[Person | None, list[str]]:
        """The checks a decision on a request and one on its extension share: never the
        requester (per person, not per account), only someone it was sent to, and the
        approvers as Slack and the tags are now. Returns the actor as Slack says now and the
        current approvers (the actor among them or not: each caller says why not)."""
        if actor_id == request.requester_id:
            raise NotAllowed(own)
        try:
            actor = self.directory.person(actor_id, fresh=_fresh())
            if actor is not None and self.core.people.is_requester_of(request, strict=True)(actor):
                raise NotAllowed(same_person_as_requester)
            if actor_id not in request.approvers:
                if self.core.people.may_see(request, actor_id):
                    raise NotAllowed(f"You are not an approver of request {request.ref}.")
                raise NotFound(not_yours(request.id))
            current = self.core.people.approvers_for(request, fresh=_fresh(), strict=True)
        except UpstreamError as exc:
            raise AccessError(
                f"Slack or Elastic Cloud did not answer when I checked who may decide on "
                f"{request.ref}; nothing was recorded. Try again in a minute."
            ) from exc
        return actor, current

    def quorum(self, recorded: Recorded, current: list[str], needed: int) -> tuple[list[str], bool]:
        """The one quorum, for a request and for an extension alike: of the approvals the
        store read back in the transaction that recorded this one, those that count
        (``counted``), and whether they reach ``needed``. Only the approver whose approval
        completes the quorum sees it reached; the conditional move that follows (approve the
        request, apply the extension) is made once whoever else races for it."""
        approvers = self.counted(list(recorded.approved_by), current)
        return approvers, len(approvers) >= needed

    def counted(self, approver_ids: list[str], current: list[str]) -> list[str]:
        """The quorum count, the same for requests and extensions: the approvals of those who
        are approvers still (a quorum is re-checked when it completes), one per human."""
        return self._one_per_person([a for a in approver_ids if a in current])

    def _one_per_person(self, approver_ids: list[str]) -> list[str]:
        """The approvers that count toward a quorum: one per human, however many accounts
        (the first approval of each mailbox, as Slack says now). ``approver_ids`` are
        current approvers already, so one Slack cannot describe this moment still counts."""
        seen: list[Person] = []
        counted: list[str] = []
        for approver_id in approver_ids:
            try:
                person = self.directory.person(approver_id, fresh=_fresh())
            except UpstreamError:
                person = None
            if person is not None:
                if any(same_person(person, p.id, p.email) for p in seen):
                    continue
                seen.append(person)
            counted.append(approver_id)
        return counted

    @about_request
    @reads_once
    def decide(
        self, request_id: int, actor_id: str, approve: bool, reason: str | None = None
    ) -> AccessRequest:
        """Record an approver's decision. The first valid decision wins, once."""
        request = self.core.people.get(request_id)
        current = self.check_decider(request, actor_id)
        now = self.clock.now()
        reason = (reason or "").strip() or None
        check_reason(reason)
        if approve and (why := self.core.leavers.requester_standing(request)):
            self.core.leavers.end_for_requester(request.requester_id, why, only=request.id)
            raise AlreadyDecided(
                f"Request {request.ref} was cancelled: {LEFT.get(why, why)}. Nothing was granted."
            )

        def record(decision: str) -> Recorded:
            recorded = self.store.record_approval(request_id, actor_id, decision, reason, now)
            if recorded is None:
                raise AlreadyDecided(already(self.core.people.get(request_id)))
            if not recorded.new:
                raise AlreadyDecided(f"You already decided on request {request.ref}.")
            return recorded

        if approve:
            approvals, reached = self.quorum(record("approve"), current, request.approvals_needed)
            if not reached:
                self.store.event(
                    request_id,
                    now,
                    actor_id,
                    "approval",
                    {"count": len(approvals), "needed": request.approvals_needed},
                )
                self.notifier.approval_recorded(self.core.people.get(request_id))
                return self.core.people.get(request_id)
            moved = self.store.transition(
                request_id,
                [State.PENDING],
                State.APPROVED,
                now=now,
                actor=actor_id,
                detail={"approvers": approvals},
                decided_by=actor_id,
                decided_at=now,
            )
        else:
            with self.store.write():  # the denial and the move it makes land together
                record("deny")
                moved = self.store.transition(
                    request_id,
                    [State.PENDING],
                    State.DENIED,
                    now=now,
                    actor=actor_id,
                    detail={"reason": reason or ""},
                    decided_by=actor_id,
                    decided_at=now,
                    decision_reason=reason,
                )
        if moved is None:
            raise AlreadyDecided(already(self.core.people.get(request_id)))
        log.info("request %s %s by %s", moved.ref, moved.state.value, actor_id)
        if approve:
            crash_point("after_approval_stored")
        self.core.outbox.tell(moved)
        if approve:  # the requester's standing was checked above, before recording
            self.core.granting.due(request_id, requester_checked=True)
        return self.core.people.get(request_id)

    @about_request
    @reads_once
    def decide_extension(
        self,
        request_id: int,
        actor_id: str,
        approve: bool,
        reason: str | None = None,
        asked: int | None = None,
    ) -> AccessRequest:
        """Record an approver's decision on the pending extension. ``asked``: the extension
        the clicked card was made for; a decision never lands on a later one."""
        request = self.core.people.get(request_id)
        _, current = self._current_approver(
            request,
            actor_id,
            own="You cannot approve or deny your own extension.",
            same_person_as_requester="You cannot approve or deny your own extension.",
        )
        if actor_id not in current:
            raise NotAllowed(f"You are no longer an approver of request {request.ref}.")
        if request.extension_seconds is None or request.state is not State.ACTIVE:
            raise AlreadyDecided(f"The extension of {request.ref} was already decided.")
        pending = self.store.extension_asked(request_id)
        if asked is not None and asked != pending:
            raise AlreadyDecided(
                f"That card is for an earlier extension of {request.ref}, which was already "
                "decided; the newest card shows the one waiting now."
            )
        now = self.clock.now()
        reason = (reason or "").strip() or None
        check_reason(reason)
        if approve and (why := self.core.leavers.requester_standing(request)):
            # More time for someone who may no longer have any: the grant ends instead.
            self.core.leavers.end_for_requester(request.requester_id, why, only=request.id)
            raise AlreadyDecided(
                f"{request.ref} was ended: {LEFT.get(why, why)}. The extension was not applied."
            )
        needed = self.core.extensions.extension_quorum(request)
        asked = pending  # from here on the decision is on this extension, never a later one

        def record(decision: str) -> Recorded:
            recorded = self.store.record_extension_approval(
                request_id, actor_id, decision, reason, now, extension=asked
            )
            if recorded is None:
                raise AlreadyDecided(f"The extension of {request.ref} was already decided.")
            if not recorded.new:  # a denial ends the extension: what came first was Approve
                raise AlreadyDecided(
                    f"You already approved the extension of {request.ref}; it needs {needed} "
                    "approvals."
                )
            return recorded

        if approve:
            approvers, reached = self.quorum(record("approve"), current, needed)
            if not reached:
                log.info(
                    "request %s: extension approval %d of %d by %s",
                    request.ref,
                    len(approvers),
                    needed,
                    actor_id,
                )
                self.notifier.extension_approval_recorded(
                    self.core.people.get(request_id), approvers, needed
                )
                return self.core.people.get(request_id)
            return self.core.extensions.apply(request_id, actor_id, extension=asked)
        with self.store.write():  # the denial and the end of the extension land together
            record("deny")
            if not self.store.drop_extension(request_id, actor_id, reason, now):
                raise AlreadyDecided(f"The extension of {request.ref} was already decided.")
        self.notifier.extension_decided(request, approved=False, actor_id=actor_id, reason=reason)
        return self.core.people.get(request_id)
