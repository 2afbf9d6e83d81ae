"""Several replicas on one PostgreSQL database (issue #16): real processes, real kills.

Each replica is ``python -m bot run --mode http`` (gunicorn: a master and one worker) on the
same PostgreSQL schema. Requests go through one replica and are approved through another; a
replica is killed with SIGKILL while it holds grants about to end, or in the middle of a
revocation; the survivors must revoke every grant on time, remove each role exactly once
(counted at the Elastic Cloud emulator) and tell each person once (counted at the fake
Slack). Time is real: grants are filed for 1h and their end is moved close in the database.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from bot.clock import from_iso
from bot.standins.slack.text import text_of
from bot.store.postgres import PostgresDatabase
from tests.harness import OWNER
from tests.process import BotProcess, expire_now, query, rows, wait_until
from tests.slack_view import buttons, dms

#: Short enough for a test, the same mechanism as production's defaults (2s, 20s).
HA_ENV = {"CLAIM_INTERVAL": "1s", "WORK_LEASE": "6s", "SWEEP_INTERVAL": "2s"}
#: The promise: a dead replica's work is taken over within this long.
TAKEOVER = 30.0
UNIT = "deployment-viewer"


def replica(tmp_path, slack, elastic, url: str, name: str, **kwargs) -> BotProcess:
    """One replica of the real bot on ``url``'s database (not started yet)."""
    return BotProcess(
        db_path=tmp_path / "unused.db",
        slack_api_url=slack.api_url,
        elastic_url=elastic.url,
        log_path=tmp_path / f"{name}.log",
        database_url=url,
        extra_env=HA_ENV,
        **kwargs,
    )


@pytest.fixture
def replicas(tmp_path, slack, elastic, postgres_url):
    """Start replicas of the real bot on one PostgreSQL schema; all SIGKILLed at the end."""
    started: list[BotProcess] = []

    def start(*names: str, crash_at: str | None = None) -> list[BotProcess]:
        processes = [
            replica(tmp_path, slack, elastic, postgres_url, name, crash_at=crash_at)
            for name in names
        ]
        started.extend(processes)
        errors: list[BaseException] = []

        def boot(process: BotProcess) -> None:
            try:
                process.start(timeout=40)
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        # All at the same moment: the migrations must run once, the others wait for them.
        threads = [threading.Thread(target=boot, args=(p,)) for p in processes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return processes

    yield start
    for process in started:
        process.stop()


def people(slack, elastic, count: int) -> list[tuple[str, str]]:
    found = []
    for i in range(count):
        slack_id, member_id = f"U0HA{i:05d}", f"3{i:09d}"
        email = f"{slack_id.lower()}@example.com"
        slack.add_user(slack_id, email=email, name=slack_id.lower())
        elastic.add_member(email, user_id=member_id)
        found.append((slack_id, member_id))
    return found


def file_through(process: BotProcess, slack, user: str) -> None:
    response = process.slack_client(slack).command(
        user, f"request prod-search {UNIT} 1h failover drill"
    )
    assert response.status_code == 200


def approve_through(process: BotProcess, slack, ref: int) -> None:
    card = slack.wait_for(
        lambda: [
            m
            for m in slack.messages_to(OWNER)
            if f"Access request #{ref}" in text_of(m) and "approve" in buttons(m)
        ],
        message=f"approval card #{ref}",
    )[0]
    response = process.slack_client(slack).click(OWNER, "approve", str(ref), card)
    assert response.status_code == 200


def states(url: str) -> dict[int, str]:
    return {r["id"]: r["state"] for r in rows(url)}


def deletes_of(elastic, member_id: str) -> int:
    return len(elastic.calls_to("DELETE", f"/users/{member_id}/role_assignments"))


def test_replicas_share_the_work_and_the_survivors_revoke_a_killed_ones_grants_on_time(
    replicas, slack, elastic, postgres_url, tmp_path
):
    a, b, c = replicas("a", "b", "c")
    applied = [p for p in (a, b, c) if "database migrations applied" in p.log()]
    assert len(applied) == 1, "exactly one replica migrates; the others wait, then find none"
    assert query(postgres_url, "SELECT count(*) AS n FROM schema_migrations")[0]["n"] >= 2

    team = people(slack, elastic, 6)
    processes = [a, b, c]
    for n, (slack_id, _) in enumerate(team, start=1):
        # Filed through one replica, approved through the next: any replica takes any request.
        file_through(processes[n % 3], slack, slack_id)
        approve_through(processes[(n + 1) % 3], slack, n)
    wait_until(
        lambda: list(states(postgres_url).values()) == ["active"] * 6,
        TAKEOVER,
        what=f"6 active grants: {states(postgres_url)}",
    )
    assert len(elastic.calls_to("POST", "/role_assignments")) == 6

    a.stop()  # SIGKILL, holding grants (and their timers) about to end
    expire_now(postgres_url, ago=-3.0)  # every grant now ends 3 s from now
    wait_until(
        lambda: set(states(postgres_url).values()) == {"expired"},
        TAKEOVER + 5,
        what=f"all expired: {states(postgres_url)}",
    )
    late = [
        (from_iso(r["ended_at"]) - from_iso(r["expires_at"])).total_seconds()
        for r in rows(postgres_url)
    ]
    assert max(late) < 10, f"revoked late: {late}"
    for slack_id, member_id in team:
        assert ("deployment", UNIT, "d" * 32) not in elastic.holdings(member_id)
        assert deletes_of(elastic, member_id) == 1, f"{member_id}: each role removed once"
        slack.wait_for(
            lambda slack_id=slack_id: sum("Access expired" in t for t in dms(slack, slack_id)),
            message=f"the expired DM to {slack_id}",
        )
    time.sleep(2 * 1.0 + 1)  # two more claim ticks of every survivor: nothing else may happen
    for slack_id, member_id in team:
        texts = dms(slack, slack_id)
        assert sum("Access expired" in t for t in texts) == 1, texts
        assert sum("Access granted" in t for t in texts) == 1, texts
        assert deletes_of(elastic, member_id) == 1
    print(f"lateness after a replica was killed: max {max(late):.2f}s")


def test_a_replica_killed_mid_revocation_is_taken_over_once_its_lease_runs_out(
    replicas, slack, elastic, postgres_url
):
    [doomed] = replicas("doomed", crash_at="after_elastic_revoke")
    [(slack_id, member_id)] = people(slack, elastic, 1)
    file_through(doomed, slack, slack_id)
    approve_through(doomed, slack, 1)
    wait_until(lambda: states(postgres_url).get(1) == "active", 20, what="the grant")
    expire_now(postgres_url, [1])
    doomed.kill_on_crash()  # after Elastic's DELETE, before anything was written down
    [row] = rows(postgres_url)
    assert row["state"] == "revoking" and row["lease_owner"]
    held_until = from_iso(row["lease_until"])

    [survivor] = replicas("survivor")  # a fresh replica must not steal a live lease
    wait_until(
        lambda: states(postgres_url)[1] == "expired",
        TAKEOVER,
        what=f"the survivor's takeover: {states(postgres_url)}\n{survivor.log()}",
    )
    [row] = rows(postgres_url)
    assert from_iso(row["ended_at"]) >= held_until, "taken over before the lease ran out"
    assert deletes_of(elastic, member_id) == 1  # the dead replica's; the survivor saw it done
    assert ("deployment", UNIT, "d" * 32) not in elastic.holdings(member_id)
    slack.wait_for(
        lambda: sum("Access expired" in t for t in dms(slack, slack_id)) == 1,
        message="one expired DM",
    )


def test_a_process_that_lost_its_lease_changes_nothing_in_elastic(bot, slack, elastic, monkeypatch):
    """The fence: a process that stalled past its lease (another process has the row now)
    makes no Elastic change and writes nothing, on both stores."""
    bot.command("U0REQUEST", "request prod-search deployment-viewer 1h fence drill")
    slack.wait_for(lambda: bot.state(1) is not None and bot.state(1).value == "pending")
    bot.decide(1, OWNER, approve=True)
    assert bot.state(1).value == "active"
    real = bot.runtime.elastic.member

    def stalled(user_id, **kwargs):
        found = real(user_id, **kwargs)
        # While this process read the member, its lease ran out and another process took it.
        bot.runtime.db.execute(
            "UPDATE requests SET lease_owner = 'another-process' WHERE id = 1 AND state = 'revoking'"
        )
        return found

    monkeypatch.setattr(bot.runtime.elastic, "member", stalled)
    before = len(elastic.calls_to("DELETE", "/role_assignments"))
    bot.advance(timedelta(hours=1, seconds=1))
    assert len(elastic.calls_to("DELETE", "/role_assignments")) == before
    assert bot.state(1).value == "revoking"
    [row] = bot.runtime.db.query("SELECT lease_owner FROM requests WHERE id = 1")
    assert row["lease_owner"] == "another-process"
    assert not any("Access expired" in t for t in dms(slack, "U0REQUEST"))


def test_the_database_adapter_serialises_writers_across_connections(postgres_url):
    """Two pools (two processes' worth) appending to the hash chain at once: the advisory
    write lock keeps the chain one line, and it verifies."""
    from bot.store import Store, chain

    first, second = PostgresDatabase(postgres_url), PostgresDatabase(postgres_url)
    try:
        Store(first).migrate()
        stores = [Store(first), Store(second)]
        from tests.harness import FakeClock

        now = FakeClock().now()

        def append(store: Store, n: int) -> None:
            for i in range(40):
                store.event(None, now, "system", f"writer-{n}", {"i": i})

        threads = [threading.Thread(target=append, args=(s, n)) for n, s in enumerate(stores * 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        verdict = chain.verify(first.query("SELECT * FROM events ORDER BY id"))
        assert verdict.intact and verdict.events == 160, verdict
    finally:
        first.close()
        second.close()


def test_a_front_end_and_a_worker_apart_grant_and_revoke_on_time(
    tmp_path, slack, elastic, postgres_url
):
    """``run --front-end-only`` takes Slack's requests, records the approval and keeps no
    timers; ``python -m bot worker`` serves no Slack requests, makes the grant and ends it on
    time."""

    def process(name: str, *args: str) -> BotProcess:
        return replica(tmp_path, slack, elastic, postgres_url, name, args=args)

    with (
        process("web", "run", "--mode", "http", "--front-end-only").start() as web,
        process("worker", "worker").start() as worker,
    ):
        import httpx

        ready = httpx.get(f"{web.url}/readyz", timeout=5).json()
        assert "scheduler" not in str(ready) and "database" in str(ready), ready
        assert worker.slack_client(slack).command("U0REQUEST", "help").status_code == 404
        [(slack_id, member_id)] = people(slack, elastic, 1)
        file_through(web, slack, slack_id)
        approve_through(web, slack, 1)
        wait_until(lambda: states(postgres_url).get(1) == "active", 20, what="the grant")
        expire_now(postgres_url, [1], ago=-2.0)  # ends in 2 s: the worker's timer, not a sweep
        wait_until(lambda: states(postgres_url)[1] == "expired", TAKEOVER, what="revoked")
        [row] = rows(postgres_url)
        late = (from_iso(row["ended_at"]) - from_iso(row["expires_at"])).total_seconds()
        assert late < 3, f"revoked {late:.2f}s late"
        assert deletes_of(elastic, member_id) == 1
        # The worker made the grant (the front end only recorded the approval) and ended it.
        assert "request #1 granted" in worker.log() and "request #1 granted" not in web.log()
        assert "request #1 expired" in worker.log() and "request #1 expired" not in web.log()


def test_running_apart_needs_postgresql(tmp_path):
    import os
    import subprocess
    import sys

    from tests.harness import API_KEY, BOT_TOKEN, ORG_ID, OWNER, SIGNING_SECRET

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))}
    env |= {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "ELASTIC_CLOUD_API_KEY": API_KEY,
        "ELASTIC_CLOUD_ORGANIZATION_ID": ORG_ID,
        "INTEGRATION_OWNERS": OWNER,
    }
    for args in (["worker"], ["run", "--mode", "http", "--front-end-only"]):
        done = subprocess.run(
            [sys.executable, "-m", "bot", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert "needs PostgreSQL" in done.stderr, done.stderr


def test_a_slow_sweep_does_not_hold_up_the_claims_of_due_work(bot, slack, elastic, monkeypatch):
    """Revocations never wait for the follow-ups (reminders, notices): a sweep stuck in a
    slow Slack call leaves the claim tick free to revoke what fell due."""
    bot.command("U0REQUEST", "request prod-search deployment-viewer 1h slow sweep drill")
    slack.wait_for(lambda: bot.state(1) is not None and bot.state(1).value == "pending")
    bot.decide(1, OWNER, approve=True)
    assert bot.state(1).value == "active"
    stuck, release = threading.Event(), threading.Event()

    def slow_reminders() -> None:
        stuck.set()
        release.wait(30)

    monkeypatch.setattr(bot.runtime.service.core.followups, "send_reminders", slow_reminders)
    sweeping = threading.Thread(target=bot.runtime.scheduler.sweep)
    sweeping.start()
    try:
        assert stuck.wait(10), "the sweep reached its follow-ups"
        bot.clock.advance(timedelta(hours=1, seconds=1))
        # A claim tick while the sweep is still stuck: it must not wait for the sweep.
        claiming = threading.Thread(target=bot.runtime.scheduler.claim_due)
        claiming.start()
        claiming.join(5)
        assert not claiming.is_alive(), "the claim tick waited for the stuck sweep"
        assert bot.state(1).value == "expired"
    finally:
        release.set()
        sweeping.join(30)
