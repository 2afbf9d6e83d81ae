"""The service that runs a request through its life: file, decide, grant, revoke, sweep.

A thin facade over the engine (:mod:`bot.access.engine`), which does the work in cohesive
parts; the listeners, the runtime, the scheduler, the CLI and the tests call this one object.

Every step writes the store first (one conditional write, with its audit event) and only then
calls Elastic Cloud or tells anyone; a step that fails leaves the row in a state the sweep
picks up again, so a crash or an outage delays work but never loses it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.access.engine.apikey import KeyWatch
from bot.access.engine.core import Core
from bot.access.engine.decisions import Decisions
from bot.access.engine.drift import Drift
from bot.access.engine.extensions import Extensions
from bot.access.engine.failures import Failures
from bot.access.engine.filing import Filing
from bot.access.engine.followups import FollowUps
from bot.access.engine.granting import Granting
from bot.access.engine.inviting import Inviting, invitation_expiry
from bot.access.engine.leavers import Leavers
from bot.access.engine.outbox import Outbox
from bot.access.engine.people import People
from bot.access.engine.reviews import Reviews
from bot.access.engine.revocation import Revocation
from bot.access.engine.sweep import Sweeper
from bot.access.errors import InvalidRequest
from bot.access.listing import parse_list_filters, visible_scope
from bot.access.model import AccessRequest
from bot.access.planning import Semantics
from bot.access.policy import AccessPolicy
from bot.access.ports import Catalogue, Directory, ElasticPort, Notifier, Store
from bot.access.resources import Resource
from bot.access.review import Period, Review
from bot.access.routing import Explanation
from bot.access.rules import Rule
from bot.access.visibility import Viewer
from bot.clock import Clock

__all__ = [
    "LIST_PAGE_SIZE",
    "AccessService",
    "AuditExport",
    "audit_export",
    "invitation_expiry",  # where the tests and the probe have always imported it from
    "list_requests",
]


class AccessService:
    """The core's one entry point. It holds no logic of its own: each method hands over to
    the engine part that owns the behaviour, so the callers need not know the split."""

    def __init__(
        self,
        *,
        store: Store,  # bot.store.Store implements the port
        elastic: ElasticPort,
        directory: Directory,
        catalogue: Catalogue,
        notifier: Notifier,
        clock: Clock,
        policy: AccessPolicy,
    ) -> None:
        core = Core(
            store=store,
            elastic=elastic,
            directory=directory,
            catalogue=catalogue,
            notifier=notifier,
            clock=clock,
            policy=policy,
        )
        core.people = People(core)
        core.filing = Filing(core)
        core.decisions = Decisions(core)
        core.extensions = Extensions(core)
        core.granting = Granting(core)
        core.inviting = Inviting(core)
        core.keys = KeyWatch(core)
        core.failures = Failures(core)
        core.revocation = Revocation(core)
        core.leavers = Leavers(core)
        core.drift = Drift(core)
        core.followups = FollowUps(core)
        core.outbox = Outbox(core)
        core.sweeper = Sweeper(core)
        core.reviews = Reviews(core)
        self.core = core
        self.store = store
        self.elastic = elastic
        self.directory = directory
        self.catalogue = catalogue
        self.notifier = notifier
        self.clock = clock
        self.policy = policy

    # -- hooks and settings the runtime sets after construction (kept on the core)
    @property
    def on_expiry_set(self) -> Callable[[int, datetime], None] | None:
        """Called with (request_id, expires_at) when a grant gets an expiry (the scheduler)."""
        return self.core.on_expiry_set

    @on_expiry_set.setter
    def on_expiry_set(self, hook: Callable[[int, datetime], None] | None) -> None:
        self.core.on_expiry_set = hook

    @property
    def on_ended(self) -> Callable[[int], None] | None:
        """Called with request_id when a grant ends early (to drop its timer)."""
        return self.core.on_ended

    @on_ended.setter
    def on_ended(self, hook: Callable[[int], None] | None) -> None:
        self.core.on_ended = hook

    @property
    def on_grant_due(self) -> Callable[[int], None] | None:
        """Called with a request's ID when its grant is due (the runtime wakes its worker)."""
        return self.core.on_grant_due

    @on_grant_due.setter
    def on_grant_due(self, hook: Callable[[int], None] | None) -> None:
        self.core.on_grant_due = hook

    @property
    def on_revoke_due(self) -> Callable[[int], None] | None:
        """Called with a request's ID when a person ended its grant (the runtime wakes its
        worker)."""
        return self.core.on_revoke_due

    @on_revoke_due.setter
    def on_revoke_due(self, hook: Callable[[int], None] | None) -> None:
        self.core.on_revoke_due = hook

    def finish_due(self, request_id: int) -> None:
        """The worker's half of a Revoke now: claim the revoking row and remove the role."""
        self.core.revocation.finish(request_id)

    def grant_due(self, request_id: int) -> None:
        """The worker's half of a hand-off: claim the approved request and grant it (a row
        another process already took, or that is no longer approved, is left alone)."""
        self.core.granting.grant(request_id)

    @property
    def api_key_id(self) -> str | None:
        """The API key's ID (``ELASTIC_CLOUD_API_KEY_ID``): set, its expiry is watched."""
        return self.core.api_key_id

    @api_key_id.setter
    def api_key_id(self, key_id: str | None) -> None:
        self.core.api_key_id = key_id

    @property
    def semantics(self) -> Callable[[], Semantics]:
        """How Elastic behaves where it documents nothing (``python -m bot probe``)."""
        return self.core.semantics

    @semantics.setter
    def semantics(self, read: Callable[[], Semantics]) -> None:
        self.core.semantics = read

    # -- people
    def owned_resource_keys(self, user_id: str) -> set[str]:
        return self.core.people.owned_resource_keys(user_id)

    def viewer(self, user_id: str) -> Viewer:
        return self.core.people.viewer(user_id)

    def get(self, request_id: int) -> AccessRequest:
        return self.core.people.get(request_id)

    def visible(self, request_id: int, user_id: str) -> AccessRequest:
        return self.core.people.visible(request_id, user_id)

    # -- filing
    def validate(
        self,
        resource_text: str,
        role: str,
        duration: timedelta,
        justification: str,
        break_glass: bool = False,
        requester_id: str | None = None,
    ) -> tuple[Resource, Rule]:
        """The request form's checks: the request's own (for ``requester_id``: under the
        rules they may use), and (asked for) whether policy allows break-glass for it.
        Raises :class:`InvalidRequest` naming the field."""
        filing = self.core.filing
        person = filing.eligible_requester(requester_id) if requester_id else None
        resource, rule = filing.validate(resource_text, role, duration, justification, person)
        if break_glass and not rule.break_glass:
            raise InvalidRequest(
                "Policy does not allow break-glass for this role here.", field="break_glass"
            )
        return resource, rule

    def file_request(
        self,
        requester_id: str,
        resource_text: str,
        role: str,
        duration: timedelta,
        justification: str,
        break_glass: bool = False,
    ) -> AccessRequest:
        return self.core.filing.file_request(
            requester_id, resource_text, role, duration, justification, break_glass
        )

    def refusal_to_request(self, user_id: str) -> str | None:
        return self.core.filing.refusal_to_request(user_id)

    def requestable_resources(self, user_id: str, query: str, limit: int = 100) -> list[Resource]:
        return self.core.filing.requestable_resources(user_id, query, limit)

    def typeahead(
        self, user_id: str, query: str, limit: int = 100
    ) -> list[tuple[Resource, list[str]]]:
        return self.core.filing.typeahead(user_id, query, limit)

    def form_choices(self, user_id: str, resource_text: str) -> tuple[Resource | None, list[str]]:
        return self.core.filing.form_choices(user_id, resource_text)

    def break_glass_offered(self, user_id: str, resource: Resource | None) -> bool:
        return self.core.filing.break_glass_offered(user_id, resource)

    def request_again(
        self, request_id: int, user_id: str
    ) -> tuple[AccessRequest, Resource | None, list[str]]:
        return self.core.filing.request_again(request_id, user_id)

    def who_approves(self, user_id: str, resource_text: str, role: str) -> Explanation:
        return self.core.filing.explain(user_id, resource_text, role)

    # -- decisions
    def check_decider(self, request: AccessRequest, actor_id: str) -> list[str]:
        return self.core.decisions.check_decider(request, actor_id)

    def decidable(self, request_id: int, actor_id: str) -> AccessRequest:
        """The request, if ``actor_id`` may decide it now (the Deny form opens only then)."""
        request = self.core.people.get(request_id)
        self.core.decisions.check_decider(request, actor_id)
        return request

    def decide(
        self, request_id: int, actor_id: str, approve: bool, reason: str | None = None
    ) -> AccessRequest:
        return self.core.decisions.decide(request_id, actor_id, approve, reason)

    def decide_extension(
        self,
        request_id: int,
        actor_id: str,
        approve: bool,
        reason: str | None = None,
        asked: int | None = None,
    ) -> AccessRequest:
        return self.core.decisions.decide_extension(request_id, actor_id, approve, reason, asked)

    # -- extensions
    def check_extension(
        self, request_id: int, actor_id: str, duration: timedelta, reason: str
    ) -> tuple[AccessRequest, Rule]:
        return self.core.extensions.check_extension(request_id, actor_id, duration, reason)

    def request_extension(
        self, request_id: int, actor_id: str, duration: timedelta, reason: str
    ) -> AccessRequest:
        return self.core.extensions.request_extension(request_id, actor_id, duration, reason)

    def extension_room(self, request: AccessRequest) -> timedelta:
        return self.core.extensions.extension_room(request)

    def extension_form(self, request_id: int, actor_id: str) -> tuple[AccessRequest, timedelta]:
        return self.core.extensions.extension_form(request_id, actor_id)

    # -- revocation
    def revoke(self, request_id: int, actor_id: str) -> AccessRequest:
        return self.core.revocation.revoke(request_id, actor_id)

    def expire(self, request_id: int) -> None:
        self.core.revocation.expire(request_id)

    def acknowledge_parked(self, request_id: int, actor_id: str) -> str:
        return self.core.revocation.acknowledge_parked(request_id, actor_id)

    # -- leavers, drift, resources that change
    def person_changed(self, user_id: str) -> int:
        return self.core.leavers.person_changed(user_id)

    def reconcile(self) -> list[dict]:
        return self.core.drift.reconcile()

    def resources_changed(self, changes: list[tuple[Resource, Resource]]) -> int:
        return self.core.drift.resources_changed(changes)

    # -- access reviews
    def send_access_reviews(self) -> int:
        return self.core.reviews.send_due()

    def access_review(self, period: Period, *, read_elastic: bool = True) -> Review:
        return self.core.reviews.review(period, read_elastic=read_elastic)

    # -- the sweep and the outbox
    def sweep(self) -> int:
        return self.core.sweeper.sweep()

    def work_due(self) -> int:
        return self.core.sweeper.work_due()

    def renew_leases(self) -> int:
        return self.store.renew_leases(self.clock.now(), self.policy.lease)

    def renotify(self, older_than: datetime) -> int:
        return self.core.outbox.renotify(older_than)

    def drain(self) -> None:
        self.core.outbox.drain()

    def close(self) -> None:
        """Stop the sweep's worker threads and the notification queue (waits for both)."""
        self.core.sweeper.close()
        self.core.outbox.close()


LIST_PAGE_SIZE = 20


def list_requests(
    service: AccessService, user_id: str, filters: tuple[str, ...], limit: int = LIST_PAGE_SIZE
):
    """The requests ``user_id`` may see, filtered and paged.

    Returns (requests, total, heading, query). Raises InvalidRequest / NotAllowed."""
    query = parse_list_filters(filters, service.clock.now())
    viewer = service.viewer(user_id)
    scope = visible_scope(query, viewer, service.owned_resource_keys(user_id))
    if scope.empty:
        return [], 0, scope.label, query
    requests, total = service.store.search(
        query,
        requester_id=scope.requester_id,
        resource_keys=scope.resource_keys,
        limit=limit,
        offset=query.offset(limit),
    )
    described = query.describe()
    heading = scope.label + (f", {described}" if described else "")
    return requests, total, heading, query


@dataclass(frozen=True)
class AuditExport:
    """What ``/elastic-access list … export`` may send: the events from ``since`` to ``until``
    of requests filed by ``requester_id`` or for a resource in ``resource_keys`` (both None:
    all of them), described as ``label``."""

    label: str
    since: datetime
    until: datetime | None
    requester_id: str | None
    resource_keys: frozenset[str] | None
    at: datetime


#: An export with no ``since:`` covers this much.
EXPORT_DEFAULT_SPAN = timedelta(days=30)


def audit_export(service: AccessService, user_id: str, filters: tuple[str, ...]):
    """The audit trail ``user_id`` may export, when ``filters`` ask for an export (else None).

    Scoped like their ``list``: integration owners and auditors get every event, anyone
    else the events of their own requests and of requests for resources they own. Raises
    InvalidRequest / NotAllowed as ``list`` does."""
    now = service.clock.now()
    query = parse_list_filters(filters, now)
    if not query.export:
        return None
    scope = visible_scope(query, service.viewer(user_id), service.owned_resource_keys(user_id))
    return AuditExport(
        label=scope.label,
        since=query.since or now - EXPORT_DEFAULT_SPAN,
        until=query.until,
        requester_id=scope.requester_id,
        resource_keys=scope.resource_keys,
        at=now,
    )


def export_events(service: AccessService, export: AuditExport) -> Iterable[dict[str, Any]]:
    """The events ``export`` allows, streamed from the store (the CSV is the caller's)."""
    return service.store.export_events(
        export.since,
        export.until,
        requester_id=export.requester_id,
        resource_keys=export.resource_keys,
    )
