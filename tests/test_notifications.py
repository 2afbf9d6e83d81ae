"""Slack failing while the bot notifies: access still changes, and people are told later."""

from __future__ import annotations

from datetime import timedelta

from bot.access.states import State
from bot.standins.slack.text import text_of
from tests.harness import OWNER, REQUESTER

VIEWER_ON_PROD = ("deployment", "deployment-viewer", "d" * 32)


def granted_dms(slack):
    return [m for m in slack.messages_to(REQUESTER) if "Access granted" in text_of(m)]


def test_grant_survives_slack_outage_and_the_dm_is_resent(bot, slack, elastic, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)  # slack-sdk's retry pauses
    bot.command(REQUESTER, "request prod-search deployment-viewer 1h INC-3 slack down")
    slack.wait_for(lambda: bot.state(1) is State.PENDING)
    slack.script(
        "chat.postMessage", status=503, body={"ok": False, "error": "service_unavailable"}, times=20
    )
    bot.decide(1, OWNER, approve=True)
    assert bot.state(1) is State.ACTIVE  # Slack's trouble never blocks the grant
    assert VIEWER_ON_PROD in elastic.holdings("1000000001")
    assert granted_dms(slack) == []
    bot.advance(timedelta(seconds=31))  # the sweep re-sends what was not delivered
    assert granted_dms(slack) == []  # Slack is still down: still pending
    slack.clear_scripts()
    bot.advance(timedelta(seconds=31))
    slack.wait_for(lambda: len(granted_dms(slack)) == 1)
    bot.advance(timedelta(seconds=31))
    assert len(granted_dms(slack)) == 1  # told once, not again


def test_rate_limited_dm_is_retried_by_the_client(bot, slack, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    slack.script(
        "chat.postMessage",
        status=429,
        headers={"Retry-After": "0"},
        body={"ok": False, "error": "ratelimited"},
        times=2,
    )
    bot.command(REQUESTER, "request prod-search deployment-viewer 1h INC-4 busy slack")
    slack.wait_for(lambda: any("approve" in text_of(m).lower() for m in slack.messages_to(OWNER)))


def test_a_permanently_unreachable_requester_is_not_retried_for_ever(bot, slack):
    bot.command(REQUESTER, "request prod-search deployment-viewer 1h INC-5 gone user")
    slack.wait_for(lambda: bot.state(1) is State.PENDING)
    slack.script(
        "chat.postMessage",
        status=200,
        body={"ok": False, "error": "messages_tab_disabled"},
        times=50,
    )
    bot.decide(1, OWNER, approve=True)
    sent = len(slack.calls_to("chat.postMessage"))
    bot.advance(timedelta(seconds=31))
    bot.advance(timedelta(seconds=31))
    assert len(slack.calls_to("chat.postMessage")) == sent
