"""The resource picker's type-ahead, from the cached catalogue (no Elastic call)."""

from __future__ import annotations

from slack_bolt import Ack

from bot.slack import blocks


def resource_options(ack: Ack, payload: dict, body: dict, runtime) -> None:
    """Only someone who may request sees the organization's resource names."""
    user_id = (body.get("user") or {}).get("id", "")
    if runtime.service.refusal_to_request(user_id):
        ack(options=[])
        return
    found = runtime.catalogue.search(payload.get("value", ""), limit=100)
    ack(options=[blocks.resource_option(r) for r in found])
