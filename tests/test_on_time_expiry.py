"""Revocation on time: the exact-time timers, not the sweep, end a grant at its end time.

The sweep runs every hour in these tests (``sweep_interval``), so a grant that ends within a
second or two of its end time was ended by its own timer. The bot's clock follows the wall
clock here (the timers wait on the wall), moved forward only while the bot is stopped.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from bot.access.states import State
from bot.standins.slack.text import text_of
from tests.harness import OWNER, REQUESTER, make_settings, start_bot, stop_bot

PROD = "d" * 32
ALICE = "1000000001"
VIEWER_ON_PROD = ("deployment", "deployment-viewer", PROD)
ON_TIME = timedelta(seconds=2)


class WallClock:
    """The wall clock plus an offset that only the test moves."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._offset += delta
        return self.now()


def granted(bot, slack, duration: str = "1h") -> int:
    assert bot.command(
        REQUESTER, f"request prod-search deployment-viewer {duration} INC-3"
    ).is_success
    slack.wait_for(lambda: bot.state(1) is State.PENDING)
    bot.decide(1, OWNER, approve=True)
    assert bot.state(1) is State.ACTIVE
    return 1


def assert_timer_at(bot, request_id: int, end: datetime) -> None:
    at = bot.runtime.scheduler.timer(request_id)
    assert at is not None, "no revocation timer"
    assert abs(at - end) < ON_TIME, (at, end)


def test_a_grant_gets_a_timer_for_its_end_and_an_extension_moves_it(make_bot, slack):
    bot = make_bot(policy=[{"extend_without_approval": True}])
    rid = granted(bot, slack)
    end = bot.request(rid).expires_at
    assert_timer_at(bot, rid, end)
    bot.say(REQUESTER, "extend 1 30m a little more")
    assert bot.request(rid).expires_at == end + timedelta(minutes=30)
    assert_timer_at(bot, rid, end + timedelta(minutes=30))
    bot.say(REQUESTER, "revoke 1")
    slack.wait_for(lambda: bot.state(rid) is State.REVOKED)
    assert bot.runtime.scheduler.timer(rid) is None  # an ended grant keeps no timer


def test_the_timer_ends_a_grant_on_time_with_the_sweep_an_hour_away(tmp_path, slack, elastic):
    settings = make_settings(tmp_path, elastic.url, slack.api_url, sweep_interval="1h")
    clock = WallClock()
    bot = start_bot(settings, slack, clock)
    rid = granted(bot, slack)
    end = bot.request(rid).expires_at
    stop_bot(bot)
    # Two seconds before the end, the bot starts again: its timers are rebuilt from the
    # database, and the catch-up sweep at start finds nothing due yet.
    clock.advance(end - clock.now() - timedelta(seconds=2))
    bot = start_bot(settings, slack, clock)
    try:
        assert bot.state(rid) is State.ACTIVE
        assert_timer_at(bot, rid, end)
        deadline = time.monotonic() + 10
        while bot.state(rid) is not State.EXPIRED and time.monotonic() < deadline:
            time.sleep(0.05)
        assert bot.state(rid) is State.EXPIRED
        ended = bot.request(rid)
        assert end <= ended.ended_at < end + ON_TIME, (ended.ended_at, end)
        assert VIEWER_ON_PROD not in elastic.holdings(ALICE)
        bot.runtime.service.drain()
        slack.wait_for(lambda: any("expired" in text_of(m) for m in slack.messages_to(REQUESTER)))
    finally:
        stop_bot(bot)
