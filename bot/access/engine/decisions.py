"""Approvers' decisions on requests and on extensions: who may decide (checked where the click
lands, against Slack as it is now) and one quorum count for both, one approval per human.
"""

from __future__ import annotations

import logging

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
from bot.access.ports import Person, UpstreamError, cannot
from bot.access.states import State
from bot.faults import crash_point
from bot.logs import about_request

log = logging.getLogger(__name__)


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
            actor = self.directory.person(actor_id, fresh=True)
            if actor is not None and self.core.people.is_requester_of(request, strict=True)(actor):
                raise NotAllowed(same_person_as_requester)
            if actor_id not in request.approvers:
                if self.core.people.may_see(request, actor_id):
                    raise NotAllowed(f"You are not an approver of request {request.ref}.")
                raise NotFound(not_yours(request.id))
            current = self.core.people.approvers_for(request, fresh=True, strict=True)
        except UpstreamError as exc:
            raise AccessError(
                f"Slack or Elastic Cloud did not answer when I checked who may decide on "
                f"{request.ref}; nothing was recorded. Try again in a minute."
            ) from exc
        return actor, current

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
                person = self.directory.person(approver_id, fresh=True)
            except UpstreamError:
                person = None
            if person is not None:
                if any(same_person(person, p.id, p.email) for p in seen):
                    continue
                seen.append(person)
            counted.append(approver_id)
        return counted

    @about_request
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
        if not self.store.record_approval(
            request_id, actor_id, "approve" if approve else "deny", reason, now
        ):
            raise AlreadyDecided(f"You already decided on request {request.ref}.")
        if approve:
            approvals = self.counted(
                [
                    a.approver_id
                    for a in self.store.approvals(request_id)
                    if a.decision == "approve"
                ],
                current,
            )
            if len(approvals) < request.approvals_needed:
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
            self.core.granting.grant(request_id, requester_checked=True)
        return self.core.people.get(request_id)

    @about_request
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
        if asked is not None and asked != self.store.extension_asked(request_id):
            raise AlreadyDecided(
                f"That card is for an earlier extension of {request.ref}, which was already "
                "decided; the newest card shows the one waiting now."
            )
        check_reason(reason)
        if approve and (why := self.core.leavers.requester_standing(request)):
            # More time for someone who may no longer have any: the grant ends instead.
            self.core.leavers.end_for_requester(request.requester_id, why, only=request.id)
            raise AlreadyDecided(
                f"{request.ref} was ended: {LEFT.get(why, why)}. The extension was not applied."
            )
        if approve:
            needed = self.core.extensions.extension_quorum(request)
            recorded = self.store.record_extension_approval(
                request_id, actor_id, self.clock.now(), asked=asked
            )
            if recorded is None:
                raise AlreadyDecided(f"The extension of {request.ref} was already decided.")
            approvers, new = recorded
            if not new:
                raise AlreadyDecided(
                    f"You already approved the extension of {request.ref}; it needs {needed} "
                    "approvals."
                )
            approvers = self.counted(approvers, current)
            if len(approvers) < needed:
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
            return self.core.extensions.apply(request_id, actor_id)
        if not self.store.drop_extension(request_id, actor_id, reason, self.clock.now()):
            raise AlreadyDecided(f"The extension of {request.ref} was already decided.")
        self.notifier.extension_decided(request, approved=False, actor_id=actor_id, reason=reason)
        return self.core.people.get(request_id)
