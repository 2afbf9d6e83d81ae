"""One failure policy for grants and revocations: a passing failure is retried later with
capped, jittered backoff (for ever; the overdue alert tells people when a revocation is
late), a refusal fails the request for good and releases what it would have owned.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from bot.access.engine.core import (
    SYSTEM,
    Part,
)
from bot.access.model import AccessRequest
from bot.access.states import State
from bot.logs import about_request

log = logging.getLogger(__name__)


class Failures(Part):
    @about_request
    def fail(self, request: AccessRequest, why: str) -> None:
        now = self.clock.now()
        with self.store.write():
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
            self.core.outbox.tell(failed)

    @about_request
    def retry_later(self, request: AccessRequest, exc: Exception, now: datetime) -> None:
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
            self.notifier.grant_delayed(self.core.people.get(request.id))
