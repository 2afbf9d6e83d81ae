"""Issue #14, parts 2, 3 and 5, as people see them over signed Slack requests: who may
request (``requesters``), why this approver (the card's line, ``who-approves``, the role
warnings), and Request again on the DMs about requests that ended."""

from __future__ import annotations

from datetime import timedelta

from bot.access.states import State
from bot.standins import payloads
from bot.standins.slack.text import text_of
from tests.harness import OWNER, OWNER2, REQUESTER, STRANGER
from tests.slack_view import buttons, cards

EMAIL_OWNER = {"tag_key": "owner", "attribute": "email"}

#: The issue's example: prod-logs editor only for @oncall, viewer on every deployment for all.
ONCALL_POLICY = [
    {
        "name": "oncall-editors",
        "resources": ["deployment:prod-logs"],
        "roles": ["deployment-editor"],
        "requesters": ["@oncall"],
    },
    {"resources": ["deployment:*"], "roles": ["deployment-viewer"]},
]


def reply(bot, slack, user, text):
    """What only ``user`` saw in answer to ``/elastic-access <text>``."""
    return bot.say(user, text)


def oncall_bot(make_bot, slack, elastic, **overrides):
    slack.add_usergroup("S0ONCALL", "oncall", [OWNER2])
    elastic.add_deployment("prod-logs", tags={"owner": "owner1@example.com"})
    settings = {
        "integration_owners": [STRANGER],
        "resource_owner": EMAIL_OWNER,
        "policy": ONCALL_POLICY,
    }
    bot = make_bot(**(settings | overrides))
    bot.runtime.catalogue.refresh()
    return bot


def option_labels(bot, user, query=""):
    response = bot.options(user, "resource", query)
    assert response.status_code == 200
    return [o["text"]["text"] for o in response.json()["options"]]


# -- 2. who may request --------------------------------------------------------------------------


def test_the_issues_example_outside_oncall_is_refused_privately_viewer_goes_to_the_owner(
    make_bot, slack, elastic
):
    bot = oncall_bot(make_bot, slack, elastic)
    said = reply(bot, slack, REQUESTER, "request prod-logs deployment-editor 1h INC-1 fix")
    assert "You may not request `deployment-editor` on Deployment prod-logs" in said
    assert "oncall-editors" in said and "`@oncall`" in said
    assert "`deployment-viewer`" in said  # what they may request there instead
    assert bot.runtime.store.list_requests()[1] == 0  # nothing stored
    assert cards(slack, OWNER) == [] and cards(slack, STRANGER) == []

    said = reply(bot, slack, REQUESTER, "request prod-logs deployment-viewer 1h INC-1 look")
    assert "filed" in said
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]  # the owner, as usual
    assert "deployment-viewer" in text_of(card)
    assert cards(slack, STRANGER) == []


def test_someone_in_oncall_may_request_the_editor_role(make_bot, slack, elastic):
    bot = oncall_bot(make_bot, slack, elastic)
    said = reply(bot, slack, OWNER2, "request prod-logs deployment-editor 1h INC-2 hotfix")
    assert "filed" in said
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]
    assert "deployment-editor" in text_of(card)
    bot.click(OWNER, "approve", "1", card)
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)


def test_the_form_and_the_type_ahead_offer_only_what_the_person_may_request(
    make_bot, slack, elastic
):
    slack.add_usergroup("S0ONCALL", "oncall", [OWNER2])
    elastic.add_deployment("prod-logs")
    bot = make_bot(
        policy=[
            {"resources": ["deployment:prod-*"], "roles": ["*"], "requesters": ["@oncall"]},
            {"resources": ["deployment:staging-*"], "roles": ["deployment-viewer"]},
        ]
    )
    bot.runtime.catalogue.refresh()
    assert option_labels(bot, REQUESTER) == ["Deployment staging-logs"]
    assert set(option_labels(bot, OWNER2)) == {
        "Deployment prod-logs",
        "Deployment prod-search",
        "Deployment staging-logs",
    }
    # The text command answers a resource closed to them as one that does not exist.
    said = reply(bot, slack, REQUESTER, "request prod-logs deployment-viewer 1h INC-3")
    said_unknown = reply(bot, slack, REQUESTER, "request no-such-thing deployment-viewer 1h INC")
    assert said.replace("prod-logs", "X") == said_unknown.replace("no-such-thing", "X")
    assert bot.runtime.store.list_requests()[1] == 0

    # Picking a resource narrows the roles to those they may request there.
    bot.command(REQUESTER, "")
    opened = slack.wait_for(
        lambda: [c for c in slack.calls_to("views.open") if c.get("response")], message="form"
    )[0]
    view = slack.view(opened["response"]["view"]["id"])
    staging = next(r for r in bot.runtime.catalogue.all() if r.name == "staging-logs")
    prod = next(r for r in bot.runtime.catalogue.all() if r.name == "prod-logs")
    shown = pick(bot, slack, view, staging.key)
    assert role_values(shown) == ["deployment-viewer"]
    # A crafted pick of a resource closed to them shows neither its name nor its roles.
    shown = pick(bot, slack, slack.view(view["id"]), prod.key)
    resource_block = next(b for b in shown["blocks"] if b.get("block_id") == "resource")
    assert "initial_option" not in resource_block["element"]
    assert "prod-logs" not in str(shown)


def pick(bot, slack, view, value):
    """Pick ``value`` in the form's resource select; the form as Slack then shows it."""
    before = len(slack.calls_to("views.update"))
    payload = payloads.view_action(
        REQUESTER, view, payloads.picked("resource", value), trigger_id=slack.new_trigger_id()
    )
    assert bot.interact(payload).status_code == 200
    update = slack.wait_for(
        lambda: [c for c in slack.calls_to("views.update")[before:] if c.get("response")],
        message="update",
    )[0]
    assert update["response"]["ok"], update["response"]
    return slack.view(view["id"])


def role_values(view):
    block = next(b for b in view["blocks"] if b.get("block_id") == "role")
    return [o["value"] for o in block["element"].get("options", [])]


def test_a_user_group_slack_cannot_list_is_an_error_never_not_allowed(make_bot, slack, elastic):
    bot = oncall_bot(make_bot, slack, elastic)
    # Slack says it failed (an answer its client does not retry: the test stays quick).
    slack.script("usergroups.list", body={"ok": False, "error": "fatal_error"}, times=50)
    said = reply(bot, slack, OWNER2, "request prod-logs deployment-editor 1h INC-4")
    assert "Slack did not answer" in said and "user groups" in said
    assert "may not request" not in said
    labels = option_labels(bot, OWNER2)
    assert labels and all("Slack did not answer" in label for label in labels)
    assert bot.runtime.store.list_requests()[1] == 0
    slack.clear_scripts()


def test_requesters_by_email_id_and_domain(make_bot, slack, elastic):
    bot = make_bot(
        policy=[
            {"roles": ["deployment-admin"], "requesters": ["alice@example.com"]},
            {"roles": ["deployment-editor"], "requesters": [OWNER2]},
            {"roles": ["deployment-viewer"], "requesters": ["domain:example.com"]},
        ]
    )
    assert "filed" in reply(bot, slack, REQUESTER, "request prod-search deployment-admin 1h x")
    said = reply(bot, slack, REQUESTER, "request prod-search deployment-editor 1h x")
    assert "may not request" in said and f"<@{OWNER2}>" in said
    assert "filed" in reply(bot, slack, REQUESTER, "request staging-logs deployment-viewer 1h x")


# -- 3. why this approver ------------------------------------------------------------------------


def test_each_card_says_why_its_approver_is_asked(make_bot, slack, elastic):
    bot = oncall_bot(make_bot, slack, elastic, escalate_after="4h")
    reply(bot, slack, REQUESTER, "request prod-logs deployment-viewer 1h INC-5 look")
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]
    assert "You own *prod-logs* (tag `owner=owner1@example.com`)" in text_of(card)
    reply(bot, slack, REQUESTER, "request staging-logs deployment-viewer 1h INC-6 look")
    card = slack.wait_for(lambda: cards(slack, STRANGER))[0]
    assert "You are an integration owner (staging-logs has no owner tag)" in text_of(card)
    # Nobody decided on the first within 4h: the integration owner gets a card saying so.
    bot.advance(timedelta(hours=4, minutes=1))
    escalated = slack.wait_for(
        lambda: [c for c in cards(slack, STRANGER) if "prod-logs" in text_of(c)]
    )[0]
    assert "Escalated to you: nobody decided within 4h" in text_of(escalated)
    # Each card speaks to its own reader: the owner's is unchanged.
    assert "Escalated to you" not in text_of(cards(slack, OWNER)[0])
    # The reasons are kept with the request, as the core worked them out.
    reasons = bot.request(1).approver_reasons
    assert reasons[OWNER]["kind"] == "owner" and reasons[STRANGER]["kind"] == "escalated"


def test_cards_for_admin_and_organization_roles_warn_what_the_role_can_do(bot, slack):
    reply(bot, slack, REQUESTER, "request organization organization-admin 1h INC-7 billing")
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]
    assert "API keys that outlive this grant" in text_of(card)
    assert "You are an integration owner" in text_of(card)
    reply(bot, slack, REQUESTER, "request staging-logs deployment-admin 1h INC-8 reindex")
    card = slack.wait_for(lambda: len(cards(slack, OWNER)) == 2 and cards(slack, OWNER))[1]
    assert "superuser inside the stack" in text_of(card)
    reply(bot, slack, REQUESTER, "request staging-logs deployment-viewer 1h INC-9 look")
    card = slack.wait_for(lambda: len(cards(slack, OWNER)) == 3 and cards(slack, OWNER))[2]
    assert "superuser" not in text_of(card) and "outlive" not in text_of(card)


def test_who_approves_answers_privately_with_the_rule_approvers_and_limits(
    make_bot, slack, elastic
):
    bot = oncall_bot(make_bot, slack, elastic, escalate_after="4h")
    said = reply(bot, slack, OWNER2, "who-approves prod-logs deployment-editor")
    assert "oncall-editors" in said and "`@oncall`" in said
    assert f"<@{OWNER}>: owns *prod-logs* (tag `owner=owner1@example.com`)" in said
    assert "Quorum: 1 approval" in said and "Longest duration: 12h" in said
    assert "within 4h, the integration owners are asked too" in said
    said = reply(bot, slack, REQUESTER, "who-approves staging-logs deployment-viewer")
    assert f"<@{STRANGER}>: an integration owner (staging-logs has no owner tag)" in said
    # Outside the rule's requesters: refused as a request would be, naming who may use it.
    said = reply(bot, slack, REQUESTER, "who-approves prod-logs deployment-editor")
    assert "may not request" in said and "`@oncall`" in said
    assert bot.runtime.store.list_requests()[1] == 0
    assert "who-approves" in reply(bot, slack, REQUESTER, "help")
    # Nobody is told anything but the caller.
    assert cards(slack, OWNER) == [] and cards(slack, STRANGER) == []


def test_who_approves_tells_a_guest_nothing(bot, slack):
    slack.set_user(STRANGER, is_restricted=True)
    said = reply(bot, slack, STRANGER, "who-approves prod-search deployment-viewer")
    assert "Guests can't" in said and "owner1" not in said and f"<@{OWNER}>" not in said


# -- 5. request again ----------------------------------------------------------------------------


def form_fields(view):
    out = {}
    for block in view["blocks"]:
        element = block.get("element") or {}
        if block.get("block_id") in ("resource", "role", "duration"):
            out[block["block_id"]] = (element.get("initial_option") or {}).get("value")
        if block.get("block_id") == "justification":
            out["justification"] = element.get("initial_value")
    return out


def test_request_again_opens_the_form_filled_in_from_a_denied_request(bot, slack, elastic):
    reply(bot, slack, REQUESTER, "request prod-search deployment-editor 2h INC-10 hotfix")
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]
    bot.click(OWNER, "deny", "1", card)
    deny_form = slack.wait_for(lambda: slack.calls_to("views.open"))[-1]["args"]["view"]
    bot.submit_view(OWNER, deny_form, {"reason": {"type": "plain_text_input", "value": "no"}})
    slack.wait_for(lambda: bot.state(1) is State.DENIED)
    denied = slack.wait_for(
        lambda: [m for m in slack.messages_to(REQUESTER) if "request_again" in buttons(m)]
    )[0]
    assert "denied" in text_of(denied)
    before = len(slack.calls_to("views.open"))
    bot.click(REQUESTER, "request_again", "1", denied)
    opened = slack.wait_for(
        lambda: [c for c in slack.calls_to("views.open")[before:] if c.get("response")],
        message="the form",
    )[0]
    assert opened["response"]["ok"], opened["response"]
    assert form_fields(opened["args"]["view"]) == {
        "resource": f"deployment:{'d' * 32}",
        "role": "deployment-editor",
        "duration": "2h",
        "justification": "INC-10 hotfix",
    }
    assert bot.runtime.store.list_requests()[1] == 1  # nothing filed by opening it


def test_request_again_on_an_expired_grant_and_never_for_someone_else(bot, slack, elastic):
    reply(bot, slack, REQUESTER, "request staging-logs deployment-viewer 1h INC-11 look")
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]
    bot.click(OWNER, "approve", "1", card)
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)
    bot.settle()  # the grant's work is done (its lease released) before time moves on
    bot.advance(timedelta(hours=1, minutes=1))
    assert bot.state(1) is State.EXPIRED
    ended = slack.wait_for(
        lambda: [m for m in slack.messages_to(REQUESTER) if "request_again" in buttons(m)]
    )[0]
    assert "expired" in text_of(ended).lower()
    # A crafted click by someone else opens nothing, files nothing, tells them "not found".
    before = len(slack.calls_to("views.open"))
    # Answered 200 at once, like any click: Slack shows no error on top of the reply.
    assert bot.click(STRANGER, "request_again", "1", ended).status_code == 200
    said = slack.wait_for(lambda: slack.webhook_posts(f"click-{STRANGER}"))[-1]["text"]
    assert "not found" in said
    assert bot.click(REQUESTER, "request_again", "999", ended).status_code == 200
    assert bot.click(REQUESTER, "request_again", "not-a-number", ended).status_code == 200
    bot.settle()
    assert len(slack.calls_to("views.open")) == before
    assert bot.runtime.store.list_requests()[1] == 1


def test_request_again_is_not_offered_while_access_is_live(bot, slack):
    reply(bot, slack, REQUESTER, "request staging-logs deployment-viewer 1h INC-12 look")
    card = slack.wait_for(lambda: cards(slack, OWNER))[0]
    bot.click(OWNER, "approve", "1", card)
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)
    bot.settle()
    assert not [m for m in slack.messages_to(REQUESTER) if "request_again" in buttons(m)]
    bot.click(REQUESTER, "request_again", "1", slack.messages_to(REQUESTER)[-1])
    said = slack.wait_for(lambda: slack.webhook_posts(f"click-{REQUESTER}"))[-1]["text"]
    assert "has not ended" in said


def test_requesters_of_no_known_form_are_a_configuration_error():
    import pytest
    from pydantic import ValidationError

    from bot.config import PolicyRuleConfig

    for bad in (["oncall"], [], ["domain:"], ["<@U0ABC>"]):
        with pytest.raises(ValidationError):
            PolicyRuleConfig(requesters=bad)
    ok = PolicyRuleConfig(requesters=[" @oncall ", "domain:example.com", "U0ABC", "a@b.io"])
    assert ok.requesters == ["@oncall", "domain:example.com", "U0ABC", "a@b.io"]
