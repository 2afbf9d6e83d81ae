"""Replies to ``/elastic-access list`` (one page of requests, with Previous and Next) and to
``/elastic-access help``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta

from bot.access.durations import format_duration
from bot.access.model import AccessRequest
from bot.access.routing import Explanation
from bot.access.rules import describe_requesters
from bot.access.states import State
from bot.access.text import escape
from bot.slack.action_ids import Action
from bot.slack.blocks.cards import approver_reason, role_warning
from bot.slack.blocks.format import STATE_EMOJI, Blocks, context, label, plain, section, when


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
                "text": plain("Previous"),
                "value": json.dumps({"f": kept, "p": page - 1})[:2000],
            }
        )
    if page < pages:
        buttons.append(
            {
                "type": "button",
                "action_id": Action.LIST_NEXT,
                "text": plain("Next"),
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
    _role_: `deployment-viewer`, `deployment-editor`, `deployment-admin` (deployments); `billing-admin`, `organization-admin` (organization); `elasticsearch-viewer` and the like (projects)
    console only, no data access: an admin role with `:console-only`, e.g. `deployment-admin:console-only`, `elasticsearch-admin:console-only`
    stack roles: a project's custom role by its name (e.g. `marketing-reader` on project `search-prod`), or one policy names for a deployment; the form lists those you may request
    _duration_: `30m`, `2h`, `1d`, `1h30m` (at most {max})
• `/elastic-access break-glass <resource> <role> <duration> <reason…>` — take access now, where policy allows it; the integration owners are alerted
• `/elastic-access list [active|pending|mine|all]` — requests you may see, newest first
• `/elastic-access revoke <id>` — end an active grant now (requester, approver or integration owner)
• `/elastic-access extend <id> <duration> <reason…>` — ask for more time on your active grant
• `/elastic-access who-approves <resource> <role>` — which policy rule applies to you, who would approve and why
• `/elastic-access help` — this message
Approvers get a DM with *Approve* and *Deny*. Access is removed automatically when it ends; the message that says so has *Request again*."""


def help_text(max_duration: timedelta, error: str | None = None) -> str:
    """The help (its ``<placeholders>`` escaped, so Slack shows them), after ``error``: an
    :class:`AccessError` message, mrkdwn already."""
    text = escape(HELP.format(max=format_duration(max_duration)))
    return f":warning: {error}\n\n{text}" if error else text


def who_approves(explained: Explanation) -> tuple[str, Blocks]:
    """The private answer to ``/elastic-access who-approves <resource> <role>``."""
    resource, role = explained.resource, escape(explained.role)
    where = escape(resource.label)
    if explained.rule_index == 0:
        rule = "no `[[policy]]` rules are configured, so every role is allowed"
    elif explained.rule_name:
        rule = f"policy rule *{escape(explained.rule_name)}* (rule {explained.rule_index})"
    else:
        rule = f"policy rule {explained.rule_index}"
    if explained.requesters:
        rule += f", for {describe_requesters(explained.requesters)} (you are among them)"
    lines = [f"*Who approves `{role}` on {where}*", f"Rule that applies to you: {rule}."]
    if explained.break_glass:
        lines.append(
            "Break-glass: allowed: `/elastic-access break-glass` takes it at once, with a "
            "reason; the integration owners are alerted."
        )
    if explained.auto_approve:
        lines.append("Auto-approve: a request is granted without anyone approving it.")
    elif explained.approvers:
        lines.append("Approvers (any one of them, or as many as the quorum says):")
        lines += [
            f"• <@{user}>: {_third_person(approver_reason(why)) or 'an approver'}"
            for user, why in explained.approvers
        ]
    else:
        lines.append(
            "Approvers: nobody but you, so a request would be refused (the integration "
            "owners would be told)."
        )
    quorum = explained.quorum
    lines.append(f"Quorum: {quorum} approval{'s' if quorum != 1 else ''} from distinct people.")
    lines.append(
        f"Longest duration: {format_duration(timedelta(seconds=explained.longest_seconds))}"
        + (", extensions included." if not explained.extend_without_approval else "; ")
        + ("extensions apply at once." if explained.extend_without_approval else "")
    )
    if explained.escalate_after_seconds and not explained.auto_approve:
        after = format_duration(timedelta(seconds=explained.escalate_after_seconds))
        lines.append(f"If nobody decides within {after}, the integration owners are asked too.")
    warning = role_warning(explained.role, stack=explained.role not in resource.roles())
    if warning:
        lines.append(f":warning: {warning}")
    text = "\n".join(lines)
    return text, [section(text[:3000])]


def _third_person(reason: str | None) -> str | None:
    """A card's "You own …" as said about someone else, for ``who-approves``."""
    if reason is None:
        return None
    for mine, theirs in (
        ("You own ", "owns "),
        ("You are in ", "is in "),
        ("You are an integration owner", "an integration owner"),
        ("Escalated to you: ", "escalated: "),
    ):
        if reason.startswith(mine):
            return theirs + reason[len(mine) :]
    return reason
