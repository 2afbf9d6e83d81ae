"""Review of issue #16 (high availability on PostgreSQL): leases, heartbeats and notice
claims under a hostile environment. Each test was written as a failing finding by an
attacker's review; each now guards its fix.

Two in-process runtimes share one PostgreSQL schema, each with its own clock, so "time
passing" (a slow Elastic call, a stall) and clock skew between replicas are exact.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from bot.clock import FakeClock
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.slack.app import web_client
from bot.standins.slack.text import text_of
from bot.web.server import serve_in_thread
from tests.harness import BOT_TOKEN, OWNER, REQUESTER, Bot, fast_retry, make_settings

LEASE = timedelta(seconds=20)  # production's default work_lease


def _start(settings, slack, role: str, clock: FakeClock) -> Bot:
    client = web_client(BOT_TOKEN, slack.api_url, rate_limit_retries=2)
    runtime = Runtime(
        settings,
        role=role,
        clock=clock,
        slack_client=client,
        elastic_retry=fast_retry(),
        catch_up_inline=True,
    )
    runtime.start()
    server = serve_in_thread(runtime.wsgi, "127.0.0.1", 0)
    bot = Bot(runtime, f"http://127.0.0.1:{server.server_address[1]}", slack, clock)
    bot._server = server  # type: ignore[attr-defined]
    return bot


@pytest.fixture
def pair(tmp_path, slack, elastic, postgres_url):
    """start(role_of_first) -> (first, worker): two runtimes on one PostgreSQL schema, the
    second a full process ("all"), each with its own clock (both start at the same instant)."""
    started: list[Bot] = []

    def start(first_role: str):
        base = datetime.now(UTC)
        settings = make_settings(
            tmp_path, elastic.url, slack.api_url, database_url=postgres_url, work_lease="20s"
        )
        first = _start(settings, slack, first_role, FakeClock(base))
        started.append(first)
        worker = _start(settings, slack, "all", FakeClock(base))
        started.append(worker)
        return first, worker

    yield start
    for bot in reversed(started):
        bot._server.shutdown()  # type: ignore[attr-defined]
        bot._server.server_close()  # type: ignore[attr-defined]
        bot.runtime.stop()
        bot.close()


def _active_grant(front: Bot, slack, worker: Bot | None = None) -> None:
    """A grant made through ``front``; a front end alone only records the approval, and
    ``worker``'s claim tick makes the grant."""
    front.command(REQUESTER, "request prod-search deployment-viewer 1h review drill")
    slack.wait_for(lambda: front.state(1) is not None and front.state(1).value == "pending")
    front.decide(1, OWNER, approve=True)
    if front.runtime.role == "web":
        assert front.state(1).value == "approved"  # the front end granted nothing itself
        assert worker is not None
        worker.runtime.scheduler.claim_due()
        worker.settle()
    assert front.state(1).value == "active"


def _time_passes(bots: list[Bot], seconds: float, step: float = 5.0) -> None:
    """Real seconds pass for every process: each clock moves, and every process that runs a
    heartbeat (its scheduler is running) renews its leases each lease/4, as the real job does."""
    passed = 0.0
    while passed < seconds:
        for bot in bots:
            bot.clock.advance(timedelta(seconds=step))
        for bot in bots:
            if bot.runtime.scheduler.running:
                bot.runtime.scheduler.heartbeat()
        passed += step


@pytest.mark.parametrize(
    "role",
    [
        "all",
        "web",
    ],
)
def test_review_ha_a_revocation_slower_than_the_lease_is_not_repeated_by_another_process(
    pair, slack, elastic, role
):
    front, worker = pair(role)
    _active_grant(front, slack, worker)
    member_id = front.request(1).elastic_user_id
    real_remove = front.runtime.elastic.remove_units

    def slow_remove(user_id, units):
        # The DELETE is slow (Elastic answering 503/429, the client retrying): 25 s pass
        # after the fence and before the removal lands, and the worker's claim tick runs.
        _time_passes([front, worker], 25)
        worker.runtime.scheduler.claim_due()
        return real_remove(user_id, units)

    front.runtime.elastic.remove_units = slow_remove  # type: ignore[method-assign]
    front.revoke(1, REQUESTER)
    if role == "web":  # a front end alone removes nothing itself: a worker's claim does
        assert front.state(1).value == "revoking"
        worker.runtime.scheduler.claim_due()
        worker.settle()
    worker.runtime.service.drain()
    front.runtime.service.drain()
    deletes = elastic.calls_to("DELETE", f"/users/{member_id}/role_assignments")
    assert front.state(1).value in ("revoked", "expired")
    assert len(deletes) == 1, f"the role was removed {len(deletes)} times"


class _BlockingService:
    """Just enough of AccessService for the Scheduler: expiry timers that block (revocations
    stuck in slow Elastic calls), and a heartbeat that counts."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.store = SimpleNamespace(scheduled_expiries=lambda: [])
        self.release = threading.Event()
        self.renewals = 0
        self.stuck = 0
        self._lock = threading.Lock()

    def expire(self, request_id: int) -> None:
        with self._lock:
            self.stuck += 1
        self.release.wait(30)

    def renew_leases(self) -> int:
        with self._lock:
            self.renewals += 1
        return 0

    def sweep(self) -> int:
        return 0

    def work_due(self) -> int:
        return 0

    def renotify(self, older_than) -> int:
        return 0


def test_review_ha_the_heartbeat_runs_while_the_timer_threads_are_busy():
    service = _BlockingService()
    scheduler = Scheduler(
        service,
        sweep_interval=timedelta(hours=1),
        lease=timedelta(seconds=4),  # heartbeat every second
    )
    scheduler.start()
    try:
        now = service.clock.now()
        for request_id in range(1, 21):  # a burst of grants ending together
            scheduler.schedule_expiry(request_id, now)
        deadline = time.monotonic() + 10
        while service.stuck < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert service.stuck == 8, "eight revocations are in flight"
        before = service.renewals
        time.sleep(3.5)  # three heartbeats are due meanwhile (lease 4 s: every 1 s)
        renewed = service.renewals - before
    finally:
        service.release.set()
        scheduler.stop(wait=True)
    assert renewed >= 2, f"the heartbeat ran {renewed} times in 3.5 s while timers were busy"


def test_review_ha_a_replica_whose_clock_disagrees_with_the_database_claims_nothing(
    postgres_url, tmp_path, slack, elastic, monkeypatch
):
    """Leases and expiry times are written with each process's clock, so a replica whose
    clock is 2 minutes ahead would revoke early and, once dead, hold its rows 2 minutes too
    long. The heartbeat compares its clock with the database's: beyond MAX_CLOCK_SKEW it
    claims nothing, its timers do nothing and /readyz says clock: false, until they agree.
    (The finding asked for leases in database time; the guard is the fix chosen: the fake
    clock the suite drives the bot with could not move database time.)"""
    import bot.store.postgres as pg

    settings = make_settings(tmp_path, elastic.url, slack.api_url, database_url=postgres_url)
    bot = _start(settings, slack, "all", FakeClock(datetime.now(UTC)))
    try:
        _active_grant(bot, slack)
        real_time = time.time
        monkeypatch.setattr(pg, "time", SimpleNamespace(time=lambda: real_time() + 120))
        bot.runtime.scheduler.heartbeat()
        assert bot.runtime.readiness()["clock"] is False
        bot.clock.advance(timedelta(hours=1, seconds=1))
        bot.runtime.scheduler.claim_due()
        bot.runtime.scheduler._expire(1)  # its timer fires: nothing
        assert bot.state(1).value == "active"
        monkeypatch.setattr(pg, "time", time)  # NTP fixed it
        bot.runtime.scheduler.heartbeat()
        assert bot.runtime.readiness()["clock"] is True
        bot.runtime.scheduler.claim_due()
        bot.runtime.service.drain()
        assert bot.state(1).value == "expired"
    finally:
        bot._server.shutdown()  # type: ignore[attr-defined]
        bot._server.server_close()  # type: ignore[attr-defined]
        bot.runtime.stop()
        bot.close()


def test_review_ha_a_slow_notice_is_not_sent_twice_by_another_replica(pair, slack, elastic):
    front, worker = pair("all")
    _active_grant(front, slack)
    real_ended = front.runtime.notifier.request_ended

    def slow_ended(request):
        # Sending the "access ended" DM is slow (Slack 429s with Retry-After, a GC pause):
        # 55 s pass, and the other replica's sweep re-sends what looks abandoned.
        _time_passes([front, worker], 55)
        worker.runtime.service.renotify(worker.clock.now() - worker.runtime.policy.renotify_after)
        return real_ended(request)

    front.runtime.notifier.request_ended = slow_ended  # type: ignore[method-assign]
    front.revoke(1, REQUESTER)
    front.runtime.service.drain()
    worker.runtime.service.drain()
    told = [
        m
        for m in slack.messages_to(REQUESTER)
        if "revoked" in text_of(m).lower() or "ended" in text_of(m).lower()
    ]
    assert len(told) == 1, [text_of(m) for m in told]


def test_review_ha_a_stale_notice_is_not_sent_after_the_state_moved_on(bot, slack):
    bot.command(REQUESTER, "request prod-search deployment-viewer 1h stale notice drill")
    slack.wait_for(lambda: bot.state(1) is not None and bot.state(1).value == "pending")
    # The "granted" DM is lost (a crash between the grant and its message).
    bot.runtime.notifier.request_granted = lambda request: False  # type: ignore[method-assign]
    bot.decide(1, OWNER, approve=True)
    assert bot.state(1).value == "active"
    # Another replica's renotify lists it (state active, never told) ...
    listed = bot.runtime.store.unnotified(bot.clock.now() + timedelta(minutes=5))
    assert [r.id for r in listed] == [1]
    del bot.runtime.notifier.request_granted  # Slack works again
    # ... while the requester revokes it through this one, and is told.
    bot.revoke(1, REQUESTER)
    bot.runtime.service.drain()
    assert bot.state(1).value == "revoked"
    # The other replica now works through its list.
    for request in listed:  # as its renotify does: only while the row is still in that state
        bot.runtime.service.core.outbox.tell(request, current=True)
    texts = [text_of(m) for m in slack.messages_to(REQUESTER)]
    granted = [t for t in texts if "granted" in t.lower()]
    assert not granted, f"told 'granted' after the grant ended: {texts}"


def test_an_expiry_right_after_another_process_granted_removes_the_role(pair, slack, elastic):
    """Found when the grants moved to the worker (#15): a process whose last member read is
    a second old must not plan a removal on it when another process added the role since:
    it would find nothing to remove and end the grant with the role still held."""
    first, second = pair("all")
    first.runtime.elastic.members(max_age=0)  # the first process's read, before the grant
    first.command(REQUESTER, "request prod-search deployment-viewer 1m quick look")
    slack.wait_for(lambda: first.state(1) is not None and first.state(1).value == "pending")
    second.decide(1, OWNER, approve=True)  # the second process adds the role
    assert second.state(1).value == "active"
    member_id = first.request(1).elastic_user_id
    assert any(role == "deployment-viewer" for _, role, _ in elastic.holdings(member_id))
    first.clock.advance(timedelta(minutes=1, seconds=1))
    first.runtime.service.expire(1)  # the first process's timer, within a second of the grant
    first.settle()
    assert first.state(1).value == "expired"
    assert len(elastic.calls_to("DELETE", f"/users/{member_id}/role_assignments")) == 1
    assert not any(role == "deployment-viewer" for _, role, _ in elastic.holdings(member_id))
