"""Self-service on a running grant: extend, revoke now, expiry notice, and the App Home tab."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.access.errors import AlreadyDecided
from bot.access.states import State
from bot.standins.slack.text import text_of
from tests.harness import OWNER, OWNER2, REQUESTER, STRANGER
from tests.slack_view import buttons

PROD = "d" * 32
VIEWER_ON_PROD = ("deployment", "deployment-viewer", PROD)


def active_grant(bot, slack, duration="1h") -> int:
    bot.command(REQUESTER, f"request prod-search deployment-viewer {duration} INC-9 work")
    slack.wait_for(lambda: bot.state(1) is State.PENDING)
    bot.decide(1, OWNER, approve=True)
    assert bot.state(1) is State.ACTIVE
    return 1


def grant_dm(slack):
    return slack.wait_for(
        lambda: [m for m in slack.messages_to(REQUESTER) if "revoke_now" in buttons(m)]
    )[0]


def test_grant_dm_offers_extend_and_revoke_now(bot, slack, elastic):
    active_grant(bot, slack)
    dm = grant_dm(slack)
    assert buttons(dm) == ["extend", "revoke_now"]
    bot.click(REQUESTER, "revoke_now", "1", dm)
    slack.wait_for(lambda: bot.state(1) is State.REVOKED)
    assert VIEWER_ON_PROD not in elastic.holdings("1000000001")
    assert bot.request(1).ended_by == REQUESTER


def test_extension_goes_through_approval_and_moves_the_end(bot, slack, elastic):
    active_grant(bot, slack)
    end = bot.request(1).expires_at
    said = bot.say(REQUESTER, "extend #1 2h still debugging INC-9")
    assert "sent for approval" in said
    card = slack.wait_for(
        lambda: [m for m in slack.messages_to(OWNER) if "approve_extension" in buttons(m)]
    )[0]
    assert "still debugging INC-9" in text_of(card) and "2h" in text_of(card)
    bot.click(OWNER, "approve_extension", "1", card)
    slack.wait_for(lambda: bot.request(1).expires_at == end + timedelta(hours=2))
    assert bot.request(1).duration == timedelta(hours=3)
    slack.wait_for(lambda: any("extended" in text_of(m) for m in slack.messages_to(REQUESTER)))
    slack.wait_for(lambda: not buttons(slack.message(card["channel"], card["ts"])))
    bot.advance(timedelta(hours=1, minutes=1))  # the old end passes: still active
    assert bot.state(1) is State.ACTIVE
    assert VIEWER_ON_PROD in elastic.holdings("1000000001")
    bot.advance(timedelta(hours=2))
    assert bot.state(1) is State.EXPIRED
    kinds = [e["kind"] for e in bot.runtime.store.events(1)]
    assert "extension_requested" in kinds and "extended" in kinds


def test_extension_never_exceeds_the_policy_maximum(make_bot, slack):
    bot = make_bot(policy=[{"max_duration": "4h"}])
    active_grant(bot, slack, duration="3h")
    said = bot.say(REQUESTER, "extend 1 2h more please")
    assert "maximum is 4h" in said and "1h left" in said
    assert bot.request(1).extension_seconds is None


def test_only_the_requester_extends_and_approvers_decide(make_bot, slack):
    bot = make_bot(integration_owners=[OWNER, OWNER2])
    active_grant(bot, slack)
    assert "not found, or is not yours" in bot.say(STRANGER, "extend 1 1h mine now")
    bot.say(REQUESTER, "extend 1 1h need more")
    card = slack.wait_for(
        lambda: [m for m in slack.messages_to(OWNER2) if "deny_extension" in buttons(m)]
    )[0]
    bot.click(OWNER2, "deny_extension", "1", card)
    slack.wait_for(lambda: bot.request(1).extension_seconds is None)
    slack.wait_for(
        lambda: any("Extension of #1 denied" in text_of(m) for m in slack.messages_to(REQUESTER))
    )
    assert bot.request(1).duration == timedelta(hours=1)


def test_policy_can_let_extensions_apply_at_once(make_bot, slack):
    bot = make_bot(policy=[{"extend_without_approval": True}])
    active_grant(bot, slack)
    said = bot.say(REQUESTER, "extend 1 30m wrapping up")
    assert "extended" in said
    assert bot.request(1).duration == timedelta(hours=1, minutes=30)
    assert not any("approve_extension" in buttons(m) for m in slack.messages_to(OWNER))


def test_extend_button_opens_a_form(bot, slack):
    active_grant(bot, slack)
    bot.click(REQUESTER, "extend", "1", grant_dm(slack))
    form = slack.wait_for(lambda: slack.calls_to("views.open"))[-1]["args"]["view"]
    assert form["callback_id"] == "extend_grant"
    assert json.loads(form["private_metadata"]) == {"request_id": 1}
    values = {
        "duration": {
            "type": "static_select",
            "selected_option": {"value": "1h", "text": {"type": "plain_text", "text": "1h"}},
        },
        "reason": {"type": "plain_text_input", "value": "one more hour"},
    }
    assert bot.submit_view(REQUESTER, form, values).status_code == 200
    slack.wait_for(lambda: any("approve_extension" in buttons(m) for m in slack.messages_to(OWNER)))


def test_expiry_notice_warns_once_before_the_end(bot, slack):
    active_grant(bot, slack)

    def notices():
        return [m for m in slack.messages_to(REQUESTER) if "alarm_clock" in text_of(m)]

    bot.advance(timedelta(minutes=45))
    assert notices() == []
    bot.advance(timedelta(minutes=6))
    slack.wait_for(lambda: len(notices()) == 1)
    assert buttons(notices()[0]) == ["extend"]
    bot.advance(timedelta(minutes=1))
    assert len(notices()) == 1


def test_app_home_shows_access_pending_and_approvals(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER, OWNER2])
    active_grant(bot, slack)
    bot.command(REQUESTER, "request staging-logs deployment-editor 30m second thing")
    slack.wait_for(lambda: bot.state(2) is State.PENDING)
    event = {
        "type": "event_callback",
        "team_id": "T0001",
        "api_app_id": "A0APP",
        "event_id": "Ev1",
        "event_time": 1,
        "event": {"type": "app_home_opened", "user": REQUESTER, "channel": "D1", "tab": "home"},
    }
    assert bot.post(json.dumps(event), "application/json").status_code == 200
    home = slack.wait_for(lambda: (h := slack.home_view(REQUESTER)) and "#2" in text_of(h) and h)
    text = text_of(home)
    assert "#1" in text and "left" in text  # active, with time left
    assert "#2" in text and "waiting since" in text  # pending
    assert "Request access" in text
    event["event"]["user"] = OWNER2
    bot.post(json.dumps(event), "application/json")
    owner_home = slack.wait_for(lambda: (h := slack.home_view(OWNER2)) and "#2" in text_of(h) and h)
    assert "approve" in buttons({"blocks": owner_home["blocks"]})

    # Slack's redelivery of the same event is acknowledged and not acted on again.
    def owner2_publishes():
        return [c for c in slack.calls_to("views.publish") if c["args"]["user_id"] == OWNER2]

    bot.settle()
    before = len(owner2_publishes())
    response = bot.post(
        json.dumps(event),
        "application/json",
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert response.status_code == 200
    bot.settle()  # whatever the redelivery set going has finished
    assert len(owner2_publishes()) == before


def test_an_extension_needs_the_same_quorum_as_the_request(make_bot, slack, elastic):
    """More time is more access: a two-approver rule asks two approvers for it again."""
    bot = make_bot(integration_owners=[OWNER, OWNER2, STRANGER], policy=[{"approvals": 2}])
    bot.command(REQUESTER, "request prod-search deployment-viewer 1h INC-9 work")
    slack.wait_for(lambda: bot.state(1) is State.PENDING)
    bot.decide(1, OWNER, approve=True)
    bot.decide(1, OWNER2, approve=True)
    assert bot.state(1) is State.ACTIVE
    end = bot.request(1).expires_at
    assert "sent for approval" in bot.say(REQUESTER, "extend 1 1h still on INC-9")

    def extension_card(user):
        return slack.wait_for(
            lambda: [m for m in slack.messages_to(user) if "approve_extension" in buttons(m)]
        )[0]

    card = extension_card(OWNER)
    assert "Approvals: 0 of 2" in text_of(card)
    bot.click(OWNER, "approve_extension", "1", card)
    slack.wait_for(lambda: "1 of 2" in text_of(slack.message(card["channel"], card["ts"])))
    assert bot.request(1).expires_at == end  # one approval is not enough
    assert bot.request(1).extension_seconds == 3600

    bot.click(OWNER, "approve_extension", "1", card)  # twice by the same person: still one
    said = slack.wait_for(
        lambda: [p for p in slack.webhook_posts(f"click-{OWNER}") if "already" in p["text"]]
    )
    assert "needs 2 approvals" in said[-1]["text"]
    assert bot.request(1).expires_at == end

    bot.click(OWNER2, "approve_extension", "1", extension_card(OWNER2))
    slack.wait_for(lambda: bot.request(1).expires_at == end + timedelta(hours=1))
    approvals = [
        e["actor"] for e in bot.runtime.store.events(1) if e["kind"] == "extension_approval"
    ]
    assert approvals == [OWNER, OWNER2]
    # The revocation follows the new end, and only it.
    bot.advance(timedelta(hours=1, minutes=1))
    assert VIEWER_ON_PROD in elastic.holdings("1000000001")
    bot.advance(timedelta(hours=1))
    assert bot.state(1) is State.EXPIRED
    assert VIEWER_ON_PROD not in elastic.holdings("1000000001")


def test_approvals_of_a_denied_extension_do_not_count_for_the_next(make_bot, slack):
    bot = make_bot(integration_owners=[OWNER, OWNER2, STRANGER], policy=[{"approvals": 2}])
    bot.command(REQUESTER, "request prod-search deployment-viewer 1h INC-9 work")
    slack.wait_for(lambda: bot.state(1) is State.PENDING)
    bot.decide(1, OWNER, approve=True)
    bot.decide(1, OWNER2, approve=True)
    end = bot.request(1).expires_at
    bot.say(REQUESTER, "extend 1 1h first try")
    slack.wait_for(lambda: bot.request(1).extension_seconds == 3600)
    bot.decide_extension(1, OWNER, approve=True)
    bot.decide_extension(1, STRANGER, approve=False, reason="not now")
    assert bot.request(1).extension_seconds is None
    bot.say(REQUESTER, "extend 1 1h second try")
    slack.wait_for(lambda: bot.request(1).extension_seconds == 3600)
    bot.decide_extension(1, OWNER2, approve=True)
    assert bot.request(1).expires_at == end  # OWNER's approval was for the denied one
    bot.decide_extension(1, OWNER, approve=True)
    assert bot.request(1).expires_at == end + timedelta(hours=1)


def test_extension_decisions_are_stored_like_those_on_the_request(make_bot, slack):
    """One decision per approver, kept with its reason, for an extension as for a request: an
    approver who approved may not then deny, as on the request itself."""
    bot = make_bot(integration_owners=[OWNER, OWNER2, STRANGER], policy=[{"approvals": 2}])
    bot.command(REQUESTER, "request prod-search deployment-viewer 1h INC-9 work")
    slack.wait_for(lambda: bot.state(1) is State.PENDING)
    store = bot.runtime.store
    bot.decide(1, OWNER, approve=True)
    bot.decide(1, OWNER2, approve=True)
    bot.say(REQUESTER, "extend 1 1h still on INC-9")
    slack.wait_for(lambda: bot.request(1).extension_seconds == 3600)
    asked = store.extension_asked(1)
    bot.decide_extension(1, OWNER, approve=True)
    with pytest.raises(AlreadyDecided, match="already approved the extension"):
        bot.decide_extension(1, OWNER, approve=False, reason="changed my mind")
    assert bot.request(1).extension_seconds == 3600
    bot.decide_extension(1, STRANGER, approve=False, reason="not now")
    assert bot.request(1).extension_seconds is None
    assert sorted(
        (a.approver_id, a.decision, a.reason) for a in store.extension_approvals(1, asked)
    ) == sorted([(OWNER, "approve", None), (STRANGER, "deny", "not now")])
    assert sorted((a.approver_id, a.decision) for a in store.approvals(1)) == sorted(
        [(OWNER, "approve"), (OWNER2, "approve")]
    )
    kinds = [e["kind"] for e in store.events(1)]
    assert kinds.count("extension_approval") == 1 and kinds.count("extension_denied") == 1


def test_the_requester_cannot_approve_or_deny_their_own_extension(make_bot, slack):
    """Even an integration owner may not approve more time for themselves; nor may a stranger."""
    bot = make_bot(integration_owners=[OWNER, REQUESTER])
    active_grant(bot, slack)
    end = bot.request(1).expires_at
    assert "sent for approval" in bot.say(REQUESTER, "extend 1 2h a bit longer")
    card = slack.wait_for(
        lambda: [m for m in slack.messages_to(OWNER) if "approve_extension" in buttons(m)]
    )[0]
    assert not any("approve_extension" in buttons(m) for m in slack.messages_to(REQUESTER))
    # The requester clicks Approve on the owner's card (a forged or forwarded click).
    bot.click(REQUESTER, "approve_extension", "1", card)
    said = slack.wait_for(lambda: slack.webhook_posts(f"click-{REQUESTER}"))[-1]["text"]
    assert "your own extension" in said
    bot.click(REQUESTER, "deny_extension", "1", card)
    slack.wait_for(lambda: len(slack.webhook_posts(f"click-{REQUESTER}")) == 2)
    assert "your own extension" in slack.webhook_posts(f"click-{REQUESTER}")[-1]["text"]
    bot.click(STRANGER, "approve_extension", "1", card)  # nor may someone who is no approver
    said = slack.wait_for(lambda: slack.webhook_posts(f"click-{STRANGER}"))[-1]["text"]
    assert "not found, or is not yours" in said
    request = bot.request(1)
    assert request.expires_at == end and request.extension_seconds == 7200
    kinds = [e["kind"] for e in bot.runtime.store.events(1)]
    assert "extension_approval" not in kinds and "extended" not in kinds
    # The owner's approval still works: the refusal changed nothing.
    bot.click(OWNER, "approve_extension", "1", card)
    slack.wait_for(lambda: bot.request(1).expires_at == end + timedelta(hours=2))
    approvals = [e["actor"] for e in bot.runtime.store.events(1) if "extension_appro" in e["kind"]]
    assert REQUESTER not in approvals
