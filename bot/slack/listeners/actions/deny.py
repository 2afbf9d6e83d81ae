"""Deny: a form for the reason, opened only for someone who may decide the request now."""

from __future__ import annotations

import logging

from slack_bolt import Ack
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack import blocks
from bot.slack.listeners.actions.decisions import clicked

log = logging.getLogger(__name__)


def open_deny_form(ack: Ack, body: dict, client: WebClient, runtime, later) -> None:
    """The ack part. If the form cannot open (a slow trigger), the lazy part denies without
    a reason rather than drop the click."""
    ack()
    target = clicked(body)
    if target is None:
        return
    request_id, _ = target
    request = runtime.service.decidable(request_id, body["user"]["id"])
    metadata = {"request_id": request_id, "response_url": body.get("response_url")}
    try:
        client.views_open(trigger_id=body["trigger_id"], view=blocks.deny_modal(request, metadata))
    except SlackApiError as exc:
        log.warning(
            "deny form failed to open (%s); denying without a reason", exc.response.get("error")
        )
        later(request_id)


def deny_without_reason(later, body: dict, runtime) -> None:
    runtime.service.decide(later.value, body["user"]["id"], approve=False)
