"""Approve, the extension buttons, Revoke now, Acknowledge (a parked revocation): a button
whose value is ``<request id>[:<extension asked>]``. The clicker acts as themselves."""

from __future__ import annotations

from slack_bolt import Ack, Respond
from slack_sdk import WebClient

from bot.slack.blocks import replies
from bot.slack.listeners.replies import tell


def clicked(body: dict) -> tuple[int, int | None] | None:
    """The request a button was made for, and the extension asked (if the card says)."""
    value = str(((body.get("actions") or [{}])[0]).get("value", ""))
    request_id, _, asked = value.partition(":")
    if not request_id.isdigit():
        return None
    return int(request_id), int(asked) if asked.isdigit() else None


def take_click(ack: Ack, body: dict, later) -> None:
    """The ack part: the lazy part decides, if the button names a request."""
    target = clicked(body)
    if target is not None:
        later(target)
    ack()


def approve(later, body: dict, runtime) -> None:
    request_id, _ = later.value
    runtime.service.decide(request_id, body["user"]["id"], approve=True)


def approve_extension(later, body: dict, runtime) -> None:
    request_id, asked = later.value
    runtime.service.decide_extension(request_id, body["user"]["id"], approve=True, asked=asked)


def deny_extension(later, body: dict, runtime) -> None:
    request_id, asked = later.value
    runtime.service.decide_extension(request_id, body["user"]["id"], approve=False, asked=asked)


def revoke_now(later, body: dict, respond: Respond, client: WebClient, runtime) -> None:
    request_id, _ = later.value
    request = runtime.service.revoke(request_id, body["user"]["id"])
    tell(body, respond, client, replies.revoked(request))


def acknowledge_parked(later, body: dict, respond: Respond, client: WebClient, runtime) -> None:
    request_id, _ = later.value
    said = runtime.service.acknowledge_parked(request_id, body["user"]["id"])
    tell(body, respond, client, said)
