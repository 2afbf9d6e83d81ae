"""The small interfaces the core needs from the outside world.

Slack, Elastic Cloud and SQLite implement these at the edges; tests hand in plain objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from bot.access.alerts import Alert
from bot.access.model import AccessRequest
from bot.access.resources import Resource, Unit
from bot.access.states import State

if TYPE_CHECKING:
    from bot.access.review import Review

#: How recent a directory answer must be: ``False``, a recent one will do; ``True``, read
#: now; a ``time.monotonic()`` moment, one read at or after it (a decision that began then
#: reuses what it read itself, never an answer from before it).
Freshness = bool | float


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
    #: Elastic listed the member's role assignments (False: left out or null, so what they
    #: hold is not known; ``units`` is then empty and proves nothing gone).
    listed: bool = True


class Directory(Protocol):
    """Who people are (Slack users, emails, user groups)."""

    #: References that named nobody at the last lookup, with the reason (for the owners).
    unresolved: dict[str, str]

    def person(self, user_id: str, fresh: Freshness = False) -> Person | None:
        """The person behind a Slack user ID (None: no such user). ``fresh``: how recent
        the answer must be (:data:`Freshness`; a decision about their standing asks for
        one read since it began)."""
        ...

    def resolve(self, reference: str, fresh: Freshness = False) -> list[Person]:
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

    def members(self, max_age: float = 0.0, skip_unreadable: bool = False) -> list[Member]:
        """Every member; ``skip_unreadable``: one whose role assignments cannot be read is
        left out instead of failing the whole read."""
        ...

    def member_ids(self, max_age: float = 0.0) -> set[str]:
        """Who is a member (nobody's role assignments read)."""
        ...

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

    def stack_roles(self, resource: Resource) -> tuple[str, ...]:
        """A project's custom roles as Elastic lists them now (names the bot would not offer
        left out; nothing for other resources); raises :class:`UpstreamError` when Elastic
        does not answer. Filing checks a requested stack role against this, not the cache."""
        ...


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

    def notify_owners(self, owners: list[str], alert: Alert) -> None:
        """Tell the integration owners about ``alert`` (the edge has the words for it)."""
        ...

    def credentials_refused(self, owners: list[str], error: str) -> None: ...

    def credentials_restored(self, owners: list[str], waiting: int) -> None: ...

    def access_review(self, user_id: str, review: Review) -> None:
        """DM ``user_id`` their access review digest (``access_review``)."""
        ...


class ApprovalRecord(Protocol):
    """One approver's recorded decision on a request or on one of its extensions."""

    approver_id: str
    decision: str  # "approve" or "deny"


@dataclass(frozen=True)
class Recorded:
    """What the store answers when it records an approver's decision (on a request or on an
    extension, the same way): whether the decision was new (False: this approver had decided
    already and nothing changed) and who has approved so far, in the order they did, read in
    the same write transaction. Of two approvers clicking together, only the later one's
    ``approved_by`` holds both."""

    new: bool
    approved_by: tuple[str, ...]


class Store(Protocol):
    """What the core asks of the database (``bot.store.Store`` implements it). Every state
    change is one conditional write with its audit event; a method that answers None or
    False means another worker (or click) got there first, never an error.

    Written from what the engine calls (``tests/test_ports.py`` checks the SQLite store
    still matches), grouped by the part that uses it."""

    # -- transactions
    def write(self) -> AbstractContextManager[Any]:
        """One IMMEDIATE transaction: the store's writes made inside it (own the units, move
        the row) land together or not at all."""
        ...

    # -- rows and their moves (all parts)
    def create_request(
        self,
        *,
        requester_id: str,
        requester_email: str,
        resource: Resource,
        role_id: str,
        unit: Unit,
        duration: timedelta,
        justification: str,
        approvers: Sequence[str],
        approvals_needed: int,
        now: datetime,
        elastic_user_id: str | None,
        approver_source: str | None = None,
        next_reminder_at: datetime | None = None,
        approver_reasons: dict[str, dict] | None = None,
    ) -> AccessRequest: ...

    def get(self, request_id: int) -> AccessRequest | None: ...

    def transition(
        self,
        request_id: int,
        sources: Iterable[State],
        target: State,
        *,
        now: datetime,
        actor: str,
        event: str | None = None,
        detail: dict[str, Any] | None = None,
        release_lease: bool = True,
        **fields: Any,
    ) -> AccessRequest | None:
        """Move ``request_id`` to ``target`` if it is in one of ``sources``; None if not."""
        ...

    def update_fields(self, request_id: int, *, now: datetime, **fields: Any) -> None: ...

    def claim(
        self,
        request_id: int,
        states: Iterable[State],
        *,
        now: datetime,
        lease: timedelta,
        owner: str | None = None,
    ) -> AccessRequest | None:
        """A time-limited lease on a row, so only one worker acts on it at a time."""
        ...

    def release(self, request_id: int) -> None: ...

    def expiring_before(self, moment: datetime, limit: int = 5000) -> list[tuple[int, datetime]]:
        """Live grants ending before ``moment`` (for the timers of every process)."""
        ...

    def renew_leases(self, now: datetime, lease: timedelta) -> int:
        """Extend the leases this process holds that have not run out (the heartbeat)."""
        ...

    def holds_lease(self, request_id: int, now: datetime) -> bool:
        """Whether this process still holds the lease on ``request_id``."""
        ...

    # -- the audit trail
    def event(
        self,
        request_id: int | None,
        now: datetime,
        actor: str,
        kind: str,
        detail: dict | None = None,
    ) -> None: ...

    def events(self, request_id: int) -> list[dict[str, Any]]: ...

    def has_event(self, request_id: int, kind: str) -> bool: ...

    def was_granted(self, request_id: int) -> bool: ...

    # -- filing (limits, duplicates)
    def seen_recently(self, fingerprint: str, now: datetime, window: timedelta) -> bool: ...

    def pending_of_person(self, requester_id: str, mailbox: str) -> list[AccessRequest]: ...

    def break_glass_of_person(self, requester_id: str, mailbox: str) -> list[AccessRequest]: ...

    def live_break_glass(self) -> int: ...

    def first_report(self, reference: str, reason: str, now: datetime) -> bool: ...

    # -- decisions and extensions (one decision per approver, stored the same way for both)
    def record_approval(
        self, request_id: int, approver_id: str, decision: str, reason: str | None, now: datetime
    ) -> Recorded | None:
        """Record ``approver_id``'s decision on the pending request, once; None when the
        request is no longer pending."""
        ...

    def approvals(self, request_id: int) -> Sequence[ApprovalRecord]: ...

    def ask_extension(
        self, request_id: int, seconds: int, reason: str, actor: str, now: datetime
    ) -> bool: ...

    def extension_asked(self, request_id: int) -> int | None: ...

    def record_extension_approval(
        self,
        request_id: int,
        approver_id: str,
        decision: str,
        reason: str | None,
        now: datetime,
        extension: int | None = None,
    ) -> Recorded | None:
        """Record ``approver_id``'s decision on the pending extension (``extension``, the
        event that asked for it, when given: never a later one), once; None when no
        extension is pending or it is not that one."""
        ...

    def apply_extension(
        self, request_id: int, actor: str, now: datetime, extension: int | None = None
    ) -> AccessRequest | None:
        """Add the pending extension (``extension``, when given, and only that one) to the
        grant's end, once; None if it is not pending."""
        ...

    def drop_extension(
        self, request_id: int, actor: str, reason: str | None, now: datetime
    ) -> bool: ...

    # -- what the bot owns in Elastic (exact grants and removals)
    def own_units(
        self, elastic_user_id: str, units: Iterable[Unit], request_id: int, now: datetime
    ) -> None: ...

    def disown_units(self, elastic_user_id: str, units: Iterable[Unit]) -> None: ...

    def owned_units(self, elastic_user_id: str) -> set[Unit]: ...

    def units_needed_by_others(self, elastic_user_id: str, request_id: int) -> set[Unit]: ...

    def adder_of(self, elastic_user_id: str, unit: Unit) -> int | None: ...

    def all_owned_units(self) -> list[tuple[str, Unit, int]]: ...

    def recent_removals(self, since: datetime) -> list[tuple[int, str, Unit]]: ...

    def first_finding(
        self, key: str, kind: str, request_id: int | None, detail: dict, now: datetime
    ) -> bool: ...

    # -- access reviews
    def has_finding(self, key: str) -> bool:
        """Whether ``key`` was recorded by :meth:`first_finding` (a review period claimed)."""
        ...

    def review_grants(self, since: datetime, until: datetime) -> list[AccessRequest]:
        """Grants live at some moment of ``since <= t < until``, oldest grant first."""
        ...

    def review_approvals(self, since: datetime, until: datetime) -> dict[int, list[str]]:
        """Who approved each of those grants (request ID → Slack user IDs, in order)."""
        ...

    def needing_attention(self, now: datetime, grace: timedelta) -> list[AccessRequest]:
        """Live grants whose revocation is parked or more than ``grace`` overdue."""
        ...

    # -- the sweep's work lists
    def due_work(self, now: datetime, limit: int = 500) -> list[tuple[int, State]]: ...

    def wake_grants(self, now: datetime) -> int: ...

    def unpinned_invitations(self, limit: int = 200) -> list[AccessRequest]: ...

    def open_requests_of(self, requester_id: str) -> list[AccessRequest]: ...

    def open_requests_on(self, resource: Resource) -> list[AccessRequest]: ...

    def live_requesters(self) -> list[str]: ...

    # -- follow-ups and the outbox
    def pending_timed_out(self, cutoff: datetime, limit: int = 200) -> list[int]: ...

    def reminders_due(self, now: datetime, limit: int = 200) -> list[AccessRequest]: ...

    def claim_reminder(
        self, request_id: int, sent: int, next_at: datetime | None, now: datetime
    ) -> bool: ...

    def escalations_due(self, cutoff: datetime, limit: int = 200) -> list[AccessRequest]: ...

    def escalate(
        self,
        request_id: int,
        approvers: Sequence[str],
        added: Sequence[str],
        now: datetime,
        reasons: dict[str, dict] | None = None,
    ) -> AccessRequest | None: ...

    def expiring_soon(self, horizon: datetime, limit: int = 200) -> list[AccessRequest]: ...

    def mark_expiry_noticed(self, request_id: int, now: datetime) -> bool: ...

    def overdue(self, now: datetime, grace: timedelta) -> list[AccessRequest]: ...

    def mark_alerted(self, request_id: int, now: datetime) -> bool: ...

    def was_alerted(self, request_id: int) -> bool: ...

    def claim_notice(
        self,
        request_id: int,
        state: State,
        *,
        now: datetime,
        lease: timedelta,
        current: bool = False,
    ) -> bool:
        """Take the right to tell people about ``state`` (one teller per row and state,
        across processes); False when it was told already or someone is telling it now."""
        ...

    def release_notice(self, request_id: int, state: State) -> None:
        """Give the claim back untold (Slack failed for a passing reason: retried later)."""
        ...

    def mark_notified(self, request_id: int, state: State) -> None: ...

    def unnotified(self, older_than: datetime, limit: int = 200) -> list[AccessRequest]: ...

    # -- outside the engine: the listing (``service.list_requests``) and the scheduler
    def search(
        self, query, *, requester_id: str | None, resource_keys, limit: int, offset: int
    ) -> tuple[list[AccessRequest], int]: ...

    def scheduled_expiries(self) -> list[tuple[int, datetime]]: ...

    def export_events(
        self,
        since: datetime,
        until: datetime | None = None,
        *,
        requester_id: str | None = None,
        resource_keys: Iterable[str] | None = None,
    ) -> Iterable[dict[str, Any]]:
        """The audit events from ``since`` to ``until`` (streamed), scoped like a listing."""
        ...


class UpstreamError(Exception):
    """An outside service failed. ``retryable`` says whether trying again later may help."""

    def __init__(self, message: str, *, retryable: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code
