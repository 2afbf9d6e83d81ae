"""Ending a grant: on a person's word (revoke), at its end time (expire), or for a leaver.
Exactly what the grant added and nobody else needs is removed; what an ``all`` assignment
absorbed, or the grant's role replaced, is put back; a stopped deployment parks the removal;
roles that appeared during an admin grant are reported, never removed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.access import alerts, planning
from bot.access.durations import format_duration
from bot.access.engine.core import (
    PLANNING_READ_AGE,
    SLACK_DOWN,
    SYSTEM,
    LeaseLost,
    Part,
)
from bot.access.errors import AccessError, AlreadyDecided, NotAllowed
from bot.access.model import AccessRequest
from bot.access.planning import holds
from bot.access.ports import Member, UpstreamError
from bot.access.resources import CONSOLE_ONLY, CONSOLE_ONLY_OF, Unit
from bot.access.states import State
from bot.access.text import escape
from bot.access.vocabulary import Outcome
from bot.faults import crash_point
from bot.logs import about_request

log = logging.getLogger(__name__)

#: Roles that can give themselves or others more: what appears during their grants is
#: reported to the integration owners when they end. The serverless projects' admin roles
#: are the deployment admin's counterparts; a console-only variant is the same Cloud role.
ADMIN_ROLES = frozenset({"organization-admin"}) | CONSOLE_ONLY_OF
#: The error code of a removal Elastic refuses because the deployment is stopped (hidden).
STOPPED = "deployment_stopped"


class Revocation(Part):
    @about_request
    def revoke(self, request_id: int, actor_id: str) -> AccessRequest:
        """End an active grant now, on a person's word (requester, approver or owner)."""
        request = self.core.people.visible(request_id, actor_id)
        allowed = actor_id == request.requester_id
        if not allowed:
            # Ending someone else's access: only a full member who approves it or owns the
            # integration, as Slack says now.
            try:
                person = self.directory.person(actor_id, fresh=True)
                allowed = (
                    person is not None
                    and person.active
                    and (
                        actor_id in self.core.people.integration_owners(fresh=True)
                        # an approver it was sent to who is still one (tags and groups now)
                        or actor_id in self.core.people.approvers_for(request, fresh=True)
                    )
                )
            except UpstreamError as exc:
                raise AccessError(SLACK_DOWN) from exc
        if not allowed:
            raise NotAllowed(
                f"Only the requester, an approver or an integration owner can revoke {request.ref}."
            )
        if request.state is State.GRANTING:
            raise AlreadyDecided(f"{request.ref} is still being granted; try again in a moment.")
        if request.state is not State.ACTIVE:
            raise AlreadyDecided(f"{request.ref} is not active (it is {request.state.value}).")
        moved = self.store.transition(
            request_id,
            [State.ACTIVE],
            State.REVOKING,
            now=self.clock.now(),
            actor=actor_id,
            event="revoke_requested",
            ended_by=actor_id,
        )
        if moved is None:
            raise AlreadyDecided(f"{request.ref} is already ending.")
        if self.on_ended:
            self.on_ended(request_id)
        self.due(request_id)
        return self.core.people.get(request_id)

    def due(self, request_id: int) -> None:
        """A revoking row is ready to finish: hand it to the worker (which claims it from the
        database), or finish it here when nobody takes hand-offs. Why: the process that
        took the click answers Slack; the Elastic calls and their retries are the worker's."""
        if self.on_revoke_due is not None:
            self.on_revoke_due(request_id)
        else:
            self.finish(request_id)

    def _remove(self, user_id: str, units: set[Unit]) -> str | None:
        """Remove ``units``; a deployment deleted since the grant counts as removed.

        Elastic refuses a removal that names a deployment it no longer shows (403); a deleted
        deployment takes its assignments with it, so that is success, while a stopped (hidden)
        one keeps them and the refusal is retried and reported.
        """
        try:
            self.elastic.remove_units(user_id, sorted(units))
            return None
        except UpstreamError as exc:
            deployments = [u for u in units if u.scope == "deployment" and u.target != "*"]
            if getattr(exc, "status", None) != 403 or not deployments:
                raise
            states = {u.target: self.elastic.deployment_state(u.target) for u in deployments}
            if all(state == "missing" for state in states.values()):
                return Outcome.RESOURCE_GONE
            if any(state == "hidden" for state in states.values()):
                raise UpstreamError(
                    "Elastic Cloud refuses to remove the role because the deployment is stopped "
                    f"(hidden); it must be removed by hand or after the deployment restarts ({exc})",
                    retryable=True,
                    code=STOPPED,
                ) from exc
            raise

    def restore_shadowed(
        self,
        request: AccessRequest,
        user_id: str,
        removed: set[Unit],
        member,
        now: datetime,
        displaced: set[Unit],
    ):
        """Put back specific assignments an ``all`` assignment had absorbed.

        Adding ``all: true`` for a role may replace the member's per-deployment (or per-project)
        assignments of that role; removing it then takes those away too. Whatever the member
        held before this grant, or another live grant still needs, is added back here.
        ``displaced``: what the grant's role replaced on the same resource, as recorded when
        it was granted (the caller has the request's events at hand).
        """
        if not any(u.target == "*" for u in removed) and not displaced:
            return member
        others = self.store.units_needed_by_others(user_id, request.id)
        # Standing access as it was when each removed unit was added (maybe by another grant).
        standing = set(request.held_before)
        for unit in removed:
            adder = self.store.adder_of(user_id, unit)
            if adder is not None and adder != request.id and (found := self.store.get(adder)):
                standing |= set(found.held_before)
        restore = planning.to_restore(removed, member.units, standing, others)
        # What the grant's role replaced on the same resource comes back once it is gone.
        if displaced and not holds(member.units, request.unit):
            restore = sorted(
                set(restore)
                | {u for u in displaced & (standing | others) if not holds(member.units, u)}
            )
        if not restore:
            return member
        self.hold_lease(request)
        self.elastic.add_units(user_id, restore)
        self.store.own_units(
            user_id, planning.owned_after_restore(restore, others, standing), request.id, now
        )
        self.store.event(
            request.id, now, SYSTEM, "elastic_restore", {"units": [u.text for u in restore]}
        )
        return self.elastic.member(user_id) or member

    def _put_back(
        self, request: AccessRequest, user_id: str, beside: set[Unit], member: Member, now: datetime
    ) -> Member | None:
        """Add back the entries of the removed role that were there beside the grant's and
        are gone now: the bot did not add them, so its removal must not take them."""
        lost = sorted(beside - member.units)
        if not lost:
            return member
        self.hold_lease(request)
        self.elastic.add_units(user_id, lost)
        self.store.event(
            request.id,
            now,
            SYSTEM,
            "elastic_put_back",
            {
                "units": [u.text for u in lost],
                "why": "the removal also took these entries of the same role",
            },
        )
        log.warning(
            "%s: the removal also took %s; put back", request.ref, ", ".join(u.text for u in lost)
        )
        return self.elastic.member(user_id) or member

    def _still_held(
        self,
        request: AccessRequest,
        removed: set[Unit],
        held: set[Unit],
        needed: set[Unit],
        confirmed: bool,
    ) -> bool:
        """Whether Elastic still shows a removed entry, as it was sent or (for a grant whose
        entry Elastic never listed as sent) without its ``application_roles``."""
        if removed & held:
            return True
        return not confirmed and bool(
            planning.shown_otherwise(removed - held, held, request.held_before, needed)
        )

    @about_request
    def expire(self, request_id: int) -> None:
        """The timer's entry point: end the grant if (and only if) its time has come."""
        now = self.clock.now()
        request = self.store.get(request_id)
        if request is None or request.state is not State.ACTIVE:
            if request is not None and request.state is State.REVOKING:
                self.finish(request_id)
            return
        if request.expires_at is None or request.expires_at > now:
            return
        self.end_on_expiry(request_id, State.ACTIVE, now)

    def end_on_expiry(self, request_id: int, source: State, now: datetime) -> None:
        """The end time has come: claim the revocation (once) and carry it out."""
        moved = self.store.transition(
            request_id,
            [source],
            State.REVOKING,
            now=now,
            actor=SYSTEM,
            event="expiring",
            ended_by=SYSTEM,
        )
        if moved:
            self.finish(request_id)

    @about_request
    def finish(self, request_id: int) -> None:
        """Remove exactly what this grant added and nobody else still needs; retry on failure."""
        now = self.clock.now()
        request = self.store.claim(request_id, [State.REVOKING], now=now, lease=self.policy.lease)
        if request is None:
            return
        crash_point("after_revoking_row")
        user_id = request.elastic_user_id
        to_remove: set[Unit] = set()
        holds_after = False
        gone: str | None = None
        member: Member | None = None
        try:
            if request.invitation_hash and not user_id:
                user_id, gone = self.core.inviting.settle(request, now)
            if user_id:
                needed = self.store.units_needed_by_others(user_id, request.id)
                candidates = planning.release(request.unit, self.store.owned_units(user_id), needed)
                # A read up to PLANNING_READ_AGE old (a burst of revocations shares it). If
                # it does not show everything this grant owns, it may predate another
                # process's change (its grant, or a put-back): read again, fresh, rather
                # than end the grant with the role still held.
                member = self.elastic.member(user_id, max_age=PLANNING_READ_AGE)
                if member is not None and candidates - member.units:
                    member = self.elastic.member(user_id, max_age=0)
                events = self.store.events(request.id)  # the record so far, read once
                # Once a read showed the grant's entry exactly as sent (it became active),
                # Elastic lists its application_roles faithfully: an entry of the same role
                # without them is somebody else's, not this one shown otherwise.
                confirmed = any(e["kind"] == "granted" for e in events)
                if member is not None:
                    # Listed without role assignments (null or left out), what they hold
                    # is not known, so nothing proves the grant's entry gone: the bot
                    # removes what it owns (a DELETE of what is gone changes nothing).
                    to_remove = (
                        planning.to_remove(candidates, member.units)
                        if member.listed
                        else set(candidates)
                    )
                    if not confirmed:
                        to_remove |= planning.shown_otherwise(
                            candidates - to_remove, member.units, request.held_before, needed
                        )
                    # Entries of the same role there that are not the grant's: a DELETE
                    # that ignores application_roles takes them too; they are put back.
                    beside = planning.beside_removed(to_remove, member.units)
                    # Removals sent by earlier passes (a crash or a failure may have come
                    # between the DELETE and the restore): their restores are due on every
                    # pass, against a read that starts after the removal.
                    removed = _recorded(events, "elastic_remove_sent", "units") | to_remove
                    if to_remove:
                        self.store.event(
                            request.id,
                            now,
                            SYSTEM,
                            "elastic_remove_sent",
                            {"units": [u.text for u in to_remove]}
                            | ({"beside": [u.text for u in sorted(beside)]} if beside else {}),
                        )
                        self.hold_lease(request)
                        gone = self._remove(user_id, to_remove)
                        crash_point("after_elastic_revoke")
                        self.store.event(
                            request.id,
                            now,
                            SYSTEM,
                            "elastic_remove",
                            {"units": [u.text for u in to_remove]},
                        )
                    put_back = beside | _recorded(events, "elastic_remove_sent", "beside")
                    # What the grant's role replaced on the resource (recorded when granted).
                    displaced = _recorded(events, "granted", "displaced")
                    if to_remove or put_back or any(u.target == "*" for u in removed) or displaced:
                        member = self.elastic.member(user_id)
                    if member is not None and not gone:
                        member = self._put_back(request, user_id, put_back, member, now)
                    if member is not None:
                        member = self.restore_shadowed(
                            request, user_id, removed, member, now, displaced
                        )
                        # A deleted deployment's assignment may linger (harmless); skip the check.
                        if (
                            member is not None
                            and not gone
                            and self._still_held(
                                request, to_remove, member.units - put_back, needed, confirmed
                            )
                        ):
                            raise UpstreamError(
                                "Elastic Cloud accepted the removal but the member still holds the role.",
                                retryable=True,
                                code="confirm_mismatch",
                            )
                    holds_after = (
                        member is not None and not gone and holds(member.units, request.unit)
                    )
                # Released whether present or not: what is gone no longer needs removing.
                self.store.disown_units(user_id, candidates)
                if request.invitation_hash and member is not None:
                    self.core.inviting.remove_membership(request, user_id, now)
        except LeaseLost as lost:
            log.warning("%s", lost)
            return
        except UpstreamError as exc:
            if exc.code == STOPPED:
                self._park(request, exc, now)
            else:
                self.core.failures.retry_later(request, exc, now)
            return
        final = State.EXPIRED if request.ended_by in (None, SYSTEM) else State.REVOKED
        appeared = self._appeared(request, user_id, member) if user_id and member else []
        if gone:
            outcome = gone
        elif to_remove:
            outcome = Outcome.REMOVED
        elif holds_after:
            outcome = Outcome.KEPT  # standing access or another live grant still gives the role
        elif self.store.was_granted(request_id):
            outcome = Outcome.REMOVED  # an earlier attempt removed it (a crash before the record)
        else:
            outcome = Outcome.NEVER_GRANTED
        ended = self.store.transition(
            request_id,
            [State.REVOKING],
            final,
            outcome=outcome,
            now=self.clock.now(),
            actor=request.ended_by or SYSTEM,
            detail={"removed": sorted(u.text for u in to_remove)}
            | ({"appeared": [u.text for u in appeared]} if appeared else {}),
            ended_at=self.clock.now(),
            attempts=0,
            next_attempt_at=None,
            parked=None,
        )
        if ended is None:
            return
        log.info("request %s %s", ended.ref, ended.state.value)
        # Telling people (Slack calls, App Home) must not hold up the next revocation: it goes
        # to a one-thread queue; the notification outbox re-sends it if the process dies first.
        self.core.outbox.notify_later(ended)
        if self.store.was_alerted(request_id):
            self.notifier.revocation_recovered(ended, self.core.people.integration_owners())
        if appeared:
            self._report_appeared(ended, user_id, appeared)

    @about_request
    def _park(self, request: AccessRequest, exc: UpstreamError, now: datetime) -> None:
        """Elastic refuses the removal because the deployment is stopped (hidden): no backoff
        will change that, so the revocation is parked and retried every ``parked_retry``; the
        integration owners are alerted once, with a button to acknowledge (the overdue alert
        does not come on top), and hear again when the role is finally removed."""
        every = format_duration(self.policy.parked_retry)
        why = f"{request.resource.name} is stopped; removal retried every {every}"
        first = not self.store.has_event(request.id, "revocation_parked")
        self.store.update_fields(
            request.id,
            now=now,
            attempts=request.attempts + 1,
            next_attempt_at=now + self.policy.parked_retry,
            last_error=str(exc)[:500],
            parked=why,
            lease_owner=None,
            lease_until=None,
        )
        if not first:
            log.info("request %s: still parked (%s)", request.ref, why)
            return
        self.store.event(
            request.id, now, SYSTEM, "revocation_parked", {"why": why, "error": str(exc)[:500]}
        )
        log.warning("request %s: revocation parked: %s", request.ref, why)
        self.store.mark_alerted(request.id, now)  # this is the alert; no overdue one on top
        self.notifier.revocation_parked(
            self.core.people.get(request.id), self.core.people.integration_owners()
        )

    def acknowledge_parked(self, request_id: int, actor_id: str) -> str:
        """An integration owner acknowledges a parked revocation: recorded as theirs."""
        if actor_id not in self.core.people.integration_owners(fresh=True):
            raise NotAllowed("Only an integration owner can acknowledge a parked revocation.")
        request = self.core.people.get(request_id)
        if request.state is not State.REVOKING or not request.parked:
            return f"{request.ref} is no longer parked ({request.state.value}); nothing to acknowledge."
        self.store.event(
            request.id, self.clock.now(), actor_id, "parked_acknowledged", {"why": request.parked}
        )
        log.info("request %s: parked revocation acknowledged by %s", request.ref, actor_id)
        return f"Acknowledged {request.ref}: {escape(request.parked)}. Recorded in the audit trail."

    def _appeared(self, request: AccessRequest, user_id: str, member: Member) -> list[Unit]:
        """After an admin grant (organization owner, deployment or project admin, console-only
        or not) is removed: the roles
        the member holds now that they did not hold before the grant and that no grant of
        the bot gives (self-assigned, or added by the grantee). Reported, never removed."""
        if request.role_id.removesuffix(CONSOLE_ONLY) not in ADMIN_ROLES:
            return []
        expected = (
            set(request.held_before)
            | self.store.units_needed_by_others(user_id, request.id)
            | self.store.owned_units(user_id)
            | {request.unit}
        )
        return sorted(u for u in member.units if not holds(expected, u))

    def _report_appeared(self, request: AccessRequest, user_id: str, appeared: list[Unit]) -> None:
        """Tell the integration owners, once, what appeared during an admin grant."""
        now = self.clock.now()
        detail = {"user_id": user_id, "units": [u.text for u in appeared]}
        if not self.store.first_finding(
            f"appeared:{request.id}", "appeared_during_grant", request.id, detail, now
        ):
            return
        self.store.event(request.id, now, SYSTEM, "roles_appeared_reported", detail)
        log.warning(
            "request %s: roles appeared during the grant: %s",
            request.ref,
            ", ".join(u.text for u in appeared),
        )
        targets = {u.target for u in appeared}
        names = {r.id: r.name for r in self.catalogue.all() if r.id in targets}
        self.notifier.notify_owners(
            self.core.people.integration_owners(),
            alerts.RolesAppeared(request, user_id, tuple(appeared), names),
        )


def _recorded(events: list[dict], kind: str, key: str) -> set[Unit]:
    """The units the events of ``kind`` list under ``key`` (what a pass sent or put back)."""
    return {
        Unit.parse(text)
        for event in events
        if event["kind"] == kind
        for text in event["detail"].get(key, [])
    }
