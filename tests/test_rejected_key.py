"""#13 item 5: a rejected API key pauses granting; it never fails requests."""

from __future__ import annotations

from datetime import timedelta

from bot.access.states import State
from bot.standins.slack.text import text_of
from tests.harness import API_KEY, OWNER
from tests.test_elastic_grants import VIEWER_ON_PROD, ask

ALICE = "1000000001"
CHANNEL = "C0ACCESS"


def key_alerts(slack, where: str) -> list[str]:
    found = slack.messages_in(where) if where == CHANNEL else slack.messages_to(where)
    return [t for t in (text_of(m) for m in found) if "API key" in t]


def test_a_rejected_key_pauses_grants_and_they_go_on_when_it_works_again(make_bot, slack, elastic):
    slack.add_channel(CHANNEL, name="access-log")
    bot = make_bot(notify_channel=CHANNEL)
    rid = ask(bot, "prod-search deployment-viewer 1h investigating")
    elastic.api_key = "essu_rotated_elsewhere_0000"  # the bot's key is now refused
    bot.decide(rid, OWNER, approve=True)
    waiting = (State.APPROVED, State.GRANTING)  # the row waits in its state; not FAILED
    assert bot.state(rid) in waiting
    slack.wait_for(lambda: key_alerts(slack, OWNER), message="owner alert")
    assert "ELASTIC_CLOUD_API_KEY" in key_alerts(slack, OWNER)[0]
    assert bot.runtime.readiness()["elastic_credentials"] is False
    ready = bot.http.get(f"{bot.url}/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["elastic_credentials"] is False
    for _ in range(4):  # every sweep keeps trying (with backoff); nobody is told twice
        bot.advance(timedelta(minutes=1))
        assert bot.state(rid) in waiting
    probes = len(elastic.calls_to("GET", "/organizations/"))
    assert 1 <= probes < 8
    bot.runtime.service.drain()
    assert len(key_alerts(slack, OWNER)) == 1
    assert len([t for t in key_alerts(slack, CHANNEL) if "refused" in t]) == 1
    elastic.api_key = API_KEY  # renewed
    bot.advance(timedelta(minutes=20))  # no one clicks again
    assert bot.state(rid) is State.ACTIVE
    assert VIEWER_ON_PROD in elastic.holdings(ALICE)
    assert bot.runtime.readiness()["elastic_credentials"] is True


def test_revocations_keep_retrying_while_the_key_is_rejected(bot, slack, elastic):
    rid = ask(bot, "prod-search deployment-viewer 1h investigating")
    bot.decide(rid, OWNER, approve=True)
    assert bot.state(rid) is State.ACTIVE
    elastic.api_key = "essu_rotated_elsewhere_0000"
    bot.advance(timedelta(hours=1, seconds=1))
    assert bot.state(rid) is State.REVOKING
    assert VIEWER_ON_PROD in elastic.holdings(ALICE)
    deletes = len(elastic.calls_to("DELETE", "/role_assignments")) + len(
        elastic.calls_to("GET", "/members")
    )
    bot.advance(timedelta(minutes=10))
    assert (
        len(elastic.calls_to("DELETE", "/role_assignments"))
        + len(elastic.calls_to("GET", "/members"))
        > deletes
    )  # still trying
    elastic.api_key = API_KEY
    bot.advance(timedelta(minutes=30))
    assert bot.state(rid) is State.EXPIRED
    assert VIEWER_ON_PROD not in elastic.holdings(ALICE)


def test_the_owners_are_warned_14_7_and_1_days_before_the_key_expires(make_bot, slack, elastic):
    bot = make_bot(elastic_cloud_api_key_id="key-123")
    now = bot.clock.now()
    elastic.add_api_key("key-123", now + timedelta(days=20))

    def warnings() -> list[str]:
        bot.runtime.service.drain()
        return [t for t in key_alerts(slack, OWNER) if "expires" in t]

    seen = []
    for day in range(1, 21):
        bot.advance(timedelta(days=1))
        if len(warnings()) > len(seen):
            seen.append(day)
    assert seen == [6, 13, 19]  # 14, 7 and 1 day(s) left (less than a whole day: today)
    assert "ID key-123" in warnings()[0] and "ELASTIC_CLOUD_API_KEY" in warnings()[0]
