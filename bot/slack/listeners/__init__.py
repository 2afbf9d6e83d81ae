"""Bolt listeners, one module per kind. Each parses, acks within 3 s, calls the core, renders."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.listeners import actions, commands, events, options, views


def register(app: App, runtime) -> None:
    for module in (commands, actions, views, options, events):
        module.register(app, runtime)
