"""Requesters who may no longer have access (deactivated, now a guest, outside the allowed
domains): what Slack says now, and ending everything they have or asked for, on the
record. Checked on ``user_change``, at approval and grant, and by the sweep.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from bot.access import alerts
from bot.access.engine.core import (
    LEFT,
    OFFBOARDING,
    SYSTEM,
    Part,
)
from bot.access.model import AccessRequest
from bot.access.ports import UpstreamError
from bot.access.states import State

log = logging.getLogger(__name__)


#: People looked up again per sweep (``users.info`` is Tier 4, about 100 a minute: 20 per
#: 15-second sweep stays under it with room for everything else).
RECHECK_BATCH = 20


class Leavers(Part):
    def __init__(self, core) -> None:
        super().__init__(core)
        self._recheck_lock = threading.Lock()
        self._last_recheck: datetime | None = None
        #: Who is still to be looked up in the current pass.
        self._recheck_queue: list[str] = []

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
                        self.core.outbox.tell(moved)
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
                        # due now: not at a retry time a grant in progress had set
                        attempts=0,
                        next_attempt_at=None,
                    )
                    if moved:
                        if self.on_ended:
                            self.on_ended(moved.id)
                        ended.append(moved)
                        # The removal is the worker's, as for Revoke now: a front end that
                        # took the user_change event makes no change in Elastic itself.
                        self.core.revocation.due(moved.id)
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
                self.core.people.integration_owners(),
                alerts.RequesterLeft(user_id, reason, tuple(ended)),
            )
        return len(ended)

    def recheck_requesters(self) -> int:
        """The sweep's catch-all for a ``user_change`` event that never arrived: every
        requester with something open is looked up again, a pass starting at most once per
        ``requester_recheck``. A pass is spread over sweeps, :data:`RECHECK_BATCH` people a
        sweep, so that a thousand requesters stay within Slack's rate limit for
        ``users.info`` (Tier 4). Returns how many requests ended."""
        now = self.clock.now()
        with self._recheck_lock:
            if not self._recheck_queue:
                due = self._last_recheck is None or now - self._last_recheck >= (
                    self.policy.requester_recheck
                )
                if due:
                    self._last_recheck = now
                    self._recheck_queue = list(self.store.live_requesters())
            batch = self._recheck_queue[:RECHECK_BATCH]
            del self._recheck_queue[:RECHECK_BATCH]
        return sum(self.person_changed(user_id) for user_id in batch)
