"""How much free text a person may hand the bot, on every path.

The request form caps the justification and the reasons (Slack enforces ``max_length`` in
its own client), but a slash command, or a form submission someone forged, carries whatever
was typed. The core checks the same limits wherever text comes in, so the database, the
approvers' DMs and the audit trail never hold more than the form would have allowed.
"""

from __future__ import annotations

from bot.access.errors import InvalidRequest

#: Characters in a justification (also a break-glass reason).
JUSTIFICATION_LIMIT = 1000
#: Characters in a reason: to deny, to revoke, to extend.
REASON_LIMIT = 500


def check_length(text: str | None, limit: int, what: str, field: str) -> None:
    """Raise :class:`InvalidRequest` naming ``what`` and ``limit`` when ``text`` is longer."""
    length = len((text or "").strip())
    if length > limit:
        raise InvalidRequest(
            f"{what} is {length} characters; at most {limit} are allowed.", field=field
        )


def check_justification(text: str | None) -> None:
    check_length(text, JUSTIFICATION_LIMIT, "The justification", "justification")


def check_reason(text: str | None) -> None:
    check_length(text, REASON_LIMIT, "The reason", "reason")
