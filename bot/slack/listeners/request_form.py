"""Opening the request form, from the slash command or the App Home button."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.access.errors import NotAllowed
from bot.slack import blocks


def open_request_form(client: WebClient, runtime, trigger_id: str, metadata: dict, user_id: str):
    """Open the form (the trigger lasts 3 s), or raise :class:`NotAllowed` saying why
    ``user_id`` may not request at all: the form's picker lists the organization's resources,
    which a guest must not browse. The check is one cached directory lookup, so the trigger
    is still fresh."""
    refusal = runtime.service.refusal_to_request(user_id)
    if refusal:
        raise NotAllowed(refusal)
    policy = runtime.policy
    client.views_open(
        trigger_id=trigger_id,
        view=blocks.request_modal(
            integration_name=policy.integration_name,
            access_details=policy.access_details,
            max_duration=policy.max_duration,
            default_duration=policy.default_duration,
            metadata=metadata,
            break_glass=policy.rules.any_break_glass,
        ),
    )
