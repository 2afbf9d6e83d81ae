"""The sweep: every row that is due or abandoned, worked on by a small pool of threads (each
row is claimed with a lease), then the follow-ups, each on its own so one failing stops
nothing else.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from bot.access.engine.core import (
    Part,
)
from bot.access.states import State

log = logging.getLogger(__name__)


class Sweeper(Part):
    def __init__(self, core) -> None:
        super().__init__(core)
        self._executor: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def sweep(self) -> int:
        """Act on every row that is due or abandoned. Returns how many rows it touched.

        Rows are independent (each is claimed with a lease), so they are worked on by a small
        pool of threads: a thousand grants ending in the same minute wait on Elastic in
        parallel, not in a queue.
        """
        self.core.keys.watch(self.clock.now())
        self.core.keys.watch_expiry(self.clock.now())
        due = self.work_due()
        # The follow-ups after the due rows: each on its own, so one that fails (Slack not
        # answering who the owners are, say) neither stops the others nor the next sweep.
        for step in (
            self.core.followups.alert_overdue,
            self.core.inviting.pin_accepted,
            self.core.leavers.recheck_requesters,
            self.core.followups.time_out_pending,
            self.core.followups.send_reminders,
            self.core.followups.escalate,
            self.core.followups.notice_expiring,
            self.core.reviews.send_due,  # access reviews, once per period
            lambda: self.core.outbox.renotify(self.clock.now() - self.policy.renotify_after),
        ):
            try:
                step()
            except Exception:
                log.exception("sweep: %s failed; trying again next sweep", step)
        return due

    def work_due(self) -> int:
        """Only the rows that are due or abandoned (grants, revocations, retries), without
        the follow-ups: what each process looks for every few seconds (``claim_interval``),
        so work a dead replica left is taken over soon after its lease runs out."""
        due = self.store.due_work(self.clock.now())
        if len(due) == 1:
            self._sweep_one(*due[0])
        elif due:
            list(self._pool().map(lambda row: self._sweep_one(*row), due))
        return len(due)

    def _sweep_one(self, request_id: int, state: State) -> None:
        try:
            if state is State.ACTIVE:
                self.core.revocation.expire(request_id)
            elif state is State.REVOKING:
                self.core.revocation.finish(request_id)
            elif state is State.APPROVED:
                self.core.granting.grant(request_id)
            elif state is State.GRANTING:
                self.core.granting.resume(request_id)
        except Exception:  # one bad row must not stop the others
            log.exception("sweep: request #%s failed", request_id)

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
            pool, self._executor = self._executor, None
        if pool is not None:
            pool.shutdown(wait=True)
