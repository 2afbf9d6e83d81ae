"""`/elastic-access list` for auditors over real HTTP: filters, visibility, paging, export."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from bot.access.states import State
from bot.standins.slack.text import text_of
from tests.harness import OWNER, OWNER2, REQUESTER, STRANGER

OTHER = "U0OTHER01"


def seed(bot, slack, elastic, count=3):
    """``count`` requests by REQUESTER on prod-search and one by OTHER on staging-logs."""
    slack.add_user(OTHER, email="other@example.com", name="other")
    elastic.add_member("other@example.com", user_id="1000000009")
    roles = ("deployment-viewer", "deployment-admin", "deployment-editor")  # one open each
    for i in range(count):
        bot.file_request(REQUESTER, "prod-search", roles[i], timedelta(hours=1), f"INC-{i}")
        bot.clock.advance(timedelta(minutes=1))
    bot.file_request(OTHER, "staging-logs", "deployment-editor", timedelta(hours=1), "load test")


def lines(reply: dict) -> str:
    return text_of(reply)


def test_filters_combine(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER, OWNER2], auditors=[STRANGER])
    seed(bot, slack, elastic)
    bot.decide(1, OWNER, approve=True)
    bot.decide(2, OWNER, approve=False, reason="no")
    everything = lines(bot.command(OWNER, "list").json())
    assert "4 requests" in everything
    assert "1 request " in lines(bot.command(OWNER, "list active").json())
    assert "#1" in lines(bot.command(OWNER, "list active").json())
    pending = lines(bot.command(OWNER, "list pending").json())
    assert "#3" in pending and "#4" in pending and "#1" not in pending
    assert "#2" in lines(bot.command(OWNER, "list status:denied").json())
    by_other = lines(bot.command(OWNER, f"list <@{OTHER}|other>").json())
    assert "#4" in by_other and "#1" not in by_other
    on_staging = lines(bot.command(OWNER, "list staging-logs").json())
    assert "#4" in on_staging and "#3" not in on_staging
    editor = lines(bot.command(OWNER, "list deployment-editor").json())
    assert "#4" in editor and "#1" not in editor
    recent = lines(bot.command(OWNER, "list since:2m").json())
    assert "#4" in recent and "#1" not in recent
    assert "No requests" in lines(bot.command(OWNER, "list until:2001-01-01").json())
    assert "Unknown status 'nope'" in lines(bot.command(OWNER, "list status:nope").json())
    # An auditor sees everything too; a requester only their own.
    assert "4 requests" in lines(bot.command(STRANGER, "list").json())
    mine = lines(bot.command(OTHER, "list").json())
    assert "#4" in mine and "#1" not in mine


def test_resource_owners_see_requests_for_their_resources(make_bot, slack, elastic):
    bot = make_bot(
        integration_owners=[STRANGER], resource_owner={"tag_key": "owner", "attribute": "email"}
    )
    seed(bot, slack, elastic, count=1)  # prod-search is owned by owner1@example.com (OWNER)
    seen = lines(bot.command(OWNER, "list").json())
    assert "#1" in seen and "#2" not in seen
    assert "Only integration owners" in lines(bot.command(OWNER, "list all").json())


def test_paging_with_next_and_previous(bot, slack, elastic):
    slack.add_user(OTHER, email="other@example.com", name="other")
    for i in range(45):  # one person may have only a few open requests: 45 people ask
        slack.add_user(f"U0PAGE{i:02d}", email=f"page{i}@example.com")
        bot.file_request(
            f"U0PAGE{i:02d}", "prod-search", "deployment-viewer", timedelta(hours=1), f"INC-{i}"
        )
    first = bot.command(OWNER, "list pending").json()
    assert "45 requests" in text_of(first) and "page 1 of 3" in text_of(first)
    assert "#45" in text_of(first) and "#25" not in text_of(first)
    nav = next(b for b in first["blocks"] if b.get("block_id") == "list_pages")
    assert [e["action_id"] for e in nav["elements"]] == ["list_next"]
    payload = {
        "type": "block_actions",
        "user": {"id": OWNER},
        "team": {"id": "T0001"},
        "api_app_id": "A0APP",
        "token": "t",
        "trigger_id": slack.new_trigger_id(),
        "response_url": slack.webhook_url("page"),
        "container": {"type": "message", "message_ts": "1.1", "is_ephemeral": True},
        "actions": [
            {
                "action_id": "list_next",
                "block_id": "list_pages",
                "type": "button",
                "value": nav["elements"][0]["value"],
            }
        ],
    }
    assert bot.interact(payload).status_code == 200
    second = slack.wait_for(lambda: slack.webhook_posts("page"))[-1]
    assert second.get("replace_original") is True
    assert (
        "page 2 of 3" in text_of(second)
        and "#25" in text_of(second)
        and "#45" not in text_of(second)
    )
    buttons = [
        e["action_id"]
        for b in second["blocks"]
        if b.get("block_id") == "list_pages"
        for e in b["elements"]
    ]
    assert buttons == ["list_prev", "list_next"]
    assert len(json.dumps(first["blocks"])) < 40_000


def test_export_uploads_a_csv_to_the_auditors_dm(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER], auditors=[STRANGER])
    seed(bot, slack, elastic, count=2)
    bot.decide(1, OWNER, approve=True)
    bot.advance(timedelta(hours=2))
    reply = bot.command(STRANGER, "list export").json()
    assert "export" in reply["text"].lower()
    upload = slack.wait_for(lambda: slack.uploaded_files())[0]
    rows = list(csv.DictReader(io.StringIO(upload["content"].decode())))
    kinds = {(r["request_id"], r["kind"]) for r in rows}
    assert {("1", "requested"), ("1", "approved"), ("1", "granted"), ("1", "expired")} <= kinds
    assert upload["channel_id"].startswith("D")
    assert bot.state(1) is State.EXPIRED
    assert "all requests" in slack.messages_to(STRANGER)[-1]["text"]


def test_anyone_can_export_what_they_may_list_and_nothing_more(make_bot, slack, elastic):
    bot = make_bot(integration_owners=[OWNER], auditors=[STRANGER])
    seed(bot, slack, elastic, count=2)  # #1, #2 by REQUESTER; #3 by OTHER
    bot.decide(1, OWNER, approve=True)
    bot.decide(3, OWNER, approve=True)
    bot.command(REQUESTER, "list export")
    upload = slack.wait_for(lambda: slack.uploaded_files())[0]
    rows = list(csv.DictReader(io.StringIO(upload["content"].decode())))
    assert {r["request_id"] for r in rows} == {"1", "2"}
    assert {r["requester_id"] for r in rows} == {REQUESTER}
    assert "your requests" in slack.messages_to(REQUESTER)[-1]["text"]
    # Asking for everything is still refused, and nothing is uploaded.
    said = text_of(bot.command(REQUESTER, "list all export").json())
    assert "Only integration owners and auditors" in said
    assert len(slack.uploaded_files()) == 1
