"""Grants to people who are not members yet: the invitation carries the role, and at the end
it is withdrawn, or the member who accepted it (whatever their email) is found and pinned so
that the role can be removed exactly.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from bot.access import invitations
from bot.access.engine.core import (
    PLANNING_READ_AGE,
    SYSTEM,
    LeaseLost,
    Part,
)
from bot.access.model import AccessRequest
from bot.access.planning import holds
from bot.access.ports import Member, UpstreamError
from bot.access.states import State
from bot.access.vocabulary import Outcome
from bot.faults import crash_point
from bot.logs import about_request

log = logging.getLogger(__name__)


class Inviting(Part):
    def begin(self, request: AccessRequest, now: datetime, expires_at: datetime) -> None:
        """The requester is not a member: the grant goes out as an invitation carrying the role.

        Who the members are before the invitation is recorded with it: whoever accepts the
        invitation (with whatever email) is then the one new member holding the role."""
        try:
            before = sorted(self.elastic.member_ids(max_age=PLANNING_READ_AGE))
        except UpstreamError as exc:
            self.core.failures.retry_later(request, exc, now)
            return
        moved = self.core.granting.to_granting(
            request,
            now,
            expires_at,
            {
                "inviting": request.requester_email,
                "expires_at": expires_at.isoformat(),
                "members_before": before,
            },
            added=[request.unit],
        )
        self.core.granting.granting_written(moved, expires_at, self.apply)

    @about_request
    def apply(self, request: AccessRequest) -> None:
        """Create (or, after a crash, find) the invitation; idempotent."""
        now = self.clock.now()
        email = request.requester_email
        try:
            pending = self.elastic.pending_invitations()
            token = invitations.find(pending, request.invitation_hash)
            if token is None:
                ours = self.store.has_event(request.id, "elastic_invite_requested")
                theirs = [t for t, e in pending.items() if e.lower() == email.lower()]
                if theirs and ours:
                    token = theirs[0]  # we sent it and crashed before writing the token down
                elif theirs:
                    self.core.failures.fail(
                        request,
                        f"An invitation to {email} is already pending in Elastic Cloud. Accept it "
                        "(or ask an organization owner to delete it), then request again.",
                    )
                    return
                else:
                    self.store.event(
                        request.id, now, SYSTEM, "elastic_invite_requested", {"email": email}
                    )
                    token = self._send(request, asked_before=ours)
                    crash_point("after_elastic_grant")
                self.store.update_fields(
                    request.id, now=now, invitation_hash=invitations.digest(token)
                )
                self.store.event(request.id, now, SYSTEM, "elastic_invite", {"email": email})
        except LeaseLost as lost:
            log.warning("%s", lost)
            return
        except UpstreamError as exc:
            if exc.retryable or self.core.keys.refused(exc, now):
                self.core.failures.retry_later(request, exc, now)
            else:
                self.core.failures.fail(request, f"Elastic Cloud refused the invitation: {exc}")
            return
        self.core.granting.activate(request, {"invited": email}, outcome=Outcome.INVITED)

    def _send(self, request: AccessRequest, asked_before: bool) -> str:
        """POST the invitation once (the client never repeats it) and return its token.

        A timeout or a 5xx may hide an invitation that Elastic created, and
        ``organization.invitation_already_exists`` after the bot asked before means an
        earlier POST of ours landed: then the invitations are listed and the one for this
        email adopted, instead of a second one sent or the request failed."""
        email = request.requester_email
        try:
            expires_in = invitation_expiry(request.duration, self.semantics().invitation_minutes)
            self.hold_lease(request)
            return self.elastic.invite(email, [request.unit], expires_in)
        except UpstreamError as exc:
            exists = exc.code == "organization.invitation_already_exists"
            if not (exc.retryable or (exists and asked_before)):
                raise
            found = [
                t
                for t, e in self.elastic.pending_invitations().items()
                if e.lower() == email.lower()
            ]
            if not found:
                raise
            log.info("request #%s: adopting the invitation found after %s", request.id, exc)
            return found[0]

    def settle(self, request: AccessRequest, now: datetime) -> tuple[str | None, str | None]:
        """End an invitation grant: withdraw it if still pending, else find the new member.

        "Withdrawn" and "unused" are said only when Elastic lists the invitation as still
        pending or as expired. One no longer listed was accepted (or deleted by hand): the
        new member holding the role is then the grantee, whatever their email; if nobody
        can be found, the bot keeps looking (and the overdue alert tells the integration
        owners why)."""
        states = self.elastic.invitation_states()
        token = invitations.find(states, request.invitation_hash)
        state = states.get(token) if token else None
        if state in ("pending", "expired"):
            self.elastic.delete_invitation(token)
            self.store.event(request.id, now, SYSTEM, "elastic_invite_deleted", {"was": state})
            return None, (
                Outcome.INVITATION_WITHDRAWN if state == "pending" else Outcome.INVITATION_UNUSED
            )
        member = self._find_invitee(request)
        if member is None:
            why = (
                f"The invitation to {request.requester_email} is no longer pending, but no new "
                "member of the organization holds the role it carried (it may have been accepted "
                "by an account with another email, which has since lost or changed the role, or "
                "it was deleted by hand). Check the organization's members and remove the role "
                "by hand if someone holds it; the bot keeps looking."
            )
            # Retried for ever; the overdue alert tells the integration owners this, once.
            raise UpstreamError(why, retryable=True, code="invitee_not_found")
        self._pin_invitee(request, member, now)
        return member.user_id, None

    def _members_before(self, request: AccessRequest) -> set[str] | None:
        """The organization's member user IDs recorded before the invitation went out."""
        for event in self.store.events(request.id):
            if "members_before" in event["detail"]:
                return set(event["detail"]["members_before"])
        return None

    def _find_invitee(self, request: AccessRequest) -> Member | None:
        """The member the invitation made: new since it was sent, with the invited email or,
        whatever their email, the only new member holding the role. None if unsure."""
        # A read that starts after the invitation was seen; someone else's unreadable
        # listing must not hold up finding the invitee (theirs leaves them out: unsure).
        members = self.elastic.members(skip_unreadable=True)
        before = self._members_before(request)
        email = request.requester_email.lower()
        if before is None:  # recorded before the bot kept the members: the email only
            new = [m for m in members if m.email.lower() == email]
        else:
            new = [m for m in members if m.user_id not in before]
        by_email = [m for m in new if m.email.lower() == email]
        if by_email:
            return by_email[0]
        holding = [m for m in new if holds(m.units, request.unit)]
        return holding[0] if len(holding) == 1 else None

    def _pin_invitee(self, request: AccessRequest, member: Member, now: datetime) -> None:
        """The invitation's grantee is this member from now on: the role is the bot's."""
        self.store.update_fields(request.id, now=now, elastic_user_id=member.user_id)
        if holds(member.units, request.unit):
            self.store.own_units(member.user_id, [request.unit], request.id, now)
        self.store.event(
            request.id,
            now,
            SYSTEM,
            "invitation_accepted",
            {
                "user_id": member.user_id,
                "same_email": member.email.lower() == request.requester_email.lower(),
            },
        )

    def pin_accepted(self) -> None:
        """During the grant: invitations accepted since the last sweep get their member
        pinned, so a later change of email (or an accept by another account) cannot hide
        the role the bot must remove."""
        waiting = self.store.unpinned_invitations()
        if not waiting:
            return
        now = self.clock.now()
        try:
            states = self.elastic.invitation_states()
            for request in waiting:
                token = invitations.find(states, request.invitation_hash)
                if token is not None and states[token] != "accepted":
                    continue
                member = self._find_invitee(request)
                if member is None:
                    continue
                claimed = self.store.claim(
                    request.id, [State.ACTIVE], now=now, lease=self.policy.lease
                )
                if claimed is None:
                    continue
                try:
                    if claimed.elastic_user_id is None:
                        self._pin_invitee(claimed, member, now)
                finally:
                    self.store.release(request.id)
        except UpstreamError as exc:
            log.warning("sweep: could not look for accepted invitations: %s", exc)

    def remove_membership(self, request: AccessRequest, user_id: str, now) -> None:
        """The bot's invitation made this person a member: take the membership back too,
        unless they hold any role now (someone gave them standing access since, or another
        grant still needs one). Decided on a read that starts now: removing a membership
        removes everything in it, so it is removed only when the member's listed role
        assignments hold nothing at all, scopes the bot does not model included."""
        if self.store.units_needed_by_others(user_id, request.id):
            return
        member = self.elastic.member(user_id)
        if member is None or member.units or not member.holds_nothing:
            return
        if self.elastic.remove_member(user_id):
            self.store.event(
                request.id, now, SYSTEM, "elastic_member_removed", {"user_id": user_id}
            )


def invitation_expiry(duration: timedelta, minutes: bool = False) -> str:
    """The invitation's ``expires_in``: the grant's length rounded up to whole hours, said
    in days when it is whole days (``3d``, ``8h``; 45 minutes is ``1h``). The invitation
    may so outlive the grant by under an hour; the bot's own end of the grant withdraws it.
    Where a probe measured that Elastic takes minutes, a grant of a part hour says so
    (``90m``)."""
    whole = math.ceil(duration.total_seconds() / 60)
    if minutes and whole % 60:
        return f"{whole}m"
    hours = max(1, math.ceil(duration.total_seconds() / 3600))
    return f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"
