"""The request form."""

from __future__ import annotations

from slack_bolt import Ack

from bot.access.durations import DurationError, parse_duration
from bot.access.errors import InvalidRequest
from bot.access.text import clean
from bot.slack.action_ids import Field
from bot.slack.blocks import replies
from bot.slack.listeners.views.fields import checked, inline, value, values


def check_request(ack: Ack, view: dict, body: dict, runtime, later) -> None:
    """The ack part: the form's own checks (fields filled, catalogue, policy), cheap and
    local; who may ask and everything else is checked again when filing."""
    state = values(view)
    resource, role = value(state, Field.RESOURCE), value(state, Field.ROLE)
    justification = value(state, Field.JUSTIFICATION).strip()
    break_glass = checked(state, Field.BREAK_GLASS)
    errors: dict[str, str] = {}
    try:
        duration = parse_duration(value(state, Field.DURATION))
    except DurationError as exc:
        errors[Field.DURATION] = clean(str(exc))[:150]
    if not resource:
        errors[Field.RESOURCE] = replies.PICK_RESOURCE
    if not role:
        errors[Field.ROLE] = replies.PICK_ROLE
    if not justification:
        errors[Field.JUSTIFICATION] = replies.SAY_WHY
    if not errors:
        try:
            runtime.service.validate(
                resource,
                role,
                duration,
                justification,
                break_glass=break_glass,
                requester_id=(body.get("user") or {}).get("id"),
            )
        except InvalidRequest as exc:
            errors[exc.field or Field.RESOURCE] = inline(exc)
    if errors:
        ack(response_action="errors", errors=errors)
        return
    later((resource, role, duration, justification, break_glass))
    ack()


def file_request(later, body: dict, runtime) -> None:
    """The lazy part: the core files it and tells the requester and the approvers."""
    resource, role, duration, justification, break_glass = later.value
    runtime.service.file_request(
        body["user"]["id"], resource, role, duration, justification, break_glass=break_glass
    )
