"""Block Kit, rendered from core objects. Pure functions: no I/O, easy to look at in tests.

Every message also carries a plain ``text`` (notifications, screen readers), and every view
stays within Slack's limits (titles ≤ 24 characters, ≤ 100 blocks, option text ≤ 75).

Text the bot did not write (justifications, reasons, resource labels, emails, Elastic's
errors) is escaped here, where it enters ``mrkdwn`` (:func:`bot.access.text.escape`), or
cleaned where it enters ``plain_text``; the core hands over raw values, so nothing is escaped
twice. Messages the core composed for people (an :class:`AccessError`, an owner alert) are
already ``mrkdwn`` with their untrusted parts escaped, and are used as they are.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.access.durations import format_duration
from bot.access.limits import JUSTIFICATION_LIMIT, REASON_LIMIT
from bot.access.model import AccessRequest
from bot.access.resources import Resource, ResourceKind, role_label, roles_for
from bot.access.states import State
from bot.access.text import clean, escape, summary
from bot.access.vocabulary import PROJECT_TYPES, Actor, Outcome
from bot.slack.action_ids import Action, Field, View

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

DURATION_PRESETS = ("15m", "30m", "1h", "2h", "4h", "8h", "12h", "1d", "3d", "7d")
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


def _text(text: str, kind: str = "mrkdwn") -> dict[str, Any]:
    return {"type": kind, "text": text[:3000]}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _text(text)}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_text(text)]}


def _plain(text: str, limit: int = MAX_OPTION_TEXT) -> dict[str, Any]:
    return {"type": "plain_text", "text": clean(text)[:limit], "emoji": True}


def _quote(text: str) -> str:
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


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": _plain(text), "value": value}


def summary_fields(request: AccessRequest) -> dict[str, Any]:
    fields = [
        f"*Requester*\n<@{request.requester_id}>",
        f"*Resource*\n{label(request)}",
        f"*Role*\n`{escape(request.role_id)}` ({escape(role_label(request.role_id))})",
        f"*Duration*\n{format_duration(request.duration)}",
    ]
    return {"type": "section", "fields": [_text(f) for f in fields]}


def _justification(request: AccessRequest) -> dict[str, Any]:
    return section(f"*Justification*\n{_quote(request.justification)}")


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


# -- approver card ----------------------------------------------------------------------------
def _approvals(approved_by: Sequence[str], needed: int) -> dict[str, Any]:
    """How far a quorum has got, on a request's or an extension's cards."""
    names = ", ".join(who(a) for a in approved_by) or "none yet"
    return context(f"Approvals: {len(approved_by)} of {needed} ({names})")


def approver_card(request: AccessRequest, approved_by: Sequence[str] = ()) -> tuple[str, Blocks]:
    text = (
        f"Access request {request.ref}: <@{request.requester_id}> asks for "
        f"{escape(request.role_id)} on {label(request)} for {format_duration(request.duration)}"
    )
    blocks: Blocks = [
        section(f"*Access request {request.ref}* needs your approval"),
        summary_fields(request),
        _justification(request),
    ]
    if request.approvals_needed > 1:
        blocks.append(_approvals(approved_by, request.approvals_needed))
    if request.escalated_at is not None:
        blocks.append(
            context(
                ":arrow_double_up: Escalated: the resource owners had not decided by "
                f"{when(request.escalated_at)}."
            )
        )
    if request.state is State.PENDING and not request.elastic_user_id:
        blocks.append(
            section(
                ":email: The requester is not a member of the Elastic Cloud organization: "
                f"approving will invite {escape(request.requester_email)} into the organization "
                "(the invitation carries the role, and the bot removes both when the grant ends)."
            )
        )
    if request.state is State.PENDING:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"decide:{request.id}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": Action.APPROVE,
                        "text": _plain("Approve"),
                        "style": "primary",
                        "value": str(request.id),
                    },
                    {
                        "type": "button",
                        "action_id": Action.DENY,
                        "text": _plain("Deny"),
                        "style": "danger",
                        "value": str(request.id),
                    },
                ],
            }
        )
        blocks.append(context(f"Requested {when(request.created_at)}"))
    else:
        blocks[0] = section(f"*Access request {request.ref}*")
        blocks.append(context(status_line(request)))
    return text, blocks


# -- requester DMs ---------------------------------------------------------------------------
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
                        "text": _plain("Revoke now"),
                        "value": str(request.id),
                        "confirm": {
                            "title": _plain("Revoke access?"),
                            "text": _text(f"This removes {role} now."),
                            "confirm": _plain("Revoke"),
                            "deny": _plain("Keep"),
                        },
                    },
                ],
            }
        )
    return text, blocks


def reminder(request: AccessRequest) -> tuple[str, Blocks]:
    text = (
        f"Reminder: access request {request.ref} from <@{request.requester_id}> is waiting for you"
    )
    card_text, card = approver_card(request)
    return text, [
        section(f":bell: *Reminder* — request {request.ref} is still waiting for a decision."),
        *card[1:],
    ]


def channel_update(request: AccessRequest) -> tuple[str, Blocks]:
    """The one message per request in ``notify_channel``, updated in place: who, what and
    the outcome, never the justification, a deny reason or an error (the channel is wide)."""
    text = (
        f"{request.ref}: <@{request.requester_id}> · {escape(request.role_id)} on "
        f"{label(request)} · {request.state.value}"
    )
    return text, [section(request_line(request)), context(status_line(request, public=True))]


def extend_button(request: AccessRequest) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": Action.EXTEND,
        "text": _plain("Extend"),
        "value": str(request.id),
    }


def extension_card(
    request: AccessRequest,
    decided: str | None = None,
    *,
    approved_by: Sequence[str] = (),
    needed: int = 1,
    asked: int | None = None,
) -> tuple[str, Blocks]:
    """Asks an approver for more time on a running grant (or shows how that ended).

    ``asked`` (the event that asked for this extension) goes into the buttons' value, so a
    click on a card that was never updated cannot decide a later, different extension."""
    value = f"{request.id}:{asked}" if asked else str(request.id)
    extra = format_duration(request.extension_seconds or 0)
    text = (
        f"Extension of {request.ref}: <@{request.requester_id}> asks for {extra} more of "
        f"{escape(request.role_id)} on {label(request)}"
    )
    blocks: Blocks = [
        section(
            f"*Extension of access {request.ref}* needs your approval"
            if not decided
            else f"*Extension of access {request.ref}*"
        ),
        summary_fields(request),
        section(
            f"*More time*\n{extra} (it now ends {when(request.expires_at)})\n"
            f"*Why*\n{_quote(request.extension_reason or '')}"
        ),
    ]
    if decided:
        blocks.append(context(decided))
    else:
        if needed > 1:
            blocks.append(_approvals(approved_by, needed))
        blocks.append(
            {
                "type": "actions",
                "block_id": f"extension:{request.id}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": Action.APPROVE_EXTENSION,
                        "text": _plain("Approve"),
                        "style": "primary",
                        "value": value,
                    },
                    {
                        "type": "button",
                        "action_id": Action.DENY_EXTENSION,
                        "text": _plain("Deny"),
                        "style": "danger",
                        "value": value,
                    },
                ],
            }
        )
    return text, blocks


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


def extend_modal(request: AccessRequest, max_left: timedelta, default: timedelta) -> dict[str, Any]:
    options, initial = duration_options(max_left, min(default, max_left))
    return {
        "type": "modal",
        "callback_id": View.EXTEND_GRANT,
        "title": _plain(f"Extend {request.ref}", 24),
        "submit": _plain("Ask", 24),
        "close": _plain("Cancel", 24),
        "private_metadata": json.dumps({"request_id": request.id}),
        "blocks": [
            summary_fields(request),
            context(f"Ends {when(request.expires_at)}. At most {format_duration(max_left)} more."),
            {
                "type": "input",
                "block_id": Field.DURATION,
                "label": _plain("More time"),
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
                "label": _plain("Why do you need more time?"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": Field.REASON,
                    "multiline": True,
                    "max_length": REASON_LIMIT,
                },
            },
        ],
    }


def owner_alert(text: str) -> tuple[str, Blocks]:
    """``text`` is mrkdwn the core composed, its untrusted parts already escaped."""
    return text, [section(f":rotating_light: {text}")]


def parked_alert(request: AccessRequest) -> tuple[str, Blocks]:
    """To the integration owners, once: a revocation Elastic refuses (a stopped deployment)
    is parked, with a button to acknowledge it (recorded as the clicker's)."""
    text = (
        f"Access {request.ref} (`{escape(request.role_id)}` on {label(request)} for "
        f"<@{request.requester_id}>) expired {when(request.expires_at)} but is not removed yet: "
        f"Elastic Cloud refuses changes to the assignments of a stopped deployment. "
        f":parking: parked: {escape(request.parked or '')}. Remove the role by hand in the "
        "Elastic Cloud console, or restart the deployment; you will hear when it is removed."
    )
    return text, [
        section(f":rotating_light: {text}"),
        {
            "type": "actions",
            "block_id": f"parked:{request.id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": Action.ACK_PARKED,
                    "text": _plain("Acknowledge"),
                    "value": str(request.id),
                }
            ],
        },
    ]


# -- the request modal -----------------------------------------------------------------------
def resource_option(resource: Resource) -> dict[str, Any]:
    return _option(resource.label, resource.key)


def _role_options(resource: Resource | None) -> dict[str, Any]:
    if resource is not None:
        return {"options": [_option(f"{role_label(r)} ({r})", r) for r in resource.roles()]}
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
                "label": _plain(label),
                "options": [_option(f"{role_label(r)} ({r})", r) for r in roles],
            }
            for label, roles in groups
        ]
    }


def duration_options(
    max_duration: timedelta, default: timedelta
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from bot.access.durations import parse_duration

    values = [p for p in DURATION_PRESETS if parse_duration(p) <= max_duration]
    for extra in (format_duration(default), format_duration(max_duration)):
        if extra not in values:
            values.append(extra)
    values.sort(key=lambda v: parse_duration(v))
    options = [_option(v, v) for v in values]
    initial = next(o for o in options if o["value"] == format_duration(default))
    return options, initial


def request_modal(
    *,
    integration_name: str,
    access_details: str,
    max_duration: timedelta,
    default_duration: timedelta,
    resource: Resource | None = None,
    metadata: dict[str, Any] | None = None,
    break_glass: bool = False,
) -> dict[str, Any]:
    """The request form; ``break_glass`` adds the option to take the access at once (only
    where a policy rule allows it, which the submit checks)."""
    options, initial = duration_options(max_duration, default_duration)
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
        "placeholder": _plain("Type a deployment or project name"),
        "min_query_length": 0,
    }
    if resource is not None:
        resource_element["initial_option"] = resource_option(resource)
    blocks += [
        {
            "type": "input",
            "block_id": Field.RESOURCE,
            "dispatch_action": True,
            "label": _plain("Resource"),
            "element": resource_element,
        },
        {
            "type": "input",
            "block_id": Field.ROLE,
            "label": _plain("Role"),
            "element": {
                "type": "static_select",
                "action_id": Field.ROLE,
                "placeholder": _plain("Pick a role"),
            }
            | _role_options(resource),
        },
        {
            "type": "input",
            "block_id": Field.DURATION,
            "label": _plain("Duration"),
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
            "label": _plain("Justification"),
            "element": {
                "type": "plain_text_input",
                "action_id": Field.JUSTIFICATION,
                "multiline": True,
                "max_length": JUSTIFICATION_LIMIT,
                "placeholder": _plain("Why do you need this access? (a ticket, an incident)"),
            },
        },
    ]
    if break_glass:
        blocks.append(
            {
                "type": "input",
                "block_id": Field.BREAK_GLASS,
                "optional": True,
                "label": _plain("Emergency"),
                "element": {
                    "type": "checkboxes",
                    "action_id": Field.BREAK_GLASS,
                    "options": [
                        {
                            "text": _plain("Break-glass: take it now, without approval"),
                            "description": _plain(
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
        "title": _plain("Request access", 24),
        "submit": _plain("Request", 24),
        "close": _plain("Cancel", 24),
        "private_metadata": json.dumps(metadata or {})[:3000],
        "blocks": blocks,
    }


def deny_modal(request: AccessRequest, metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": View.DENY_REASON,
        "title": _plain(f"Deny {request.ref}", 24),
        "submit": _plain("Deny", 24),
        "close": _plain("Back", 24),
        "private_metadata": json.dumps(metadata)[:3000],
        "blocks": [
            summary_fields(request),
            {
                "type": "input",
                "block_id": Field.REASON,
                "optional": True,
                "label": _plain("Reason (sent to the requester)"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": Field.REASON,
                    "multiline": True,
                    "max_length": REASON_LIMIT,
                },
            },
        ],
    }


# -- list, help, home --------------------------------------------------------------------------
def request_line(request: AccessRequest) -> str:
    times = f"requested {when(request.created_at)}"
    if request.expires_at and request.state in (State.ACTIVE, State.GRANTING):
        times += f", ends {when(request.expires_at)}"
    elif request.ended_at:
        times += f", ended {when(request.ended_at)}"
    emoji, state = STATE_EMOJI.get(request.state, ""), f"*{request.state.value}*"
    if request.state is State.REVOKING and request.parked:
        emoji, state = ":parking:", f"*parked*: {escape(request.parked)}"
        times += f", ended {when(request.expires_at)}"
    return (
        f"{emoji} *{request.ref}* <@{request.requester_id}> · "
        f"`{escape(request.role_id)}` on {label(request)} · {format_duration(request.duration)} · "
        f"{state} · {times}"
    )


def request_list(
    requests: Sequence[AccessRequest],
    total: int,
    heading: str,
    *,
    page: int = 1,
    page_size: int = 20,
    filters: Sequence[str] = (),
) -> tuple[str, Blocks]:
    """One page of ``/elastic-access list``, with Previous/Next when there is more."""
    if not requests:
        text = (
            f"No requests to show ({heading})."
            if total == 0
            else f"Page {page} is past the end ({total} requests)."
        )
        return text, [section(text)]
    first = (page - 1) * page_size + 1
    text = f"{total} request{'s' if total != 1 else ''} ({heading}), newest first"
    blocks: Blocks = [section(f"*{text}*")]
    chunk: list[str] = []
    for line in (request_line(r) for r in requests):
        if sum(len(x) + 1 for x in chunk) + len(line) > 2900:  # a section holds 3000 characters
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(section("\n".join(chunk)))
    pages = (total + page_size - 1) // page_size
    blocks.append(
        context(f"Showing {first}–{first + len(requests) - 1} of {total} (page {page} of {pages}).")
    )
    buttons = []
    kept = [f for f in filters if not f.lower().startswith("page:")]
    if page > 1:
        buttons.append(
            {
                "type": "button",
                "action_id": Action.LIST_PREV,
                "text": _plain("Previous"),
                "value": json.dumps({"f": kept, "p": page - 1})[:2000],
            }
        )
    if page < pages:
        buttons.append(
            {
                "type": "button",
                "action_id": Action.LIST_NEXT,
                "text": _plain("Next"),
                "value": json.dumps({"f": kept, "p": page + 1})[:2000],
            }
        )
    if buttons:
        blocks.append({"type": "actions", "block_id": "list_pages", "elements": buttons})
    return text, blocks[:50]


HELP = """*/elastic-access* — just-in-time access to Elastic Cloud
• `/elastic-access` — open the request form
• `/elastic-access request <resource> <role> <duration> <justification…>` — request without the form
    _resource_: a deployment name or ID, or `organization`
    _role_: `deployment-viewer`, `deployment-editor`, `deployment-admin` (deployments); `billing-admin`, `organization-admin` (organization)
    _duration_: `30m`, `2h`, `1d`, `1h30m` (at most {max})
• `/elastic-access break-glass <resource> <role> <duration> <reason…>` — take access now, where policy allows it; the integration owners are alerted
• `/elastic-access list [active|pending|mine|all]` — requests you may see, newest first
• `/elastic-access revoke <id>` — end an active grant now (requester, approver or integration owner)
• `/elastic-access extend <id> <duration> <reason…>` — ask for more time on your active grant
• `/elastic-access help` — this message
Approvers get a DM with *Approve* and *Deny*. Access is removed automatically when it ends."""


def help_text(max_duration: timedelta, error: str | None = None) -> str:
    """The help (its ``<placeholders>`` escaped, so Slack shows them), after ``error``: an
    :class:`AccessError` message, mrkdwn already."""
    text = escape(HELP.format(max=format_duration(max_duration)))
    return f":warning: {error}\n\n{text}" if error else text


def home_view(
    *,
    active: Sequence[AccessRequest],
    pending: Sequence[AccessRequest],
    to_approve: Sequence[AccessRequest],
    now: datetime,
    parked: Sequence[AccessRequest] = (),
) -> dict[str, Any]:
    """``parked``: the viewer's ended grants whose removal Elastic refuses (not active)."""
    blocks: Blocks = [
        {"type": "header", "text": _plain("Elastic Cloud access", 150)},
        {
            "type": "actions",
            "block_id": "home",
            "elements": [
                {
                    "type": "button",
                    "action_id": Action.OPEN_REQUEST_MODAL,
                    "text": _plain("Request access"),
                    "style": "primary",
                    "value": "home",
                }
            ],
        },
        {"type": "header", "text": _plain("My active access", 150)},
    ]
    if active:
        for r in active[:15]:
            left = format_duration(max(timedelta(0), (r.expires_at or now) - now))
            blocks.append(
                section(
                    f"*{r.ref}* `{escape(r.role_id)}` on {label(r)} — {left} left (ends {when(r.expires_at)})"
                )
            )
    elif not parked:
        blocks.append(context("None right now."))
    for r in parked[:10]:
        blocks.append(
            section(
                f"*{r.ref}* `{escape(r.role_id)}` on {label(r)} — ended {when(r.expires_at)}; "
                f":parking: parked: {escape(r.parked or '')}"
            )
        )
    blocks.append({"type": "header", "text": _plain("My pending requests", 150)})
    if pending:
        blocks += [
            section(
                f"*{r.ref}* `{escape(r.role_id)}` on {label(r)} — waiting since {when(r.created_at)}"
            )
            for r in pending[:15]
        ]
    else:
        blocks.append(context("None."))
    blocks.append({"type": "header", "text": _plain("Waiting for my approval", 150)})
    if to_approve:
        for r in to_approve[:10]:
            blocks.append(
                section(
                    f"*{r.ref}* — waiting since {when(r.created_at)}\n{_quote(r.justification[:300])}"
                )
            )
            blocks.append(summary_fields(r))
            blocks.append(
                {
                    "type": "actions",
                    "block_id": f"home-decide:{r.id}",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": Action.APPROVE,
                            "text": _plain("Approve"),
                            "style": "primary",
                            "value": str(r.id),
                        },
                        {
                            "type": "button",
                            "action_id": Action.DENY,
                            "text": _plain("Deny"),
                            "style": "danger",
                            "value": str(r.id),
                        },
                    ],
                }
            )
    else:
        blocks.append(context("Nothing to approve."))
    return {"type": "home", "blocks": blocks[:100]}
