"""Opening the request form, from the slash command, the App Home button or Request again."""

from __future__ import annotations

from datetime import timedelta

from slack_sdk import WebClient

from bot.access.errors import NotAllowed
from bot.access.resources import Resource
from bot.slack import blocks


def open_request_form(
    client: WebClient,
    runtime,
    trigger_id: str,
    metadata: dict,
    user_id: str,
    *,
    resource: Resource | None = None,
    roles: list[str] | None = None,
    role: str | None = None,
    duration: timedelta | None = None,
    justification: str = "",
):
    """Open the form (the trigger lasts 3 s), or raise :class:`NotAllowed` saying why
    ``user_id`` may not request at all: the form's picker lists the organization's resources,
    which a guest must not browse. The check is one cached directory lookup, so the trigger
    is still fresh. The keywords fill the form in (Request again): ``resource`` only as the
    core returned it for this person (one they may request on), with the ``roles`` they may
    request there."""
    refusal = runtime.service.refusal_to_request(user_id)
    if refusal:
        raise NotAllowed(refusal)
    # Break-glass is offered once a resource is picked, and only where a rule lets this
    # person take a role there at once (Request again has one already).
    break_glass = runtime.service.break_glass_offered(user_id, resource) if resource else False
    policy = runtime.policy
    client.views_open(
        trigger_id=trigger_id,
        view=blocks.request_modal(
            integration_name=policy.integration_name,
            access_details=policy.access_details,
            max_duration=policy.max_duration,
            default_duration=policy.default_duration,
            metadata=metadata,
            break_glass=break_glass,
            resource=resource,
            roles=roles,
            role=role,
            duration=duration,
            justification=justification,
        ),
    )
