"""The resource picker's type-ahead, from the cached catalogue (no Elastic call)."""

from __future__ import annotations

from slack_bolt import Ack

from bot.access.errors import AccessError, NotAllowed
from bot.slack import blocks

#: What the picker offers when Slack could not say which rules the person may use: picking
#: it names no resource (the form says so), and typing again asks again.
UNAVAILABLE = "unavailable:slack"


def resource_options(ack: Ack, payload: dict, body: dict, runtime) -> None:
    """Only someone who may request sees the organization's resource names, and of those
    only the resources on which some ``[[policy]]`` rule lets them request a role; a project
    found by a stack role's name says which (``marketing-reader on search-prod``)."""
    user_id = (body.get("user") or {}).get("id", "")
    try:
        found = runtime.service.typeahead(user_id, payload.get("value", ""))
    except NotAllowed:
        ack(options=[])
        return
    except AccessError:  # Slack did not answer: say so, never "nothing you may request"
        ack(options=[blocks.option(blocks.TYPEAHEAD_UNAVAILABLE, UNAVAILABLE)])
        return
    ack(options=[blocks.resource_option(r, stack) for r, stack in found])
