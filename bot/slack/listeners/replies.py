"""A message only the person who acted sees, wherever Slack lets the bot put it."""

from __future__ import annotations

import json
import logging

from slack_bolt import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.slack import blocks

log = logging.getLogger(__name__)


def tell(body: dict, respond: Respond, client: WebClient, text: str) -> None:
    """Next to what they clicked or typed (the payload's response URL), or where the form
    they submitted was opened from, or else in a DM. Never raises: a reply that cannot be
    sent is logged."""
    replace = {"replace_original": False} if body.get("type") == "block_actions" else {}
    try:
        if body.get("response_url"):
            respond(text=text, response_type="ephemeral", **replace, **blocks.NO_UNFURL)
            return
        url = _form_origin(body)
        if url:
            WebhookClient(url).send(
                text=text, response_type="ephemeral", replace_original=False, **blocks.NO_UNFURL
            )
            return
        user_id = (body.get("user") or {}).get("id") or body.get("user_id")
        if user_id:
            client.chat_postMessage(channel=user_id, text=text, **blocks.NO_UNFURL)
    except (SlackApiError, OSError) as exc:
        log.warning("a private reply could not be sent: %s", exc)


def _form_origin(body: dict) -> str | None:
    """The response URL of the message a form was opened from, if the form carries it."""
    try:
        url = json.loads((body.get("view") or {}).get("private_metadata") or "{}")["response_url"]
    except (ValueError, KeyError, TypeError):
        return None
    return url if isinstance(url, str) and url else None
