"""Slack behaviour over real HTTP: signatures, bad input, the form, deny, clicks, list, revoke."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from urllib.parse import urlencode

import httpx

from bot.access.states import State
from bot.standins import payloads
from bot.standins.slack.text import text_of
from tests.harness import OWNER, OWNER2, REQUESTER, STRANGER, sign
from tests.slack_view import buttons

DEPLOYMENT = "d" * 32
ALICE = "1000000001"


def card_for(slack, user, ref="#1"):
    return slack.wait_for(
        lambda: [
            m for m in slack.messages_to(user) if ref in text_of(m) and "approve" in buttons(m)
        ],
        message=f"approval card {ref} for {user}",
    )[0]


def last_reply(slack, name):
    posts = slack.wait_for(lambda: slack.webhook_posts(name), message=f"reply on {name}")
    return posts[-1]


def file_request(
    bot, slack, text="request prod-search deployment-viewer 1h checking INC-1", ref="#1"
):
    assert bot.command(REQUESTER, text).status_code == 200
    return card_for(slack, OWNER, ref)


# -- signatures ---------------------------------------------------------------------------
def _command_body(text: str) -> str:
    return urlencode(
        {
            "command": "/elastic-access",
            "text": text,
            "user_id": REQUESTER,
            "team_id": "T0001",
            "trigger_id": "1.2.3",
            "response_url": "https://hooks.slack.invalid/commands/sig",
        }
    )


def _post_raw(bot, body: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{bot.url}/slack/events",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )


def test_unsigned_wrong_stale_or_tampered_requests_get_401_and_change_nothing(bot, slack):
    """Each case breaks exactly one thing about an otherwise good request, so each is refused
    for its own reason (a stale request is correctly signed with the right secret)."""
    now = int(time.time())
    cases = {}
    for label in ("unsigned", "wrong secret", "an hour old", "just stale", "future", "tampered"):
        body = _command_body(f"request prod-search deployment-viewer 1h {label}")
        headers = {
            "unsigned": {},
            "wrong secret": sign(body, secret="not-the-secret"),
            "an hour old": sign(body, timestamp=now - 3600),
            "just stale": sign(body, timestamp=now - 330),
            "future": sign(body, timestamp=now + 3600),
            "tampered": sign(body),
        }[label]
        if label == "tampered":
            body = body.replace("1h", "9h")
        cases[label] = (body, headers)
    for label, (body, headers) in cases.items():
        response = _post_raw(bot, body, headers)
        assert response.status_code == 401, label
    # The same request, correctly signed a few minutes ago, is taken: the window is open.
    good = _command_body("help")
    assert _post_raw(bot, good, sign(good, timestamp=now - 240)).status_code == 200
    assert bot.runtime.store.list_requests()[1] == 0
    assert slack.calls_to("chat.postMessage") == []


def test_help_is_ephemeral_and_lists_every_subcommand(bot):
    response = bot.command(REQUESTER, "help")
    data = response.json()
    assert data["response_type"] == "ephemeral"
    for word in ("request", "list", "revoke", "help", "deployment-viewer", "12h"):
        assert word in data["text"]


# -- bad input ----------------------------------------------------------------------------
def test_bad_text_requests_are_refused_to_the_caller_only(bot, slack):
    cases = {
        "request nope deployment-viewer 1h why": "Unknown resource",
        "request prod-search billing-admin 1h why": "not a role for Deployment prod-search",
        "request prod-search deployment-viewer 0m why": "zero",
        "request prod-search deployment-viewer 13h why": "maximum of 12h",
        "request prod-search deployment-viewer 2 why": "no unit",
        "request prod-search deployment-viewer 1h": "justification is required",
        "request prod-search": "Missing arguments",
        "request organization deployment-admin 1h why": "Valid roles: `organization-admin`, `billing-admin`",
        "frobnicate": "Unknown subcommand",
        "revoke abc": "not a request ID",
    }
    for text, expected in cases.items():
        said = bot.say(REQUESTER, text)
        assert expected in said, (text, said)
    assert bot.runtime.store.list_requests()[1] == 0
    assert slack.calls_to("chat.postMessage") == []


def test_only_owner_requesting_is_refused_and_owners_told(make_bot, slack):
    bot = make_bot(integration_owners=[REQUESTER])
    bot.command(REQUESTER, "request prod-search deployment-viewer 1h self")
    assert "Nobody other than you" in last_reply(slack, f"cmd-{REQUESTER}")["text"]
    assert bot.runtime.store.list_requests()[1] == 0
    # The integration owners (here the requester alone) get an alert DM saying so.
    told = slack.wait_for(
        lambda: [m for m in slack.messages_to(REQUESTER) if "Add another owner" in text_of(m)],
        message="the owners' alert",
    )
    assert "nobody other than the requester" in text_of(told[0])
    assert f"<@{REQUESTER}>" in text_of(told[0]) and "deployment-viewer" in text_of(told[0])


# -- the form ------------------------------------------------------------------------------
def test_form_opens_offers_resources_and_files_a_request(bot, slack, elastic):
    assert bot.command(REQUESTER, "").status_code == 200
    opened = slack.wait_for(lambda: slack.calls_to("views.open"))[0]["args"]["view"]
    assert opened["callback_id"] == "request_access"
    assert "company SSO" in text_of(opened)  # access_details shown in the form

    options = bot.options(REQUESTER, "resource", "prod").json()["options"]
    assert [o["text"]["text"] for o in options] == ["Deployment prod-search"]
    all_options = bot.options(REQUESTER, "resource", "").json()["options"]
    labels = {o["text"]["text"] for o in all_options}
    assert {"All deployments", "Deployment prod-search", "Deployment staging-logs"} <= labels

    values = {
        "resource": {"type": "external_select", "selected_option": options[0]},
        "role": {
            "type": "static_select",
            "selected_option": {
                "value": "deployment-editor",
                "text": {"type": "plain_text", "text": "Editor"},
            },
        },
        "duration": {
            "type": "static_select",
            "selected_option": {"value": "2h", "text": {"type": "plain_text", "text": "2h"}},
        },
        "justification": {"type": "plain_text_input", "value": "deploying hotfix HF-7"},
    }
    response = bot.submit_view(REQUESTER, opened, values)
    assert response.status_code == 200 and response.text in ("", "{}")
    card = card_for(slack, OWNER)
    assert "deployment-editor" in text_of(card) and "deploying hotfix HF-7" in text_of(card)


def test_form_errors_are_shown_inline_and_nothing_is_filed(bot, slack):
    bot.command(REQUESTER, "")
    opened = slack.wait_for(lambda: slack.calls_to("views.open"))[0]["args"]["view"]
    values = {
        "resource": {
            "type": "external_select",
            "selected_option": {
                "value": f"deployment:{DEPLOYMENT}",
                "text": {"type": "plain_text", "text": "x"},
            },
        },
        "role": {
            "type": "static_select",
            "selected_option": {
                "value": "organization-admin",
                "text": {"type": "plain_text", "text": "x"},
            },
        },
        "duration": {
            "type": "static_select",
            "selected_option": {"value": "1h", "text": {"type": "plain_text", "text": "1h"}},
        },
        "justification": {"type": "plain_text_input", "value": "   "},
    }
    data = bot.submit_view(REQUESTER, opened, values).json()
    assert data["response_action"] == "errors"
    assert "justification" in data["errors"]
    values["justification"] = {"type": "plain_text_input", "value": "real reason"}
    data = bot.submit_view(REQUESTER, opened, values).json()
    assert "not a role" in data["errors"]["role"]
    assert bot.runtime.store.list_requests()[1] == 0


def test_picking_a_resource_narrows_the_roles(bot, slack):
    bot.command(REQUESTER, "")
    opened = slack.wait_for(
        lambda: [c for c in slack.calls_to("views.open") if c.get("response")], message="form"
    )[0]
    assert opened["response"]["ok"], opened["response"]
    view = slack.view(opened["response"]["view"]["id"])  # as Slack holds it: id, hash, state
    before = next(b for b in view["blocks"] if b.get("block_id") == "role")["element"]
    assert "billing-admin" not in [o["value"] for o in before.get("options", [])]
    payload = payloads.view_action(
        REQUESTER,
        view,
        payloads.picked("resource", "organization:1234567890", "Org"),
        trigger_id=slack.new_trigger_id(),
    )
    assert bot.interact(payload).status_code == 200
    update = slack.wait_for(
        lambda: [c for c in slack.calls_to("views.update") if c.get("response")], message="update"
    )[0]
    assert update["response"]["ok"], update["response"]
    assert update["args"]["view_id"] == view["id"] and update["args"]["hash"] == view["hash"]
    # The form the requester now sees offers only the organization's roles.
    shown = slack.view(view["id"])
    role_block = next(b for b in shown["blocks"] if b.get("block_id") == "role")
    assert [o["value"] for o in role_block["element"]["options"]] == [
        "organization-admin",
        "billing-admin",
    ]


# -- deciding ---------------------------------------------------------------------------------
def test_requester_and_strangers_cannot_decide(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER, REQUESTER])
    card = file_request(bot, slack)
    slack.wait_for(lambda: slack.messages_to(REQUESTER))  # the "submitted" DM, not a card
    assert not any("approve" in buttons(m) for m in slack.messages_to(REQUESTER))
    bot.click(REQUESTER, "approve", "1", card)
    assert "own request" in last_reply(slack, f"click-{REQUESTER}")["text"]
    bot.click(STRANGER, "approve", "1", card)
    assert "not found, or is not yours" in last_reply(slack, f"click-{STRANGER}")["text"]
    assert bot.state(1) is State.PENDING
    assert elastic.calls_to("POST", "/role_assignments") == []


def test_deny_asks_for_a_reason_and_tells_the_requester(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER, OWNER2])
    card = file_request(bot, slack)
    card_for(slack, OWNER2)
    bot.click(OWNER, "deny", "1", card)
    form = slack.wait_for(lambda: slack.calls_to("views.open"))[0]["args"]["view"]
    assert form["callback_id"] == "deny_reason"
    bot.submit_view(
        OWNER, form, {"reason": {"type": "plain_text_input", "value": "use staging instead"}}
    )
    slack.wait_for(lambda: bot.state(1) is State.DENIED)
    denied = slack.wait_for(
        lambda: [m for m in slack.messages_to(REQUESTER) if "denied" in text_of(m)]
    )
    assert "use staging instead" in text_of(denied[0]) and f"<@{OWNER}>" in text_of(denied[0])
    for approver in (OWNER, OWNER2):  # every card now says who decided, without buttons
        slack.wait_for(
            lambda a=approver: all(
                not buttons(m) and "Denied" in text_of(m) for m in slack.messages_to(a)
            )
        )
    assert elastic.calls_to("POST", "/role_assignments") == []


def test_fifty_concurrent_approve_clicks_grant_once(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER, OWNER2])
    card = file_request(bot, slack)
    card2 = card_for(slack, OWNER2)
    barrier = threading.Barrier(10)

    def clicks(i):
        barrier.wait()
        for k in range(5):
            who, msg = (OWNER, card) if i % 2 else (OWNER2, card2)
            click = payloads.block_actions(
                who,
                "approve",
                "1",
                response_url=slack.webhook_url(f"fifty-{i}-{k}"),  # one each: 5 uses per URL
                trigger_id=slack.new_trigger_id(),
                message=msg,
            )
            assert bot.interact(click).status_code == 200

    threads = [threading.Thread(target=clicks, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE, timeout=20)

    def granted_dms():
        return [m for m in slack.messages_to(REQUESTER) if "Access granted" in text_of(m)]

    slack.wait_for(granted_dms, timeout=10)

    # Every click has been dealt with: one approved, each other one was told it came late.
    def late():
        return [p for p in slack.webhook_posts() if "already" in p.get("text", "")]

    slack.wait_for(lambda: len(late()) == 49, timeout=30, message="49 'already decided' replies")
    bot.runtime.service.drain()
    assert len(elastic.calls_to("POST", "/role_assignments")) == 1
    granted = [e for e in bot.runtime.store.events(1) if e["kind"] == "granted"]
    assert len(granted) == 1
    assert len(granted_dms()) == 1


# -- list and revoke -------------------------------------------------------------------------
def test_list_shows_own_requests_and_owners_see_all(bot, slack, elastic):
    file_request(bot, slack)
    slack.add_user("U0OTHER01", email="other@example.com", name="other")
    elastic.add_member("other@example.com", user_id="1000000009")
    bot.command("U0OTHER01", "request staging-logs deployment-editor 30m load test")
    card_for(slack, OWNER, "#2")
    mine = bot.command(REQUESTER, "list").json()
    assert mine["response_type"] == "ephemeral"
    assert "#1" in text_of(mine) and "#2" not in text_of(mine)
    everyone = text_of(bot.command(OWNER, "list").json())
    assert "#1" in everyone and "#2" in everyone and "pending" in everyone
    assert text_of(bot.command(OWNER, "list active").json()).startswith("No requests")
    assert "Only integration owners" in text_of(bot.command(REQUESTER, "list all").json())


def test_revoke_command_ends_access_now(bot, slack, elastic):
    card = file_request(bot, slack)
    bot.click(OWNER, "approve", "1", card)
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)
    bot.command(STRANGER, "revoke #1")
    assert "not found, or is not yours" in last_reply(slack, f"cmd-{STRANGER}")["text"]
    assert bot.state(1) is State.ACTIVE
    bot.command(REQUESTER, "revoke 1")
    slack.wait_for(lambda: bot.state(1) is State.REVOKED)
    assert ("deployment", "deployment-viewer", DEPLOYMENT) not in elastic.holdings(ALICE)
    slack.wait_for(lambda: "removed" in slack.webhook_posts(f"cmd-{REQUESTER}")[-1]["text"])
    slack.wait_for(
        lambda: any("Access revoked" in text_of(m) for m in slack.messages_to(REQUESTER))
    )
    # The timer for the ended grant is gone; time passing later changes nothing.
    bot.advance(timedelta(hours=2))
    assert len(elastic.calls_to("DELETE", "/role_assignments")) == 1


def test_repeated_slash_command_is_not_filed_twice(bot, slack):
    text = "request prod-search deployment-viewer 1h checking INC-1"
    bot.command(REQUESTER, text)
    bot.command(REQUESTER, text)
    card_for(slack, OWNER)
    # Both commands have been handled (the second was told, by the duplicate check or, when
    # the first was already stored, by the open-request check), and only one was filed.
    slack.wait_for(
        lambda: any(
            "a moment ago" in p["text"] or "already asked for this" in p["text"]
            for p in slack.webhook_posts(f"cmd-{REQUESTER}")
        )
    )
    assert bot.runtime.store.list_requests()[1] == 1


def _form_values(role: str, why: str, break_glass: bool) -> dict:
    values = {
        "resource": {
            "type": "external_select",
            "selected_option": {
                "value": f"deployment:{DEPLOYMENT}",
                "text": {"type": "plain_text", "text": "Deployment prod-search"},
            },
        },
        "role": {
            "type": "static_select",
            "selected_option": {"value": role, "text": {"type": "plain_text", "text": role}},
        },
        "duration": {
            "type": "static_select",
            "selected_option": {"value": "1h", "text": {"type": "plain_text", "text": "1h"}},
        },
        "justification": {"type": "plain_text_input", "value": why},
    }
    if break_glass:
        values["break_glass"] = {
            "type": "checkboxes",
            "selected_options": [{"value": "yes", "text": {"type": "plain_text", "text": "x"}}],
        }
    return values


def pick_resource(bot, slack, user: str, value: str) -> dict:
    """Open the form as ``user``, pick the resource ``value`` in it, and return the form as
    Slack then holds it (updated by the bot: the roles, and break-glass where allowed)."""
    before = len(slack.calls_to("views.update"))
    bot.command(user, "")
    opened = slack.wait_for(
        lambda: [c for c in slack.calls_to("views.open") if c.get("response")], message="form"
    )[-1]
    view = slack.view(opened["response"]["view"]["id"])
    payload = payloads.view_action(
        user, view, payloads.picked("resource", value), trigger_id=slack.new_trigger_id()
    )
    assert bot.interact(payload).status_code == 200
    slack.wait_for(
        lambda: len([c for c in slack.calls_to("views.update") if c.get("response")]) > before,
        message="the form updated",
    )
    return slack.view(view["id"])


def block_ids(view: dict) -> list[str]:
    return [b.get("block_id") for b in view["blocks"]]


def test_the_form_offers_break_glass_only_where_policy_allows_it(make_bot, slack, elastic):
    plain = make_bot()
    shown = pick_resource(plain, slack, REQUESTER, f"deployment:{DEPLOYMENT}")
    assert "role" in block_ids(shown) and "break_glass" not in block_ids(shown)


def test_the_form_offers_break_glass_only_to_whom_a_rule_gives_it(make_bot, slack, elastic):
    """#14: a rule's break-glass is for its requesters; nobody else sees the option, and
    nobody sees it before picking a resource it applies to."""
    slack.add_usergroup("S0ONCALL", "oncall", [OWNER2])
    bot = make_bot(
        integration_owners=[OWNER],
        policy=[
            {"roles": ["deployment-admin"], "break_glass": True, "requesters": ["@oncall"]},
            {"roles": ["deployment-viewer"]},
        ],
    )
    bot.command(OWNER2, "")
    opened = slack.wait_for(lambda: slack.calls_to("views.open"))[-1]["args"]["view"]
    assert "break_glass" not in block_ids(opened)  # no resource picked yet
    assert "break_glass" in block_ids(pick_resource(bot, slack, OWNER2, f"deployment:{DEPLOYMENT}"))
    assert "break_glass" not in block_ids(
        pick_resource(bot, slack, REQUESTER, f"deployment:{DEPLOYMENT}")
    )


def test_break_glass_from_the_form(make_bot, slack, elastic):
    bot = make_bot(
        integration_owners=[OWNER2],
        policy=[{"roles": ["deployment-admin"], "break_glass": True}, {"roles": ["*"]}],
    )
    opened = pick_resource(bot, slack, REQUESTER, f"deployment:{DEPLOYMENT}")
    assert "break_glass" in block_ids(opened)
    # Ticked for a role the policy does not allow it for: an inline error, nothing filed.
    refused = bot.submit_view(
        REQUESTER, opened, _form_values("deployment-viewer", "curious", break_glass=True)
    ).json()
    assert refused["response_action"] == "errors" and "break_glass" in refused["errors"]
    assert bot.request(1) is None
    # Allowed: granted at once, and the integration owner is alerted.
    response = bot.submit_view(
        REQUESTER, opened, _form_values("deployment-admin", "INC-5 outage", break_glass=True)
    )
    assert response.status_code == 200
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)
    assert bot.request(1).decided_by == "break-glass"
    slack.wait_for(lambda: any("Break-glass" in text_of(m) for m in slack.messages_to(OWNER2)))
