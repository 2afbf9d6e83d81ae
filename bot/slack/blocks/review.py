"""The access review digest (``access_review``): one DM per owner, listing per resource the
just-in-time grants of the period, the standing access the bot did not grant, and what needs
a person now. What goes in it is the core's (:mod:`bot.access.review`); the words are here.

Slack allows 50 blocks a message and 3000 characters a section: a long digest says how much
it left out and points to ``python -m bot review`` for the whole list.
"""

from __future__ import annotations

from bot.access.durations import format_duration
from bot.access.resources import ResourceKind, Unit, access_label, role_label
from bot.access.review import Attention, Grant, ResourceReview, Review, Standing
from bot.access.states import State
from bot.access.text import escape, summary
from bot.slack.blocks.format import Blocks, context, section, when, who

#: Resource sections in one message (the header, the warning and the footer take the rest).
MAX_RESOURCES = 44
#: Characters of one section (Slack's limit is 3000; room for the "…and N more" line).
SECTION_ROOM = 2800
#: How much of a justification the digest shows.
JUSTIFICATION_TEXT = 150

STANDING_UNREAD = (
    ":warning: *Standing access could not be read* from Elastic Cloud ({why}), so none is "
    "listed here: that does not mean there is none. Check the members in the Elastic Cloud "
    "console, or run `python -m bot review` once Elastic Cloud answers."
)


STANDING_UNKNOWN = (
    ":warning: Elastic Cloud listed {who} without any role assignments, so their standing "
    'access is *not known* (not "none"). Check them in the Elastic Cloud console.'
)


def _unknown_words(review: Review) -> str:
    shown = [f"`{escape(e)}`" for e in review.standing_unknown[:10]]
    more = len(review.standing_unknown) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


def period_words(review: Review) -> str:
    return f"{when(review.period.start)} to {when(review.period.end)}"


def counts(review: Review) -> tuple[int, int, int]:
    return (
        sum(len(r.grants) for r in review.resources),
        sum(len(r.standing) for r in review.resources),
        sum(len(r.attention) for r in review.resources),
    )


def digest(review: Review) -> tuple[str, Blocks]:
    """One owner's digest: the notification text and the blocks."""
    grants, standing, attention = counts(review)
    standing_count = f"{standing} standing" if review.standing_read else "standing unread"
    fallback = (
        f"Access review, {review.period.start:%Y-%m-%d} to {review.period.end:%Y-%m-%d}: "
        f"{grants} grant(s), {standing_count}, {attention} needing attention"
    )
    body: Blocks = [
        section(
            f":mag: *Access review* of the Elastic Cloud resources you own, "
            f"{period_words(review)}: {grants} just-in-time grant(s), "
            + (f"{standing} standing role(s)" if review.standing_read else "standing access unread")
            + f", {attention} needing attention."
        )
    ]
    if review.standing_error is not None:
        body.append(section(STANDING_UNREAD.format(why=escape(review.standing_error))))
    if review.standing_unknown:
        body.append(section(STANDING_UNKNOWN.format(who=_unknown_words(review))))
    shown = review.resources[:MAX_RESOURCES]
    body.extend(section(_resource_text(r)) for r in shown)
    left = len(review.resources) - len(shown)
    if left:
        body.append(
            context(
                f"…and {left} more resource(s). The whole review: `python -m bot review "
                f"--since {review.period.start:%Y-%m-%dT%H:%M} "
                f"--until {review.period.end:%Y-%m-%dT%H:%M}`."
            )
        )
    body.append(
        context(
            "Standing access is what Elastic Cloud shows that the bot did not grant; the bot "
            "never removes it. Remove what should not be there in the Elastic Cloud console."
        )
    )
    return fallback, body


def _resource_text(item: ResourceReview) -> str:
    lines = [f"*{escape(item.resource.label)}*"]
    if item.grants:
        lines.append("_Just-in-time grants_")
        lines += [grant_line(g) for g in item.grants]
    if item.standing:
        lines.append("_Standing access (not granted by the bot)_")
        lines += [standing_line(s, item) for s in item.standing]
    if item.attention:
        lines.append("_Needs attention_")
        lines += [attention_line(a) for a in item.attention]
    return _fit(lines)


def _fit(lines: list[str]) -> str:
    """The lines, as many as fit in one section, then how many were left out."""
    out: list[str] = []
    size = 0
    for index, line in enumerate(lines):
        if size + len(line) + 1 > SECTION_ROOM:
            out.append(f"…and {len(lines) - index} more line(s): see `python -m bot review`")
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)


def _approval(grant: Grant) -> str:
    if grant.approved_by:
        return "approved by " + ", ".join(who(a) for a in grant.approved_by)
    return f"approved by {who(grant.request.decided_by)}"


def _state(grant: Grant) -> str:
    r = grant.request
    if r.state is State.ACTIVE:
        return f"active until {when(r.expires_at)}"
    if r.state is State.EXPIRED:
        return f"expired {when(r.ended_at)}"
    if r.state is State.REVOKED:
        return f"revoked by {who(r.ended_by)} {when(r.ended_at)}"
    if r.state is State.REVOKING:
        return "being removed"
    return r.state.value


def grant_line(grant: Grant) -> str:
    r = grant.request
    why = escape(summary(r.justification, JUSTIFICATION_TEXT))
    return (
        f"• {r.ref} <@{r.requester_id}> `{escape(r.role_id)}` for "
        f"{format_duration(grant.granted_for)} from {when(r.granted_at)}, {_state(grant)}; "
        f"{_approval(grant)}. Why: _{why}_"
    )


def _unit_words(unit: Unit, item: ResourceReview) -> str:
    role = f"`{escape(unit.role_id)}`"
    label = role_label(unit.role_id)
    if unit.application_roles is not None:  # a stack-role or console-only entry
        role += f" ({escape(access_label(unit.role_id, unit))}"
        role += f": {escape(', '.join(unit.application_roles))})" if unit.application_roles else ")"
    elif label != unit.role_id:
        role += f" ({escape(label)})"
    if item.resource.kind is ResourceKind.ALL_DEPLOYMENTS:
        role += " on all deployments"
    return role


def standing_line(standing: Standing, item: ResourceReview) -> str:
    email = escape(standing.email) if standing.email else "(no email)"
    return (
        f"• {email} (Elastic Cloud user {escape(standing.user_id)}) "
        f"{_unit_words(standing.unit, item)}"
    )


def attention_line(item: Attention) -> str:
    r = item.request
    what = f"{r.ref} <@{r.requester_id}> `{escape(r.role_id)}`"
    if item.kind == "parked":
        return f"• :parking: {what}: the removal is parked ({escape(item.why)})"
    return (
        f"• :warning: {what} ended {when(r.expires_at)} and the role is not removed yet; the "
        "bot keeps retrying"
    )
