"""Events API: the App Home tab, and people who change (leavers)."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.listeners.events.app_home_opened import home_opened
from bot.slack.listeners.events.user_change import recheck, user_changed


def register(app: App) -> None:
    app.event("app_home_opened")(home_opened)
    app.event("user_change")(ack=user_changed, lazy=[recheck])
