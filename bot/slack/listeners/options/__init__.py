"""Type-ahead answers."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.action_ids import Action
from bot.slack.listeners.options.resource import resource_options


def register(app: App) -> None:
    app.options(Action.RESOURCE)(resource_options)
