"""The Deny form: the reason."""

from __future__ import annotations

from slack_bolt import Ack

from bot.access.errors import AccessError
from bot.access.limits import check_reason
from bot.slack.action_ids import Field
from bot.slack.blocks import replies
from bot.slack.listeners.views.fields import inline, metadata, value, values


def check_denial(ack: Ack, body: dict, view: dict, runtime, later) -> None:
    """The ack part: the reason's length, and whether the clicker may still decide."""
    try:
        request_id = int(metadata(view)["request_id"])
    except (ValueError, KeyError, TypeError):
        ack(response_action="errors", errors={Field.REASON: replies.DENY_FORM_OUT_OF_DATE})
        return
    reason = value(values(view), Field.REASON).strip() or None
    try:
        check_reason(reason)
        runtime.service.decidable(request_id, body["user"]["id"])
    except AccessError as exc:
        ack(response_action="errors", errors={Field.REASON: inline(exc)})
        return
    later((request_id, reason))
    ack()


def deny(later, body: dict, runtime) -> None:
    request_id, reason = later.value
    runtime.service.decide(request_id, body["user"]["id"], approve=False, reason=reason)
