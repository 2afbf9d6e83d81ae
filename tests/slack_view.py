"""What the tests read off the fake Slack: the buttons on a message, the approval cards and
the direct messages someone was sent."""

from __future__ import annotations

from bot.standins.slack.text import text_of
from tests.harness import REQUESTER


def buttons(message) -> list[str]:
    """The action IDs of the buttons on ``message``."""
    return [
        e.get("action_id")
        for b in message.get("blocks", [])
        if b.get("type") == "actions"
        for e in b["elements"]
    ]


def cards(slack, user, action="approve"):
    """The messages to ``user`` that carry an ``action`` button."""
    return [m for m in slack.messages_to(user) if action in buttons(m)]


def dms(slack, user: str = REQUESTER) -> list[str]:
    """The text of every message ``user`` was sent."""
    return [text_of(m) for m in slack.messages_to(user)]
