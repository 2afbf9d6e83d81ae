"""A resource picked in the request form: the form again, with only its valid roles."""

from __future__ import annotations

import json
import logging

from slack_bolt import Ack
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.access.errors import AccessError
from bot.slack import blocks

log = logging.getLogger(__name__)


def resource_picked(ack: Ack, body: dict, client: WebClient, runtime) -> None:
    ack()
    view = body.get("view") or {}
    selected = (body["actions"][0].get("selected_option") or {}).get("value", "")
    policy = runtime.policy
    try:  # only a resource they may request on, and only the roles they may request there
        resource, roles = runtime.service.form_choices(body["user"]["id"], selected)
        break_glass = runtime.service.break_glass_offered(body["user"]["id"], resource)
    except AccessError:  # who they are, or their user groups, unknown now: the submit says
        resource, roles, break_glass = None, [], False
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        metadata = {}
    try:
        client.views_update(
            view_id=view["id"],
            hash=view.get("hash"),
            view=blocks.request_modal(
                integration_name=policy.integration_name,
                access_details=policy.access_details,
                max_duration=policy.max_duration,
                default_duration=policy.default_duration,
                resource=resource,
                roles=roles,
                metadata=metadata,
                break_glass=break_glass,
            ),
        )
    except SlackApiError as exc:  # hash_conflict: the user is typing; the submit re-checks
        log.info("views.update skipped: %s", exc.response.get("error"))
