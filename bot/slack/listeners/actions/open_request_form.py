"""Request access (the App Home button): the request form."""

from __future__ import annotations

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.slack.listeners.request_form import open_request_form


def open_form_from_home(ack: Ack, body: dict, client: WebClient, runtime) -> None:
    ack()
    open_request_form(client, runtime, body["trigger_id"], {}, body["user"]["id"])
