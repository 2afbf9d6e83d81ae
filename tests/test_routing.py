"""Approval routing and policy, end to end against the fakes (issue: routing and policy)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.access.states import State
from bot.clock import FakeClock
from bot.config import ConfigError, load_settings
from bot.standins.slack.text import text_of
from tests.harness import OWNER, OWNER2, REQUESTER, STRANGER, make_settings, start_bot, stop_bot
from tests.slack_view import buttons, cards

DEPLOYMENT = "d" * 32
EMAIL_OWNER = {"tag_key": "owner", "attribute": "email"}


def request(
    bot,
    slack,
    resource="prod-search",
    role="deployment-viewer",
    who=REQUESTER,
    why="INC-7 debugging",
):
    assert bot.command(who, f"request {resource} {role} 1h {why}").status_code == 200


def reply(slack, user):
    return slack.wait_for(lambda: slack.webhook_posts(f"cmd-{user}"), message="command reply")[-1][
        "text"
    ]


def tag(elastic, bot, name, value):
    """Give a new deployment an owner tag and make the bot's catalogue see it."""
    elastic.add_deployment(name, tags={"owner": value})
    bot.runtime.catalogue.refresh()


@pytest.fixture
def routed(make_bot):
    return lambda **kw: make_bot(integration_owners=[STRANGER], resource_owner=EMAIL_OWNER, **kw)


def test_tag_by_email_routes_to_the_resource_owner(routed, slack):
    bot = routed()
    request(bot, slack)  # prod-search is tagged owner=owner1@example.com
    slack.wait_for(lambda: cards(slack, OWNER))
    assert cards(slack, STRANGER) == []  # the integration owner is only the fallback
    assert bot.request(1).approver_source == "resource_owner"


def test_tag_by_slack_user(make_bot, slack, elastic):
    bot = make_bot(
        integration_owners=[STRANGER],
        resource_owner={"tag_key": "owner", "attribute": "slack_user"},
    )
    tag(elastic, bot, "billing-api", OWNER2)
    request(bot, slack, resource="billing-api")
    slack.wait_for(lambda: cards(slack, OWNER2))
    assert cards(slack, STRANGER) == []


def test_tag_by_user_group_reaches_every_member_and_follows_the_group(make_bot, slack, elastic):
    slack.add_usergroup("S0SRE", "sre-leads", [OWNER, OWNER2])
    bot = make_bot(
        integration_owners=[STRANGER],
        resource_owner={"tag_key": "owner", "attribute": "slack_usergroup"},
    )
    tag(elastic, bot, "payments", "sre-leads")
    request(bot, slack, resource="payments")
    slack.wait_for(lambda: cards(slack, OWNER) and cards(slack, OWNER2))
    # OWNER2 leaves the group: their old card no longer lets them decide.
    slack.set_usergroup_users("S0SRE", [OWNER])
    bot.click(OWNER2, "approve", "1", cards(slack, OWNER2)[0])
    said = slack.wait_for(lambda: slack.webhook_posts(f"click-{OWNER2}"))[-1]["text"]
    assert "no longer an approver" in said
    assert bot.state(1) is State.PENDING
    bot.click(OWNER, "approve", "1", cards(slack, OWNER)[0])
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)


def test_several_owners_in_one_tag_value(routed, slack, elastic):
    bot = routed()
    tag(elastic, bot, "search-2", "owner1@example.com, owner2@example.com")
    request(bot, slack, resource="search-2")
    slack.wait_for(lambda: cards(slack, OWNER) and cards(slack, OWNER2))


def test_unresolvable_owner_falls_back_and_is_reported_once(routed, slack, elastic):
    bot = routed()
    tag(elastic, bot, "ghost-town", "ghost@example.com")
    request(bot, slack, resource="ghost-town")
    slack.wait_for(lambda: cards(slack, STRANGER))
    report = slack.wait_for(
        lambda: [m for m in slack.messages_to(STRANGER) if "ghost@example.com" in text_of(m)]
    )
    assert "does not resolve" in text_of(report[0])
    # Another request on the same resource (another role: the same one is already open).
    request(bot, slack, resource="ghost-town", role="deployment-editor", why="again")
    slack.wait_for(lambda: len(cards(slack, STRANGER)) == 2)
    assert len([m for m in slack.messages_to(STRANGER) if "ghost@example.com" in text_of(m)]) == 1


def test_requester_who_is_the_only_owner_goes_to_integration_owners(routed, slack, elastic):
    bot = routed()
    tag(elastic, bot, "alices-box", "alice@example.com")
    request(bot, slack, resource="alices-box")
    slack.wait_for(lambda: cards(slack, STRANGER))
    assert bot.request(1).approver_source == "integration_owner"


def test_nobody_but_the_requester_refuses_and_tells_owners(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[REQUESTER], resource_owner=EMAIL_OWNER)
    tag(elastic, bot, "alices-box", "alice@example.com")
    request(bot, slack, resource="alices-box")
    assert "Nobody other than you" in reply(slack, REQUESTER)
    assert bot.runtime.store.list_requests()[1] == 0
    # The integration owners (here the requester alone) are told, by DM.
    told = slack.wait_for(
        lambda: [m for m in slack.messages_to(REQUESTER) if "Add another owner" in text_of(m)],
        message="the owners' alert",
    )
    assert "alices-box" in text_of(told[0]) and not buttons(told[0])


def test_no_tag_and_the_organization_go_to_integration_owners(routed, slack):
    bot = routed()
    request(bot, slack, resource="staging-logs")
    request(bot, slack, resource="organization", role="billing-admin")
    slack.wait_for(lambda: len(cards(slack, STRANGER)) == 2)
    assert cards(slack, OWNER) == []


def test_quorum_needs_two_distinct_approvers_and_one_deny_ends_it(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER, OWNER2, STRANGER], policy=[{"approvals": 2}])
    request(bot, slack)
    first = slack.wait_for(lambda: cards(slack, OWNER))[0]
    bot.click(OWNER, "approve", "1", first)
    slack.wait_for(lambda: "1 of 2" in text_of(slack.message(first["channel"], first["ts"])))
    bot.click(OWNER, "approve", "1", first)  # the same person twice is still one approval
    assert (
        "already decided"
        in slack.wait_for(lambda: slack.webhook_posts(f"click-{OWNER}"))[-1]["text"]
    )
    assert bot.state(1) is State.PENDING
    assert elastic.calls_to("POST", "/role_assignments") == []
    bot.click(OWNER2, "approve", "1", cards(slack, OWNER2)[0])
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)
    # A second request: one Deny ends it even after an approval.
    request(bot, slack, why="second one")
    slack.wait_for(lambda: bot.request(2) is not None)
    bot.decide(2, OWNER, approve=True)
    bot.decide(2, STRANGER, approve=False, reason="no")
    assert bot.state(2) is State.DENIED


def test_pending_request_times_out_and_everyone_is_told(make_bot, slack):
    bot = make_bot(pending_timeout="2h")
    request(bot, slack)
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]
    bot.advance(timedelta(hours=2, minutes=1))
    assert bot.state(1) is State.TIMED_OUT
    slack.wait_for(lambda: any("timed out" in text_of(m) for m in slack.messages_to(REQUESTER)))
    slack.wait_for(lambda: not buttons(slack.message(card["channel"], card["ts"])))


def test_reminders_back_off_stop_at_the_limit_and_survive_a_restart(tmp_path, slack, elastic):
    settings = make_settings(
        tmp_path,
        elastic.url,
        slack.api_url,
        reminder_after="1h",
        max_reminders=3,
        integration_owners=[OWNER, OWNER2],
    )
    bot = start_bot(settings, slack)
    request(bot, slack)
    slack.wait_for(lambda: cards(slack, OWNER))
    reminders = lambda u: [m for m in slack.messages_to(u) if "Reminder" in text_of(m)]  # noqa: E731
    bot.advance(timedelta(minutes=59))
    assert reminders(OWNER) == []
    bot.advance(timedelta(minutes=2))
    slack.wait_for(lambda: len(reminders(OWNER)) == 1 and len(reminders(OWNER2)) == 1)
    now = bot.clock.now()
    stop_bot(bot)
    bot = start_bot(settings, slack, FakeClock(now))  # restart on the same database
    bot.advance(timedelta(hours=1))  # the second reminder backs off to 2h after the first
    assert len(reminders(OWNER)) == 1
    bot.advance(timedelta(hours=1, minutes=1))
    slack.wait_for(lambda: len(reminders(OWNER)) == 2)
    bot.advance(timedelta(hours=5))
    slack.wait_for(lambda: len(reminders(OWNER)) == 3)
    bot.advance(timedelta(hours=48))
    assert len(reminders(OWNER)) == 3  # at most max_reminders
    stop_bot(bot)


def test_auto_approve_grants_without_a_click_and_announces_it(make_bot, slack, elastic):
    bot = make_bot(
        policy=[
            {
                "resources": ["deployment:prod-*"],
                "roles": ["deployment-viewer"],
                "auto_approve": True,
            },
            {"resources": ["*"], "roles": ["*"]},
        ]
    )
    request(bot, slack)
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)
    assert ("deployment", "deployment-viewer", DEPLOYMENT) in elastic.holdings("1000000001")
    fyi = slack.wait_for(lambda: slack.messages_to(OWNER))
    assert all(not buttons(m) for m in fyi) and "auto-approved" in text_of(fyi[0])
    kinds = [e["kind"] for e in bot.runtime.store.events(1)]
    assert kinds[:2] == ["requested", "approved"] and "granted" in kinds


def test_policy_refuses_what_no_rule_allows_and_caps_duration(make_bot, slack):
    bot = make_bot(
        policy=[
            {
                "resources": ["deployment:*"],
                "roles": ["deployment-viewer"],
                "max_duration": "2h",
                "justification_pattern": "[A-Z]+-[0-9]+",
            }
        ]
    )
    bot.command(REQUESTER, "request prod-search deployment-admin 1h INC-1")
    assert "No access policy allows" in reply(slack, REQUESTER)
    bot.command(REQUESTER, "request prod-search deployment-viewer 3h INC-1")
    slack.wait_for(lambda: "maximum of 2h" in slack.webhook_posts(f"cmd-{REQUESTER}")[-1]["text"])
    bot.command(REQUESTER, "request prod-search deployment-viewer 1h because")
    slack.wait_for(lambda: "must match" in slack.webhook_posts(f"cmd-{REQUESTER}")[-1]["text"])
    assert bot.runtime.store.list_requests()[1] == 0


def test_notify_channel_gets_one_message_updated_in_place(make_bot, slack):
    slack.add_channel("C0ACCESS", name="access-log")
    bot = make_bot(notify_channel="C0ACCESS")
    request(bot, slack)
    first = slack.wait_for(lambda: slack.messages_in("C0ACCESS"))
    assert len(first) == 1 and "pending" in text_of(first[0])
    bot.click(OWNER, "approve", "1", slack.wait_for(lambda: cards(slack, OWNER))[0])
    slack.wait_for(lambda: "active" in text_of(slack.messages_in("C0ACCESS")[0]))
    assert len(slack.messages_in("C0ACCESS")) == 1


def test_a_notify_channel_the_bot_is_not_in_does_not_stop_the_request(make_bot, slack):
    """Slack answers ``not_in_channel`` for a channel the bot was not invited to: the
    approvers and the requester are still told, and the grant goes through."""
    slack.add_channel("C0ACCESS", name="access-log", is_member=False)
    bot = make_bot(notify_channel="C0ACCESS")
    request(bot, slack)
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]
    refused = slack.wait_for(
        lambda: [
            c for c in slack.calls_to("chat.postMessage") if c["args"]["channel"] == "C0ACCESS"
        ]
    )
    assert refused[0]["response"]["error"] == "not_in_channel"
    bot.click(OWNER, "approve", "1", card)
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)
    slack.wait_for(
        lambda: any("granted" in text_of(m).lower() for m in slack.messages_to(REQUESTER))
    )
    assert slack.messages_in("C0ACCESS") == []


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[resource_owner]\ntag_key = "owner"\nattribute = "phone"\n', "resource_owner"),
        ('[[policy]]\nresources = ["cluster:x"]\n', "not a resource pattern"),
        ('[[policy]]\njustification_pattern = "("\n', "not a regular expression"),
        ('access_details = "' + "x" * 401 + '"\n', "at most 400"),
        ('integration_name = "has spaces"\n', "integration_name"),
    ],
)
def test_configuration_errors_name_the_setting(tmp_path, monkeypatch, toml, expected):
    path = tmp_path / "config.toml"
    path.write_text('integration_owners = ["U0OWNER01"]\n' + toml)
    monkeypatch.setenv("ELASTIC_ACCESS_CONFIG", str(path))
    for name, value in {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "ELASTIC_CLOUD_API_KEY": "k",
        "ELASTIC_CLOUD_ORGANIZATION_ID": "1",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert any(expected in line for line in exc.value.lines), exc.value.lines


def test_resource_owner_without_integration_owners_is_refused(monkeypatch, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[resource_owner]\ntag_key = "owner"\nattribute = "email"\n')
    monkeypatch.setenv("ELASTIC_ACCESS_CONFIG", str(path))
    for name, value in {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "ELASTIC_CLOUD_API_KEY": "k",
        "ELASTIC_CLOUD_ORGANIZATION_ID": "1",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert any("integration_owners" in line for line in exc.value.lines)


def test_a_request_nobody_decides_on_escalates_to_the_integration_owners_once(routed, slack):
    bot = routed(escalate_after="2h")
    request(bot, slack)  # routed to the resource owner, OWNER
    slack.wait_for(lambda: cards(slack, OWNER))
    # Before the deadline the integration owner can neither see nor decide it.
    bot.advance(timedelta(hours=1))
    assert cards(slack, STRANGER) == []
    bot.click(STRANGER, "approve", "1")
    said = slack.wait_for(lambda: slack.webhook_posts(f"click-{STRANGER}"))[-1]["text"]
    assert "not an approver" in said
    assert bot.state(1) is State.PENDING

    bot.advance(timedelta(hours=1, minutes=1))
    card = slack.wait_for(lambda: cards(slack, STRANGER))[0]
    assert "#1" in text_of(card) and "Escalated" in text_of(card)
    slack.wait_for(
        lambda: any("escalated" in m["text"].lower() for m in slack.messages_to(REQUESTER))
    )
    assert [e["detail"] for e in bot.runtime.store.events(1) if e["kind"] == "escalated"] == [
        {"to": [STRANGER]}
    ]
    bot.advance(timedelta(hours=1))  # once only (reminders aside)
    assert len([c for c in cards(slack, STRANGER) if text_of(c).startswith("Access request")]) == 1
    assert len([e for e in bot.runtime.store.events(1) if e["kind"] == "escalated"]) == 1
    # Now the integration owner decides, and the resource owner still could have.
    bot.click(STRANGER, "approve", "1", card)
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)
    assert bot.request(1).decided_by == STRANGER


def test_no_escalation_unless_configured_or_already_with_the_integration_owners(
    make_bot, routed, slack
):
    bot = routed()  # escalate_after not set
    request(bot, slack)
    slack.wait_for(lambda: cards(slack, OWNER))
    bot.advance(timedelta(hours=5))
    assert cards(slack, STRANGER) == []
    assert bot.request(1).escalated_at is None


def test_a_request_already_with_the_integration_owners_is_not_escalated(make_bot, slack):
    bot = make_bot(integration_owners=[OWNER], escalate_after="1h")  # no resource owner tag
    request(bot, slack)
    slack.wait_for(lambda: cards(slack, OWNER))
    bot.advance(timedelta(hours=2))
    assert bot.request(1).escalated_at is None
    assert not any("escalated" in m["text"].lower() for m in slack.messages_to(REQUESTER))


def test_break_glass_grants_at_once_where_a_rule_allows_it_and_alerts_the_owners(
    make_bot, slack, elastic
):
    bot = make_bot(
        integration_owners=[OWNER2],
        resource_owner=EMAIL_OWNER,
        policy=[{"roles": ["deployment-admin"], "break_glass": True, "max_duration": "1h"}],
    )
    assert (
        bot.command(
            REQUESTER, "break-glass prod-search deployment-admin 1h prod is down"
        ).status_code
        == 200
    )
    said = reply(slack, REQUESTER)
    assert "Break-glass #1" in said and "integration owners have been told" in said
    bot.settle()  # the grant runs on the worker's threads, after the reply
    assert bot.state(1) is State.ACTIVE
    assert ("deployment", "deployment-admin", DEPLOYMENT) in elastic.holdings("1000000001")
    request = bot.request(1)
    assert request.decided_by == "break-glass"
    [event] = [e for e in bot.runtime.store.events(1) if e["kind"] == "break_glass"]
    assert event["actor"] == REQUESTER and event["detail"]["reason"] == "prod is down"
    # The integration owner is alerted; the resource owner sees the request, without buttons.
    alert = slack.wait_for(
        lambda: [m for m in slack.messages_to(OWNER2) if "Break-glass" in text_of(m)]
    )[0]
    assert "prod is down" in text_of(alert) and "revoke 1" in text_of(alert)
    owner_card = slack.wait_for(lambda: slack.messages_to(OWNER))[0]
    assert "approve" not in buttons(owner_card)
    # The integration owner ends it early.
    bot.command(OWNER2, "revoke 1")
    slack.wait_for(lambda: bot.state(1) is State.REVOKED)
    assert ("deployment", "deployment-admin", DEPLOYMENT) not in elastic.holdings("1000000001")


def test_break_glass_is_refused_where_no_rule_allows_it(make_bot, slack, elastic):
    bot = make_bot(
        integration_owners=[OWNER2],
        policy=[{"roles": ["deployment-admin"], "break_glass": True}, {"roles": ["*"]}],
    )
    bot.command(REQUESTER, "break-glass prod-search deployment-viewer 1h just curious")
    said = reply(slack, REQUESTER)
    assert "Break-glass is not allowed" in said
    assert bot.request(1) is None
    assert elastic.calls_to("POST", "/role_assignments") == []
    assert "Usage" in text_of(bot.command(REQUESTER, "break-glass").json())
