"""Follow-ups the sweep drives from the database: pending requests timing out, reminders
to approvers, escalation to the integration owners, expiry notices and overdue-revocation
alerts. Each is claimed with a conditional write, so it is sent once and survives restarts.
"""

from __future__ import annotations

import logging

from bot.access.durations import format_duration
from bot.access.engine.core import (
    SYSTEM,
    Part,
)
from bot.access.routing import escalation_reason
from bot.access.states import State

log = logging.getLogger(__name__)


class FollowUps(Part):
    def time_out_pending(self) -> None:
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
                self.core.outbox.tell(moved)

    def notice_expiring(self) -> None:
        """Warn requesters shortly before their access ends (once per end time)."""
        now = self.clock.now()
        for request in self.store.expiring_soon(now + self.policy.expiry_notice):
            if (
                request.expires_at
                and request.expires_at > now
                and self.store.mark_expiry_noticed(request.id, now)
            ):
                self.notifier.expiring_soon(request)

    def send_reminders(self) -> None:
        now = self.clock.now()
        for request in self.store.reminders_due(now):
            sent = request.reminders_sent
            more = sent + 1 < self.policy.max_reminders
            next_at = now + self.policy.reminder_after * (2 ** (sent + 1)) if more else None
            if not self.store.claim_reminder(request.id, sent, next_at, now):
                continue
            decided = {a.approver_id for a in self.store.approvals(request.id)}
            waiting = [a for a in self.core.people.approvers_for(request) if a not in decided]
            if waiting:
                self.notifier.remind(request, waiting)

    def escalate(self) -> None:
        """Resource owners did not decide in time: ask the integration owners too, once."""
        after = self.policy.escalate_after
        if after is None:
            return
        now = self.clock.now()
        for request in self.store.escalations_due(now - after):
            owners = self.core.people.integration_owners(
                not_requester=self.core.people.is_requester_of(request)
            )
            added = [o for o in owners if o not in request.approvers]
            why = {o: escalation_reason(int(after.total_seconds())) for o in added}
            escalated = self.store.escalate(
                request.id, [*request.approvers, *added], added, now, reasons=why
            )
            if escalated is None:
                continue
            log.info("request %s escalated to %s", escalated.ref, ", ".join(added) or "nobody new")
            if added:
                self.notifier.escalated(escalated, added)

    def alert_overdue(self) -> None:
        now = self.clock.now()
        overdue = self.store.overdue(now, self.policy.overdue_alert_after)
        if not overdue:
            return
        owners = self.core.people.integration_owners()
        for request in overdue:
            if self.store.mark_alerted(request.id, now):
                self.notifier.revocation_overdue(request, owners)
