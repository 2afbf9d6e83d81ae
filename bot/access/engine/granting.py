"""Taking an approved request to an active grant: plan exactly what to add (the pure
:mod:`bot.access.planning`), write the row first, then make Elastic Cloud hold it and confirm
with a read. A member who is not in the organization yet is invited instead
(:mod:`bot.access.engine.inviting`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.access import planning
from bot.access.engine.core import (
    IDENTITY_READ_AGE,
    PLANNING_READ_AGE,
    SYSTEM,
    LeaseLost,
    Part,
)
from bot.access.model import AccessRequest
from bot.access.planning import holds
from bot.access.ports import Member, UpstreamError
from bot.access.resources import ResourceKind
from bot.access.states import State
from bot.faults import crash_point
from bot.logs import about_request

log = logging.getLogger(__name__)


class Granting(Part):
    def due(self, request_id: int, requester_checked: bool = False) -> None:
        """An approved request is ready to grant: hand it to the worker (which claims it from
        the database, as it would after a crash), or grant it here when nobody takes
        hand-offs. Why: the process that recorded a click answers Slack; the Elastic calls,
        the retries and the DMs behind a grant belong to the worker, which may be another
        process (``python -m bot worker``)."""
        if self.on_grant_due is not None:
            self.on_grant_due(request_id)
        else:
            self.grant(request_id, requester_checked=requester_checked)

    @about_request
    def grant(self, request_id: int, requester_checked: bool = False) -> None:
        """Take an approved request to an active grant (or to a retry, or to failed).

        ``requester_checked``: the decision that approved it looked the requester up in
        Slack a moment ago, so the grant does not ask again (the sweep's retries do)."""
        now = self.clock.now()
        request = self.store.claim(request_id, [State.APPROVED], now=now, lease=self.policy.lease)
        if request is None:
            return
        if not requester_checked and (why := self.core.leavers.requester_standing(request)):
            self.core.leavers.end_for_requester(request.requester_id, why, only=request.id)
            return
        if self.core.keys.wait(request, now):
            return
        expires_at = now + request.duration
        try:
            if why := self._stack_roles_gone(request):
                self.core.failures.fail(request, why)
                return
            member = self._planning_read(request.requester_email)
        except UpstreamError as exc:
            self.core.keys.refused(exc, now)
            self.core.failures.retry_later(request, exc, now)
            return
        if member is None:
            self.core.inviting.begin(request, now, expires_at)
            return
        # A role that would replace one the member holds on that resource is refused, not
        # guessed at (planning.refusal says why; the requester and the approvers are told).
        owned = self.store.owned_units(member.user_id)
        if why := planning.refusal(request.unit, member.units, self.semantics(), owned):
            self.core.failures.fail(request, why)
            return
        to_add = planning.to_add(member.units, request.unit)
        with self.store.write():
            moved = self.to_granting(
                request,
                now,
                expires_at,
                {"adding": [u.text for u in to_add], "expires_at": expires_at.isoformat()},
                elastic_user_id=member.user_id,
                added=to_add,
                # Standing access only: what the bot itself added is not the member's own.
                held_before=sorted(
                    planning.standing(member.units, self.store.owned_units(member.user_id))
                ),
            )
            # Owned only by a grant that did move: a request cancelled meanwhile (its
            # requester left while the member was read) must own nothing, or a later grant
            # of the same role would take the member's own access for the bot's.
            if moved is not None:
                self.store.own_units(member.user_id, to_add, request.id, now)
        self.granting_written(moved, expires_at, self.apply_grant)

    def to_granting(
        self, request: AccessRequest, now: datetime, expires_at: datetime, detail: dict, **fields
    ) -> AccessRequest | None:
        """APPROVED → GRANTING: the row says what the grant adds, and until when, before
        Elastic is asked (a grant to a member, or an invitation)."""
        return self.store.transition(
            request.id,
            [State.APPROVED],
            State.GRANTING,
            now=now,
            actor=SYSTEM,
            detail=detail,
            release_lease=False,
            granted_at=now,
            expires_at=expires_at,
            **fields,
        )

    def granting_written(
        self,
        moved: AccessRequest | None,
        expires_at: datetime,
        apply: Callable[[AccessRequest], None],
    ) -> None:
        """After the GRANTING row (``moved``; None: it did not move): the expiry is scheduled,
        then ``apply`` makes Elastic hold the grant."""
        if moved is None:
            return
        if self.on_expiry_set:
            self.on_expiry_set(moved.id, expires_at)
        crash_point("after_grant_row")
        apply(moved)

    def _stack_roles_gone(self, request: AccessRequest) -> str | None:
        """Why a project's custom role the request names can no longer be granted: the
        project no longer lists it (deleted or renamed since the request was filed, maybe
        days ago). Read again now, once per such grant; Elastic not answering raises, and
        the grant is retried. Deployments' stack roles come from policy and are not listed
        anywhere the bot can read."""
        unit = request.unit
        if not unit.application_roles or request.resource.kind is not ResourceKind.PROJECT:
            return None
        listed = set(self.catalogue.stack_roles(request.resource))
        missing = [r for r in unit.application_roles if r not in listed]
        if not missing:
            return None
        return (  # plain text, like planning.refusal's: the message's renderer escapes it
            f"{request.resource.label} no longer has the role "
            + ", ".join(f"`{r}`" for r in missing)
            + " (deleted or renamed since the request was filed); nothing was granted. "
            "Ask again for a role the project has."
        )

    def _planning_read(self, email: str) -> Member | None:
        """The requester as a member, read recently enough to plan a grant on.

        Who they are (email to user ID) may come from an older read; what they hold comes
        from a read that starts now. A read even two seconds old may miss access given a
        moment ago (by an owner, or by another replica's revocation or put-back): the bot
        would add that role again, take it for its own, and remove it at the end. Approvals
        come at a person's pace, so this costs one read per grant (shared by concurrent
        grants). Someone not found is looked for again in a fresh read: joining a moment ago
        is no reason to be sent an invitation."""
        known = self.elastic.find_member(email, max_age=IDENTITY_READ_AGE, consistent=False)
        if known is not None:
            member = self.elastic.member(known.user_id, max_age=0)
            if member is not None:
                return member
        return self.elastic.find_member(email)

    @about_request
    def apply_grant(self, request: AccessRequest) -> None:
        """Make Elastic hold what the GRANTING row says; idempotent, so safe to repeat."""
        if request.elastic_user_id is None:
            self.core.inviting.apply(request)
            return
        now = self.clock.now()
        try:
            member = self.elastic.member(request.elastic_user_id, max_age=PLANNING_READ_AGE)
            if member is None:
                self.core.failures.fail(
                    request, "The Elastic Cloud member disappeared before the grant."
                )
                return
            # Whatever was planned, the member must end up holding the role: if what they held
            # when the grant was planned has gone since, the bot adds (and owns) it after all.
            missing = [] if holds(member.units, request.unit) else [request.unit]
            if missing and request.unit not in request.added:
                self.store.own_units(request.elastic_user_id, missing, request.id, now)
                self.store.update_fields(request.id, now=now, added=missing)
                request.added = missing
            if missing:
                self.hold_lease(request)
                self.elastic.add_units(request.elastic_user_id, missing)
                crash_point("after_elastic_grant")
                self.store.event(
                    request.id, now, SYSTEM, "elastic_add", {"units": [u.text for u in missing]}
                )
                check = self.elastic.member(request.elastic_user_id)
                if check is None or not holds(check.units, request.unit):
                    raise UpstreamError(
                        "Elastic Cloud accepted the role assignment but the member does not hold it.",
                        retryable=True,
                        code="confirm_mismatch",
                    )
                member = check
        except LeaseLost as lost:
            log.warning("%s", lost)
            return
        except UpstreamError as exc:
            if exc.retryable or self.core.keys.refused(exc, now):
                self.core.failures.retry_later(request, exc, now)
            elif request.added:
                self._settle_refused_grant(request, exc, now)
            else:
                self.core.failures.fail(request, self._refusal(request, exc))
            return
        self.activate(request, self.displacement(request, member))

    def _settle_refused_grant(self, request: AccessRequest, exc: UpstreamError, now) -> None:
        """A grant that may have written something failed: never disown the role on the word
        of an error. A read that starts now decides: the member holds the role (the write
        reached Elastic; only a read after it failed), so the grant is active; they do not,
        so nothing was changed and the request fails; the read fails too, so the grant is
        confirmed later (and ends through the revocation, which removes what may have been
        added, if its time comes first)."""
        try:
            fresh = self.elastic.member(request.elastic_user_id)
        except UpstreamError as again:
            self.core.failures.retry_later(request, again, now)
            return
        if fresh is not None and holds(fresh.units, request.unit):
            self.activate(
                request, {"confirmed_after": str(exc)[:200]} | self.displacement(request, fresh)
            )
        else:
            self.core.failures.fail(request, self._refusal(request, exc))

    def activate(self, request: AccessRequest, detail: dict, **fields) -> None:
        """GRANTING → ACTIVE once Elastic holds the grant (or the invitation carries it)."""
        active = self.store.transition(
            request.id,
            [State.GRANTING],
            State.ACTIVE,
            now=self.clock.now(),
            actor=SYSTEM,
            event="granted",
            detail={"units": [request.unit.text], "expires_at": request.expires_at.isoformat()}
            | detail,
            attempts=0,
            next_attempt_at=None,
            last_error=None,
            **fields,
        )
        if active:
            log.info("request %s granted until %s", active.ref, active.expires_at)
            self.core.outbox.tell(active)

    def _refusal(self, request: AccessRequest, exc: UpstreamError) -> str:
        """Why Elastic refused a grant, in words: a vanished deployment says so plainly."""
        unit = request.unit
        if (
            getattr(exc, "status", None) == 403
            and unit.scope == "deployment"
            and unit.target != "*"
        ):
            try:
                state = self.elastic.deployment_state(unit.target)
            except UpstreamError:
                state = "unknown"
            if state == "missing":
                return f"{request.resource.label} no longer exists in Elastic Cloud."
            if state == "hidden":
                return f"{request.resource.label} is stopped; Elastic Cloud refuses role assignments on it."
        return f"Elastic Cloud refused the role assignment: {exc}"

    @about_request
    def resume(self, request_id: int) -> None:
        now = self.clock.now()
        request = self.store.claim(request_id, [State.GRANTING], now=now, lease=self.policy.lease)
        if request is None:
            return
        if request.expires_at and request.expires_at <= now:
            self.core.revocation.end_on_expiry(request_id, State.GRANTING, now)
            return
        if why := self.core.leavers.requester_standing(request):
            self.store.release(request_id)
            self.core.leavers.end_for_requester(request.requester_id, why, only=request.id)
            return
        if self.core.keys.wait(request, now):
            return
        self.apply_grant(request)

    def displacement(self, request: AccessRequest, current: Member | None) -> dict:
        """What the grant's role replaced on the same resource (recorded with the grant)."""
        if current is None or request.elastic_user_id is None:
            return {}
        wanted = set(request.held_before) | self.store.units_needed_by_others(
            request.elastic_user_id, request.id
        )
        gone = planning.displaced(request.unit, wanted, current.units)
        return {"displaced": [u.text for u in gone]} if gone else {}
