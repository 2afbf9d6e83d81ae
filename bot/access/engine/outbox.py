"""The notification outbox: tell people about a request's current state and record it only
once they were told (``notified_state``); what a crash or Slack swallowed is sent again.
Notices after a revocation go to a one-thread queue so they never hold up the next one.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from bot.access.engine.core import (
    Part,
)
from bot.access.model import AccessRequest
from bot.access.states import State
from bot.logs import about_request

log = logging.getLogger(__name__)


class Outbox(Part):
    def __init__(self, core) -> None:
        super().__init__(core)
        self._notifier_pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @about_request
    def tell(self, request: AccessRequest, current: bool = False) -> None:
        """Notify for the request's current state; record it only once people were told.

        A notification Slack failed to deliver for a passing reason stays unrecorded, and the
        sweep sends it again.
        """
        state = request.state
        if not self.store.claim_notice(
            request.id, state, now=self.clock.now(), lease=self.policy.lease, current=current
        ):
            return  # told already, or another process is telling it right now
        told: bool | None = True
        try:
            told = self._send(request)
        except BaseException:
            self.store.release_notice(request.id, state)
            raise
        if told is False:
            self.store.release_notice(request.id, state)
        else:
            self.store.mark_notified(request.id, state)

    def _send(self, request: AccessRequest) -> bool | None:
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
        return told

    def notify_later(self, request: AccessRequest) -> None:
        with self._pool_lock:
            if self._notifier_pool is None:
                self._notifier_pool = ThreadPoolExecutor(1, thread_name_prefix="notify")
            pool = self._notifier_pool

        def run() -> None:
            try:
                self.tell(request)
            except Exception:
                log.exception("notifying about request #%s failed", request.id)

        pool.submit(run)

    def drain(self) -> None:
        """Wait until every queued notification has been sent (shutdown, tests)."""
        with self._pool_lock:
            pool = self._notifier_pool
        if pool is not None:
            pool.submit(lambda: None).result()

    def renotify(self, older_than: datetime) -> int:
        """Tell people about states they never heard of (a crash between write and message)."""
        self.drain()  # what is still queued is not lost, only late: never send it twice
        stale = self.store.unnotified(older_than)
        for request in stale:
            log.info("request %s: re-sending the %s notification", request.ref, request.state.value)
            self.tell(request, current=True)  # from a list read a moment ago: still so?
        return len(stale)

    def close(self) -> None:
        """Stop the notification queue (waits for what is queued to be sent)."""
        with self._pool_lock:
            pool, self._notifier_pool = self._notifier_pool, None
        if pool is not None:
            pool.shutdown(wait=True)
