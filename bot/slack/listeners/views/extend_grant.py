"""The Extend form: how much more time, and why."""

from __future__ import annotations

from slack_bolt import Ack, Respond
from slack_sdk import WebClient

from bot.access.durations import DurationError, parse_duration
from bot.access.errors import AccessError, InvalidRequest
from bot.slack.action_ids import Field
from bot.slack.blocks import replies
from bot.slack.listeners.replies import tell
from bot.slack.listeners.views.fields import inline, metadata, value, values


def check_extension(ack: Ack, body: dict, view: dict, runtime, later) -> None:
    """The ack part: the core's quick checks, so a bad form shows its errors inline."""
    state = values(view)
    try:
        request_id = int(metadata(view)["request_id"])
        duration = parse_duration(value(state, Field.DURATION))
    except (ValueError, KeyError, TypeError, DurationError):
        ack(response_action="errors", errors={Field.DURATION: replies.PICK_MORE_TIME})
        return
    reason = value(state, Field.REASON)
    try:
        runtime.service.check_extension(request_id, body["user"]["id"], duration, reason)
    except InvalidRequest as exc:
        field = exc.field if exc.field in (Field.DURATION, Field.REASON) else Field.DURATION
        ack(response_action="errors", errors={field: inline(exc)})
        return
    except AccessError as exc:
        ack(response_action="errors", errors={Field.REASON: inline(exc)})
        return
    later((request_id, duration, reason))
    ack()


def extend(later, body: dict, respond: Respond, client: WebClient, runtime) -> None:
    """The lazy part: extended at once, or sent to the approvers (who tell the requester)."""
    request_id, duration, reason = later.value
    request = runtime.service.request_extension(request_id, body["user"]["id"], duration, reason)
    if request.extension_seconds is None:
        ends = f"{request.expires_at:%Y-%m-%d %H:%M} UTC"
        tell(body, respond, client, f"{request.ref} extended: it now ends at {ends}.")
