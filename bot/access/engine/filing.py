"""Filing a request: who may ask, what may be asked for (catalogue and policy), the limits that
keep one person from flooding approvers, and the requests that need no click (a policy's
auto-approve, break-glass).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from bot.access import alerts, planning
from bot.access.durations import format_duration
from bot.access.engine.core import (
    AUTO,
    BREAK_GLASS,
    IDENTITY_READ_AGE,
    SLACK_DOWN,
    Part,
    not_yours,
)
from bot.access.engine.people import GROUPS_DOWN
from bot.access.errors import AccessError, AlreadyDecided, InvalidRequest, NotAllowed, NotFound
from bot.access.identity import canonical_email
from bot.access.limits import check_justification
from bot.access.model import AccessRequest
from bot.access.ports import Person, UpstreamError, cannot
from bot.access.resources import Resource, ResourceKind, Unit, unit_for
from bot.access.routing import Explanation
from bot.access.rules import MayUse, Rule, describe_requesters, justification_ok
from bot.access.states import FINAL, State
from bot.access.text import escape, summary
from bot.faults import crash_point

log = logging.getLogger(__name__)


class Filing(Part):
    def __init__(self, core) -> None:
        super().__init__(core)
        #: The break-glass cool-down and cap are read at filing and written by the approval.
        self._break_glass_lock = threading.Lock()

    def may_use(self, person: Person) -> MayUse:
        """:meth:`People.may_use`, its Slack failures told as such (never "not allowed")."""
        test = self.core.people.may_use(person)

        def among(requesters: tuple[str, ...]) -> bool:
            try:
                return test(requesters)
            except UpstreamError as exc:
                raise AccessError(GROUPS_DOWN) from exc

        return among

    def requestable(self, person: Person, resource: Resource) -> list[str]:
        """The roles on ``resource`` that ``person`` may request under the policy."""
        return self.policy.rules.requestable(resource, self.may_use(person))

    def find_requestable(self, person: Person, resource_text: str) -> Resource | None:
        """The resource ``resource_text`` names, if ``person`` may request some role on it.
        A resource whose every covering rule is closed to them is answered as one that does
        not exist: the names of what they may not request are not theirs to learn."""
        resource = self.catalogue.find(resource_text)
        if resource is None:
            return None
        if not self.requestable(person, resource) and self.policy.rules.requestable(resource, None):
            return None
        return resource

    def validate(
        self,
        resource_text: str,
        role: str,
        duration: timedelta,
        justification: str,
        person: Person | None = None,
        live: bool = False,
    ) -> tuple[Resource, Rule]:
        """Check a request against the catalogue and the policy (for ``person``: the rules
        whose ``requesters`` they are among); raises :class:`InvalidRequest` naming the field
        to fix. ``live``: a project's stack roles are read from Elastic now, not the cache."""
        check_justification(justification)
        resource, rule = self.covering(resource_text, role, person, live)
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

    def covering(
        self, resource_text: str, role: str, person: Person | None = None, live: bool = False
    ) -> tuple[Resource, Rule]:
        """The resource and the rule that covers ``role`` on it for ``person``; raises
        :class:`InvalidRequest` saying why none does. A stack role must be one the resource
        has: a project's custom role (``live``: as Elastic lists it now), or one a rule names
        for the deployment; any other name is refused, whatever it holds."""
        may_use = self.may_use(person) if person is not None else None
        resource = (
            self.find_requestable(person, resource_text)
            if person is not None
            else self.catalogue.find(resource_text)
        )
        if resource is None:
            raise InvalidRequest(
                f"Unknown resource '{escape(resource_text)}'. Use a deployment name or ID, or "
                "`organization`; `/elastic-access` opens a form that lists those you may "
                "request.",
                field="resource",
            )
        if live and resource.kind is ResourceKind.PROJECT and role not in resource.roles():
            resource = replace(resource, stack_roles=self._read_stack_roles(resource, role))
        role = self.role_named(resource, role)
        roles = resource.roles()
        if role not in roles and role not in self.policy.rules.stack_candidates(resource):
            offered = self.policy.rules.requestable(resource, may_use) or roles
            raise InvalidRequest(
                f"'{escape(role)}' is not a role for {escape(resource.label)}. Valid roles: "
                + ", ".join(f"`{r}`" for r in offered)
                + ".",
                field="role",
            )
        rule = self.policy.rules.decide(resource, role, may_use)
        if rule is None:
            closed = self.policy.rules.closed_to(resource, role) if may_use else None
            if closed is not None:
                offered = self.policy.rules.requestable(resource, may_use)
                raise InvalidRequest(
                    f"You may not request `{escape(role)}` on {escape(resource.label)}: "
                    f"{self._rule_name(closed)} covers it only for "
                    f"{describe_requesters(closed.requesters)}."
                    + (
                        " You may request " + ", ".join(f"`{r}`" for r in offered) + " there."
                        if offered
                        else ""
                    )
                    + " Ask an integration owner if you need it.",
                    field="role",
                )
            raise InvalidRequest(
                f"No access policy allows `{escape(role)}` on {escape(resource.label)}. Ask an "
                "integration owner "
                "if you need it.",
                field="role",
            )
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
        # The cool-down and the cap are read here and written by the approval: one
        # break-glass at a time, or a burst of them would all pass the checks together.
        with self._break_glass_lock if break_glass else contextlib.nullcontext():
            return self._file_request(
                requester_id, resource_text, role, duration, justification, break_glass
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
        resource, rule = self.validate(
            resource_text, role, duration, justification, person, live=True
        )
        role = self.role_named(resource, role)
        if break_glass and not rule.break_glass:
            raise NotAllowed(
                f"Break-glass is not allowed for `{escape(role)}` on {escape(resource.label)}. "
                "Ask for it with "
                "`/elastic-access request` instead."
            )
        if break_glass and not justification.strip():
            raise InvalidRequest("Break-glass needs a reason.", field="justification")
        justification = justification.strip()
        unit = unit_for(
            resource, role, self.policy.organization_id, stack=role not in resource.roles()
        )
        self._check_open_requests(person, unit)
        if break_glass:
            self._check_break_glass(person, now)
        # None: granted as an invitation. A read a few seconds old is fine for routing.
        member = self.elastic.find_member(person.email, max_age=IDENTITY_READ_AGE, consistent=False)
        if member is not None and (
            why := planning.entry_refusal(
                unit, member.units, self.store.owned_units(member.user_id), you=True
            )
        ):  # the grant would be refused for this: say so now, privately, filing nothing
            raise NotAllowed(f"{escape(why)} Nothing was filed.")
        fingerprint = hashlib.sha256(
            f"{requester_id}|{unit.text}|{int(duration.total_seconds())}|{justification}".encode()
        ).hexdigest()
        if self.store.seen_recently(fingerprint, now, self.policy.dedupe_window):
            raise AlreadyDecided("You filed this same request a moment ago; it is on its way.")
        routing = self.core.people.routing(
            resource,
            self.core.people.is_requester(
                requester_id, person.email, member.user_id if member else None
            ),
        )
        if routing.unresolved:
            self.core.people.report_unresolved(routing.unresolved, resource.label, routing.reasons)
        approvers = list(routing.approvers)
        if not approvers and not rule.auto_approve and not break_glass:
            self.notifier.notify_owners(
                self.core.people.integration_owners(),
                alerts.NoOtherApprover(requester_id, role, resource),
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
            approver_reasons={a: routing.why[a] for a in approvers if a in routing.why},
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
        self.core.outbox.tell(request)
        return request

    def requestable_resources(self, user_id: str, query: str, limit: int = 100) -> list[Resource]:
        """The type-ahead: resources matching ``query`` on which ``user_id`` may request some
        role (none at all for someone who may not request)."""
        return [r for r, _ in self.typeahead(user_id, query, limit)]

    def typeahead(
        self, user_id: str, query: str, limit: int = 100
    ) -> list[tuple[Resource, list[str]]]:
        """:meth:`requestable_resources`, each with the stack roles ``query`` names part of
        that the person may request there (``marketing`` finds ``marketing-reader`` on
        search-prod). A resource found only through a stack role they may not request is
        left out: its roles' names are not theirs to learn."""
        person = self.eligible_requester(user_id)
        may_use = self.may_use(person)  # one test: each user group read once per answer
        needle = (query or "").strip().lower()
        found: list[tuple[Resource, list[str]]] = []
        for resource in self.catalogue.search(query, limit=max(limit, 500)):
            roles = self.policy.rules.requestable(resource, may_use)
            if not roles:
                continue
            plain = not needle or any(
                needle in text for text in (resource.name.lower(), resource.id.lower())
            )
            stack = [
                r for r in roles if needle and r not in resource.roles() and needle in r.lower()
            ]
            if plain or stack or needle in resource.label.lower():
                found.append((resource, [] if plain else stack))
        return found[:limit]

    def form_choices(self, user_id: str, resource_text: str) -> tuple[Resource | None, list[str]]:
        """The resource the form picked (None when ``user_id`` may not request on it) and the
        roles they may request there."""
        person = self.eligible_requester(user_id)
        resource = self.find_requestable(person, resource_text) if resource_text else None
        if resource is None:
            return None, []
        return resource, self.requestable(person, resource)

    def break_glass_offered(self, user_id: str, resource: Resource | None) -> bool:
        """Whether the form offers ``user_id`` break-glass on ``resource``: only where the
        rule that covers one of its roles for them allows it (none before a resource is
        picked). Submitting still checks the role they chose."""
        if resource is None:
            return False
        return self.policy.rules.break_glass_on(
            resource, self.may_use(self.eligible_requester(user_id))
        )

    def request_again(
        self, request_id: int, user_id: str
    ) -> tuple[AccessRequest, Resource | None, list[str]]:
        """A request that ended, for its requester to file again (the form, filled in): the
        request, its resource if they may still request on it, the roles they may request
        there. Anyone else is told it was not found; nothing is filed here."""
        request = self.store.get(request_id)
        if request is None or request.requester_id != user_id:
            raise NotFound(not_yours(request_id))
        if request.state not in FINAL:
            raise AlreadyDecided(f"{request.ref} has not ended (it is {request.state.value}).")
        resource, roles = self.form_choices(user_id, request.resource.key)
        return request, resource, roles

    def explain(self, user_id: str, resource_text: str, role: str) -> Explanation:
        """``who-approves``: the rule that covers ``role`` on the resource for ``user_id``, who
        would approve it now and why each, and what else the rule says. Refused exactly as
        filing it would be (who may ask, what they may ask for), so it tells nobody more."""
        person = self.eligible_requester(user_id)
        resource, rule = self.covering(resource_text, role.strip().lower(), person)
        role = self.role_named(resource, role.strip().lower())
        routing = self.core.people.routing(
            resource, self.core.people.is_requester(user_id, person.email)
        )
        rules = self.policy.rules.rules
        escalate = self.policy.escalate_after
        return Explanation(
            resource=resource,
            role=role,
            rule_name=rule.name if rules else "",
            rule_index=rules.index(rule) + 1 if rules else 0,
            requesters=rule.requesters,
            approvers=tuple((a, routing.why.get(a, {})) for a in routing.approvers),
            quorum=rule.approvals,
            longest_seconds=int(self.policy.longest(rule).total_seconds()),
            auto_approve=rule.auto_approve,
            break_glass=rule.break_glass,
            extend_without_approval=rule.extend_without_approval,
            escalate_after_seconds=int(escalate.total_seconds())
            if escalate is not None and routing.source == "resource_owner"
            else None,
        )

    def role_named(self, resource: Resource, role: str) -> str:
        """``role`` as the resource names it: a Cloud role as typed; a stack role as Elastic
        or the policy spells it, when ``role`` matches one exactly or, failing that, exactly
        one case-insensitively (commands arrive lower-cased); else as typed."""
        if role in resource.roles():
            return role
        stack = self.policy.rules.stack_candidates(resource)
        if role in stack:
            return role
        same = [s for s in stack if s.lower() == role.lower()]
        return same[0] if len(same) == 1 else role

    def _read_stack_roles(self, resource: Resource, role: str) -> tuple[str, ...]:
        """A project's custom roles, read now; Elastic not answering is said as such (never
        "not a role"), and nothing is filed."""
        try:
            return self.catalogue.stack_roles(resource)
        except UpstreamError as exc:
            raise AccessError(
                f"Elastic Cloud did not answer when I read the roles of "
                f"{escape(resource.label)} ({escape(summary(str(exc), 200))}), so I cannot "
                f"check `{escape(role)}` there. Nothing was filed; try again in a few minutes."
            ) from exc

    def _rule_name(self, rule: Rule) -> str:
        """How a refusal names a rule: its ``name``, else its place in the policy."""
        if rule.name:
            return f"policy rule *{escape(rule.name)}*"
        return f"policy rule {self.policy.rules.rules.index(rule) + 1}"

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
        others = self.core.people.integration_owners(
            not_requester=self.core.people.is_requester(person.id, person.email)
        )
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
                self.core.people.integration_owners(
                    not_requester=self.core.people.is_requester_of(moved)
                ),
                alerts.BreakGlassUsed(moved),
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
            return self.core.people.get(request.id)
        self.notifier.request_filed(moved)  # approvers see an FYI card, without buttons
        if announce:
            announce(moved)
        self.core.outbox.tell(moved)
        self.core.granting.due(moved.id)
        return self.core.people.get(moved.id)
