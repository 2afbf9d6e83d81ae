"""The approvers' cards: a request or an extension to decide, with Approve and Deny, updated
in place as the request moves on; and the reminder that repeats a card."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from bot.access.durations import format_duration
from bot.access.model import AccessRequest
from bot.access.resources import is_console_only
from bot.access.routing import NO_OWNER_LEFT, NO_OWNER_SETTING, NO_TAG, NO_TAGS
from bot.access.states import State
from bot.access.text import escape
from bot.slack.action_ids import Action
from bot.slack.blocks.format import (
    Blocks,
    context,
    justification,
    label,
    plain,
    quote,
    section,
    status_line,
    summary_fields,
    when,
    who,
)


def approvals(approved_by: Sequence[str], needed: int) -> dict[str, Any]:
    """How far a quorum has got, on a request's or an extension's cards."""
    names = ", ".join(who(a) for a in approved_by) or "none yet"
    return context(f"Approvals: {len(approved_by)} of {needed} ({names})")


#: What a powerful role can do, on every card that asks for it: approvers should know what
#: they hand out. Only admin and organization roles; the words stay short.
ROLE_WARNINGS = {
    "organization-admin": (
        "An organization owner controls the whole organization: members, billing, every "
        "deployment and project. They can create API keys that outlive this grant: removing "
        "the role does not revoke them."
    ),
    "billing-admin": (
        "A billing admin can see and change the organization's billing and subscription."
    ),
    "deployment-admin": (
        "A deployment admin is superuser inside the stack (every index, Kibana space and "
        "security setting) and can manage the deployment itself. Users and API keys they "
        "create inside the stack outlive this grant."
    ),
    "elasticsearch-admin": (
        "A project admin has full control of the project, its data and its settings. API "
        "keys they create outlive this grant."
    ),
    "observability-admin": (
        "A project admin has full control of the project, its data and its settings. API "
        "keys they create outlive this grant."
    ),
    "security-admin": (
        "A project admin has full control of the project, its data and its settings. API "
        "keys they create outlive this grant."
    ),
}

_BECAUSE = {
    NO_OWNER_SETTING: "resources have no owners configured here",
    NO_TAGS: "{name} carries no owner tag",
    NO_TAG: "{name} has no owner tag",
    NO_OWNER_LEFT: "{name}'s owner tag names nobody else who can approve this",
}


#: A console-only admin role (``…:console-only``): no stack role, but not nothing.
CONSOLE_ONLY_WARNING = (
    "Console only: the Cloud console's admin pages, with no stack role (no data access "
    "through Elastic's sign-in). An admin can still change the resource's settings, and may "
    "be able to reset a hosted deployment's `elastic` password, which is data access."
)
#: A stack role: what it allows is the project's (or deployment's) own definition.
STACK_ROLE_WARNING = (
    "A stack role replaces the viewer's default stack access inside the resource: it allows "
    "exactly what the role is defined to allow there (see its definition in Kibana)."
)


def role_warning(role_id: str, stack: bool = False) -> str | None:
    """A short warning of what ``role_id`` can do, for admin and organization roles, their
    console-only variants and (``stack``) stack roles."""
    if stack:
        return STACK_ROLE_WARNING
    if is_console_only(role_id):
        return CONSOLE_ONLY_WARNING
    return ROLE_WARNINGS.get(role_id)


def approver_reason(reason: dict | None) -> str | None:
    """Why the person reading a card was asked, from the reason the core stored for them."""
    if not reason:
        return None
    kind = reason.get("kind")
    name = escape(str(reason.get("resource") or "the resource"))
    if kind == "owner":
        tag, value = escape(str(reason.get("tag", ""))), escape(str(reason.get("value", "")))
        if value.startswith("@"):
            return f"You are in {value}, which owns *{name}* (tag `{tag}={value}`)"
        return f"You own *{name}* (tag `{tag}={value}`)"
    if kind == "integration_owner":
        because = _BECAUSE.get(str(reason.get("because")))
        if because is None:
            return "You are an integration owner"
        return f"You are an integration owner ({because.format(name=name)})"
    if kind == "escalated":
        after = reason.get("after_seconds")
        within = f" within {format_duration(timedelta(seconds=after))}" if after else " in time"
        return f"Escalated to you: nobody decided{within}"
    return None


def _why_you(request: AccessRequest, viewer: str | None) -> Blocks:
    """The card's lines for ``viewer``: why they are asked, what the role can do."""
    lines: Blocks = []
    reason = approver_reason(request.approver_reasons.get(viewer or ""))
    if reason:
        lines.append(context(f":bust_in_silhouette: {reason}."))
    warning = role_warning(request.role_id, stack=bool(request.unit.application_roles))
    if warning:
        lines.append(context(f":warning: {warning}"))
    return lines


def approver_card(
    request: AccessRequest, approved_by: Sequence[str] = (), viewer: str | None = None
) -> tuple[str, Blocks]:
    """An approver's card; ``viewer`` (the approver it goes to) adds why they are asked."""
    text = (
        f"Access request {request.ref}: <@{request.requester_id}> asks for "
        f"{escape(request.role_id)} on {label(request)} for {format_duration(request.duration)}"
    )
    blocks: Blocks = [
        section(f"*Access request {request.ref}* needs your approval"),
        summary_fields(request),
        justification(request),
        *_why_you(request, viewer),
    ]
    if request.approvals_needed > 1:
        blocks.append(approvals(approved_by, request.approvals_needed))
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
                        "text": plain("Approve"),
                        "style": "primary",
                        "value": str(request.id),
                    },
                    {
                        "type": "button",
                        "action_id": Action.DENY,
                        "text": plain("Deny"),
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


def reminder(request: AccessRequest, viewer: str | None = None) -> tuple[str, Blocks]:
    text = (
        f"Reminder: access request {request.ref} from <@{request.requester_id}> is waiting for you"
    )
    card_text, card = approver_card(request, viewer=viewer)
    return text, [
        section(f":bell: *Reminder* — request {request.ref} is still waiting for a decision."),
        *card[1:],
    ]


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
            f"*Why*\n{quote(request.extension_reason or '')}"
        ),
    ]
    if decided:
        blocks.append(context(decided))
    else:
        if needed > 1:
            blocks.append(approvals(approved_by, needed))
        blocks.append(
            {
                "type": "actions",
                "block_id": f"extension:{request.id}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": Action.APPROVE_EXTENSION,
                        "text": plain("Approve"),
                        "style": "primary",
                        "value": value,
                    },
                    {
                        "type": "button",
                        "action_id": Action.DENY_EXTENSION,
                        "text": plain("Deny"),
                        "style": "danger",
                        "value": value,
                    },
                ],
            }
        )
    return text, blocks


def extension_verdict(approved: bool, actor_id: str) -> str:
    """How a decided extension's cards end."""
    return f"Approved by {who(actor_id)}" if approved else f"Denied by {who(actor_id)}"
