"""Request again (on the DM about a request that ended): the form, filled in from it."""

from __future__ import annotations

import logging

from slack_bolt import Ack, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.blocks import replies
from bot.slack.listeners.actions.decisions import clicked
from bot.slack.listeners.replies import tell
from bot.slack.listeners.request_form import open_request_form

log = logging.getLogger(__name__)


def open_again_form(ack: Ack, body: dict, respond: Respond, client: WebClient, runtime) -> None:
    """Only opens a form: nothing is filed until its requester submits it, and the submit is
    checked like any other. The button names only a request ID; the core answers for the
    request's own requester alone (anyone else: not found), and fills in the resource and
    role only where they may still request them."""
    ack()
    target = clicked(body)
    if target is None:
        return
    user_id = body["user"]["id"]
    request, resource, roles = runtime.service.request_again(target[0], user_id)
    try:
        open_request_form(
            client,
            runtime,
            body["trigger_id"],
            {},
            user_id,
            resource=resource,
            roles=roles,
            role=request.role_id if request.role_id in roles else None,
            duration=request.duration,
            justification=request.justification,
        )
    except SlackApiError as exc:
        log.warning("request form failed to open again: %s", exc.response.get("error"))
        tell(body, respond, client, replies.REQUEST_AGAIN_FORM_TOO_SLOW)
