"""Bolt listeners: ``<kind>/<name>.py``, each a module-level ack part and, for slow work, a
lazy part; ``<kind>/__init__.py`` registers them.

A listener parses what Slack sent, calls the service, and renders the answer. It reaches the
runtime through Bolt's ``context`` (a ``runtime`` argument, put there by one global
middleware); slow work (filing, deciding, revoking, extending, exporting) is Bolt's lazy
part, run after the ack on the runtime's work pool (:mod:`bot.slack.listeners.wiring`). One
error handler (:mod:`bot.slack.listeners.errors`) answers every refusal and failure.
"""

from __future__ import annotations

from slack_bolt import App

from bot.slack.listeners import actions, commands, events, options, views
from bot.slack.listeners.errors import on_error
from bot.slack.listeners.wiring import wire


def register(app: App, runtime) -> None:
    wire(app, runtime)
    app.error(on_error)
    for kind in (commands, actions, views, options, events):
        kind.register(app)
