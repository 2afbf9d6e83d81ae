"""What every surface shares: the Block Kit pieces (sections, plain text), people and times
as Slack shows them, and the few lines about a request that several surfaces repeat.

Text the bot did not write (justifications, reasons, resource labels, emails, Elastic's
errors) is escaped here, where it enters ``mrkdwn`` (:func:`bot.access.text.escape`), or
cleaned where it enters ``plain_text``; the core hands over raw values, so nothing is escaped
twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.access.durations import format_duration
from bot.access.model import AccessRequest
from bot.access.resources import access_label
from bot.access.states import State
from bot.access.text import clean, escape, summary
from bot.access.vocabulary import Actor

Blocks = list[dict[str, Any]]

STATE_EMOJI = {
    State.PENDING: ":hourglass_flowing_sand:",
    State.APPROVED: ":white_check_mark:",
    State.GRANTING: ":gear:",
    State.ACTIVE: ":large_green_circle:",
    State.REVOKING: ":gear:",
    State.REVOKED: ":no_entry:",
    State.EXPIRED: ":checkered_flag:",
    State.DENIED: ":x:",
    State.CANCELLED: ":heavy_multiplication_x:",
    State.FAILED: ":warning:",
    State.TIMED_OUT: ":zzz:",
}

#: On every message the bot posts: a link someone typed (a justification, a deployment name)
#: must not unfold into a preview that looks as if the bot vouched for it.
NO_UNFURL: dict[str, bool] = {"unfurl_links": False, "unfurl_media": False}

MAX_OPTION_TEXT = 75


def who(user_id: str | None) -> str:
    """A person as a Slack mention; the bot's own actors by name."""
    if user_id in (None, "", Actor.SYSTEM):
        return "the bot"
    if user_id == Actor.POLICY:
        return "policy (auto-approved)"
    if user_id == Actor.BREAK_GLASS:
        return "break-glass (no approval)"
    if user_id == Actor.OFFBOARDING:
        return "the bot (the requester may no longer have access)"
    return f"<@{user_id}>"


def when(moment: datetime | None) -> str:
    """A time each reader sees in their own time zone, with a UTC fallback."""
    if moment is None:
        return "—"
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def text_object(text: str, kind: str = "mrkdwn") -> dict[str, Any]:
    return {"type": kind, "text": text[:3000]}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": text_object(text)}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [text_object(text)]}


def plain(text: str, limit: int = MAX_OPTION_TEXT) -> dict[str, Any]:
    return {"type": "plain_text", "text": clean(text)[:limit], "emoji": True}


def quote(text: str) -> str:
    """Someone's words as a block quote, every line of it."""
    return ">" + escape(text).replace("\n", "\n>")


def label(request: AccessRequest) -> str:
    """The request's resource (a deployment or project name someone chose), for mrkdwn."""
    return escape(request.resource.label)


#: How much of a failure's reason is shown (it may carry an error from Elastic Cloud).
MAX_ERROR_TEXT = 400


def failure(request: AccessRequest) -> str:
    """Why a request failed, short and escaped."""
    return escape(summary(request.last_error or "", MAX_ERROR_TEXT))


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text), "value": value}


def summary_fields(request: AccessRequest) -> dict[str, Any]:
    fields = [
        f"*Requester*\n<@{request.requester_id}>",
        f"*Resource*\n{label(request)}",
        f"*Role*\n`{escape(request.role_id)}` "
        f"({escape(access_label(request.role_id, request.unit))})",
        f"*Duration*\n{format_duration(request.duration)}",
    ]
    return {"type": "section", "fields": [text_object(f) for f in fields]}


def justification(request: AccessRequest) -> dict[str, Any]:
    return section(f"*Justification*\n{quote(request.justification)}")


def status_line(request: AccessRequest, *, public: bool = False) -> str:
    """One line on where the request stands. ``public`` (the notify channel) shows the
    outcome only: a deny reason or an Elastic error is for the people involved."""
    emoji = STATE_EMOJI.get(request.state, "")
    by = f" by {who(request.decided_by)}" if request.decided_by else ""
    if request.state is State.PENDING:
        return f"{emoji} Waiting for approval"
    if request.state in (State.APPROVED, State.GRANTING):
        return f"{emoji} Approved{by}; granting now"
    if request.state is State.ACTIVE:
        return f"{emoji} Approved{by}; active until {when(request.expires_at)}"
    if request.state is State.DENIED:
        shown = request.decision_reason and not public
        reason = f": {escape(request.decision_reason)}" if shown else ""
        return f"{emoji} Denied{by}{reason}"
    if request.state is State.REVOKING and request.parked:
        return f":parking: parked: {escape(request.parked)}"
    if request.state is State.REVOKING:
        return f"{emoji} Approved{by}; access is being removed"
    if request.state is State.EXPIRED:
        return f"{emoji} Approved{by}; expired {when(request.ended_at)}"
    if request.state is State.REVOKED:
        ender = (
            f" by {who(request.ended_by)}" if request.ended_by not in (None, Actor.SYSTEM) else ""
        )
        return f"{emoji} Approved{by}; revoked{ender} {when(request.ended_at)}"
    if request.state is State.FAILED:
        if public or not request.last_error:
            return f"{emoji} Failed: access was not granted"
        return f"{emoji} Failed: {failure(request)}"
    if request.state is State.TIMED_OUT:
        return f"{emoji} Timed out: nobody decided in time"
    if request.state is State.CANCELLED and request.decision_reason:
        return f"{emoji} Cancelled: {escape(request.decision_reason)}"
    return f"{emoji} {request.state.value.capitalize()}"
