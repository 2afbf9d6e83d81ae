"""The small interfaces the core needs from the outside world.

Slack, Elastic Cloud and SQLite implement these at the edges; tests hand in plain objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from bot.access.model import AccessRequest
from bot.access.resources import Resource, Unit


@dataclass(frozen=True)
class Person:
    """A Slack user as the core needs them.

    ``ineligible`` says why this person may not act on Elastic Cloud access at all (request,
    approve, own a resource, audit): only full members of the installing workspace may. It
    is one of the :data:`INELIGIBLE` keys, or None for a full member."""

    id: str
    email: str | None
    name: str
    ineligible: str | None = None

    @property
    def active(self) -> bool:
        """A full member of the installing workspace, who may act."""
        return self.ineligible is None


#: Why a Slack user may not act, in words that name the group ("Guests can't …").
INELIGIBLE: dict[str, str] = {
    "deactivated": "Deactivated Slack users",
    "bot": "Bots and apps",
    "guest": "Guests",
    "external": "People from other organizations (Slack Connect)",
    "unconfirmed": "People whose Slack email address is not confirmed",
    "domain": "People with an email address outside the allowed domains",
}


def cannot(reason: str, what: str) -> str:
    """``Guests can't request access to Elastic Cloud.`` for reason ``guest``."""
    return f"{INELIGIBLE.get(reason, 'You')} can't {what}."


@dataclass(frozen=True)
class Member:
    """An Elastic Cloud organization member and the units they hold now."""

    user_id: str
    email: str
    units: frozenset[Unit]
    #: The listed role assignments hold nothing at all, scopes the bot does not model
    #: included (only then may a membership the bot created be removed).
    holds_nothing: bool = False


class Directory(Protocol):
    """Who people are (Slack users, emails, user groups)."""

    #: References that named nobody at the last lookup, with the reason (for the owners).
    unresolved: dict[str, str]

    def person(self, user_id: str) -> Person | None: ...

    def resolve(self, reference: str, fresh: bool = False) -> list[Person]:
        """A user ID, an email or an ``@group`` handle → the active people it names.

        ``fresh`` asks for the directory as it is now, bypassing any cache."""
        ...


class ElasticPort(Protocol):
    """What the core asks of Elastic Cloud."""

    organization_id: str

    def find_member(
        self, email: str, max_age: float = 0.0, consistent: bool = True
    ) -> Member | None:
        """``max_age``: how old (seconds) a read may be, 0 meaning read now; ``consistent``:
        the read shows every change this process made (needed to decide what to change)."""
        ...

    def member(self, user_id: str, max_age: float = 0.0) -> Member | None: ...

    def add_units(self, user_id: str, units: Iterable[Unit]) -> None: ...

    def remove_units(self, user_id: str, units: Iterable[Unit]) -> None: ...

    def remove_member(self, user_id: str) -> bool: ...

    def invite(self, email: str, units: Iterable[Unit], expires_in: str) -> str: ...

    def pending_invitations(self) -> dict[str, str]: ...

    def members(self, max_age: float = 0.0) -> list[Member]: ...

    def invitation_states(self) -> dict[str, str]:
        """token → ``pending``, ``expired`` or ``accepted``, for every listed invitation."""
        ...

    def delete_invitation(self, token: str) -> None: ...

    def deployment_state(self, deployment_id: str) -> str: ...


class Catalogue(Protocol):
    """Grantable resources, answered from a cache."""

    def find(self, text: str) -> Resource | None:
        """A resource by key, ID or exact name (``organization`` for the org)."""
        ...

    def find_fresh(self, text: str) -> Resource | None:
        """:meth:`find`, refreshing from the source first when the cache misses."""
        ...

    def search(self, text: str, limit: int) -> list[Resource]: ...

    def all(self) -> tuple[Resource, ...]: ...


class Notifier(Protocol):
    """Tells people what happened. Called only after the store has the new state.

    The ``request_*`` methods return False when delivery failed in a way worth retrying."""

    def request_filed(self, request: AccessRequest) -> bool | None: ...

    def request_decided(self, request: AccessRequest) -> bool | None: ...

    def request_granted(self, request: AccessRequest) -> bool | None: ...

    def request_failed(self, request: AccessRequest) -> bool | None: ...

    def request_ended(self, request: AccessRequest) -> bool | None: ...

    def approval_recorded(self, request: AccessRequest) -> None: ...

    def remind(self, request: AccessRequest, approvers: list[str]) -> None: ...

    def escalated(self, request: AccessRequest, added: list[str]) -> None: ...

    def extension_requested(
        self, request: AccessRequest, approvers: list[str], needed: int = 1
    ) -> None: ...

    def extension_approval_recorded(
        self, request: AccessRequest, approved_by: list[str], needed: int
    ) -> None: ...

    def extension_decided(
        self,
        request: AccessRequest,
        *,
        approved: bool,
        actor_id: str,
        reason: str | None,
        after: AccessRequest | None = None,
    ) -> None: ...

    def expiring_soon(self, request: AccessRequest) -> None: ...

    def grant_delayed(self, request: AccessRequest) -> None: ...

    def revocation_overdue(self, request: AccessRequest, owners: list[str]) -> None: ...

    def revocation_recovered(self, request: AccessRequest, owners: list[str]) -> None: ...

    def revocation_parked(self, request: AccessRequest, owners: list[str]) -> None: ...

    def notify_owners(self, owners: list[str], text: str) -> None: ...

    def credentials_refused(self, owners: list[str], error: str) -> None: ...

    def credentials_restored(self, owners: list[str], waiting: int) -> None: ...


class UpstreamError(Exception):
    """An outside service failed. ``retryable`` says whether trying again later may help."""

    def __init__(self, message: str, *, retryable: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code
