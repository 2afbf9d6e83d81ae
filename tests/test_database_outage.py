"""PostgreSQL going away and coming back under a running bot (issue #16): the process does
not crash, /readyz says the database is missing, and work resumes once it is back."""

from __future__ import annotations

from datetime import timedelta

import httpx
import psycopg
import pytest

from fakes import throwaway_postgres
from tests.harness import OWNER, REQUESTER, make_settings, start_bot, stop_bot
from tests.process import wait_until


@pytest.fixture
def own_server():
    """A PostgreSQL server of this test's own, to stop and start again."""
    try:
        server = throwaway_postgres.start()
    except RuntimeError as exc:  # the session's server fixture decides skip or fail
        pytest.skip(f"PostgreSQL is not available here: {exc}")
    yield server
    server.stop()


def test_a_lost_database_is_reported_and_the_bot_carries_on_when_it_is_back(
    own_server, tmp_path, slack, elastic
):
    settings = make_settings(tmp_path, elastic.url, slack.api_url, database_url=own_server.url)
    bot = start_bot(settings, slack)
    try:
        bot.command(REQUESTER, "request prod-search deployment-viewer 1h outage drill")
        slack.wait_for(lambda: bot.state(1) is not None and bot.state(1).value == "pending")
        bot.decide(1, OWNER, approve=True)
        assert bot.state(1).value == "active"

        own_server.halt()
        ready = httpx.get(f"{bot.url}/readyz", timeout=30)
        assert ready.status_code == 503
        assert "database" in ready.text
        # The grant falls due while the database is away: the sweep's tick fails (the
        # scheduler logs it and ticks again), the process lives on.
        bot.clock.advance(timedelta(hours=1, seconds=1))
        with pytest.raises(psycopg.OperationalError):
            bot.runtime.scheduler.sweep()
        bot.runtime.scheduler.heartbeat()  # the heartbeat notices too: no claims until back
        assert not bot.runtime.scheduler.database_reachable
        assert httpx.get(f"{bot.url}/healthz", timeout=5).status_code == 200

        own_server.resume()

        def ready_again() -> bool:
            # The heartbeat (every quarter lease: 5 s with the default 20 s, 30 s with this
            # harness's 2 min) is what notices; run it rather than wait for its interval.
            bot.runtime.scheduler.heartbeat()
            return httpx.get(f"{bot.url}/readyz", timeout=30).status_code == 200

        wait_until(ready_again, 30, what="/readyz once the database is back")
        assert bot.runtime.scheduler.database_reachable
        bot.runtime.scheduler.sweep()
        bot.runtime.service.drain()
        assert bot.state(1).value == "expired"
        assert ("deployment", "deployment-viewer", "d" * 32) not in elastic.holdings("1000000001")
    finally:
        stop_bot(bot)
