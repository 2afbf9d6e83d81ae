"""The service that runs a request through its life: file, decide, grant, revoke, sweep.

Every step writes the store first (one conditional write, with its audit event) and only then
calls Elastic Cloud or tells anyone; a step that fails leaves the row in a state the sweep
picks up again, so a crash or an outage delays work but never loses it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from bot.access import invitations, planning
from bot.access.durations import format_duration
from bot.access.errors import AccessError, AlreadyDecided, InvalidRequest, NotAllowed, NotFound
from bot.access.identity import canonical_email, same_person
from bot.access.limits import check_justification, check_reason
from bot.access.listing import parse_list_filters, visible_scope
from bot.access.model import AccessRequest
from bot.access.planning import SAFEST, Semantics, holds
from bot.access.policy import AccessPolicy
from bot.access.ports import (
    Catalogue,
    Directory,
    ElasticPort,
    Member,
    Notifier,
    Person,
    UpstreamError,
    cannot,
)
from bot.access.resources import Resource, Unit, role_label, unit_for
from bot.access.routing import OwnerAttribute, Routing, route, tag_references
from bot.access.rules import Rule, justification_ok
from bot.access.states import State
from bot.access.text import escape
from bot.access.visibility import Viewer
from bot.clock import Clock
from bot.faults import crash_point
from bot.logs import about_request

log = logging.getLogger(__name__)

#: Who "acts" when nobody clicked: the expiry timer, the sweep.
SYSTEM = "system"
#: Who approves when a policy rule says auto_approve.
AUTO = "policy"
#: Who approves a break-glass request: nobody; the requester took it, on the record.
BREAK_GLASS = "break-glass"
#: What a person is told when Slack could not say who they are: nothing is assumed.
SLACK_DOWN = (
    "Slack did not answer when I looked you up, so nothing was done. Try again in a minute."
)
#: Who ends a grant whose requester may no longer have access (deactivated, now a guest…).
OFFBOARDING = "offboarding"
#: Why a requester may no longer have access, for the records and the messages.
LEFT = {
    "deactivated": "the requester was deactivated in Slack",
    "bot": "the requester is a bot account",
    "guest": "the requester is now a guest in Slack",
    "external": "the requester is not a member of this workspace",
    "unconfirmed": "the requester's Slack email address is not confirmed",
    "domain": "the requester's email address is outside the allowed domains",
}
#: How old (seconds) a read of the members may be when deciding what to add or remove;
#: every change is then confirmed by a read that starts after it.
PLANNING_READ_AGE = 2.0
#: How old a read may be when it only tells who someone is (membership, user ID).
IDENTITY_READ_AGE = 30.0
#: While Elastic Cloud refuses the API key, how often the sweep asks again: from the first,
#: doubling up to the last.
KEY_PROBE_FIRST = timedelta(seconds=30)
KEY_PROBE_MAX = timedelta(minutes=15)
#: How far back the reconciliation checks what the bot removed (grants ended since).
RECONCILE_LOOKBACK = timedelta(days=30)
#: Roles that can give themselves or others more: what appears during their grants is
#: reported to the integration owners when they end.
ADMIN_ROLES = ("organization-admin", "deployment-admin")
#: The error code of a removal Elastic refuses because the deployment is stopped (hidden).
STOPPED = "deployment_stopped"
#: Days before the API key expires when the integration owners are warned, and how often
#: its expiry is read (with ``ELASTIC_CLOUD_API_KEY_ID`` set).
KEY_EXPIRY_WARNINGS = (14, 7, 1)
KEY_EXPIRY_CHECK = timedelta(hours=6)


class AccessService:
    def __init__(
        self,
        *,
        store,  # bot.store.Store (duck-typed: the core names no database)
        elastic: ElasticPort,
        directory: Directory,
        catalogue: Catalogue,
        notifier: Notifier,
        clock: Clock,
        policy: AccessPolicy,
    ) -> None:
        self.store = store
        self.elastic = elastic
        self.directory = directory
        self.catalogue = catalogue
        self.notifier = notifier
        self.clock = clock
        self.policy = policy
        #: Called with (request_id, expires_at) when a grant gets an expiry (the scheduler).
        self.on_expiry_set: Callable[[int, datetime], None] | None = None
        #: Called with request_id when a grant ends early (to drop its timer).
        self.on_ended: Callable[[int], None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._notifier_pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._last_recheck: datetime | None = None
        self._break_glass_lock = threading.Lock()
        #: While the API key is refused: since when, and when the sweep next asks again.
        self._key_lock = threading.Lock()
        self._key_rejected_since: datetime | None = None
        self._key_probe_at: datetime | None = None
        self._key_probe_delay = KEY_PROBE_FIRST
        #: The API key's ID (``ELASTIC_CLOUD_API_KEY_ID``): set, its expiry is watched.
        self.api_key_id: str | None = None
        self._key_expiry_read_at: datetime | None = None
        self._key_expiry_warned: set[int] = set()
        #: How Elastic behaves where it documents nothing: what ``python -m bot probe``
        #: measured (the runtime reads it from the database), else the safest assumptions.
        self.semantics: Callable[[], Semantics] = lambda: SAFEST

    # ------------------------------------------------------------------ people and owners
    def integration_owners(
        self,
        exclude: str | None = None,
        fresh: bool = False,
        not_requester: Callable[[Person], bool] | None = None,
    ) -> list[str]:
        """The integration owners as Slack user IDs, resolved now (groups change): full
        members only, never ``exclude`` nor anyone ``not_requester`` says is the requester."""
        ids: list[str] = []
        for reference in self.policy.integration_owners:
            try:
                people = self.directory.resolve(reference, fresh=fresh)
            except UpstreamError as exc:  # Slack did not answer: this one counts as nobody now
                log.warning("integration owner %s not resolved now: %s", reference, exc)
                continue
            for person in people:
                if (
                    person.active
                    and person.id != exclude
                    and not (not_requester and not_requester(person))
                    and person.id not in ids
                ):
                    ids.append(person.id)
        return ids

    def is_requester(
        self,
        requester_id: str,
        requester_email: str | None,
        elastic_user_id: str | None = None,
        strict: bool = False,
    ) -> Callable[[Person], bool]:
        """A test for "this person is the requester", per human rather than per account
        (:func:`bot.access.identity.same_person`). ``strict``: when Elastic cannot say who
        someone is, refuse (click time) rather than assume (filing, where a click re-checks)."""

        def elastic_id_of(email: str) -> str | None:
            try:
                member = self.elastic.find_member(
                    email, max_age=IDENTITY_READ_AGE, consistent=False
                )
            except UpstreamError:
                if strict:
                    raise
                return None
            return member.user_id if member else None

        return lambda person: same_person(
            person, requester_id, requester_email, elastic_user_id, elastic_id_of
        )

    def _is_requester_of(self, request: AccessRequest, strict: bool = False):
        return self.is_requester(
            request.requester_id, request.requester_email, request.elastic_user_id, strict
        )

    def routing(
        self, resource: Resource, is_requester: Callable[[Person], bool], fresh: bool = False
    ) -> Routing:
        """Who may approve a request for ``resource`` now (owners by tag, else integration)."""
        current = self.catalogue.find(resource.key) or resource  # tags as they are now
        return route(
            current,
            is_requester,
            self.directory,
            self.policy.integration_owners,
            self.policy.resource_owner,
            fresh=fresh,
        )

    def approvers_for(
        self, request: AccessRequest, fresh: bool = False, strict: bool = False
    ) -> list[str]:
        """Who may decide on ``request`` now: the approvers it was filed with (plus the
        integration owners it was escalated to) who are still approvers as Slack and the
        tags are now. An edit of a tag or a user group can take approvers away, never add
        them: authority comes from data others can edit, so it may only shrink."""
        not_requester = self._is_requester_of(request, strict)
        ids = list(self.routing(request.resource, not_requester, fresh).approvers)
        if request.escalated_at is not None:
            ids += [
                i
                for i in self.integration_owners(fresh=fresh, not_requester=not_requester)
                if i not in ids
            ]
        return [i for i in ids if i in request.approvers]

    def _report_unresolved(
        self, references: tuple[str, ...], context: str, known: dict[str, str] | None = None
    ) -> None:
        """Tell the integration owners, once per reference, about an owner that names nobody."""
        now = self.clock.now()
        reasons = {**self.directory.unresolved, **(known or {})}
        fresh = [
            r for r in references if self.store.first_report(r, reasons.get(r, "unresolved"), now)
        ]
        if fresh:
            lines = ", ".join(
                f"`{escape(r)}` ({escape(reasons.get(r, 'names no active Slack user'))})"
                for r in fresh
            )
            self.notifier.notify_owners(
                self.integration_owners(),
                f"An owner named for {escape(context)} does not resolve to an active Slack user: "
                f"{lines}. "
                "Fix the tag or the integration_owners setting.",
            )

    def owned_resource_keys(self, user_id: str) -> set[str]:
        """Keys of the catalogue resources whose owner tag names ``user_id`` (now)."""
        setting = self.policy.resource_owner
        if setting is None:
            return set()
        try:
            person = self.directory.person(user_id)
        except UpstreamError:
            return set()  # who they are is unknown now: they own nothing until Slack says
        email = (person.email or "").lower() if person else ""
        keys: set[str] = set()
        if person is None or not person.active:
            return set()  # guests and other non-members own nothing here
        for resource in self.catalogue.all():
            value = resource.tags.get(setting.tag_key)
            if not value:
                continue
            for ref in tag_references(value, setting.attribute):
                if setting.attribute is OwnerAttribute.EMAIL:
                    hit = ref.lower() == email
                elif setting.attribute is OwnerAttribute.SLACK_USER:
                    hit = ref == user_id
                else:
                    try:
                        hit = any(p.id == user_id for p in self.directory.resolve(ref))
                    except UpstreamError:
                        hit = False
                if hit:
                    keys.add(resource.key)
                    break
        return keys

    def viewer(self, user_id: str) -> Viewer:
        owners = set(self.integration_owners())
        auditors: set[str] = set()
        for reference in self.policy.auditors:
            try:
                auditors.update(p.id for p in self.directory.resolve(reference))
            except UpstreamError as exc:
                log.warning("auditor %s not resolved now: %s", reference, exc)
        return Viewer(user_id, is_owner=user_id in owners, is_auditor=user_id in auditors)

    # ------------------------------------------------------------------ filing
    def validate(
        self, resource_text: str, role: str, duration: timedelta, justification: str
    ) -> tuple[Resource, Rule]:
        """Check a request against the catalogue and the policy; raises :class:`InvalidRequest`
        naming the field to fix."""
        check_justification(justification)
        resource = self.catalogue.find(resource_text)
        if resource is None:
            raise InvalidRequest(
                f"Unknown resource '{escape(resource_text)}'. Use a deployment name or ID, or "
                "`organization`; `/elastic-access` opens a form that lists them.",
                field="resource",
            )
        roles = resource.roles()
        if role not in roles:
            raise InvalidRequest(
                f"'{escape(role)}' is not a role for {escape(resource.label)}. Valid roles: "
                + ", ".join(f"`{r}`" for r in roles)
                + ".",
                field="role",
            )
        rule = self.policy.rules.decide(resource, role)
        if rule is None:
            raise InvalidRequest(
                f"No access policy allows `{escape(role)}` on {escape(resource.label)}. Ask an "
                "integration owner "
                "if you need it.",
                field="role",
            )
        if duration < self.policy.min_duration:
            raise InvalidRequest("Duration must be at least 1m.", field="duration")
        limit = self.policy.longest(rule)
        if duration > limit:
            raise InvalidRequest(
                f"Duration is longer than the maximum of {format_duration(limit)} for "
                f"`{escape(role)}` on {escape(resource.label)}.",
                field="duration",
            )
        problem = justification_ok(rule, justification)
        if problem:
            raise InvalidRequest(problem, field="justification")
        return resource, rule

    def file_request(
        self,
        requester_id: str,
        resource_text: str,
        role: str,
        duration: timedelta,
        justification: str,
        break_glass: bool = False,
    ) -> AccessRequest:
        """File a new request and send it to its approvers (or, break-glass, grant it now)."""
        if not break_glass:
            return self._file_request(requester_id, resource_text, role, duration, justification)
        # The cool-down and the cap are read here and written by the approval: one
        # break-glass at a time, or a burst of them would all pass the checks together.
        with self._break_glass_lock:
            return self._file_request(
                requester_id, resource_text, role, duration, justification, break_glass=True
            )

    def _file_request(
        self,
        requester_id: str,
        resource_text: str,
        role: str,
        duration: timedelta,
        justification: str,
        break_glass: bool = False,
    ) -> AccessRequest:
        now = self.clock.now()
        # Who may ask comes first: someone who may not learns nothing of the organization's
        # resources from the answer (nor makes the bot ask Elastic for them).
        person = self.eligible_requester(requester_id)
        self.catalogue.find_fresh(resource_text)  # a resource created a moment ago
        resource, rule = self.validate(resource_text, role, duration, justification)
        if break_glass and not rule.break_glass:
            raise NotAllowed(
                f"Break-glass is not allowed for `{escape(role)}` on {escape(resource.label)}. "
                "Ask for it with "
                "`/elastic-access request` instead."
            )
        if break_glass and not justification.strip():
            raise InvalidRequest("Break-glass needs a reason.", field="justification")
        justification = justification.strip()
        unit = unit_for(resource, role, self.policy.organization_id)
        self._check_open_requests(person, unit)
        if break_glass:
            self._check_break_glass(person, now)
        # None: granted as an invitation. A read a few seconds old is fine for routing.
        member = self.elastic.find_member(person.email, max_age=IDENTITY_READ_AGE, consistent=False)
        fingerprint = hashlib.sha256(
            f"{requester_id}|{unit.text}|{int(duration.total_seconds())}|{justification}".encode()
        ).hexdigest()
        if self.store.seen_recently(fingerprint, now, self.policy.dedupe_window):
            raise AlreadyDecided("You filed this same request a moment ago; it is on its way.")
        routing = self.routing(
            resource,
            self.is_requester(requester_id, person.email, member.user_id if member else None),
        )
        if routing.unresolved:
            self._report_unresolved(routing.unresolved, resource.label, routing.reasons)
        approvers = list(routing.approvers)
        if not approvers and not rule.auto_approve and not break_glass:
            self.notifier.notify_owners(
                self.integration_owners(),
                f"<@{requester_id}> asked for `{escape(role)}` on {escape(resource.label)}, but "
                "nobody other than "
                "the requester can approve it. Add another owner.",
            )
            raise NotAllowed(
                "Nobody other than you can approve this request (you are its only owner). "
                "The integration owners have been told."
            )
        request = self.store.create_request(
            requester_id=requester_id,
            requester_email=person.email,
            resource=resource,
            role_id=role,
            unit=unit,
            duration=duration,
            justification=justification,
            approvers=approvers,
            approvals_needed=rule.approvals,
            now=now,
            elastic_user_id=member.user_id if member else None,
            approver_source=routing.source,
            next_reminder_at=now + self.policy.reminder_after
            if self.policy.max_reminders
            else None,
        )
        log.info(
            "request %s filed by %s for %s on %s", request.ref, requester_id, role, resource.key
        )
        crash_point("after_request_stored")
        if break_glass:
            return self._break_glass(request, rule)
        if rule.auto_approve:
            return self._auto_approve(request, rule)
        self._tell(request)
        return request

    def eligible_requester(self, requester_id: str, fresh: bool = False) -> Person:
        """The requester, if they may ask for access at all; raises :class:`NotAllowed` with
        the reason (told to them privately) before anything is stored or anyone asked."""
        try:
            person = self.directory.person(requester_id, fresh=fresh)
        except UpstreamError as exc:
            raise AccessError(SLACK_DOWN) from exc
        if person is None or not person.email:
            raise AccessError(
                "I could not read the email address on your Slack profile, so I cannot match "
                "you to an Elastic Cloud member. Ask a workspace admin to check your profile."
            )
        if person.ineligible:
            raise NotAllowed(cannot(person.ineligible, "request access to Elastic Cloud"))
        if not self.policy.email_allowed(person.email):
            raise NotAllowed(
                cannot("domain", "request access to Elastic Cloud")
                + " Allowed: "
                + ", ".join(self.policy.allowed_email_domains)
                + "."
            )
        return person

    def refusal_to_request(self, user_id: str) -> str | None:
        """Why ``user_id`` may not ask for access at all (so may not see the form or the
        resource names it offers), or None. Answered from the directory's short cache."""
        try:
            self.eligible_requester(user_id)
        except AccessError as exc:
            return str(exc)
        return None

    def requester_standing(self, request: AccessRequest) -> str | None:
        """Why the requester of ``request`` may no longer have access (Slack as it is now),
        or None while they still may. A Slack outage is not a reason: only a clear answer."""
        try:
            person = self.directory.person(request.requester_id, fresh=True)
        except UpstreamError:
            return None
        if person is None:
            return None
        if person.ineligible:
            return person.ineligible
        if not self.policy.email_allowed(person.email):
            return "domain"
        return None

    def _check_open_requests(self, person: Person, unit: Unit) -> None:
        """One person cannot flood approvers: a request for what they already asked for is
        answered with the open one, and only so many may wait at once. Counted per human
        (every Slack account with the same mailbox), not per account."""
        limit = self.policy.max_pending_per_requester
        mailbox = canonical_email(person.email)
        waiting = [
            r
            for r in self.store.pending_of_person(person.id, mailbox)
            if r.requester_id == person.id or canonical_email(r.requester_email) == mailbox
        ]
        total = len(waiting)
        for request in waiting:
            if request.unit == unit:
                raise AlreadyDecided(
                    f"You already asked for this: request {request.ref} is waiting for approval."
                )
        if total >= limit:
            raise NotAllowed(
                f"You have {total} requests waiting for approval, the most allowed at once is "
                f"{limit}. Wait for a decision on one of them first."
            )

    def _check_break_glass(self, person: Person, now: datetime) -> None:
        """Break-glass is never silent and never a habit: someone other than the requester
        must hear of it, one person waits a cool-down between two, and only so many may be
        live at once."""
        others = self.integration_owners(not_requester=self.is_requester(person.id, person.email))
        if not others and not self.policy.notify_channel:
            raise NotAllowed(
                "Break-glass is not possible here: nobody but you would be told (no other "
                "integration owner and no notify_channel). Use `/elastic-access request`."
            )
        mailbox = canonical_email(person.email)
        last = max(
            (
                r.decided_at
                for r in self.store.break_glass_of_person(person.id, mailbox)
                if r.decided_at is not None
                and (r.requester_id == person.id or canonical_email(r.requester_email) == mailbox)
            ),
            default=None,
        )
        cooldown = self.policy.break_glass_cooldown
        if last is not None and now - last < cooldown:
            raise NotAllowed(
                f"You used break-glass {format_duration(now - last)} ago; the next is possible "
                f"{format_duration(cooldown - (now - last))} from now. Use `/elastic-access "
                "request` meanwhile."
            )
        live = self.store.live_break_glass()
        if live >= self.policy.break_glass_max_active:
            raise NotAllowed(
                f"{live} break-glass grants are live already, the most allowed at once. Use "
                "`/elastic-access request`, or ask an integration owner."
            )

    def _auto_approve(self, request: AccessRequest, rule: Rule) -> AccessRequest:
        """Policy approves: no human click, but the same audit trail and announcements."""
        return self._approve_without_click(
            request, actor=AUTO, decided_by=AUTO, detail={"rule": rule.describe()}
        )

    def _break_glass(self, request: AccessRequest, rule: Rule) -> AccessRequest:
        """The requester takes the access now: approved by nobody, announced to everyone who
        could have approved it and to the integration owners, who can revoke it."""

        def alert(moved: AccessRequest) -> None:
            log.warning(
                "request %s: break-glass by %s for %s on %s",
                moved.ref,
                moved.requester_id,
                moved.role_id,
                moved.resource.key,
            )
            self.notifier.notify_owners(
                self.integration_owners(not_requester=self._is_requester_of(moved)),
                f":rotating_light: *Break-glass*: <@{moved.requester_id}> took "
                f"`{escape(moved.role_id)}` on {escape(moved.resource.label)} for "
                f"{format_duration(moved.duration)} without approval (request {moved.ref}). "
                f"Reason: {escape(moved.justification)}. End it early "
                f"with `/elastic-access revoke {moved.id}`.",
            )

        return self._approve_without_click(
            request,
            actor=request.requester_id,
            decided_by=BREAK_GLASS,
            event="break_glass",
            detail={"rule": rule.describe(), "reason": request.justification},
            announce=alert,
        )

    def _approve_without_click(
        self,
        request: AccessRequest,
        *,
        actor: str,
        decided_by: str,
        detail: dict,
        event: str | None = None,
        announce: Callable[[AccessRequest], None] | None = None,
    ) -> AccessRequest:
        """Approve ``request`` on the record without anyone clicking, then grant it."""
        now = self.clock.now()
        moved = self.store.transition(
            request.id,
            [State.PENDING],
            State.APPROVED,
            now=now,
            actor=actor,
            event=event,
            detail=detail,
            decided_by=decided_by,
            decided_at=now,
        )
        if moved is None:
            return self.get(request.id)
        self.notifier.request_filed(moved)  # approvers see an FYI card, without buttons
        if announce:
            announce(moved)
        self._tell(moved)
        self.grant(moved.id)
        return self.get(moved.id)

    # ------------------------------------------------------------------ deciding
    def get(self, request_id: int) -> AccessRequest:
        request = self.store.get(request_id)
        if request is None:
            raise NotFound(_not_yours(request_id))
        return request

    def may_see(self, request: AccessRequest, user_id: str) -> bool:
        """Whether ``user_id`` may know that ``request`` exists: its requester, anyone it was
        sent to, the integration owners, the auditors, the owners of its resource."""
        if user_id == request.requester_id or user_id in request.approvers:
            return True
        viewer = self.viewer(user_id)
        if viewer.is_owner or viewer.is_auditor:
            return True
        return request.resource.key in self.owned_resource_keys(user_id)

    def visible(self, request_id: int, user_id: str) -> AccessRequest:
        """``request_id`` if ``user_id`` may see it; otherwise the same answer as for a request
        that does not exist, so that nobody learns who asked for what."""
        request = self.store.get(request_id)
        if request is None or not self.may_see(request, user_id):
            raise NotFound(_not_yours(request_id))
        return request

    def check_decider(self, request: AccessRequest, actor_id: str) -> list[str]:
        """Authorise a decision where it happens: a current approver, never the requester
        (per person, not per account). Returns the current approvers."""
        if actor_id == request.requester_id:
            raise NotAllowed("You cannot approve or deny your own request.")
        try:
            actor = self.directory.person(actor_id, fresh=True)
            if actor is not None and self._is_requester_of(request, strict=True)(actor):
                raise NotAllowed(
                    "You cannot approve or deny your own request: this Slack account belongs to "
                    "the same person as the requester's."
                )
            if actor_id not in request.approvers:
                if self.may_see(request, actor_id):
                    raise NotAllowed(f"You are not an approver of request {request.ref}.")
                raise NotFound(_not_yours(request.id))
            current = self.approvers_for(request, fresh=True, strict=True)
        except UpstreamError as exc:
            raise AccessError(
                f"Slack or Elastic Cloud did not answer when I checked who may decide on "
                f"{request.ref}; nothing was recorded. Try again in a minute."
            ) from exc
        if actor_id not in current:
            if actor is not None and actor.ineligible:
                raise NotAllowed(cannot(actor.ineligible, "approve access to Elastic Cloud"))
            raise NotAllowed(f"You are no longer an approver of request {request.ref}.")
        if request.state is not State.PENDING:
            raise AlreadyDecided(_already(request))
        return current

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
        request = self.get(request_id)
        current = self.check_decider(request, actor_id)
        now = self.clock.now()
        reason = (reason or "").strip() or None
        check_reason(reason)
        if approve and (why := self.requester_standing(request)):
            self.end_for_requester(request.requester_id, why, only=request.id)
            raise AlreadyDecided(
                f"Request {request.ref} was cancelled: {LEFT.get(why, why)}. Nothing was granted."
            )
        if not self.store.record_approval(
            request_id, actor_id, "approve" if approve else "deny", reason, now
        ):
            raise AlreadyDecided(f"You already decided on request {request.ref}.")
        if approve:
            counted = self._one_per_person(
                [
                    a.approver_id
                    for a in self.store.approvals(request_id)
                    if a.decision == "approve" and a.approver_id in current
                ]
            )
            approvals = [
                a
                for a in self.store.approvals(request_id)
                if a.decision == "approve" and a.approver_id in counted
            ]
            if len(approvals) < request.approvals_needed:
                self.store.event(
                    request_id,
                    now,
                    actor_id,
                    "approval",
                    {"count": len(approvals), "needed": request.approvals_needed},
                )
                self.notifier.approval_recorded(self.get(request_id))
                return self.get(request_id)
            moved = self.store.transition(
                request_id,
                [State.PENDING],
                State.APPROVED,
                now=now,
                actor=actor_id,
                detail={"approvers": [a.approver_id for a in approvals]},
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
            raise AlreadyDecided(_already(self.get(request_id)))
        log.info("request %s %s by %s", moved.ref, moved.state.value, actor_id)
        if approve:
            crash_point("after_approval_stored")
        self._tell(moved)
        if approve:
            self.grant(request_id)
        return self.get(request_id)

    # ------------------------------------------------------------------ granting
    @about_request
    def grant(self, request_id: int) -> None:
        """Take an approved request to an active grant (or to a retry, or to failed)."""
        now = self.clock.now()
        request = self.store.claim(request_id, [State.APPROVED], now=now, lease=self.policy.lease)
        if request is None:
            return
        if why := self.requester_standing(request):
            self.end_for_requester(request.requester_id, why, only=request.id)
            return
        if self._wait_for_key(request, now):
            return
        expires_at = now + request.duration
        try:
            member = self._planning_read(request.requester_email)
        except UpstreamError as exc:
            self._key_refused(exc, now)
            self._retry_later(request, exc, now)
            return
        if member is None:
            self._begin_invitation(request, now, expires_at)
            return
        # A role that would replace one the member holds on that resource is refused, not
        # guessed at (planning.refusal says why; the requester and the approvers are told).
        owned = self.store.owned_units(member.user_id)
        if why := planning.refusal(request.unit, member.units, self.semantics(), owned):
            self._fail(request, why)
            return
        to_add = planning.to_add(member.units, request.unit)
        with self.store.db.write():
            self.store.own_units(member.user_id, to_add, request.id, now)
            moved = self.store.transition(
                request.id,
                [State.APPROVED],
                State.GRANTING,
                now=now,
                actor=SYSTEM,
                detail={"adding": [u.text for u in to_add], "expires_at": expires_at.isoformat()},
                release_lease=False,
                elastic_user_id=member.user_id,
                granted_at=now,
                expires_at=expires_at,
                added=to_add,
                # Standing access only: what the bot itself added is not the member's own.
                held_before=sorted(
                    planning.standing(member.units, self.store.owned_units(member.user_id))
                ),
            )
        if moved is None:
            return
        if self.on_expiry_set:
            self.on_expiry_set(request.id, expires_at)
        crash_point("after_grant_row")
        self._apply_grant(moved)

    def _planning_read(self, email: str) -> Member | None:
        """The requester as a member, read recently enough to plan a grant on.

        Who they are (email to user ID) may come from an older read; what they hold comes
        from a read no older than PLANNING_READ_AGE that shows the bot's own last change to
        them, as everywhere else a change is planned. Someone not found is looked for again
        in a fresh read: joining a moment ago is no reason to be sent an invitation."""
        known = self.elastic.find_member(email, max_age=IDENTITY_READ_AGE, consistent=False)
        if known is not None:
            member = self.elastic.member(known.user_id, max_age=PLANNING_READ_AGE)
            if member is not None:
                return member
        return self.elastic.find_member(email)

    def _begin_invitation(
        self, request: AccessRequest, now: datetime, expires_at: datetime
    ) -> None:
        """The requester is not a member: the grant goes out as an invitation carrying the role.

        Who the members are before the invitation is recorded with it: whoever accepts the
        invitation (with whatever email) is then the one new member holding the role."""
        try:
            before = sorted(m.user_id for m in self.elastic.members(max_age=PLANNING_READ_AGE))
        except UpstreamError as exc:
            self._retry_later(request, exc, now)
            return
        moved = self.store.transition(
            request.id,
            [State.APPROVED],
            State.GRANTING,
            now=now,
            actor=SYSTEM,
            detail={
                "inviting": request.requester_email,
                "expires_at": expires_at.isoformat(),
                "members_before": before,
            },
            release_lease=False,
            granted_at=now,
            expires_at=expires_at,
            added=[request.unit],
        )
        if moved is None:
            return
        if self.on_expiry_set:
            self.on_expiry_set(request.id, expires_at)
        crash_point("after_grant_row")
        self._apply_invitation(moved)

    @about_request
    def _apply_invitation(self, request: AccessRequest) -> None:
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
                    self._fail(
                        request,
                        f"An invitation to {email} is already pending in Elastic Cloud. Accept it "
                        "(or ask an organization owner to delete it), then request again.",
                    )
                    return
                else:
                    self.store.event(
                        request.id, now, SYSTEM, "elastic_invite_requested", {"email": email}
                    )
                    token = self._send_invitation(request, asked_before=ours)
                    crash_point("after_elastic_grant")
                self.store.update_fields(
                    request.id, now=now, invitation_hash=invitations.digest(token)
                )
                self.store.event(request.id, now, SYSTEM, "elastic_invite", {"email": email})
        except UpstreamError as exc:
            if exc.retryable or self._key_refused(exc, now):
                self._retry_later(request, exc, now)
            else:
                self._fail(request, f"Elastic Cloud refused the invitation: {exc}")
            return
        self._activate(request, {"invited": email}, outcome="invited")

    def _send_invitation(self, request: AccessRequest, asked_before: bool) -> str:
        """POST the invitation once (the client never repeats it) and return its token.

        A timeout or a 5xx may hide an invitation that Elastic created, and
        ``organization.invitation_already_exists`` after the bot asked before means an
        earlier POST of ours landed: then the invitations are listed and the one for this
        email adopted, instead of a second one sent or the request failed."""
        email = request.requester_email
        try:
            expires_in = invitation_expiry(request.duration, self.semantics().invitation_minutes)
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

    @about_request
    def _apply_grant(self, request: AccessRequest) -> None:
        """Make Elastic hold what the GRANTING row says; idempotent, so safe to repeat."""
        if request.elastic_user_id is None:
            self._apply_invitation(request)
            return
        now = self.clock.now()
        try:
            member = self.elastic.member(request.elastic_user_id, max_age=PLANNING_READ_AGE)
            if member is None:
                self._fail(request, "The Elastic Cloud member disappeared before the grant.")
                return
            # Whatever was planned, the member must end up holding the role: if what they held
            # when the grant was planned has gone since, the bot adds (and owns) it after all.
            missing = [] if holds(member.units, request.unit) else [request.unit]
            if missing and request.unit not in request.added:
                self.store.own_units(request.elastic_user_id, missing, request.id, now)
                self.store.update_fields(request.id, now=now, added=missing)
                request.added = missing
            if missing:
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
        except UpstreamError as exc:
            if exc.retryable or self._key_refused(exc, now):
                self._retry_later(request, exc, now)
            elif request.added:
                self._settle_refused_grant(request, exc, now)
            else:
                self._fail(request, self._refusal(request, exc))
            return
        self._activate(request, self._displacement(request, member))

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
            self._retry_later(request, again, now)
            return
        if fresh is not None and holds(fresh.units, request.unit):
            self._activate(
                request, {"confirmed_after": str(exc)[:200]} | self._displacement(request, fresh)
            )
        else:
            self._fail(request, self._refusal(request, exc))

    def _activate(self, request: AccessRequest, detail: dict, **fields) -> None:
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
            self._tell(active)

    # ------------------------------------------------------------------ a refused API key
    def _key_refused(self, exc: Exception, now: datetime) -> bool:
        """Whether ``exc`` says Elastic Cloud refused the API key; if so granting pauses
        (the integration owners and the notify channel are told once)."""
        if not getattr(exc, "credentials_rejected", False):
            return False
        with self._key_lock:
            first = self._key_rejected_since is None
            if first:
                self._key_rejected_since = now
                self._key_probe_delay = KEY_PROBE_FIRST
                self._key_probe_at = now + KEY_PROBE_FIRST
        if first:
            log.error("Elastic Cloud refused the API key (%s): granting paused", exc)
            self.notifier.credentials_refused(self.integration_owners(), str(exc)[:300])
        return True

    def _wait_for_key(self, request: AccessRequest, now: datetime) -> bool:
        """While the key is refused, leave the request waiting in its state (no attempt
        made, none counted) until the next probe; True if it waits."""
        with self._key_lock:
            if self._key_rejected_since is None:
                return False
            wake = self._key_probe_at or now
        if request.expires_at is not None:
            wake = min(wake, request.expires_at)  # a granting row still ends on time
        self.store.update_fields(
            request.id, now=now, next_attempt_at=wake, lease_owner=None, lease_until=None
        )
        return True

    def _watch_key(self, now: datetime) -> None:
        """Each sweep: notice a key refused by any call (revocations included), ask again
        with backoff while it is, and when it works again let the waiting grants go on."""
        rejected = getattr(self.elastic, "credentials_rejected", None)
        if rejected and self._key_rejected_since is None:
            self._key_refused(_KeyRefused(rejected), now)
        with self._key_lock:
            if self._key_rejected_since is None:
                return
            probe = self._key_probe_at is None or now >= self._key_probe_at
        if probe:
            try:
                getattr(self.elastic, "organization", lambda: None)()
            except UpstreamError as exc:
                with self._key_lock:
                    self._key_probe_delay = min(self._key_probe_delay * 2, KEY_PROBE_MAX)
                    self._key_probe_at = now + self._key_probe_delay
                log.warning("Elastic Cloud API key still refused (%s)", exc)
                if getattr(exc, "credentials_rejected", False):
                    return
        if getattr(self.elastic, "credentials_rejected", None):
            return
        with self._key_lock:
            since, self._key_rejected_since, self._key_probe_at = (
                self._key_rejected_since,
                None,
                None,
            )
        if since is None:
            return
        waiting = self.store.wake_grants(now)
        log.warning("Elastic Cloud accepts the API key again: %d grant(s) go on", waiting)
        self.notifier.credentials_restored(self.integration_owners(), waiting)

    def _watch_key_expiry(self, now: datetime) -> None:
        """Warn the integration owners 14, 7 and 1 days before the API key expires (each
        once per process), reading its expiry every few hours."""
        read = getattr(self.elastic, "api_key_expiry", None)
        if not self.api_key_id or read is None:
            return
        if self._key_expiry_read_at and now - self._key_expiry_read_at < KEY_EXPIRY_CHECK:
            return
        self._key_expiry_read_at = now
        try:
            expires = read(self.api_key_id)
        except (UpstreamError, ValueError) as exc:
            log.warning("could not read the API key's expiry (%s)", exc)
            return
        if expires is None:
            return
        left = expires - now
        due = {d for d in KEY_EXPIRY_WARNINGS if left <= timedelta(days=d)}
        if not due or min(due) in self._key_expiry_warned:
            return
        self._key_expiry_warned |= due
        days = max(0, math.ceil(left.total_seconds() / 86400))
        log.warning("the Elastic Cloud API key expires in %d day(s), at %s", days, expires)
        self.notifier.notify_owners(
            self.integration_owners(),
            f"The bot's Elastic Cloud API key (ID {escape(self.api_key_id)}) expires "
            f"{'today' if days == 0 else f'in {days} day(s)'}, at "
            f"{expires.strftime('%Y-%m-%d %H:%M UTC')}. Create a new key with the Organization "
            "owner role and replace ELASTIC_CLOUD_API_KEY before then, or nothing can be granted "
            "or removed.",
        )

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
    def _resume_granting(self, request_id: int) -> None:
        now = self.clock.now()
        request = self.store.claim(request_id, [State.GRANTING], now=now, lease=self.policy.lease)
        if request is None:
            return
        if request.expires_at and request.expires_at <= now:
            self._end_on_expiry(request_id, State.GRANTING, now)
            return
        if why := self.requester_standing(request):
            self.store.release(request_id)
            self.end_for_requester(request.requester_id, why, only=request.id)
            return
        if self._wait_for_key(request, now):
            return
        self._apply_grant(request)

    @about_request
    def _fail(self, request: AccessRequest, why: str) -> None:
        now = self.clock.now()
        with self.store.db.write():
            if request.elastic_user_id and request.added:
                self.store.disown_units(request.elastic_user_id, request.added)
            failed = self.store.transition(
                request.id,
                [State.APPROVED, State.GRANTING, State.PENDING],
                State.FAILED,
                now=now,
                actor=SYSTEM,
                detail={"error": why},
                last_error=why,
                ended_at=now,
            )
        if failed:
            log.warning("request %s failed: %s", failed.ref, why)
            if self.on_ended:
                self.on_ended(failed.id)
            self._tell(failed)

    @about_request
    def _retry_later(self, request: AccessRequest, exc: Exception, now: datetime) -> None:
        attempts = request.attempts + 1
        delay = self.policy.retry_delay(attempts)
        delay += timedelta(seconds=random.uniform(0, delay.total_seconds() / 4))
        self.store.update_fields(
            request.id,
            now=now,
            attempts=attempts,
            next_attempt_at=now + delay,
            last_error=str(exc)[:500],
            lease_owner=None,
            lease_until=None,
            parked=None,
        )
        self.store.event(
            request.id,
            now,
            SYSTEM,
            "retry_scheduled",
            {"error": str(exc)[:500], "attempt": attempts},
        )
        log.warning(
            "request %s: %s (attempt %d, retrying in %s)", request.ref, exc, attempts, delay
        )
        if attempts == 1 and request.state in (State.APPROVED, State.GRANTING):
            self.notifier.grant_delayed(self.get(request.id))

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
        self.notifier.revocation_parked(self.get(request.id), self.integration_owners())

    def acknowledge_parked(self, request_id: int, actor_id: str) -> str:
        """An integration owner acknowledges a parked revocation: recorded as theirs."""
        if actor_id not in self.integration_owners(fresh=True):
            raise NotAllowed("Only an integration owner can acknowledge a parked revocation.")
        request = self.get(request_id)
        if request.state is not State.REVOKING or not request.parked:
            return f"{request.ref} is no longer parked ({request.state.value}); nothing to acknowledge."
        self.store.event(
            request.id, self.clock.now(), actor_id, "parked_acknowledged", {"why": request.parked}
        )
        log.info("request %s: parked revocation acknowledged by %s", request.ref, actor_id)
        return f"Acknowledged {request.ref}: {escape(request.parked)}. Recorded in the audit trail."

    # ------------------------------------------------------------------ extending
    def check_extension(
        self, request_id: int, actor_id: str, duration: timedelta, reason: str
    ) -> tuple[AccessRequest, Rule]:
        """Everything that can refuse an extension, without changing anything (fast: the
        form must answer Slack within 3 seconds)."""
        request = self.visible(request_id, actor_id)
        if actor_id != request.requester_id:
            raise NotAllowed(f"Only the requester can extend {request.ref}.")
        try:
            person = self.directory.person(actor_id)
        except UpstreamError as exc:
            raise AccessError(SLACK_DOWN) from exc
        if person is not None and person.ineligible:
            raise NotAllowed(cannot(person.ineligible, "extend access to Elastic Cloud"))
        if request.state is not State.ACTIVE:
            raise AlreadyDecided(f"{request.ref} is not active (it is {request.state.value}).")
        if not reason.strip():
            raise InvalidRequest("Say why you need more time.", field="reason")
        check_reason(reason)
        if duration < self.policy.min_duration:
            raise InvalidRequest("An extension must be at least 1m.", field="duration")
        rule = self.policy.rules.decide(request.resource, request.role_id)
        if rule is None:
            raise NotAllowed(
                f"No access policy allows `{escape(request.role_id)}` on "
                f"{escape(request.resource.label)} any more."
            )
        limit = self.policy.longest(rule)
        if request.duration + duration > limit:
            left = max(timedelta(0), limit - request.duration)
            raise InvalidRequest(
                f"{request.ref} would last {format_duration(request.duration + duration)} in total; "
                f"the maximum is {format_duration(limit)} ({format_duration(left)} left to add).",
                field="duration",
            )
        if request.extension_seconds is not None:
            raise AlreadyDecided(f"An extension of {request.ref} is already waiting for approval.")
        return request, rule

    @about_request
    def request_extension(
        self, request_id: int, actor_id: str, duration: timedelta, reason: str
    ) -> AccessRequest:
        """Ask for more time on an active grant: approval again, unless policy says otherwise."""
        request, rule = self.check_extension(request_id, actor_id, duration, reason)
        now = self.clock.now()
        if not self.store.ask_extension(
            request_id, int(duration.total_seconds()), reason.strip(), actor_id, now
        ):
            raise AlreadyDecided(f"An extension of {request.ref} is already waiting for approval.")
        if rule.extend_without_approval:
            return self._apply_extension(request_id, AUTO)
        pending = self.get(request_id)
        approvers = self.approvers_for(pending)
        if not approvers:
            self.store.drop_extension(request_id, SYSTEM, "nobody can approve it", now)
            raise NotAllowed("Nobody other than you can approve this extension.")
        self.notifier.extension_requested(pending, approvers, self.extension_quorum(pending))
        return pending

    def extension_quorum(self, request: AccessRequest) -> int:
        """Approvals an extension needs: as many as the rule asks of a new request, because
        more time is more access (the rule as it is now; the request's own if none matches)."""
        rule = self.policy.rules.decide(request.resource, request.role_id)
        return max(1, rule.approvals if rule else request.approvals_needed)

    def extension_room(self, request: AccessRequest) -> timedelta:
        """How much more time policy allows on ``request`` (zero when none)."""
        rule = self.policy.rules.decide(request.resource, request.role_id)
        if rule is None:
            return timedelta(0)
        limit = self.policy.longest(rule)
        return max(timedelta(0), limit - request.duration)

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
        request = self.get(request_id)
        if actor_id == request.requester_id:
            raise NotAllowed("You cannot approve or deny your own extension.")
        try:
            actor = self.directory.person(actor_id, fresh=True)
            if actor is not None and self._is_requester_of(request, strict=True)(actor):
                raise NotAllowed("You cannot approve or deny your own extension.")
            if actor_id not in request.approvers:
                if self.may_see(request, actor_id):
                    raise NotAllowed(f"You are not an approver of request {request.ref}.")
                raise NotFound(_not_yours(request.id))
            current = self.approvers_for(request, fresh=True, strict=True)
        except UpstreamError as exc:
            raise AccessError(
                f"Slack or Elastic Cloud did not answer when I checked who may decide on "
                f"{request.ref}; nothing was recorded. Try again in a minute."
            ) from exc
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
        if approve and (why := self.requester_standing(request)):
            # More time for someone who may no longer have any: the grant ends instead.
            self.end_for_requester(request.requester_id, why, only=request.id)
            raise AlreadyDecided(
                f"{request.ref} was ended: {LEFT.get(why, why)}. The extension was not applied."
            )
        if approve:
            needed = self.extension_quorum(request)
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
            # Counted only while still approvers: a quorum is re-checked when it completes.
            approvers = self._one_per_person([a for a in approvers if a in current])
            if len(approvers) < needed:
                log.info(
                    "request %s: extension approval %d of %d by %s",
                    request.ref,
                    len(approvers),
                    needed,
                    actor_id,
                )
                self.notifier.extension_approval_recorded(self.get(request_id), approvers, needed)
                return self.get(request_id)
            return self._apply_extension(request_id, actor_id)
        if not self.store.drop_extension(request_id, actor_id, reason, self.clock.now()):
            raise AlreadyDecided(f"The extension of {request.ref} was already decided.")
        self.notifier.extension_decided(request, approved=False, actor_id=actor_id, reason=reason)
        return self.get(request_id)

    def _apply_extension(self, request_id: int, actor_id: str) -> AccessRequest:
        before = self.get(request_id)
        extended = self.store.apply_extension(request_id, actor_id, self.clock.now())
        if extended is None:
            raise AlreadyDecided(f"The extension of {before.ref} was already decided.")
        if self.on_expiry_set and extended.expires_at:
            self.on_expiry_set(extended.id, extended.expires_at)
        log.info("request %s extended to %s by %s", extended.ref, extended.expires_at, actor_id)
        self.notifier.extension_decided(
            before, approved=True, actor_id=actor_id, reason=None, after=extended
        )
        return extended

    # ------------------------------------------------------------------ revoking
    @about_request
    def revoke(self, request_id: int, actor_id: str) -> AccessRequest:
        """End an active grant now, on a person's word (requester, approver or owner)."""
        request = self.visible(request_id, actor_id)
        allowed = actor_id == request.requester_id
        if not allowed:
            # Ending someone else's access: only a full member who approves it or owns the
            # integration, as Slack says now.
            try:
                person = self.directory.person(actor_id, fresh=True)
            except UpstreamError as exc:
                raise AccessError(SLACK_DOWN) from exc
            allowed = (
                person is not None
                and person.active
                and (
                    actor_id in request.approvers or actor_id in self.integration_owners(fresh=True)
                )
            )
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
        self._finish_revocation(request_id)
        return self.get(request_id)

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
                return "resource_gone"
            if any(state == "hidden" for state in states.values()):
                raise UpstreamError(
                    "Elastic Cloud refuses to remove the role because the deployment is stopped "
                    f"(hidden); it must be removed by hand or after the deployment restarts ({exc})",
                    retryable=True,
                    code=STOPPED,
                ) from exc
            raise

    def _restore_shadowed(
        self, request: AccessRequest, user_id: str, removed: set[Unit], member, now: datetime
    ):
        """Put back specific assignments an ``all`` assignment had absorbed.

        Adding ``all: true`` for a role may replace the member's per-deployment (or per-project)
        assignments of that role; removing it then takes those away too. Whatever the member
        held before this grant, or another live grant still needs, is added back here.
        """
        displaced = self._recorded_units(request.id, "granted", "displaced")
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
        self.elastic.add_units(user_id, restore)
        self.store.own_units(
            user_id, planning.owned_after_restore(restore, others, standing), request.id, now
        )
        self.store.event(
            request.id, now, SYSTEM, "elastic_restore", {"units": [u.text for u in restore]}
        )
        return self.elastic.member(user_id) or member

    def _removals_sent(self, request_id: int) -> set[Unit]:
        """The units this grant's revocation has asked Elastic to remove, as recorded."""
        return self._recorded_units(request_id, "elastic_remove_sent", "units")

    def _recorded_units(self, request_id: int, kind: str, key: str) -> set[Unit]:
        return {
            Unit.parse(text)
            for event in self.store.events(request_id)
            if event["kind"] == kind
            for text in event["detail"].get(key, [])
        }

    def _displacement(self, request: AccessRequest, current: Member | None) -> dict:
        """What the grant's role replaced on the same resource (recorded with the grant)."""
        if current is None or request.elastic_user_id is None:
            return {}
        wanted = set(request.held_before) | self.store.units_needed_by_others(
            request.elastic_user_id, request.id
        )
        gone = planning.displaced(request.unit, wanted, current.units)
        return {"displaced": [u.text for u in gone]} if gone else {}

    def _remove_invited_membership(self, request: AccessRequest, user_id: str, now) -> None:
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

    def _settle_invitation(
        self, request: AccessRequest, now: datetime
    ) -> tuple[str | None, str | None]:
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
            return None, "invitation_withdrawn" if state == "pending" else "invitation_unused"
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
        members = self.elastic.members()  # a read that starts after the invitation was seen
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

    def _pin_accepted_invitations(self) -> None:
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

    @about_request
    def expire(self, request_id: int) -> None:
        """The timer's entry point: end the grant if (and only if) its time has come."""
        now = self.clock.now()
        request = self.store.get(request_id)
        if request is None or request.state is not State.ACTIVE:
            if request is not None and request.state is State.REVOKING:
                self._finish_revocation(request_id)
            return
        if request.expires_at is None or request.expires_at > now:
            return
        self._end_on_expiry(request_id, State.ACTIVE, now)

    def _end_on_expiry(self, request_id: int, source: State, now: datetime) -> None:
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
            self._finish_revocation(request_id)

    @about_request
    def _finish_revocation(self, request_id: int) -> None:
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
                user_id, gone = self._settle_invitation(request, now)
            if user_id:
                candidates = planning.release(
                    request.unit,
                    self.store.owned_units(user_id),
                    self.store.units_needed_by_others(user_id, request.id),
                )
                member = self.elastic.member(user_id, max_age=PLANNING_READ_AGE)
                if member is not None:
                    to_remove = planning.to_remove(candidates, member.units)
                    # Removals sent by earlier passes (a crash or a failure may have come
                    # between the DELETE and the restore): their restores are due on every
                    # pass, against a read that starts after the removal.
                    removed = self._removals_sent(request.id) | to_remove
                    if to_remove:
                        self.store.event(
                            request.id,
                            now,
                            SYSTEM,
                            "elastic_remove_sent",
                            {"units": [u.text for u in to_remove]},
                        )
                        gone = self._remove(user_id, to_remove)
                        crash_point("after_elastic_revoke")
                        self.store.event(
                            request.id,
                            now,
                            SYSTEM,
                            "elastic_remove",
                            {"units": [u.text for u in to_remove]},
                        )
                    if (
                        to_remove
                        or any(u.target == "*" for u in removed)
                        or self._recorded_units(request.id, "granted", "displaced")
                    ):
                        member = self.elastic.member(user_id)
                    if member is not None:
                        member = self._restore_shadowed(request, user_id, removed, member, now)
                        # A deleted deployment's assignment may linger (harmless); skip the check.
                        if member is not None and not gone and to_remove & member.units:
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
                    self._remove_invited_membership(request, user_id, now)
        except UpstreamError as exc:
            if exc.code == STOPPED:
                self._park(request, exc, now)
            else:
                self._retry_later(request, exc, now)
            return
        final = State.EXPIRED if request.ended_by in (None, SYSTEM) else State.REVOKED
        appeared = self._appeared(request, user_id, member) if user_id and member else []
        if gone:
            outcome = gone
        elif to_remove:
            outcome = "removed"
        elif holds_after:
            outcome = "kept"  # standing access or another live grant still gives the role
        elif self.store.was_granted(request_id):
            outcome = "removed"  # an earlier attempt removed it (a crash before the record)
        else:
            outcome = "never_granted"
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
        self._notify_later(ended)
        if self.store.was_alerted(request_id):
            self.notifier.revocation_recovered(ended, self.integration_owners())
        if appeared:
            self._report_appeared(ended, user_id, appeared)

    def _appeared(self, request: AccessRequest, user_id: str, member: Member) -> list[Unit]:
        """After an admin grant (organization owner, deployment admin) is removed: the roles
        the member holds now that they did not hold before the grant and that no grant of
        the bot gives (self-assigned, or added by the grantee). Reported, never removed."""
        if request.role_id not in ADMIN_ROLES:
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
        self.notifier.notify_owners(
            self.integration_owners(),
            f"Access {request.ref} (`{escape(request.role_id)}` on "
            f"{escape(request.resource.label)} for <@{request.requester_id}>) has ended. During "
            f"the grant, Elastic Cloud member {escape(user_id)} came to hold roles they did not "
            f"hold before and no grant of the bot gives: {self._describe_units(appeared)}. "
            "The bot removes only what it added, so these stay: review them, and remove them "
            "by hand in the Elastic Cloud console if they should not be there.",
        )

    def _describe_units(self, units) -> str:
        """Units for people: role and target, deployments and projects by name when known."""
        names = {r.id: r.name for r in self.catalogue.all()}
        said = []
        for unit in units:
            if unit.scope == "organization":
                where = "the organization"
            elif unit.target == "*":
                kind = "deployments" if unit.scope == "deployment" else unit.scope.split(":")[-1]
                where = f"all {kind}" + ("" if kind == "deployments" else " projects")
            else:
                kind = "deployment" if unit.scope == "deployment" else unit.scope.split(":")[-1]
                name = names.get(unit.target, unit.target)
                where = f"{kind}{'' if kind == 'deployment' else ' project'} {name}"
            said.append(f"`{escape(unit.role_id)}` on {escape(where)}")
        return ", ".join(said)

    # ------------------------------------------------------------------ drift
    def reconcile(self) -> list[dict]:
        """Compare what the bot owns, and what it recorded as removed for grants that ended
        in the last ``RECONCILE_LOOKBACK``, with what Elastic Cloud shows now. A role the bot
        removed that is back, or one it owns (of a live grant) that vanished, is reported to
        the integration owners, once per finding (remembered in the database). Nothing is
        added or removed. Returns the findings reported this time."""
        now = self.clock.now()
        members = {m.user_id: m for m in self.elastic.members()}  # one read, started now
        found: list[dict] = []
        for user_id, unit, request_id in self.store.all_owned_units():
            request = self.store.get(request_id)
            if request is None or request.state is not State.ACTIVE:
                continue  # being granted or removed: in motion, not drift
            member = members.get(user_id)
            if member is None or not holds(member.units, unit):
                found.append(_finding("vanished", request, user_id, unit))
        owned: dict[str, set[Unit]] = {}
        for request_id, user_id, unit in self.store.recent_removals(now - RECONCILE_LOOKBACK):
            member = members.get(user_id)
            if member is None or not holds(member.units, unit):
                continue
            mine = owned.setdefault(user_id, self.store.owned_units(user_id))
            if holds(mine, unit) or unit in self.store.units_needed_by_others(user_id, 0):
                continue  # a later grant of the bot gives it again
            found.append(_finding("returned", self.store.get(request_id), user_id, unit))
        new = [
            f
            for f in found
            if self.store.first_finding(f["key"], f["kind"], f["request"].id, f["detail"], now)
        ]
        for f in new:
            self.store.event(f["request"].id, now, SYSTEM, f"drift_{f['kind']}", f["detail"])
            log.warning("reconcile: %s", f["detail"]["what"])
        if new:
            lines = "\n".join(f"• {f['text']}" for f in new)
            self.notifier.notify_owners(
                self.integration_owners(),
                "The daily reconciliation found Elastic Cloud disagreeing with the bot's "
                f"records:\n{lines}\nThe bot removes only what it added and has changed "
                "nothing: check these in the Elastic Cloud console.",
            )
        log.info("reconcile: %d finding(s), %d new", len(found), len(new))
        return [{"kind": f["kind"], **f["detail"]} for f in new]

    # ------------------------------------------------------------------ resources that change
    def resources_changed(self, changes: list[tuple[Resource, Resource]]) -> int:
        """A catalogue refresh saw a resource's name or owner tag change. Who approves comes
        from that tag, which people other than the integration owners can edit, so a change
        on a resource with open requests is reported to the integration owners (approvers
        never grow from it: see :meth:`approvers_for`). Returns how many were reported."""
        setting = self.policy.resource_owner
        reported = 0
        for old, new in changes:
            tag_key = setting.tag_key if setting else None
            renamed = old.name != new.name
            retagged = tag_key is not None and old.tags.get(tag_key) != new.tags.get(tag_key)
            if not (renamed or retagged):
                continue
            open_requests = self.store.open_requests_on(new)
            if not open_requests:
                continue
            what = []
            if renamed:
                what.append(f"its name changed from `{escape(old.name)}` to `{escape(new.name)}`")
            if retagged:
                what.append(
                    f"its `{escape(tag_key)}` tag changed from "
                    f"`{escape(old.tags.get(tag_key) or '(none)')}` "
                    f"to `{escape(new.tags.get(tag_key) or '(none)')}`"
                )
            refs = ", ".join(r.ref for r in open_requests)
            log.warning("resource %s changed with open requests %s: %s", new.key, refs, what)
            self.notifier.notify_owners(
                self.integration_owners(),
                f":mag: {new.kind.value.replace('_', ' ').capitalize()} `{escape(new.id)}`: "
                + " and ".join(what)
                + f" while requests {refs} are open. Approvers can only lose their say from such "
                "a change, never gain it; check that the change was intended.",
            )
            reported += 1
        return reported

    # ------------------------------------------------------------------ leavers
    def person_changed(self, user_id: str) -> int:
        """Slack says ``user_id`` changed (``user_change``): if they may no longer have access,
        end everything they have or asked for, now. Returns how many requests ended."""
        try:
            person = self.directory.person(user_id, fresh=True)
        except UpstreamError as exc:  # the sweep's re-check comes back to them
            log.warning("user %s changed, but Slack did not answer: %s", user_id, exc)
            return 0
        if person is None:
            return 0
        why = person.ineligible
        if why is None and not self.policy.email_allowed(person.email):
            why = "domain"
        return self.end_for_requester(user_id, why) if why else 0

    def end_for_requester(self, user_id: str, why: str, only: int | None = None) -> int:
        """End ``user_id``'s requests because they may no longer have access: waiting ones
        are cancelled, live grants revoked at once; the owners and approvers are told. Done by
        the system, with the reason, on the record. ``only``: just that request."""
        reason = LEFT.get(why, why)
        now = self.clock.now()
        ended: list[AccessRequest] = []
        for request in self.store.open_requests_of(user_id):
            if only is not None and request.id != only:
                continue
            for _ in range(3):  # a row may move under us (a grant finishing): follow it
                current = self.store.get(request.id)
                if current is None:
                    break
                if current.state in (State.PENDING, State.APPROVED):
                    moved = self.store.transition(
                        current.id,
                        [current.state],
                        State.CANCELLED,
                        now=now,
                        actor=SYSTEM,
                        event="cancelled_requester_left",
                        detail={"reason": reason},
                        decided_by=SYSTEM,
                        decided_at=now,
                        decision_reason=reason,
                        ended_at=now,
                    )
                    if moved:
                        self._tell(moved)
                        ended.append(moved)
                        break
                elif current.state in (State.GRANTING, State.ACTIVE):
                    moved = self.store.transition(
                        current.id,
                        [current.state],
                        State.REVOKING,
                        now=now,
                        actor=SYSTEM,
                        event="revoke_requested",
                        detail={"reason": reason},
                        ended_by=OFFBOARDING,
                    )
                    if moved:
                        if self.on_ended:
                            self.on_ended(moved.id)
                        ended.append(moved)
                        self._finish_revocation(moved.id)
                        break
                else:
                    break
        if ended:
            log.warning(
                "requester %s may no longer have access (%s): ended %s",
                user_id,
                why,
                ", ".join(r.ref for r in ended),
            )
            self.notifier.notify_owners(
                self.integration_owners(),
                f"<@{user_id}> may no longer have access ({escape(reason)}), so I ended "
                + ", ".join(
                    f"{r.ref} ({escape(r.role_id)} on {escape(r.resource.label)})" for r in ended
                )
                + ".",
            )
        return len(ended)

    def recheck_requesters(self) -> int:
        """The sweep's catch-all for a ``user_change`` event that never arrived: every
        requester with something open is looked up again, at most once per
        ``requester_recheck``. Returns how many requests ended."""
        now = self.clock.now()
        with self._pool_lock:
            due = self._last_recheck is None or now - self._last_recheck >= (
                self.policy.requester_recheck
            )
            if due:
                self._last_recheck = now
        if not due:
            return 0
        return sum(self.person_changed(user_id) for user_id in self.store.live_requesters())

    # ------------------------------------------------------------------ the sweep
    def sweep(self) -> int:
        """Act on every row that is due or abandoned. Returns how many rows it touched.

        Rows are independent (each is claimed with a lease), so they are worked on by a small
        pool of threads: a thousand grants ending in the same minute wait on Elastic in
        parallel, not in a queue.
        """
        self._watch_key(self.clock.now())
        self._watch_key_expiry(self.clock.now())
        due = self.store.due_work(self.clock.now())
        if len(due) == 1:
            self._sweep_one(*due[0])
        elif due:
            list(self._pool().map(lambda row: self._sweep_one(*row), due))
        # The follow-ups after the due rows: each on its own, so one that fails (Slack not
        # answering who the owners are, say) neither stops the others nor the next sweep.
        for step in (
            self._alert_overdue,
            self._pin_accepted_invitations,
            self.recheck_requesters,
            self._time_out_pending,
            self._send_reminders,
            self._escalate,
            self._notice_expiring,
            lambda: self.renotify(self.clock.now() - self.policy.renotify_after),
        ):
            try:
                step()
            except Exception:
                log.exception("sweep: %s failed; trying again next sweep", step)
        return len(due)

    def _sweep_one(self, request_id: int, state: State) -> None:
        try:
            if state is State.ACTIVE:
                self.expire(request_id)
            elif state is State.REVOKING:
                self._finish_revocation(request_id)
            elif state is State.APPROVED:
                self.grant(request_id)
            elif state is State.GRANTING:
                self._resume_granting(request_id)
        except Exception:  # one bad row must not stop the others
            log.exception("sweep: request #%s failed", request_id)

    def _notify_later(self, request: AccessRequest) -> None:
        with self._pool_lock:
            if self._notifier_pool is None:
                self._notifier_pool = ThreadPoolExecutor(1, thread_name_prefix="notify")
            pool = self._notifier_pool

        def run() -> None:
            try:
                self._tell(request)
            except Exception:
                log.exception("notifying about request #%s failed", request.id)

        pool.submit(run)

    def drain(self) -> None:
        """Wait until every queued notification has been sent (shutdown, tests)."""
        with self._pool_lock:
            pool = self._notifier_pool
        if pool is not None:
            pool.submit(lambda: None).result()

    def _pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    self.policy.sweep_workers, thread_name_prefix="sweep"
                )
            return self._executor

    def close(self) -> None:
        """Stop the sweep's worker threads (waits for the rows they are working on)."""
        with self._pool_lock:
            pools = [p for p in (self._executor, self._notifier_pool) if p is not None]
            self._executor = self._notifier_pool = None
        for pool in pools:
            pool.shutdown(wait=True)

    def _time_out_pending(self) -> None:
        now = self.clock.now()
        for request_id in self.store.pending_timed_out(now - self.policy.pending_timeout):
            moved = self.store.transition(
                request_id,
                [State.PENDING],
                State.TIMED_OUT,
                now=now,
                actor=SYSTEM,
                detail={"after": format_duration(self.policy.pending_timeout)},
                ended_at=now,
            )
            if moved:
                log.info("request %s timed out waiting for approval", moved.ref)
                self._tell(moved)

    def _notice_expiring(self) -> None:
        """Warn requesters shortly before their access ends (once per end time)."""
        now = self.clock.now()
        for request in self.store.expiring_soon(now + self.policy.expiry_notice):
            if (
                request.expires_at
                and request.expires_at > now
                and self.store.mark_expiry_noticed(request.id, now)
            ):
                self.notifier.expiring_soon(request)

    def _send_reminders(self) -> None:
        now = self.clock.now()
        for request in self.store.reminders_due(now):
            sent = request.reminders_sent
            more = sent + 1 < self.policy.max_reminders
            next_at = now + self.policy.reminder_after * (2 ** (sent + 1)) if more else None
            if not self.store.claim_reminder(request.id, sent, next_at, now):
                continue
            decided = {a.approver_id for a in self.store.approvals(request.id)}
            waiting = [a for a in self.approvers_for(request) if a not in decided]
            if waiting:
                self.notifier.remind(request, waiting)

    def _escalate(self) -> None:
        """Resource owners did not decide in time: ask the integration owners too, once."""
        after = self.policy.escalate_after
        if after is None:
            return
        now = self.clock.now()
        for request in self.store.escalations_due(now - after):
            owners = self.integration_owners(not_requester=self._is_requester_of(request))
            added = [o for o in owners if o not in request.approvers]
            escalated = self.store.escalate(request.id, [*request.approvers, *added], added, now)
            if escalated is None:
                continue
            log.info("request %s escalated to %s", escalated.ref, ", ".join(added) or "nobody new")
            if added:
                self.notifier.escalated(escalated, added)

    def renotify(self, older_than: datetime) -> int:
        """Tell people about states they never heard of (a crash between write and message)."""
        self.drain()  # what is still queued is not lost, only late: never send it twice
        stale = self.store.unnotified(older_than)
        for request in stale:
            log.info("request %s: re-sending the %s notification", request.ref, request.state.value)
            self._tell(request)
        return len(stale)

    @about_request
    def _tell(self, request: AccessRequest) -> None:
        """Notify for the request's current state; record it only once people were told.

        A notification Slack failed to deliver for a passing reason stays unrecorded, and the
        sweep sends it again.
        """
        state = request.state
        told: bool | None = True
        if state is State.PENDING:
            told = self.notifier.request_filed(request)
        elif state in (State.APPROVED, State.DENIED, State.CANCELLED, State.TIMED_OUT):
            told = self.notifier.request_decided(request)
        elif state is State.ACTIVE:
            told = self.notifier.request_granted(request)
        elif state is State.FAILED:
            told = self.notifier.request_failed(request)
        elif state in (State.EXPIRED, State.REVOKED):
            told = self.notifier.request_ended(request)
        if told is not False:
            self.store.mark_notified(request.id, state)

    def _alert_overdue(self) -> None:
        now = self.clock.now()
        overdue = self.store.overdue(now, self.policy.overdue_alert_after)
        if not overdue:
            return
        owners = self.integration_owners()
        for request in overdue:
            if self.store.mark_alerted(request.id, now):
                self.notifier.revocation_overdue(request, owners)


class _KeyRefused(Exception):
    """A refusal of the API key seen by some other call (the client remembers it)."""

    credentials_rejected = True


def _finding(kind: str, request: AccessRequest, user_id: str, unit: Unit) -> dict:
    """One drift finding: its key (reported once), the record and the owners' words."""
    role = f"`{escape(unit.role_id)}` ({escape(unit.scope)}, {escape(unit.target)})"
    who = f"Elastic Cloud member {escape(user_id)} (<@{request.requester_id}>)"
    if kind == "vanished":
        what = f"{request.ref} is live but {who} no longer holds {role} the bot added"
        text = f"{what}; someone or something (an SSO role mapping?) removed it."
    else:
        what = f"{who} holds {role} again, which the bot removed when {request.ref} ended"
        text = f"{what}; it was given back outside the bot."
    return {
        "key": f"drift:{kind}:{request.id}:{user_id}:{unit.text}",
        "kind": kind,
        "request": request,
        "detail": {"user_id": user_id, "unit": unit.text, "what": what},
        "text": text,
    }


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


def _not_yours(request_id: int) -> str:
    return f"Request #{request_id} was not found, or is not yours."


def _already(request: AccessRequest) -> str:
    who = f" by <@{request.decided_by}>" if request.decided_by else ""
    return f"Request {request.ref} was already {request.state.value}{who}."


def describe(request: AccessRequest) -> str:
    """One line naming a request (logs, fallbacks)."""
    return f"{request.ref} {role_label(request.role_id)} on {request.resource.label}"


LIST_PAGE_SIZE = 20


def list_requests(
    service: AccessService, user_id: str, filters: tuple[str, ...], limit: int = LIST_PAGE_SIZE
):
    """The requests ``user_id`` may see, filtered and paged.

    Returns (requests, total, heading, query). Raises InvalidRequest / NotAllowed."""
    query = parse_list_filters(filters, service.clock.now())
    viewer = service.viewer(user_id)
    scope = visible_scope(query, viewer, service.owned_resource_keys(user_id))
    if scope.empty:
        return [], 0, scope.label, query
    requests, total = service.store.search(
        query,
        requester_id=scope.requester_id,
        resource_keys=scope.resource_keys,
        limit=limit,
        offset=query.offset(limit),
    )
    described = query.describe()
    heading = scope.label + (f", {described}" if described else "")
    return requests, total, heading, query
