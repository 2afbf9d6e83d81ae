"""Text the bot did not write never pings anyone, never disguises a link, never unfurls.

Hostile values go in through the real flows (the form, the slash command, the deny form, an
extension, a resource's name and tags, list filters) and every Slack call the bot makes is
searched: wherever Slack reads ``mrkdwn`` (a message's ``text``, mrkdwn objects) the
characters ``&``, ``<`` and ``>`` of those values must arrive escaped, so ``<!channel>``
shows as the literal text; ``plain_text`` shows anything literally, but loses its bidi and
zero-width characters. The bot's own mentions (``<@U…>`` of validated IDs) still work.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from bot.access.states import State
from tests.harness import OWNER, OWNER2, REQUESTER, STRANGER

#: A justification, a reason: a channel ping, a link that shows one URL and opens another, a
#: mention of someone who is not involved, an ampersand, a right-to-left override, a ZWSP.
HOSTILE = (
    "<!channel> see <https://evil.example|https://jira.example.com/INC-1> "
    "& <@U0OWNER02> fyi \u202etxt.exe\u200b"
)
HOSTILE_SHOWN = (  # the same, as Slack must receive it inside mrkdwn
    "&lt;!channel&gt; see &lt;https://evil.example|https://jira.example.com/INC-1&gt; "
    "&amp; &lt;@U0OWNER02&gt; fyi txt.exe"
)
REASON = "<!here> use <https://evil.example|staging> & retry"
REASON_SHOWN = "&lt;!here&gt; use &lt;https://evil.example|staging&gt; &amp; retry"
OPS = "b" * 32  # a deployment whose name pings
OPS_NAME = "ops <!here> dash"
OPS_SHOWN = "Deployment ops &lt;!here&gt; dash"
CHANNEL = "C0ACCESS"

#: What must never reach Slack's mrkdwn unescaped, and what must never be shown at all.
ACTIVE = ("<!channel>", "<!here>", "<!everyone>", "<https://evil", "<@U0OWNER02>")
INVISIBLE = ("\u202e", "\u200b")
NOT_SHOWN = {"private_metadata", "value", "action_id", "block_id", "callback_id", "url"}


def _texts(node: Any, mrkdwn: list[str], plain: list[str], top: bool = True) -> None:
    """Sort the strings of a message, view or reply into what Slack renders as mrkdwn and
    what it shows as plain text."""
    if isinstance(node, list):
        for item in node:
            _texts(item, mrkdwn, plain, top=False)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind in ("plain_text", "mrkdwn") and isinstance(node.get("text"), str):
        (plain if kind == "plain_text" else mrkdwn).append(node["text"])
        return
    for key, value in node.items():
        if key in NOT_SHOWN:
            continue
        if key == "text" and isinstance(value, str):
            mrkdwn.append(value)  # a message's own text (and its notification) is mrkdwn
        elif key == "errors" and isinstance(value, dict):
            plain.extend(str(v) for v in value.values())  # a form's inline errors
        else:
            _texts(value, mrkdwn, plain, top=False)


def everything_said(slack, *replies: Any) -> tuple[list[str], list[str]]:
    """Every text the bot sent to Slack: Web API calls, response_url posts, and ``replies``
    (what it answered Slack's own requests with)."""
    mrkdwn: list[str] = []
    plain: list[str] = []
    for call in slack.calls:
        if call["method"].startswith(("chat.", "views.")):
            _texts(call["args"], mrkdwn, plain)
    for post in slack.webhook_posts():
        _texts(post, mrkdwn, plain)
    for reply in replies:
        _texts(reply, mrkdwn, plain)
    return mrkdwn, plain


def assert_nothing_active(slack, *replies: Any) -> str:
    """Nothing untrusted is live anywhere; returns all the mrkdwn, for further checks."""
    mrkdwn, plain = everything_said(slack, *replies)
    assert mrkdwn, "the bot said nothing at all"
    for text in mrkdwn:
        for bad in ACTIVE:
            assert bad not in text, f"{bad!r} reached Slack unescaped in: {text!r}"
    for text in mrkdwn + plain:
        for bad in INVISIBLE:
            assert bad not in text, f"an invisible character reached Slack in: {text!r}"
    for call in slack.calls_to("chat.postMessage"):
        assert call["args"].get("unfurl_links") is False, call["args"]
        assert call["args"].get("unfurl_media") is False, call["args"]
    return "\n".join(mrkdwn)


def _json(response) -> dict:
    return response.json() if response.text not in ("", "{}") else {}


# -- helpers -------------------------------------------------------------------------------
def _setup(make_bot, slack, elastic, **settings):
    slack.add_channel(CHANNEL, name="access-log")
    elastic.add_deployment(OPS_NAME, tags={"owner": "owner1@example.com"}, deployment_id=OPS)
    bot = make_bot(notify_channel=CHANNEL, **settings)
    bot.runtime.catalogue.refresh()
    return bot


def _card(slack, user, ref="#1"):
    def find():
        return [
            m
            for m in slack.messages_to(user)
            if ref in json.dumps(m)
            and any(b.get("block_id", "").startswith("decide:") for b in m.get("blocks", []))
        ]

    return slack.wait_for(find, message=f"card {ref} for {user}")[0]


def _selected(value: str, text: str = "x") -> dict:
    return {"value": value, "text": {"type": "plain_text", "text": text}}


def _form(resource: str, role: str, why: str) -> dict:
    return {
        "resource": {"type": "external_select", "selected_option": _selected(resource)},
        "role": {"type": "static_select", "selected_option": _selected(role)},
        "duration": {"type": "static_select", "selected_option": _selected("1h")},
        "justification": {"type": "plain_text_input", "value": why},
    }


def _open_form(bot, slack) -> dict:
    before = len(slack.calls_to("views.open"))
    bot.command(REQUESTER, "")
    return slack.wait_for(lambda: slack.calls_to("views.open")[before:])[0]["args"]["view"]


# -- the flows -------------------------------------------------------------------------------
def test_a_hostile_justification_on_a_hostile_deployment_pings_nobody(make_bot, slack, elastic):
    bot = _setup(make_bot, slack, elastic)
    form = _open_form(bot, slack)
    options = bot.options(REQUESTER, "resource", "ops").json()["options"]
    assert [o["text"]["text"] for o in options] == [f"Deployment {OPS_NAME}"]  # plain_text
    submitted = bot.submit_view(
        REQUESTER, form, _form(f"deployment:{OPS}", "deployment-viewer", HOSTILE)
    )
    assert submitted.status_code == 200
    card = _card(slack, OWNER)
    said = assert_nothing_active(slack)
    card_text = json.dumps(card)
    assert json.dumps(HOSTILE_SHOWN)[1:-1] in card_text  # shown, literally, once escaped
    assert json.dumps(OPS_SHOWN)[1:-1] in card_text
    assert f"<@{REQUESTER}>" in card["text"]  # the bot's own mention still works
    assert "&amp;lt;" not in said  # and nothing is escaped twice
    bot.runtime.publish_home(OWNER)  # as when each opens the App Home
    bot.runtime.publish_home(REQUESTER)
    waiting = json.dumps(slack.wait_for(lambda: slack.home_view(OWNER)))
    assert json.dumps(HOSTILE_SHOWN)[1:-1] in waiting  # "waiting for my approval" quotes it
    # Approved and granted: the requester's DMs, the channel, every App Home stay inert.
    bot.click(OWNER, "approve", "1", card)
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)
    slack.wait_for(lambda: "active" in json.dumps(slack.messages_in(CHANNEL)))
    home = slack.wait_for(lambda: "left (ends" in json.dumps(slack.home_view(REQUESTER)))
    assert home and OPS_SHOWN in json.dumps(slack.home_view(REQUESTER))
    assert_nothing_active(slack)
    channel = json.dumps(slack.messages_in(CHANNEL))
    assert json.dumps(OPS_SHOWN)[1:-1] in channel
    assert "jira.example.com" not in channel  # the justification is not the channel's


def test_the_slash_command_stores_what_was_typed_and_shows_it_escaped_once(
    make_bot, slack, elastic
):
    bot = _setup(make_bot, slack, elastic)
    # Slack sends &, < and > of a slash command as entities; a raw "<!channel>" is what a
    # client (or a forged-looking paste) can still produce. Both end up inert.
    typed = "INC-9 a&b <b> &lt;!channel&gt; <!channel>"
    bot.command(REQUESTER, f"request {OPS} deployment-viewer 1h {typed}")
    card = _card(slack, OWNER)
    assert bot.request(1).justification == "INC-9 a&b <b> <!channel> <!channel>"
    assert "a&amp;b &lt;b&gt; &lt;!channel&gt; &lt;!channel&gt;" in json.dumps(card)
    reply = slack.wait_for(lambda: slack.webhook_posts(f"cmd-{REQUESTER}"))[-1]
    assert OPS_SHOWN in reply["text"]
    assert_nothing_active(slack)


def test_errors_that_repeat_what_was_typed_are_inert(make_bot, slack, elastic):
    bot = _setup(make_bot, slack, elastic)
    replies = []
    for text in (
        "request <!channel> deployment-viewer 1h why",  # unknown resource, echoed
        f"request {OPS} <!here> 1h why",  # not a role, echoed with the resource's name
        "frobnicate<!channel>",
        "revoke <!channel>",
        "list <https://evil.example|x>",
        "list status:<!here>",
    ):
        response = bot.command(REQUESTER, text)
        replies.append(_json(response))
    slack.wait_for(lambda: len(slack.webhook_posts(f"cmd-{REQUESTER}")) >= 2)
    said = assert_nothing_active(slack, *replies)
    assert "&lt;!channel&gt;" in said and OPS_SHOWN in said


def test_the_form_errors_show_names_as_plain_text(make_bot, slack, elastic):
    bot = _setup(make_bot, slack, elastic)
    form = _open_form(bot, slack)
    refused = bot.submit_view(
        REQUESTER, form, _form(f"deployment:{OPS}", "billing-admin", "why")
    ).json()
    assert refused["response_action"] == "errors"
    # Slack shows inline errors as plain text: the name reads as typed, not as &lt;…&gt;.
    assert f"Deployment {OPS_NAME}" in refused["errors"]["role"]
    assert "&lt;" not in refused["errors"]["role"]


def test_a_deny_reason_is_escaped_for_the_requester_and_kept_from_the_channel(
    make_bot, slack, elastic
):
    bot = _setup(make_bot, slack, elastic)
    bot.command(REQUESTER, f"request {OPS} deployment-viewer 1h {HOSTILE}")
    card = _card(slack, OWNER)
    bot.click(OWNER, "deny", "1", card)
    form = slack.wait_for(lambda: slack.calls_to("views.open"))[-1]["args"]["view"]
    assert form["callback_id"] == "deny_reason"
    bot.submit_view(OWNER, form, {"reason": {"type": "plain_text_input", "value": REASON}})
    slack.wait_for(lambda: bot.state(1) is State.DENIED)
    denied = slack.wait_for(
        lambda: [m for m in slack.messages_to(REQUESTER) if "denied" in json.dumps(m)]
    )
    assert REASON_SHOWN in json.dumps(denied[-1])
    slack.wait_for(lambda: "denied" in json.dumps(slack.messages_in(CHANNEL)).lower())
    channel = json.dumps(slack.messages_in(CHANNEL))
    assert "staging" not in channel and "retry" not in channel  # the outcome, not the reason
    assert_nothing_active(slack)


def test_an_extension_reason_is_escaped_on_the_approvers_card(make_bot, slack, elastic):
    bot = _setup(make_bot, slack, elastic)
    bot.command(REQUESTER, f"request {OPS} deployment-viewer 1h INC-1")
    bot.click(OWNER, "approve", "1", _card(slack, OWNER))
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)
    bot.command(REQUESTER, f"extend #1 1h {REASON}")
    card = slack.wait_for(
        lambda: [m for m in slack.messages_to(OWNER) if "Extension of" in json.dumps(m)]
    )[-1]
    assert REASON_SHOWN in json.dumps(card)
    assert_nothing_active(slack)


def test_the_list_shows_resource_names_escaped(make_bot, slack, elastic):
    bot = _setup(make_bot, slack, elastic)
    bot.command(REQUESTER, f"request {OPS} deployment-viewer 1h {HOSTILE}")
    _card(slack, OWNER)
    listed = bot.command(OWNER, "list").json()
    assert OPS_SHOWN in json.dumps(listed)
    filtered = bot.command(OWNER, "list ops<!here>").json()  # the filter word is echoed
    assert_nothing_active(slack, listed, filtered)


def test_a_tag_value_naming_nobody_is_reported_inert(make_bot, slack, elastic):
    slack.add_channel(CHANNEL)
    elastic.add_deployment(
        "tagged", tags={"owner": "<!channel>@evil.example"}, deployment_id="c" * 32
    )
    bot = make_bot(
        notify_channel=CHANNEL,
        # Not OWNER2: a mention of them stands for an injected one in ACTIVE, and the
        # requester's "sent to …" DM would name a real approver.
        integration_owners=[OWNER, STRANGER],
        resource_owner={"tag_key": "owner", "attribute": "email"},
    )
    bot.runtime.catalogue.refresh()
    bot.command(REQUESTER, f"request {'c' * 32} deployment-viewer 1h INC-2")
    alert = slack.wait_for(
        lambda: [m for m in slack.messages_to(OWNER) if "does not resolve" in json.dumps(m)]
    )[0]
    assert "&lt;!channel&gt;@evil.example" in alert["text"]
    assert_nothing_active(slack)


def test_a_break_glass_alert_quotes_the_reason_inert(make_bot, slack, elastic):
    bot = _setup(
        make_bot,
        slack,
        elastic,
        integration_owners=[OWNER2],
        policy=[{"roles": ["deployment-admin"], "break_glass": True}, {"roles": ["*"]}],
    )
    bot.command(REQUESTER, f"break-glass {OPS} deployment-admin 1h {HOSTILE}")
    alert = slack.wait_for(
        lambda: [m for m in slack.messages_to(OWNER2) if "Break-glass" in json.dumps(m)]
    )[0]
    assert HOSTILE_SHOWN in alert["text"] and OPS_SHOWN in alert["text"]
    assert_nothing_active(slack)


def test_invisible_characters_are_removed_from_plain_text_too(make_bot, slack, elastic):
    elastic.add_deployment("admin\u202eresu\u200b", deployment_id="f" * 32)
    bot = make_bot()
    bot.runtime.catalogue.refresh()
    options = bot.options(REQUESTER, "resource", "admin").json()["options"]
    assert [o["text"]["text"] for o in options] == ["Deployment adminresu"]


def test_time_passing_messages_are_inert_too(make_bot, slack, elastic):
    """Reminders, expiry notices and the end of access name the resource too."""
    bot = _setup(make_bot, slack, elastic, reminder_after="5m")
    bot.command(REQUESTER, f"request {OPS} deployment-viewer 1h {HOSTILE}")
    card = _card(slack, OWNER)
    bot.advance(timedelta(minutes=6))  # a reminder
    bot.click(OWNER, "approve", "1", card)
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE)
    bot.advance(timedelta(minutes=55))  # the expiry notice
    bot.advance(timedelta(minutes=10))  # expired
    slack.wait_for(lambda: bot.state(1) is State.EXPIRED)
    said = assert_nothing_active(slack)
    assert "expired" in said.lower()
