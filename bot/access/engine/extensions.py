"""More time on an active grant: what may be asked (policy's longest duration, one pending at
a time), asking, how many approvals it needs, and applying it. The approvers' decisions on it
are counted in :mod:`bot.access.engine.decisions`, like those on a request.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.access.durations import format_duration
from bot.access.engine.core import (
    AUTO,
    SLACK_DOWN,
    SYSTEM,
    Part,
)
from bot.access.errors import AccessError, AlreadyDecided, InvalidRequest, NotAllowed
from bot.access.limits import check_reason
from bot.access.model import AccessRequest
from bot.access.ports import UpstreamError, cannot
from bot.access.rules import Rule
from bot.access.states import State
from bot.access.text import escape
from bot.logs import about_request

log = logging.getLogger(__name__)


class Extensions(Part):
    def check_extension(
        self, request_id: int, actor_id: str, duration: timedelta, reason: str
    ) -> tuple[AccessRequest, Rule]:
        """Everything that can refuse an extension, without changing anything (fast: the
        form must answer Slack within 3 seconds)."""
        request = self.core.people.visible(request_id, actor_id)
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
        rule = self.core.people.rule_of(request)
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
            return self.apply(request_id, AUTO)
        pending = self.core.people.get(request_id)
        approvers = self.core.people.approvers_for(pending)
        if not approvers:
            self.store.drop_extension(request_id, SYSTEM, "nobody can approve it", now)
            raise NotAllowed("Nobody other than you can approve this extension.")
        self.notifier.extension_requested(pending, approvers, self.extension_quorum(pending))
        return pending

    def extension_quorum(self, request: AccessRequest) -> int:
        """Approvals an extension needs: as many as the rule asks of a new request, because
        more time is more access (the rule as it is now; the request's own if none matches,
        or if Slack cannot say now which rules its requester may use)."""
        try:
            rule = self.core.people.rule_of(request)
        except AccessError:
            rule = None
        return max(1, rule.approvals if rule else request.approvals_needed)

    def extension_form(self, request_id: int, actor_id: str) -> tuple[AccessRequest, timedelta]:
        """The request and the room left on it, if ``actor_id`` may ask to extend it now
        (the Extend button opens its form only then). Someone who may not see the request
        learns nothing of it (not who filed it)."""
        request = self.core.people.visible(request_id, actor_id)
        if actor_id != request.requester_id:
            raise NotAllowed(f"Only the requester can extend {request.ref}.")
        room = self.extension_room(request)
        if room < self.policy.min_duration:
            raise AccessError(f"{request.ref} already has the longest total time policy allows.")
        return request, room

    def extension_room(self, request: AccessRequest) -> timedelta:
        """How much more time policy allows on ``request`` (zero when none)."""
        rule = self.core.people.rule_of(request)
        if rule is None:
            return timedelta(0)
        limit = self.policy.longest(rule)
        return max(timedelta(0), limit - request.duration)

    def apply(self, request_id: int, actor_id: str, extension: int | None = None) -> AccessRequest:
        """Apply the pending extension (``extension``, when given: the one its approvers
        approved, never one asked for after it)."""
        before = self.core.people.get(request_id)
        extended = self.store.apply_extension(
            request_id, actor_id, self.clock.now(), extension=extension
        )
        if extended is None:
            raise AlreadyDecided(f"The extension of {before.ref} was already decided.")
        if self.on_expiry_set and extended.expires_at:
            self.on_expiry_set(extended.id, extended.expires_at)
        log.info("request %s extended to %s by %s", extended.ref, extended.expires_at, actor_id)
        self.notifier.extension_decided(
            before, approved=True, actor_id=actor_id, reason=None, after=extended
        )
        return extended
