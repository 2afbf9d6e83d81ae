"""Who a person is, for separation of duties: one human, however many accounts.

A requester must never approve their own access. Comparing Slack user IDs is not enough: the
same human may have a second Slack account (``alice+ops@example.com`` next to
``alice@example.com``), and two addresses may lead to the same Elastic Cloud user. This
module holds the pure comparisons; the service feeds it what Slack and Elastic say.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.access.ports import Person


def canonical_email(email: str | None) -> str:
    """``Alice+ops@Example.com`` → ``alice@example.com``: lower-case, sub-address dropped.

    Sub-addressing (``+tag``) delivers to the same mailbox at every major provider, so two
    addresses that differ only there belong to one person."""
    if not email or "@" not in email:
        return ""
    local, _, domain = email.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def same_person(
    person: Person,
    requester_id: str,
    requester_email: str | None,
    elastic_user_id: str | None = None,
    elastic_id_of: Callable[[str], str | None] | None = None,
) -> bool:
    """Whether ``person`` is the requester: the same Slack user, the same mailbox, or the
    same Elastic Cloud user (``elastic_id_of`` maps an email to an Elastic user ID)."""
    if person.id == requester_id:
        return True
    mine = canonical_email(person.email)
    if mine and mine == canonical_email(requester_email):
        return True
    if elastic_user_id and elastic_id_of and person.email:
        return elastic_id_of(person.email) == elastic_user_id
    return False
