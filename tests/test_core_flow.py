"""The whole path, for real: slash command → approval DM → click → role in Elastic → expiry."""

from __future__ import annotations

from datetime import timedelta

from bot.access.states import State
from bot.standins.slack.text import text_of
from tests.harness import OWNER, REQUESTER, STRANGER
from tests.slack_view import buttons

DEPLOYMENT = "d" * 32
ALICE = "1000000001"


def _card(slack, user):
    return slack.wait_for(
        lambda: [m for m in slack.messages_to(user) if "approve" in buttons(m)],
        message="approval card",
    )[0]


def test_request_approve_grant_expire(bot, slack, elastic):
    response = bot.command(
        REQUESTER, "request prod-search deployment-viewer 2h investigating INC-42"
    )
    assert response.status_code == 200

    card = _card(slack, OWNER)
    text = text_of(card)
    for expected in (
        "#1",
        f"<@{REQUESTER}>",
        "prod-search",
        "deployment-viewer",
        "2h",
        "investigating INC-42",
    ):
        assert expected in text
    # The requester is told where the request went; nobody else hears of it.
    slack.wait_for(lambda: any("submitted" in text_of(m) for m in slack.messages_to(REQUESTER)))
    assert slack.messages_to(STRANGER) == []
    assert ("deployment", "deployment-viewer", DEPLOYMENT) not in elastic.holdings(ALICE)

    assert bot.click(OWNER, "approve", "1", card).status_code == 200
    slack.wait_for(lambda: bot.state(1) is State.ACTIVE, message="grant active")
    assert ("deployment", "deployment-viewer", DEPLOYMENT) in elastic.holdings(ALICE)
    posts = elastic.calls_to("POST", "/role_assignments")
    assert len(posts) == 1
    assert posts[0]["body"] == {
        "deployment": [
            {
                "role_id": "deployment-viewer",
                "organization_id": "1234567890",
                "all": False,
                "deployment_ids": [DEPLOYMENT],
            }
        ]
    }
    # The card shows who decided and has no buttons any more.
    updated = slack.wait_for(
        lambda: (m := slack.message(card["channel"], card["ts"])) and not buttons(m) and m
    )
    assert f"<@{OWNER}>" in text_of(updated)
    granted = slack.wait_for(
        lambda: [m for m in slack.messages_to(REQUESTER) if "Access granted" in text_of(m)]
    )
    assert "company SSO" in text_of(granted[0])  # access_details reach the grantee

    bot.advance(timedelta(hours=2, seconds=1))
    slack.wait_for(lambda: bot.state(1) is State.EXPIRED, message="expired")
    assert ("deployment", "deployment-viewer", DEPLOYMENT) not in elastic.holdings(ALICE)
    deletes = elastic.calls_to("DELETE", "/role_assignments")
    assert len(deletes) == 1 and deletes[0]["body"] == posts[0]["body"]
    slack.wait_for(
        lambda: any("Access expired" in text_of(m) for m in slack.messages_to(REQUESTER))
    )
    assert elastic.spec_violations() == []
