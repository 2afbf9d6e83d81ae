"""APScheduler 3 as an accelerator over the database, never as the source of truth.

``misfire_grace_time=None`` so a timer that fires late still runs (the default of one second
silently drops late jobs); the sweep catches anything a timer missed, including after a crash.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

#: How far this process's clock may be from the database's before it stops claiming work.
#: Leases, expiry times and the audit trail are written with each process's clock; a replica
#: whose clock runs ahead would revoke early and hold a dead replica's rows too long, one
#: running behind would have its live leases taken. Keep the hosts on NTP.
MAX_CLOCK_SKEW = 5.0
#: Grants handed over by the front end that run at once; more wait their turn in order.
GRANT_THREADS = 4


class Scheduler:
    def __init__(
        self,
        service,
        *,
        sweep_interval: timedelta,
        catalogue=None,
        catalogue_refresh: timedelta | None = None,
        reconcile_interval: timedelta | None = None,
        claim_interval: timedelta | None = None,
        lease: timedelta | None = None,
    ) -> None:
        self.service = service
        self.catalogue = catalogue
        self.sweep_interval = sweep_interval
        self.claim_interval = claim_interval
        self.lease = lease
        #: When the heartbeat last reached the database (monotonic); None before the first.
        self.last_heartbeat: float | None = None
        #: Since when the heartbeat has been failing (monotonic), if it is.
        self.database_lost_since: float | None = None
        #: The database's clock minus ours, while it is beyond MAX_CLOCK_SKEW (else None).
        self.clock_skew: float | None = None
        self.catalogue_refresh = catalogue_refresh
        self.reconcile_interval = reconcile_interval
        self.last_sweep: float | None = None
        self._sweep_lock = threading.Lock()
        #: Work handed over and not finished yet (:meth:`grant_soon`, :meth:`revoke_soon`),
        #: for :meth:`idle`.
        self._handed_pending = 0
        self._handed_done = threading.Condition()
        self._aps = BackgroundScheduler(
            timezone=UTC,
            # Four pools, so no kind of job waits behind another: the revocation timers (a
            # burst of grants ending together), the grants handed over by the front end (a
            # burst of approvals), the periodic work (sweep, claims, catalogue,
            # reconciliation) and the heartbeat, which must renew this process's leases even
            # while every timer thread is stuck in a slow Elastic call.
            executors={
                "default": ThreadPoolExecutor(8),
                "grants": ThreadPoolExecutor(GRANT_THREADS),
                "work": ThreadPoolExecutor(3),
                "heartbeat": ThreadPoolExecutor(1),
            },
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )

    @property
    def running(self) -> bool:
        return self._aps.running

    def _real_time(self, moment: datetime) -> datetime:
        """Map the core's clock onto the wall clock the timer thread waits on."""
        return datetime.now(UTC) + (moment - self.service.clock.now())

    def schedule_expiry(self, request_id: int, expires_at: datetime) -> None:
        self._aps.add_job(
            self._expire,
            "date",
            run_date=self._real_time(expires_at),
            args=[request_id],
            id=f"revoke:{request_id}",
            replace_existing=True,
        )

    def _expire(self, request_id: int) -> None:
        if self.clock_skew is not None:
            return  # a replica whose clock agrees with the database ends it (claim tick)
        self.service.expire(request_id)

    def timer(self, request_id: int) -> datetime | None:
        """When the revocation timer of ``request_id`` fires, on the core's clock (None when
        it has none); ``python -m bot`` never needs it, the tests of on-time expiry do."""
        job = self._aps.get_job(f"revoke:{request_id}")
        run_at = getattr(job, "next_run_time", None)
        if run_at is None:
            return None
        return self.service.clock.now() + (run_at - datetime.now(UTC))

    def cancel(self, request_id: int) -> None:
        with contextlib.suppress(JobLookupError):
            self._aps.remove_job(f"revoke:{request_id}")

    def rebuild(self) -> int:
        """One timer per live grant, from the database."""
        rows = self.service.store.scheduled_expiries()
        for request_id, expires_at in rows:
            self.schedule_expiry(request_id, expires_at)
        return len(rows)

    def catch_up(self, *, follow_ups: bool = False) -> int:
        """After a start: the work that is due (rows left half-done, grants that ended while
        we were down — their timers are on it too — and retries), then every notice never
        sent since before the start (a crash between a write and its message). Notices are
        claimed, so one another process is sending right now is left to it. The follow-ups
        (overdue alerts among them) wait for the first regular sweep: a grant that ended
        while the bot was down is being revoked now, not overdue."""
        if follow_ups:  # the whole sweep, as a test harness that drives it wants
            rows = self.sweep()
        else:
            try:
                rows = self.service.work_due()
            finally:
                self.last_sweep = time.monotonic()
        try:
            self.service.renotify(self.service.clock.now())
        except Exception:
            log.exception("catch-up: re-sending notices failed; the sweep tries again")
        log.info("catch-up sweep handled %d rows", rows)
        return rows

    def sweep(self) -> int:
        if self.clock_skew is not None:
            return 0  # see MAX_CLOCK_SKEW: what is due is left to the replicas that agree
        with self._sweep_lock:  # the timer job and a manual call never sweep at once
            try:
                return self.service.sweep()
            finally:
                self.last_sweep = time.monotonic()

    #: How far ahead :meth:`claim_due` sets timers for grants other processes made.
    TIMER_HORIZON = timedelta(minutes=1)
    #: Those timers fire this much after the end: the process that made the grant (its own
    #: timer, on the dot) normally has the row claimed by then, and the others' claims pass
    #: it over; if that process is gone (or the grant came from a front end alone, a copy,
    #: a migration), this is all the delay it costs. Short, because a lost race costs one
    #: conditional UPDATE and a late revocation is the one thing the product promises not
    #: to make (2 processes, 1,000 grants ending in 20 s: docs/benchmarks.md row 7).
    OTHERS_DELAY = timedelta(seconds=0.25)

    def claim_due(self) -> None:
        """Look in the database for work that fell due (another replica's grants included),
        and set a timer for every grant ending within :data:`TIMER_HORIZON` that this
        process has none for: a grant ends on time whichever process made it, and even
        when that process is gone."""
        if not self.may_claim:
            return  # the database is away, or this clock disagrees with it: claim nothing
        # Not under the sweep's lock: a sweep slowed by its follow-ups (a slow Slack) must
        # not hold up revocations. Both may look at the same rows; each row's claim decides.
        self.service.work_due()
        now = self.service.clock.now()
        for request_id, expires_at in self.service.store.expiring_before(now + self.TIMER_HORIZON):
            # Only grants still to end: one already due is work_due's (or a timer's that is
            # running it), and a second timer for it would only queue behind the first.
            if expires_at > now and self._aps.get_job(f"revoke:{request_id}") is None:
                self.schedule_expiry(request_id, expires_at + self.OTHERS_DELAY)

    def heartbeat(self) -> None:
        """Renew this process's leases; after a lease's length without reaching the
        database, say so (the readiness check turns false) until it is back."""
        try:
            self.service.renew_leases()
        except Exception as exc:
            now = time.monotonic()
            if self.database_lost_since is None:
                self.database_lost_since = now
                log.warning("heartbeat: the database did not answer (%s)", exc)
            elif self.lease and now - self.database_lost_since > self.lease.total_seconds():
                log.error(
                    "the database has not answered for %.0fs: this process claims no work "
                    "until it does (%s)",
                    now - self.database_lost_since,
                    exc,
                )
            return
        if self.database_lost_since is not None:
            log.warning("heartbeat: the database answers again; claiming work")
        self.database_lost_since = None
        self.last_heartbeat = time.monotonic()
        self._check_clock()

    def _check_clock(self) -> None:
        """Compare this process's clock with the database's (PostgreSQL; SQLite is this
        machine's): beyond :data:`MAX_CLOCK_SKEW` the process claims nothing, its timers
        do nothing and ``/readyz`` says ``clock: false``, until they agree again."""
        try:
            offset = self.service.store.clock_offset()
        except Exception:  # unknown this time: judged at the next heartbeat
            return
        if abs(offset) > MAX_CLOCK_SKEW:
            if self.clock_skew is None:
                log.error(
                    "this process's clock is %.1fs %s the database's: it claims no work and "
                    "is not ready until they agree (keep the hosts on NTP)",
                    abs(offset),
                    "behind" if offset > 0 else "ahead of",
                )
            self.clock_skew = offset
        elif self.clock_skew is not None:
            log.warning("this process's clock agrees with the database's again; claiming work")
            self.clock_skew = None

    @property
    def database_reachable(self) -> bool:
        return self.database_lost_since is None

    @property
    def may_claim(self) -> bool:
        return self.database_lost_since is None and self.clock_skew is None

    def _refresh_catalogue(self) -> None:
        try:
            self.catalogue.refresh()
        except Exception as exc:  # the cache stays; the next refresh tries again
            log.warning("catalogue refresh failed: %s", exc)

    def reconcile(self) -> None:
        """Drift: what the bot owns and removed against what Elastic shows (reported only)."""
        try:
            self.service.reconcile()
        except Exception as exc:  # the next run tries again
            log.warning("reconciliation failed: %s", exc)

    def start(
        self, *, refresh_now: bool = False, catch_up: bool = False, heartbeat_only: bool = False
    ) -> None:
        """``heartbeat_only``: a front end alone keeps no timers and claims no due work, but
        renews the leases it takes (an approval's grant, a Revoke click) like any process."""
        if self.lease:
            self._aps.add_job(
                self.heartbeat,
                "interval",
                seconds=max(1.0, self.lease.total_seconds() / 4),
                id="heartbeat",
                replace_existing=True,
                executor="heartbeat",
            )
        if heartbeat_only:
            self._aps.start()
            log.info("scheduler started: the lease heartbeat only (front end)")
            return
        count = self.rebuild()
        if catch_up:  # at once, on the scheduler's threads: ready does not wait for it
            self._aps.add_job(
                self.catch_up,
                "date",
                run_date=datetime.now(UTC),
                id="catch-up",
                executor="work",
            )
            self.last_sweep = time.monotonic()  # readiness: the first sweep is under way
        self._aps.add_job(
            self.sweep,
            "interval",
            seconds=self.sweep_interval.total_seconds(),
            id="sweep",
            replace_existing=True,
            executor="work",
        )
        if self.catalogue is not None and self.catalogue_refresh:
            self._aps.add_job(
                self._refresh_catalogue,
                "interval",
                seconds=self.catalogue_refresh.total_seconds(),
                id="catalogue",
                replace_existing=True,
                next_run_time=datetime.now(UTC) if refresh_now else None,
                executor="work",
            )
        if self.claim_interval:
            self._aps.add_job(
                self.claim_due,
                "interval",
                seconds=self.claim_interval.total_seconds(),
                id="claim",
                replace_existing=True,
                executor="work",
            )
        if self.reconcile_interval:
            self._aps.add_job(
                self.reconcile,
                "interval",
                seconds=self.reconcile_interval.total_seconds(),
                id="reconcile",
                replace_existing=True,
                executor="work",
            )
        self._aps.start()
        log.info(
            "scheduler started: %d revocation timers, sweep every %s", count, self.sweep_interval
        )

    def wakeup(self) -> None:
        self._aps.wakeup()

    def grant_soon(self, request_id: int) -> None:
        """An approval is recorded: grant it now on this process's grant threads. The job
        claims the row like any due work (``service.grant_due``), so if this process dies
        first, another one's claim tick takes the row over once nobody holds it."""
        self._hand_over(self.service.grant_due, request_id, "grants", "grant")

    def revoke_soon(self, request_id: int) -> None:
        """A person ended a grant (Revoke now): remove the role now on the revocation timers'
        threads, which claim the revoking row like any due work (``service.finish_due``)."""
        self._hand_over(self.service.finish_due, request_id, "default", "revocation")

    def _hand_over(self, work, request_id: int, executor: str, what: str) -> None:
        if not self._aps.running:
            return  # stopping: the row stays due, and the next start's catch-up takes it
        with self._handed_done:
            self._handed_pending += 1
        try:
            self._aps.add_job(
                self._run_handed,
                "date",
                run_date=datetime.now(UTC),
                args=[work, request_id, what],
                executor=executor,
            )
        except Exception:
            # The decision is on the record already: the person who clicked must not hear
            # of a failure that is not theirs. The row stays due; a claim tick takes it.
            self._handed_finished()
            log.exception(
                "could not hand the %s of request #%s to a thread; a claim tick takes it",
                what,
                request_id,
            )

    def _run_handed(self, work, request_id: int, what: str) -> None:
        try:
            work(request_id)
        except Exception:  # the row stays due: the claim tick or the sweep retries it
            log.exception("%s of request #%s failed; it stays due", what, request_id)
        finally:
            self._handed_finished()

    def _handed_finished(self) -> None:
        with self._handed_done:
            self._handed_pending -= 1
            self._handed_done.notify_all()

    def idle(self, timeout: float) -> bool:
        """Wait until every grant and revocation handed over so far has finished (tests,
        benchmarks)."""
        with self._handed_done:
            return self._handed_done.wait_for(lambda: self._handed_pending <= 0, timeout)

    def stop(self, wait: bool = True) -> None:
        if self._aps.running:
            self._aps.shutdown(wait=wait)
