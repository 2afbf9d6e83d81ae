"""The views opened from a click or a command: the request form, the deny reason and the
extension form. Titles, buttons and option texts stay within Slack's limits (titles ≤ 24
characters, option text ≤ 75)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from bot.access.durations import format_duration, parse_duration
from bot.access.limits import JUSTIFICATION_LIMIT, REASON_LIMIT
from bot.access.model import AccessRequest
from bot.access.resources import Resource, ResourceKind, role_label, roles_for
from bot.access.vocabulary import PROJECT_TYPES
from bot.slack.action_ids import Action, Field, View
from bot.slack.blocks.format import Blocks, context, option, plain, section, summary_fields, when

DURATION_PRESETS = ("15m", "30m", "1h", "2h", "4h", "8h", "12h", "1d", "3d", "7d")


def resource_option(resource: Resource, stack_roles: Sequence[str] = ()) -> dict[str, Any]:
    """A resource in the type-ahead; ``stack_roles``, the stack roles the person typed
    part of, are named first (``marketing-reader on search-prod``): picking it offers them."""
    if stack_roles:
        return option(_cut(f"{', '.join(stack_roles)} on {resource.name}", resource), resource.key)
    return option(resource.label, resource.key)


def _cut(text: str, resource: Resource, limit: int = 75) -> str:
    """``text`` then the resource's kind, within Slack's option text limit."""
    kind = f" ({resource.project_type} project)" if resource.project_type else ""
    if len(text) + len(kind) > limit:
        text = text[: limit - len(kind) - 1] + "…"
    return text + kind


def _role_option(role: str, resource: Resource | None = None) -> dict[str, Any]:
    """A Cloud role as ``Viewer (deployment-viewer)``; a stack role as ``marketing-reader on
    search-prod (stack role)``."""
    if resource is not None and role not in resource.roles():
        text = f"{role} on {resource.name}"
        if len(text) > 62:
            text = text[:61] + "…"
        return option(f"{text} (stack role)", role)
    return option(f"{role_label(role)} ({role})", role)


def _role_options(
    resource: Resource | None, roles: Sequence[str] | None = None, role: str | None = None
) -> dict[str, Any]:
    """The role select's options: ``roles`` (those the person may request) on ``resource``,
    ``role`` chosen when it is one of them; every kind's roles before a resource is picked."""
    if resource is not None:
        offered = list(resource.roles() if roles is None else roles)
        if not offered:  # Slack refuses a select without options; the submit explains
            offered = list(resource.roles())
        found: dict[str, Any] = {"options": [_role_option(r, resource) for r in offered]}
        if role in offered:
            found["initial_option"] = _role_option(role, resource)
        return found
    groups = [
        ("Organization", roles_for(ResourceKind.ORGANIZATION)),
        ("Deployments", roles_for(ResourceKind.DEPLOYMENT)),
    ]
    for project_type in PROJECT_TYPES:
        groups.append(
            (f"{project_type.capitalize()} projects", roles_for(ResourceKind.PROJECT, project_type))
        )
    return {
        "option_groups": [
            {
                "label": plain(label),
                "options": [option(f"{role_label(r)} ({r})", r) for r in roles],
            }
            for label, roles in groups
        ]
    }


def duration_options(
    max_duration: timedelta, default: timedelta
) -> tuple[list[dict[str, Any]], dict[str, Any]]:

    values = [p for p in DURATION_PRESETS if parse_duration(p) <= max_duration]
    for extra in (format_duration(default), format_duration(max_duration)):
        if extra not in values:
            values.append(extra)
    values.sort(key=lambda v: parse_duration(v))
    options = [option(v, v) for v in values]
    initial = next(o for o in options if o["value"] == format_duration(default))
    return options, initial


def _chosen_duration(
    max_duration: timedelta, default: timedelta, wanted: timedelta | None
) -> timedelta:
    """The form's initial duration: ``wanted`` (Request again) if policy still allows it."""
    if wanted is not None and timedelta(0) < wanted <= max_duration:
        return wanted
    return min(default, max_duration)


def request_modal(
    *,
    integration_name: str,
    access_details: str,
    max_duration: timedelta,
    default_duration: timedelta,
    resource: Resource | None = None,
    metadata: dict[str, Any] | None = None,
    break_glass: bool = False,
    roles: Sequence[str] | None = None,
    role: str | None = None,
    duration: timedelta | None = None,
    justification: str = "",
) -> dict[str, Any]:
    """The request form; ``break_glass`` adds the option to take the access at once (only
    where a policy rule allows it, which the submit checks). ``roles``: the roles the person
    may request on ``resource``. ``role``, ``duration`` and ``justification`` fill it in
    (Request again)."""
    chosen = _chosen_duration(max_duration, default_duration, duration)
    options, initial = duration_options(max_duration, chosen)
    blocks: Blocks = [
        section(
            f"Ask for time-bound access to *{integration_name}*. An approver gets a DM; "
            "the role is removed automatically when the time is up."
        ),
    ]
    if access_details:
        blocks.append(context(access_details))
    resource_element: dict[str, Any] = {
        "type": "external_select",
        "action_id": Action.RESOURCE,
        "placeholder": plain("Type a deployment or project name"),
        "min_query_length": 0,
    }
    if resource is not None:
        resource_element["initial_option"] = resource_option(resource)
    blocks += [
        {
            "type": "input",
            "block_id": Field.RESOURCE,
            "dispatch_action": True,
            "label": plain("Resource"),
            "element": resource_element,
        },
        {
            "type": "input",
            "block_id": Field.ROLE,
            "label": plain("Role"),
            "element": {
                "type": "static_select",
                "action_id": Field.ROLE,
                "placeholder": plain("Pick a role"),
            }
            | _role_options(resource, roles, role),
        },
        {
            "type": "input",
            "block_id": Field.DURATION,
            "label": plain("Duration"),
            "element": {
                "type": "static_select",
                "action_id": Field.DURATION,
                "options": options,
                "initial_option": initial,
            },
        },
        {
            "type": "input",
            "block_id": Field.JUSTIFICATION,
            "label": plain("Justification"),
            "element": {
                "type": "plain_text_input",
                "action_id": Field.JUSTIFICATION,
                "multiline": True,
                "max_length": JUSTIFICATION_LIMIT,
                "placeholder": plain("Why do you need this access? (a ticket, an incident)"),
            }
            | ({"initial_value": justification[:JUSTIFICATION_LIMIT]} if justification else {}),
        },
    ]
    if break_glass:
        blocks.append(
            {
                "type": "input",
                "block_id": Field.BREAK_GLASS,
                "optional": True,
                "label": plain("Emergency"),
                "element": {
                    "type": "checkboxes",
                    "action_id": Field.BREAK_GLASS,
                    "options": [
                        {
                            "text": plain("Break-glass: take it now, without approval"),
                            "description": plain(
                                "Only where policy allows it. The integration owners are "
                                "alerted and can revoke it."
                            ),
                            "value": "yes",
                        }
                    ],
                },
            }
        )
    return {
        "type": "modal",
        "callback_id": View.REQUEST_ACCESS,
        "title": plain("Request access", 24),
        "submit": plain("Request", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps(metadata or {})[:3000],
        "blocks": blocks,
    }


def deny_modal(request: AccessRequest, metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": View.DENY_REASON,
        "title": plain(f"Deny {request.ref}", 24),
        "submit": plain("Deny", 24),
        "close": plain("Back", 24),
        "private_metadata": json.dumps(metadata)[:3000],
        "blocks": [
            summary_fields(request),
            {
                "type": "input",
                "block_id": Field.REASON,
                "optional": True,
                "label": plain("Reason (sent to the requester)"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": Field.REASON,
                    "multiline": True,
                    "max_length": REASON_LIMIT,
                },
            },
        ],
    }


def extend_modal(request: AccessRequest, max_left: timedelta, default: timedelta) -> dict[str, Any]:
    options, initial = duration_options(max_left, min(default, max_left))
    return {
        "type": "modal",
        "callback_id": View.EXTEND_GRANT,
        "title": plain(f"Extend {request.ref}", 24),
        "submit": plain("Ask", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps({"request_id": request.id}),
        "blocks": [
            summary_fields(request),
            context(f"Ends {when(request.expires_at)}. At most {format_duration(max_left)} more."),
            {
                "type": "input",
                "block_id": Field.DURATION,
                "label": plain("More time"),
                "element": {
                    "type": "static_select",
                    "action_id": Field.DURATION,
                    "options": options,
                    "initial_option": initial,
                },
            },
            {
                "type": "input",
                "block_id": Field.REASON,
                "label": plain("Why do you need more time?"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": Field.REASON,
                    "multiline": True,
                    "max_length": REASON_LIMIT,
                },
            },
        ],
    }
