"""Tests for the fake Slack Web API, driven through the real ``slack_sdk.WebClient``.

Why: every Bolt-level test of the bot trusts this fake to encode, accept and refuse what
Slack does; these tests pin that behaviour down (and, where the shared method fixtures are
present, check the fake's rules against Slack's published method reference).
"""

from __future__ import annotations

import json
import os
import types
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.standins.shared import in_ci, missing_shared
from bot.standins.slack.answers import answer_errors
from bot.standins.slack.fake import FakeSlack
from bot.standins.slack.knowledge import BOT_ID, ERROR_CODES, GENERIC_ERRORS, TRIGGER_TTL_SECONDS
from bot.standins.slack.text import text_of

REPO_ROOT = Path(__file__).resolve().parents[1]
SLACK_FIXTURES = (
    Path(os.environ.get("ELASTIC_ACCESS_SHARED", REPO_ROOT.parent / "shared")) / "slack-fixtures"
)
METHODS_DIR = SLACK_FIXTURES / "web-api-methods"
HAVE_FIXTURES = METHODS_DIR.is_dir()
if not HAVE_FIXTURES and in_ci():
    missing_shared("slack-fixtures/web-api-methods (Slack's published method fixtures)")
needs_fixtures = pytest.mark.skipif(
    not HAVE_FIXTURES,
    reason=f"Slack method fixtures not found at {METHODS_DIR} (set ELASTIC_ACCESS_SHARED)",
)

TOKEN = "xoxb-test-token"


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """WebClient honours HTTP(S)_PROXY and ignores NO_PROXY, which breaks loopback."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(METHODS_DIR if HAVE_FIXTURES else None) as server:
        server.add_user("U1", email="ada@example.com", real_name="Ada Lovelace", tz="Europe/London")
        server.add_user("U2", email="bob@example.com", real_name="Bob")
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=TOKEN, base_url=fake.api_url)


@pytest.fixture(scope="module")
def shared_fake() -> Iterator[FakeSlack]:
    """One server for the many read-only validation cases (each stop costs ~50 ms)."""
    with FakeSlack(METHODS_DIR if HAVE_FIXTURES else None) as server:
        server.add_user("U1")
        yield server


def error_of(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        call()
    return info.value


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(action_id: str, label: str = "Approve", value: str = "r1") -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": value,
    }


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def option(value: str, label: str | None = None) -> dict[str, Any]:
    return {"text": plain(label or value), "value": value}


def select(action_id: str, values: list[str], initial: Any = None) -> dict[str, Any]:
    element = {
        "type": "static_select",
        "action_id": action_id,
        "options": [option(v) for v in values],
    }
    return element if initial is None else element | {"initial_option": initial}


def text_input(action_id: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "action_id": action_id}


def input_block(block_id: str, element: dict[str, Any]) -> dict[str, Any]:
    return {"type": "input", "block_id": block_id, "label": plain(block_id), "element": element}


def confirm(**parts: Any) -> dict[str, Any]:
    """A confirmation dialog; a part given as None is left out."""
    dialog = {
        "title": plain("Revoke access?"),
        "text": {"type": "mrkdwn", "text": "This removes *viewer* now."},
        "confirm": plain("Revoke"),
        "deny": plain("Keep"),
        "style": "danger",
    }
    dialog.update(parts)
    return {k: v for k, v in dialog.items() if v is not None}


def modal(title: str = "Request access", **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "access_request",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Request"},
        "blocks": [section("Pick a deployment")],
        **extra,
    }


# ---------------------------------------------------------------- chat.*


def test_post_message_to_user_id_opens_dm(fake: FakeSlack, client: WebClient) -> None:
    blocks = [section("Ada asks for *admin*"), {"type": "actions", "elements": [button("ok")]}]
    resp = client.chat_postMessage(channel="U1", text="Access request", blocks=blocks)

    channel = resp["channel"]
    assert channel.startswith("D") and channel == fake.dm_channel("U1")
    assert resp["message"]["bot_id"] == BOT_ID
    assert resp["message"]["ts"] == resp["ts"]
    [msg] = fake.messages_to("U1")
    assert (msg["channel"], msg["ts"], msg["text"]) == (channel, resp["ts"], "Access request")
    assert msg["blocks"] == blocks
    assert "Approve" in text_of(msg) and "admin" in text_of(msg)
    # chat.* go out as JSON: blocks arrive as real JSON, not a string.
    assert fake.calls_to("chat.postMessage")[0]["args"]["blocks"] == blocks
    # The same DM is reused; a D id is accepted directly; ts values increase.
    again = client.chat_postMessage(channel=channel, text="second")
    assert again["channel"] == channel and again["ts"] > resp["ts"]
    assert [m["text"] for m in fake.messages_to("U1")] == ["Access request", "second"]
    assert fake.messages_to("U2") == []


def test_post_message_channel_rules(fake: FakeSlack, client: WebClient) -> None:
    assert error_of(lambda: client.chat_postMessage(channel="U404", text="x")).response[
        "error"
    ] == ("channel_not_found")
    assert (
        error_of(lambda: client.chat_postMessage(channel="D404", text="x")).response["error"]
        == "channel_not_found"
    )
    # Slack knows only the channels there are: an undeclared one is not found.
    for unknown in ("C123", "G123", "#access-log"):
        err = error_of(lambda ch=unknown: client.chat_postMessage(channel=ch, text="x"))
        assert err.response["error"] == "channel_not_found"
    fake.add_channel("C123", name="access-log")
    assert client.chat_postMessage(channel="C123", text="audit")["channel"] == "C123"
    assert client.chat_postMessage(channel="#access-log", text="audit")["channel"] == "C123"
    fake.add_channel("C9", name="closed", is_archived=True)
    fake.add_channel("C8", name="private", is_member=False)
    assert error_of(lambda: client.chat_postMessage(channel="C9", text="x")).response["error"] == (
        "is_archived"
    )
    assert error_of(lambda: client.chat_postMessage(channel="C8", text="x")).response["error"] == (
        "not_in_channel"
    )
    # Slack delivers to a deactivated user's DM without error (python-slack-sdk#1156).
    fake.set_user_deleted("U2")
    assert client.chat_postMessage(channel="U2", text="bye")["ok"]


def test_post_message_requires_content_and_channel(fake: FakeSlack, client: WebClient) -> None:
    # api_call(json=...) skips slack_sdk's client-side "text is missing" UserWarning.
    no_text = error_of(lambda: client.api_call("chat.postMessage", json={"channel": "U1"}))
    assert no_text.response["error"] == "no_text"
    missing_channel = error_of(lambda: client.api_call("chat.postMessage", json={"text": "x"}))
    assert missing_channel.response["error"] == "channel_not_found"
    assert fake.messages_to("U1") == []


def test_long_text_is_truncated_with_warning(fake: FakeSlack, client: WebClient) -> None:
    resp = client.chat_postMessage(channel="U1", text="x" * 40_001)
    assert resp["warning"] == "message_truncated"
    assert len(fake.messages_to("U1")[0]["text"]) == 40_000


INVALID_BLOCKS = {
    "not_a_list": {"type": "section"},
    "block_without_type": [{"text": {"type": "mrkdwn", "text": "hi"}}],
    "block_not_object": ["hello"],
    "too_many_blocks": [section(f"line {i}") for i in range(51)],
    "section_text_3001": [section("x" * 3001)],
    "empty_section_text": [section("")],
    "button_label_76": [{"type": "actions", "elements": [button("a", label="L" * 76)]}],
    "button_value_2001": [{"type": "actions", "elements": [button("a", value="v" * 2001)]}],
    "duplicate_action_id": [
        {"type": "actions", "elements": [button("approve"), button("approve", "Deny")]}
    ],
    "duplicate_action_id_across_blocks": [
        {**section("a"), "accessory": button("x")},
        {"type": "actions", "elements": [button("x")]},
    ],
    "header_not_plain_text": [{"type": "header", "text": {"type": "mrkdwn", "text": "*h*"}}],
    "unknown_block_type": [{"type": "sparkles"}],
    # Element types: each block kind takes its own set.
    "text_input_in_actions": [{"type": "actions", "elements": [text_input("a")]}],
    "text_input_as_accessory": [{**section("a"), "accessory": text_input("a")}],
    "button_in_input": [input_block("b", button("b"))],
    "unknown_element_type": [{"type": "actions", "elements": [{"type": "sparkle_picker"}]}],
    # initial_option(s) must be one of the element's options.
    "initial_option_not_an_option": [
        input_block("d", select("d", ["1h", "2h"], initial=option("3h")))
    ],
    "initial_option_other_label": [
        input_block("d", select("d", ["1h", "2h"], initial=option("2h", label="two hours")))
    ],
    "initial_option_not_in_groups": [
        input_block(
            "r",
            {
                "type": "static_select",
                "action_id": "r",
                "option_groups": [{"label": plain("Deployments"), "options": [option("viewer")]}],
                "initial_option": option("admin"),
            },
        )
    ],
    "initial_options_not_options": [
        input_block(
            "c",
            {
                "type": "checkboxes",
                "action_id": "c",
                "options": [option("yes")],
                "initial_options": [option("no")],
            },
        )
    ],
    "option_without_value": [
        input_block("d", select("d", []) | {"options": [{"text": plain("1h")}]})
    ],
    "option_group_label_76": [
        input_block(
            "r",
            {
                "type": "static_select",
                "action_id": "r",
                "option_groups": [{"label": plain("L" * 76), "options": [option("viewer")]}],
            },
        )
    ],
    # confirm: title, text, confirm and deny, plain_text but for the text.
    "confirm_without_deny": [
        {"type": "actions", "elements": [button("a") | {"confirm": confirm(deny=None)}]}
    ],
    "confirm_title_mrkdwn": [
        {
            "type": "actions",
            "elements": [
                button("a") | {"confirm": confirm(title={"type": "mrkdwn", "text": "*Sure?*"})}
            ],
        }
    ],
    "confirm_label_31": [
        {
            "type": "actions",
            "elements": [button("a") | {"confirm": confirm(confirm=plain("Y" * 31))}],
        }
    ],
    "confirm_text_301": [
        {"type": "actions", "elements": [button("a") | {"confirm": confirm(text=plain("t" * 301))}]}
    ],
    "confirm_on_a_text_input": [input_block("t", text_input("t") | {"confirm": confirm()})],
}


@pytest.mark.parametrize("blocks", INVALID_BLOCKS.values(), ids=INVALID_BLOCKS.keys())
def test_invalid_blocks_rejected(shared_fake: FakeSlack, blocks: Any) -> None:
    client = WebClient(token=TOKEN, base_url=shared_fake.api_url)
    err = error_of(lambda: client.chat_postMessage(channel="U1", text="t", blocks=blocks))
    assert err.response["error"] == "invalid_blocks"
    messages = err.response["response_metadata"]["messages"]
    assert messages and all(m.startswith("[ERROR]") and "json-pointer:" in m for m in messages)
    assert shared_fake.messages_to("U1") == []


def test_blocks_at_the_limits_are_accepted(fake: FakeSlack, client: WebClient) -> None:
    blocks = [section("x" * 3000)] + [section(f"{i}") for i in range(48)]
    blocks.append({"type": "actions", "elements": [button("a", label="L" * 75, value="v" * 2000)]})
    assert len(blocks) == 50
    assert client.chat_postMessage(channel="U1", text="t", blocks=blocks)["ok"]


def test_elements_options_and_confirms_slack_takes_are_accepted(
    fake: FakeSlack, client: WebClient
) -> None:
    """The good twins of the cases above: each element where its block takes it, initial
    options that are options (in groups too), a full confirm dialog (mrkdwn text is fine)."""
    revoke = button("revoke", "Revoke now") | {"confirm": confirm()}
    message = [
        {**section("Pick one"), "accessory": select("pick", ["a", "b"], initial=option("b"))},
        {"type": "actions", "elements": [revoke, select("more", ["x"])]},
    ]
    assert client.chat_postMessage(channel="U1", text="t", blocks=message)["ok"]
    role = {
        "type": "static_select",
        "action_id": "role",
        "option_groups": [
            {"label": plain("Organization"), "options": [option("billing-admin")]},
            {"label": plain("Deployments"), "options": [option("viewer")]},
        ],
        "initial_option": option("viewer"),
    }
    check = {
        "type": "checkboxes",
        "action_id": "bg",
        "options": [option("yes", "Break-glass")],
        "initial_options": [option("yes", "Break-glass")],
    }
    resource = {"type": "external_select", "action_id": "res", "initial_option": option("d1")}
    form = modal(
        blocks=[
            input_block("role", role),
            input_block("bg", check),
            input_block("res", resource),
            input_block("why", text_input("why")),
        ]
    )
    assert client.views_open(trigger_id=fake.new_trigger_id(), view=form)["ok"]


def test_form_encoded_blocks_are_parsed_and_bad_json_refused(fake: FakeSlack) -> None:
    def post(form: dict[str, str]) -> dict[str, Any]:
        data = urllib.parse.urlencode({"token": TOKEN, **form}).encode()
        with urllib.request.urlopen(fake.api_url + "chat.postMessage", data=data) as resp:
            return json.loads(resp.read())

    blocks = [section("form")]
    assert post({"channel": "U1", "text": "t", "blocks": json.dumps(blocks)})["ok"]
    assert fake.calls_to("chat.postMessage")[-1]["args"]["blocks"] == blocks
    assert "token" not in fake.calls_to("chat.postMessage")[-1]["args"]
    bad = post({"channel": "U1", "text": "t", "blocks": "[{not json"})
    assert bad == {"ok": False, "error": "invalid_blocks_format"}


def test_chat_update_replaces_message(fake: FakeSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(
        channel="U1", text="pending", blocks=[{"type": "actions", "elements": [button("ok")]}]
    )
    channel, ts = posted["channel"], posted["ts"]
    updated = client.chat_update(channel=channel, ts=ts, text="approved", blocks=[section("Done")])
    assert (updated["channel"], updated["ts"], updated["text"]) == (channel, ts, "approved")
    [msg] = fake.messages_to("U1")
    assert msg["text"] == "approved" and msg["blocks"] == [section("Done")]
    assert "Approve" not in text_of(msg)
    assert fake.message(channel, ts) == msg

    def update_error(**kwargs: Any) -> str:
        return error_of(lambda: client.chat_update(**kwargs)).response["error"]

    # chat.update wants the D id, never the user id.
    assert update_error(channel="U1", ts=ts, text="x") == "channel_not_found"
    assert update_error(channel=channel, ts="1.000001", text="x") == "message_not_found"
    no_text = error_of(lambda: client.api_call("chat.update", json={"channel": channel, "ts": ts}))
    assert no_text.response["error"] == "no_text"
    assert (
        update_error(channel=channel, ts=ts, text="x", blocks=[section("y" * 3001)])
        == "invalid_blocks"
    )
    human_ts = fake.add_message(channel, "hello bot", user="U1")
    assert update_error(channel=channel, ts=human_ts, text="x") == "cant_update_message"
    assert fake.message(channel, ts)["text"] == "approved"


def test_post_ephemeral(fake: FakeSlack, client: WebClient) -> None:
    err = error_of(lambda: client.chat_postEphemeral(channel="C1", user="U1", text="x"))
    assert err.response["error"] == "channel_not_found"
    fake.add_channel("C1")
    resp = client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert resp["message_ts"]
    [eph] = fake.ephemerals_to("U1")
    assert eph["text"] == "only you" and eph["channel"] == "C1"
    assert fake.ephemerals_to("U2") == []
    err = error_of(lambda: client.chat_postEphemeral(channel="C1", user="U404", text="x"))
    assert err.response["error"] == "user_not_in_channel"
    dm_of_u1 = client.conversations_open(users="U1")["channel"]["id"]
    err = error_of(lambda: client.chat_postEphemeral(channel=dm_of_u1, user="U2", text="x"))
    assert err.response["error"] == "user_not_in_channel"


# ---------------------------------------------------------------- auth


def test_auth_test_and_scopes_header(fake: FakeSlack, client: WebClient) -> None:
    resp = client.auth_test()
    assert (resp["team_id"], resp["user_id"], resp["bot_id"]) == ("T0001", "UBOT", "BBOT")
    assert resp["url"] and resp["team"] and resp["user"]
    scopes = resp.headers["x-oauth-scopes"].split(",")
    assert {"chat:write", "im:write", "users:read.email", "files:write"} <= set(scopes)


def test_bad_or_missing_token(fake: FakeSlack) -> None:
    wrong = WebClient(token="xoxb-wrong", base_url=fake.api_url)
    err = error_of(wrong.auth_test)
    assert err.response.status_code == 200 and err.response["error"] == "invalid_auth"
    err = error_of(lambda: wrong.chat_postMessage(channel="U1", text="x"))
    assert err.response["error"] == "invalid_auth"
    assert fake.messages_to("U1") == []
    anonymous = WebClient(base_url=fake.api_url)
    assert error_of(anonymous.auth_test).response["error"] == "not_authed"


def test_unknown_method_is_404(client: WebClient) -> None:
    err = error_of(lambda: client.api_call("chat.teleport"))
    assert err.response.status_code == 404
    assert err.response["error"] == "unknown_method"


def test_missing_scope() -> None:
    with FakeSlack(scopes=["commands", "chat:write"]) as fake:
        fake.add_user("U1", email="ada@example.com")
        client = WebClient(token=TOKEN, base_url=fake.api_url)
        err = error_of(lambda: client.users_lookupByEmail(email="ada@example.com"))
        assert err.response["error"] == "missing_scope"
        assert err.response["needed"] == "users:read.email"
        assert err.response["provided"] == "commands,chat:write"
        # users.info without users:read.email hides the email, as Slack does.
        fake.scopes.append("users:read")
        assert "email" not in client.users_info(user="U1")["user"]["profile"]


# ---------------------------------------------------------------- conversations / users


def test_conversations_open(fake: FakeSlack, client: WebClient) -> None:
    first = client.conversations_open(users="U1")
    again = client.conversations_open(users=["U1"])
    assert first["channel"]["id"] == again["channel"]["id"] == fake.dm_channel("U1")
    assert again["already_open"] is True
    assert client.conversations_open(users="U2")["channel"]["id"] != first["channel"]["id"]
    assert fake.calls_to("conversations.open")[0]["args"] == {"users": "U1"}
    assert error_of(lambda: client.conversations_open(users="U404")).response["error"] == (
        "user_not_found"
    )
    fake.set_user_deleted("U2")
    assert error_of(lambda: client.conversations_open(users="U2")).response["error"] == (
        "user_disabled"
    )
    # WebClient refuses to send this call itself, so go through api_call.
    assert error_of(lambda: client.api_call("conversations.open")).response["error"] == (
        "users_list_not_supplied"
    )


def test_users_info(fake: FakeSlack, client: WebClient) -> None:
    user = client.users_info(user="U1")["user"]
    assert user["id"] == "U1" and user["deleted"] is False and user["is_bot"] is False
    assert user["profile"]["email"] == "ada@example.com"
    assert user["real_name"] == "Ada Lovelace" and user["tz"] == "Europe/London"
    assert isinstance(user["tz_offset"], int)
    fake.set_user_deleted("U1")
    assert client.users_info(user="U1")["user"]["deleted"] is True
    assert error_of(lambda: client.users_info(user="U404")).response["error"] == "user_not_found"
    # users.* are form/query encoded; the fake records the parsed args all the same.
    assert fake.calls_to("users.info")[0]["args"] == {"user": "U1"}


def test_lookup_by_email(fake: FakeSlack, client: WebClient) -> None:
    assert client.users_lookupByEmail(email="ADA@example.com")["user"]["id"] == "U1"
    miss = error_of(lambda: client.users_lookupByEmail(email="nobody@example.com"))
    assert miss.response["error"] == "users_not_found"
    # Deactivated users are not returned by users.lookupByEmail.
    fake.set_user_deleted("U2")
    gone = error_of(lambda: client.users_lookupByEmail(email="bob@example.com"))
    assert gone.response["error"] == "users_not_found"


def test_usergroups(fake: FakeSlack, client: WebClient) -> None:
    fake.add_usergroup("S1", "es-approvers", ["U1", "U2"], name="ES approvers")
    fake.add_usergroup("S2", "old", ["U1"], disabled=True)

    groups = client.usergroups_list()["usergroups"]
    assert [(g["id"], g["handle"], g["name"]) for g in groups] == [
        ("S1", "es-approvers", "ES approvers")
    ]
    assert "users" not in groups[0]
    with_users = client.usergroups_list(include_users=True, include_disabled=True)["usergroups"]
    assert {g["id"]: g["users"] for g in with_users} == {"S1": ["U1", "U2"], "S2": ["U1"]}

    assert client.usergroups_users_list(usergroup="S1")["users"] == ["U1", "U2"]
    fake.set_usergroup_users("S1", ["U2"])
    assert client.usergroups_users_list(usergroup="S1")["users"] == ["U2"]
    err = error_of(lambda: client.usergroups_users_list(usergroup="S404"))
    assert err.response["error"] == "no_such_subteam"


# ---------------------------------------------------------------- views


def test_views_open_trigger_lifecycle(
    fake: FakeSlack, client: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    trigger = fake.new_trigger_id()
    opened = client.views_open(trigger_id=trigger, view=modal())
    view = opened["view"]
    assert view["id"].startswith("V") and view["hash"] and view["root_view_id"] == view["id"]
    assert view["callback_id"] == "access_request" and view["type"] == "modal"
    assert fake.view(view["id"])["title"]["text"] == "Request access"
    assert fake.calls_to("views.open")[0]["args"]["view"] == modal()

    def open_error(trigger_id: str, view: dict[str, Any] | None = None) -> str:
        call = lambda: client.views_open(trigger_id=trigger_id, view=view or modal())  # noqa: E731
        return error_of(call).response["error"]

    assert open_error(trigger) == "exchanged_trigger_id"
    assert open_error("123.456.abcdef") == "invalid_trigger_id"

    stale = fake.new_trigger_id()
    now = fake.clock()
    monkeypatch.setattr(fake, "clock", lambda: now + TRIGGER_TTL_SECONDS + 0.1)
    assert open_error(stale) == "expired_trigger_id"


INVALID_VIEWS = {
    "title_25_chars": modal(title="T" * 25),
    "submit_25_chars": modal(submit={"type": "plain_text", "text": "S" * 25}),
    "wrong_type": {**modal(), "type": "home"},
    "no_title": {k: v for k, v in modal().items() if k != "title"},
    "too_many_blocks": modal(blocks=[section(str(i)) for i in range(101)]),
    "private_metadata_3001": modal(private_metadata="m" * 3001),
    "callback_id_256": modal(callback_id="c" * 256),
    "input_without_submit": {
        **{k: v for k, v in modal().items() if k != "submit"},
        "blocks": [
            {
                "type": "input",
                "block_id": "reason",
                "label": {"type": "plain_text", "text": "Reason"},
                "element": {"type": "plain_text_input", "action_id": "reason"},
            }
        ],
    },
}


@pytest.mark.parametrize("view", INVALID_VIEWS.values(), ids=INVALID_VIEWS.keys())
def test_views_open_validates_view(shared_fake: FakeSlack, view: Any) -> None:
    client = WebClient(token=TOKEN, base_url=shared_fake.api_url)
    trigger = shared_fake.new_trigger_id()
    err = error_of(lambda: client.views_open(trigger_id=trigger, view=view))
    assert err.response["error"] == "invalid_arguments"
    assert err.response["response_metadata"]["messages"]


def test_views_update_hash_and_not_found(fake: FakeSlack, client: WebClient) -> None:
    view = client.views_open(trigger_id=fake.new_trigger_id(), view=modal())["view"]
    loaded = modal(title="Loaded", blocks=[section("3 deployments")])
    updated = client.views_update(view_id=view["id"], hash=view["hash"], view=loaded)["view"]
    assert updated["id"] == view["id"] and updated["hash"] != view["hash"]
    assert "3 deployments" in text_of(fake.view(view["id"]))

    stale = error_of(
        lambda: client.views_update(view_id=view["id"], hash=view["hash"], view=loaded)
    )
    assert stale.response["error"] == "hash_conflict"
    missing = error_of(lambda: client.views_update(view_id="V404", view=loaded))
    assert missing.response["error"] == "not_found"

    with_ext = client.views_open(trigger_id=fake.new_trigger_id(), view=modal(external_id="req-1"))[
        "view"
    ]
    by_ext = client.views_update(
        external_id="req-1", view=modal(title="By ext", external_id="req-1")
    )
    assert by_ext["view"]["id"] == with_ext["id"]
    dup = error_of(
        lambda: client.views_open(trigger_id=fake.new_trigger_id(), view=modal(external_id="req-1"))
    )
    assert dup.response["error"] == "duplicate_external_id"


def test_views_publish_home(fake: FakeSlack, client: WebClient) -> None:
    home = {"type": "home", "blocks": [section("Your active grants: none")]}
    first = client.views_publish(user_id="U1", view=home)["view"]
    assert first["type"] == "home"
    assert "active grants" in text_of(fake.home_view("U1"))
    second = client.views_publish(
        user_id="U1", view={"type": "home", "blocks": [section("1 grant")]}
    )["view"]
    assert second["id"] == first["id"]
    assert text_of(fake.home_view("U1")) == "1 grant"
    assert fake.home_view("U2") is None

    conflict = error_of(lambda: client.views_publish(user_id="U1", view=home, hash=first["hash"]))
    assert conflict.response["error"] == "hash_conflict"
    as_modal = error_of(lambda: client.views_publish(user_id="U1", view=modal()))
    assert as_modal.response["error"] == "invalid_arguments"
    unknown = error_of(lambda: client.views_publish(user_id="U404", view=home))
    assert unknown.response["error"] == "invalid_arguments"


# ---------------------------------------------------------------- fault injection


def test_script_429_then_success_with_retry_handler(
    fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(builtin_handlers, "time", types.SimpleNamespace(sleep=slept.append))
    client = WebClient(
        token=TOKEN,
        base_url=fake.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )
    fake.script(
        "chat.postMessage",
        429,
        {"ok": False, "error": "ratelimited"},
        headers={"Retry-After": "0"},
        times=2,
    )

    resp = client.chat_postMessage(channel="U1", text="eventually")
    assert resp["ok"] and len(slept) == 2
    assert len(fake.calls_to("chat.postMessage")) == 3
    # Scripted replies change no state: only the final success was delivered.
    assert [m["text"] for m in fake.messages_to("U1")] == ["eventually"]


def test_script_without_retry_surfaces_error(fake: FakeSlack, client: WebClient) -> None:
    fake.script("usergroups.users.list", body={"ok": False, "error": "plan_upgrade_required"})
    fake.script("users.info", 500)
    fake.script("chat.postMessage", 429)

    err = error_of(lambda: client.usergroups_users_list(usergroup="S1"))
    assert err.response["error"] == "plan_upgrade_required"
    err = error_of(lambda: client.users_info(user="U1"))
    assert err.response.status_code == 500 and err.response["error"] == "fatal_error"
    err = error_of(lambda: client.chat_postMessage(channel="U1", text="x"))
    assert err.response.status_code == 429 and err.response.headers["Retry-After"] == "0"
    # Each script was used once; normal behaviour resumes.
    assert client.users_info(user="U1")["user"]["id"] == "U1"
    assert fake.messages_to("U1") == []


def test_calls_are_recorded_in_order_and_reset(fake: FakeSlack, client: WebClient) -> None:
    client.auth_test()
    client.users_info(user="U1")
    calls = fake.calls
    assert [c["method"] for c in calls] == ["auth.test", "users.info"]
    assert calls[0]["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert calls[0]["time"] <= calls[1]["time"]
    fake.reset()
    assert fake.calls == []
    assert fake.add_user("U3")["id"] == "U3"


def test_wait_for(fake: FakeSlack) -> None:
    assert fake.wait_for(lambda: 42) == 42
    with pytest.raises(AssertionError, match="no DM for U1"):
        fake.wait_for(lambda: fake.messages_to("U1"), timeout=0.05, message="no DM for U1")


# ---------------------------------------------------------------- files and webhooks


def test_files_upload_v2_round_trip(fake: FakeSlack, client: WebClient) -> None:
    dm = client.conversations_open(users="U1")["channel"]["id"]
    resp = client.files_upload_v2(
        channel=dm,
        filename="audit.csv",
        title="Audit log",
        content="id,user\n1,U1\n",
        initial_comment="Here is the audit",
    )
    assert resp["file"]["title"] == "Audit log"
    [uploaded] = fake.uploaded_files()
    assert uploaded == {
        "file_id": resp["file"]["id"],
        "filename": "audit.csv",
        "title": "Audit log",
        "channel_id": dm,
        "content": b"id,user\n1,U1\n",
        "initial_comment": "Here is the audit",
    }
    assert [c["method"] for c in fake.calls[-2:]] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    err = error_of(lambda: client.files_completeUploadExternal(files=[{"id": "F404"}]))
    assert err.response["error"] == "file_not_found"


def test_webhook_capture(fake: FakeSlack) -> None:
    def post(url: str, body: dict[str, Any]) -> int:
        req = urllib.request.Request(
            url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    url = fake.webhook_url("cmd")
    assert url.startswith(fake.base_url + "/webhook/")
    assert post(url, {"text": "Request sent", "response_type": "ephemeral"}) == 200
    assert post(fake.webhook_url("other"), {"text": "elsewhere"}) == 200
    assert fake.webhook_posts("cmd") == [{"text": "Request sent", "response_type": "ephemeral"}]
    assert len(fake.webhook_posts()) == 2
    # A response_url works five times.
    assert [post(url, {"text": str(i)}) for i in range(5)] == [200, 200, 200, 200, 404]
    assert len(fake.webhook_posts("cmd")) == 5


def test_response_url_posts_are_validated_like_chat_post_message(fake: FakeSlack) -> None:
    def post(body: Any) -> tuple[int, Any]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(
            fake.webhook_url("cmd"), data=data, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    refused = {
        "no_text": {"response_type": "ephemeral"},
        "invalid_blocks": {"text": "t", "blocks": [section("x" * 3001)]},
        "invalid_payload": {"text": "t", "response_type": "everyone"},
    }
    for code, body in refused.items():
        status, answer = post(body)
        assert (status, answer["ok"], answer["error"]) == (400, False, code), body
    assert post({"text": "t", "replace_original": "yes"})[1]["error"] == "invalid_payload"
    assert post(b"not json")[1]["error"] == "invalid_payload"
    assert fake.webhook_posts("cmd") == []
    assert [r["error"]["error"] for r in fake.webhook_refusals("cmd")] == [
        "no_text",
        "invalid_blocks",
        "invalid_payload",
        "invalid_payload",
        "invalid_payload",
    ]
    good = [
        {"text": "Request sent", "response_type": "ephemeral", "replace_original": False},
        {"text": "t", "blocks": [{"type": "actions", "elements": [button("a")]}]},
        {"delete_original": True},  # deleting needs no content
    ]
    assert [post(body)[0] for body in good] == [200, 200, 200]
    assert fake.webhook_posts("cmd") == good


def command_answer(body: Any, content_type: str = "application/json") -> list[str]:
    return answer_errors("command", json.dumps(body), content_type)


def test_slash_command_answers_are_messages() -> None:
    assert answer_errors("command", "", "text/plain") == []
    assert answer_errors("command", "Working on it", "text/plain; charset=utf-8") == []
    assert command_answer({"response_type": "ephemeral", "text": "Usage: …"}) == []
    assert command_answer({"response_type": "in_channel", "blocks": [section("hi")]}) == []
    assert command_answer({"response_type": "public", "text": "x"})
    assert command_answer({"response_type": "ephemeral"}) == ["no_text"]
    [bad] = command_answer({"text": "t", "blocks": [section("")]})
    assert "json-pointer:/blocks/0/text/text" in bad
    assert answer_errors("command", "{not json", "application/json")


def test_view_submission_answers_name_the_view_s_input_blocks() -> None:
    view = modal(
        blocks=[
            section("Pick a duration"),
            {**section("Who"), "block_id": "who"},
            input_block("duration", select("duration", ["1h"])),
            input_block("reason", text_input("reason")),
        ]
    )

    def answer(body: Any) -> list[str]:
        return answer_errors("view_submission", json.dumps(body), "application/json", view=view)

    assert answer_errors("view_submission", "", "text/plain", view=view) == []  # closes
    assert answer({"response_action": "errors", "errors": {"reason": "Say why."}}) == []
    assert answer({"response_action": "clear"}) == []
    assert answer({"response_action": "update", "view": modal()}) == []
    [unknown] = answer({"response_action": "errors", "errors": {"justification": "Say why."}})
    assert "'justification'" in unknown
    assert answer({"response_action": "errors", "errors": {"who": "Not an input."}})
    assert answer({"response_action": "errors", "errors": {"reason": ""}})
    assert answer({"response_action": "errors", "errors": {}})
    assert answer({"response_action": "close"})
    assert answer({"errors": {"reason": "Say why."}})
    assert answer({"response_action": "push", "view": modal(title="T" * 25)})
    assert answer_errors("view_submission", "Say why.", "text/plain", view=view)


def test_type_ahead_answers_are_option_lists() -> None:
    def answer(body: Any) -> list[str]:
        return answer_errors("block_suggestion", json.dumps(body), "application/json")

    assert answer({"options": []}) == []
    assert answer({"options": [option("d" * 150, "L" * 75) for _ in range(100)]}) == []
    groups = [{"label": plain("Deployments"), "options": [option("prod")]}]
    assert answer({"option_groups": groups}) == []
    assert answer({"options": [option(str(i)) for i in range(101)]})
    assert answer({"options": [option("v", "L" * 76)]})
    assert answer({"options": [option("v" * 151)]})
    assert answer({"options": [{"text": {"type": "mrkdwn", "text": "*prod*"}, "value": "p"}]})
    assert answer({"options": [{"text": plain("prod")}]})
    assert answer({"text": "no options"})
    assert answer_errors("block_suggestion", "", "text/plain")
    # Slack ignores what a click's acknowledgement says.
    assert answer_errors("block_actions", "anything", "text/plain") == []


def test_the_harness_refuses_answers_slack_would_refuse() -> None:
    from tests.harness import _as_slack_takes_it

    view = modal(blocks=[input_block("reason", text_input("reason"))])
    good = httpx.Response(200, json={"response_action": "errors", "errors": {"reason": "x"}})
    assert _as_slack_takes_it(good, "view_submission", view) is good
    bad = httpx.Response(200, json={"response_action": "errors", "errors": {"resource": "x"}})
    with pytest.raises(AssertionError, match="no input block with block_id 'resource'"):
        _as_slack_takes_it(bad, "view_submission", view)
    # Only a 200 is an answer; the status is the test's to check.
    assert _as_slack_takes_it(httpx.Response(401, text="x"), "view_submission", view)


def test_bolt_app_starts_against_fake(fake: FakeSlack, client: WebClient) -> None:
    from slack_bolt import App

    App(client=client, signing_secret="secret")
    assert fake.calls_to("auth.test")


# ---------------------------------------------------------------- helpers


def test_text_of_flattens_blocks() -> None:
    msg = {
        "text": "fallback",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Access request"}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*Ada*"},
                "fields": [{"type": "mrkdwn", "text": "Role: admin"}],
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "expires in 1h"}]},
            {"type": "actions", "elements": [button("approve"), button("deny", "Deny")]},
        ],
    }
    flat = text_of(msg)
    for part in ("fallback", "Access request", "*Ada*", "Role: admin", "expires in 1h", "Deny"):
        assert part in flat
    assert "approve" not in flat  # action ids are not text


def test_works_without_fixtures() -> None:
    with FakeSlack() as fake:
        fake.add_user("U1")
        client = WebClient(token=TOKEN, base_url=fake.api_url)
        assert client.chat_postMessage(channel="U1", text="hi")["channel"] == fake.dm_channel("U1")
        no_text = error_of(lambda: client.api_call("chat.postMessage", json={"channel": "U1"}))
        assert no_text.response["error"] == "no_text"
        err = error_of(lambda: client.api_call("usergroups.users.list"))
        assert err.response["error"] == "invalid_arguments"


# ---------------------------------------------------------------- checks against the fixtures


def _spec(method: str) -> dict[str, Any]:
    return json.loads((METHODS_DIR / f"{method}.json").read_text(encoding="utf-8"))


@needs_fixtures
@pytest.mark.parametrize("method", sorted(m for m in ERROR_CODES if not m.startswith("files.")))
def test_error_codes_are_documented(method: str) -> None:
    """Every code the fake can return for a method is in Slack's table for it."""
    documented = set(_spec(method).get("errors") or {})
    assert ERROR_CODES[method] - documented - GENERIC_ERRORS == set()


@needs_fixtures
@pytest.mark.parametrize("method", sorted(m for m in ERROR_CODES if not m.startswith("files.")))
def test_required_args_come_from_fixtures(method: str) -> None:
    fake = FakeSlack(METHODS_DIR)
    required = [a for a in _spec(method)["args"]["required"] if a != "token"]
    assert list(fake.required_args(method)) == required
    for arg in required:
        code = fake.missing_arg_error(method, arg)
        assert code == "invalid_arguments" or code in _spec(method)["errors"]


@needs_fixtures
def test_missing_arg_errors_match_fixture_tables(fake: FakeSlack, client: WebClient) -> None:
    assert fake.missing_arg_error("chat.postMessage", "channel") == "channel_not_found"
    assert fake.missing_arg_error("conversations.open", "users") == "users_list_not_supplied"
    err = error_of(lambda: client.api_call("users.info"))
    assert err.response["error"] == "user_not_found"
    err = error_of(lambda: client.api_call("usergroups.users.list"))
    assert err.response["error"] == "invalid_arguments"
    assert err.response["response_metadata"]["messages"] == [
        "[ERROR] missing required field: usergroup"
    ]


@needs_fixtures
def test_success_shapes_cover_fixture_examples(fake: FakeSlack, client: WebClient) -> None:
    """Our replies carry at least the top-level keys of each documented success example."""
    fake.add_usergroup("S1", "approvers", ["U1"])
    fake.add_channel("C1")
    replies = {
        "auth.test": client.auth_test(),
        "chat.postMessage": client.chat_postMessage(channel="U1", text="x"),
        "conversations.open": client.conversations_open(users="U2"),
        "users.info": client.users_info(user="U1"),
        "users.lookupByEmail": client.users_lookupByEmail(email="ada@example.com"),
        "usergroups.list": client.usergroups_list(),
        "usergroups.users.list": client.usergroups_users_list(usergroup="S1"),
        "views.open": client.views_open(trigger_id=fake.new_trigger_id(), view=modal()),
        "views.publish": client.views_publish(user_id="U1", view={"type": "home", "blocks": []}),
        "chat.postEphemeral": client.chat_postEphemeral(channel="C1", user="U1", text="x"),
    }
    for method, reply in replies.items():
        example = _spec(method)["examples"]["success"]["example"]
        assert set(example) <= set(reply.data), method
        for key in ("user", "view"):
            if isinstance(example.get(key), dict):
                missing = set(example[key]) - set(reply[key])
                assert missing == set(), (method, missing)
