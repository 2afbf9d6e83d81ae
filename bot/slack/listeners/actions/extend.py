"""Extend (on the requester's grant DM): the form, if they may ask for more time now."""

from __future__ import annotations

import logging

from slack_bolt import Ack, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack import blocks
from bot.slack.blocks import replies
from bot.slack.listeners.actions.decisions import clicked
from bot.slack.listeners.replies import tell

log = logging.getLogger(__name__)


def open_extend_form(ack: Ack, body: dict, respond: Respond, client: WebClient, runtime) -> None:
    ack()
    target = clicked(body)
    if target is None:
        return
    request, room = runtime.service.extension_form(target[0], body["user"]["id"])
    view = blocks.extend_modal(request, room, runtime.policy.default_duration)
    try:
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError as exc:
        log.warning("extend form failed to open: %s", exc.response.get("error"))
        tell(body, respond, client, replies.EXTEND_FORM_TOO_SLOW)
