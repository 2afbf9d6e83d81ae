"""Messages DMed to the requester at each step of their request and its extensions, and the
request's one message in the notify channel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.access.durations import format_duration
from bot.access.model import AccessRequest
from bot.access.states import State
from bot.access.text import escape
from bot.access.vocabulary import Outcome
from bot.slack.action_ids import Action
from bot.slack.blocks.format import (
    Blocks,
    context,
    failure,
    label,
    plain,
    section,
    status_line,
    text_object,
    when,
    who,
)
from bot.slack.blocks.listing import request_line


def requester_update(request: AccessRequest, access_details: str = "") -> tuple[str, Blocks]:
    """The message the requester gets at each state change."""
    what = f"`{escape(request.role_id)}` on {label(request)}"
    role, where, email = escape(request.role_id), label(request), escape(request.requester_email)
    state = request.state
    if state is State.PENDING:
        approvers = ", ".join(f"<@{a}>" for a in request.approvers) or "nobody"
        invite = (
            "\nYou are not a member of the Elastic Cloud organization yet: if approved, an "
            f"invitation carrying the role goes to {email}."
            if not request.elastic_user_id
            else ""
        )
        text = f"Request {request.ref} submitted: {role} on {where}; sent to {approvers}"
        body = f":inbox_tray: *Request {request.ref} submitted* — {what} for {format_duration(request.duration)}.\nSent for approval to {approvers}.{invite}"
    elif state in (State.APPROVED, State.GRANTING):
        text = f"Request {request.ref} approved by {who(request.decided_by)}; granting now"
        body = f":white_check_mark: *Request {request.ref} approved* by {who(request.decided_by)}. Granting {what} now."
    elif state is State.ACTIVE and request.outcome == Outcome.INVITED:
        text = f"Request {request.ref} granted as an invitation to {email}"
        body = (
            f":email: *Access granted as an invitation* ({request.ref}) — you are not a member of "
            f"the Elastic Cloud organization yet, so an invitation carrying {what} was sent to "
            f"{email}. Accept it to get access. Access (or the invitation, if "
            f"still unaccepted) ends {when(request.expires_at)}."
        )
    elif state is State.ACTIVE:
        text = f"Request {request.ref} granted: {role} on {where} until {request.expires_at:%Y-%m-%d %H:%M} UTC"
        body = (
            f":large_green_circle: *Access granted* ({request.ref}) — {what}.\n"
            f"It ends {when(request.expires_at)} ({format_duration(request.duration)})."
        )
    elif state is State.DENIED:
        reason = f"\nReason: {escape(request.decision_reason)}" if request.decision_reason else ""
        text = f"Request {request.ref} denied by {who(request.decided_by)}"
        body = f":x: *Request {request.ref} denied* by {who(request.decided_by)} — {what}.{reason}"
    elif state is State.CANCELLED:
        why = escape(request.decision_reason or "it was withdrawn")
        text = f"Request {request.ref} cancelled: {why}"
        body = f":no_entry_sign: *Request {request.ref} cancelled* — {what} was not granted: {why}."
    elif state is State.TIMED_OUT:
        text = f"Request {request.ref} timed out: nobody decided in time"
        body = (
            f":zzz: *Request {request.ref} timed out* — nobody approved {what} in time. "
            "Request again if you still need it."
        )
    elif state is State.FAILED:
        text = f"Request {request.ref} failed"
        body = (
            f":warning: *Request {request.ref} failed* — {what} was not granted.\n"
            f"{failure(request)}\nNothing was changed in Elastic Cloud. Fix the cause and "
            "request again, or ask an integration owner for help."
        )
    elif state in (State.EXPIRED, State.REVOKED) and request.outcome in (
        Outcome.INVITATION_WITHDRAWN,
        Outcome.INVITATION_UNUSED,
    ):
        text = f"Request {request.ref} ended: the invitation was withdrawn"
        body = (
            f":checkered_flag: *Access {request.ref} ended* — the invitation for {what} was not "
            "accepted in time and has been withdrawn."
        )
    elif state in (State.EXPIRED, State.REVOKED) and request.outcome == Outcome.RESOURCE_GONE:
        text = f"Request {request.ref} ended: the resource no longer exists"
        body = (
            f":checkered_flag: *Access {request.ref} ended* — {where} was deleted, "
            "and its role assignment with it."
        )
    elif state in (State.EXPIRED, State.REVOKED) and request.outcome == Outcome.NEVER_GRANTED:
        text = f"Request {request.ref} ended before {role} could be granted"
        body = (
            f":hourglass: *Request {request.ref} ended before it could be granted* — {what} was "
            "never added in Elastic Cloud, so nothing had to be removed."
        )
    elif state in (State.EXPIRED, State.REVOKED) and request.outcome == Outcome.KEPT:
        text = f"Request {request.ref} ended: you still hold {role} through other access"
        body = (
            f":checkered_flag: *Access {request.ref} ended* — {what} stays, because you hold it "
            "through standing access or another active grant."
        )
    elif state is State.EXPIRED:
        text = f"Request {request.ref} expired: {role} on {where} was removed"
        body = f":checkered_flag: *Access expired* ({request.ref}) — {what} has been removed."
    elif state is State.REVOKED:
        by = "you" if request.ended_by == request.requester_id else who(request.ended_by)
        text = f"Request {request.ref} revoked: {role} on {where} was removed"
        body = f":no_entry: *Access revoked* by {by} ({request.ref}) — {what} has been removed."
    else:
        text = f"Request {request.ref} is {state.value}"
        body = text
    blocks: Blocks = [section(body)]
    if state in ENDED:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"again:{request.id}",
                "elements": [request_again_button(request)],
            }
        )
    if state is State.ACTIVE and access_details:
        blocks.append(section(f"*How to sign in*\n{access_details}"))
    if state is State.ACTIVE:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"grant:{request.id}",
                "elements": [
                    extend_button(request),
                    {
                        "type": "button",
                        "action_id": Action.REVOKE_NOW,
                        "text": plain("Revoke now"),
                        "value": str(request.id),
                        "confirm": {
                            "title": plain("Revoke access?"),
                            "text": text_object(f"This removes {role} now."),
                            "confirm": plain("Revoke"),
                            "deny": plain("Keep"),
                        },
                    },
                ],
            }
        )
    return text, blocks


def channel_update(request: AccessRequest) -> tuple[str, Blocks]:
    """The one message per request in ``notify_channel``, updated in place: who, what and
    the outcome, never the justification, a deny reason or an error (the channel is wide)."""
    text = (
        f"{request.ref}: <@{request.requester_id}> · {escape(request.role_id)} on "
        f"{label(request)} · {request.state.value}"
    )
    return text, [section(request_line(request)), context(status_line(request, public=True))]


#: Requests that ended without (or after) access: their DM offers to ask again.
ENDED = frozenset(
    {State.DENIED, State.EXPIRED, State.REVOKED, State.FAILED, State.TIMED_OUT, State.CANCELLED}
)


def request_again_button(request: AccessRequest) -> dict[str, Any]:
    """Opens the request form filled in from ``request`` (its value is only the ID: the
    listener reads the rest from the store, for the requester alone)."""
    return {
        "type": "button",
        "action_id": Action.REQUEST_AGAIN,
        "text": plain("Request again"),
        "value": str(request.id),
    }


def extend_button(request: AccessRequest) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": Action.EXTEND,
        "text": plain("Extend"),
        "value": str(request.id),
    }


def extension_result(
    request: AccessRequest, approved: bool, actor_id: str, reason: str | None
) -> tuple[str, Blocks]:
    if approved:
        text = f"Access {request.ref} extended by {who(actor_id)}; it now ends {request.expires_at:%Y-%m-%d %H:%M} UTC"
        body = f":hourglass_flowing_sand: *Access {request.ref} extended* by {who(actor_id)}. It now ends {when(request.expires_at)}."
    else:
        why = f"\nReason: {escape(reason)}" if reason else ""
        text = f"Extension of {request.ref} denied by {who(actor_id)}"
        body = f":x: *Extension of {request.ref} denied* by {who(actor_id)}. Access still ends {when(request.expires_at)}.{why}"
    return text, [section(body)]


def expiry_notice(request: AccessRequest) -> tuple[str, Blocks]:
    text = f"Your access {request.ref} ({escape(request.role_id)} on {label(request)}) ends soon"
    return text, [
        section(
            f":alarm_clock: *Access {request.ref} ends {when(request.expires_at)}* — "
            f"`{escape(request.role_id)}` on {label(request)}. Need more time? Ask for an extension."
        ),
        {
            "type": "actions",
            "block_id": f"expiring:{request.id}",
            "elements": [extend_button(request)],
        },
    ]


def grant_delayed(request: AccessRequest) -> tuple[str, Blocks]:
    """Approved, but Elastic Cloud did not take the role assignment at once."""
    return f"Request {request.ref} approved; granting is delayed", [
        section(
            f":hourglass: *Request {request.ref} approved* by {who(request.decided_by)}. "
            "Elastic Cloud did not take the role assignment yet; I keep trying and will "
            "DM you when it is granted."
        )
    ]


def escalated(request: AccessRequest, added: Sequence[str]) -> tuple[str, Blocks]:
    """To the requester: nobody decided in time, so the request went to more approvers."""
    return f"Request {request.ref} escalated", [
        section(
            f":arrow_double_up: Nobody decided on request {request.ref} yet, so I also "
            "asked " + ", ".join(f"<@{a}>" for a in added) + "."
        )
    ]


def extension_sent(request: AccessRequest, approvers: Sequence[str]) -> tuple[str, Blocks]:
    """To the requester: their extension went to these approvers."""
    return f"Extension of {request.ref} sent for approval", [
        section(
            f":inbox_tray: Your extension of {request.ref} was sent to "
            + ", ".join(f"<@{a}>" for a in approvers)
            + "."
        )
    ]
