"""``/elastic-access``: the answer is the ack part; filing, extending, revoking and exporting
are its lazy part."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.listeners.commands.elastic_access import act, answer
from bot.slack.listeners.errors import after_ack

COMMAND = "/elastic-access"


def register(app: App) -> None:
    app.command(COMMAND)(ack=after_ack(answer), lazy=[act])
