"""The core with in-memory ports: no HTTP, no threads, no files.

The store is the real one (``bot.store.Store``) on SQLite in memory, so every conditional
write, lease and audit event is the SQL production runs. Elastic Cloud, Slack's directory,
the notifier and the catalogue are small stand-ins written against the Protocols in
``bot.access.ports`` (``test_memory_ports.py`` checks each has every method of its Protocol,
with compatible parameters).

``World`` wires them into an :class:`AccessService` the way ``bot/runtime.py`` does, on a
:class:`FakeClock` that only moves when a test says so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.access.alerts import Alert
from bot.access.model import AccessRequest
from bot.access.planning import SAFEST, Semantics
from bot.access.policy import AccessPolicy
from bot.access.ports import Member, Person, UpstreamError
from bot.access.resources import Resource, ResourceKind, Unit
from bot.access.rules import Rule, Rules
from bot.access.service import AccessService
from bot.access.states import State
from bot.access.vocabulary import ALL_DEPLOYMENTS_ALIASES, ORGANIZATION_ALIASES
from bot.clock import FakeClock
from bot.store import Database, Store

ORG_ID = "1234567890"
#: Every unit test starts at the same moment: what a test prints or renders is stable.
START = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


# -- Elastic Cloud ------------------------------------------------------------------------------
@dataclass
class _Member:
    user_id: str
    email: str
    units: set[Unit] = field(default_factory=set)


class MemoryElastic:
    """An organization's members and their role-assignment units, in dicts.

    Assignments are a plain set: adding a unit adds it, removing one removes it (no absorbing
    ``all``, no replacing; the property test covers those behaviours). ``fail(op, error)``
    makes the next call of ``op`` (``add_units``, ``remove_units``, ``member``, …) raise
    ``error``; ``calls`` records every change asked of it."""

    def __init__(self, organization_id: str = ORG_ID) -> None:
        self.organization_id = organization_id
        self._members: dict[str, _Member] = {}
        #: token → (email, units, state: pending | accepted | expired)
        self.invitations: dict[str, tuple[str, tuple[Unit, ...], str]] = {}
        #: deployment ID → visible | hidden | missing (unknown IDs are visible)
        self.deployments: dict[str, str] = {}
        self.calls: list[tuple[str, Any]] = []
        self._faults: dict[str, list[BaseException]] = {}

    # -- set-up and inspection (for tests) --
    def add_member(self, email: str, user_id: str, units: Iterable[Unit] = ()) -> None:
        self._members[user_id] = _Member(user_id, email, set(units))

    def units_of(self, user_id: str) -> set[Unit]:
        return set(self._members[user_id].units)

    def fail(self, op: str, error: BaseException, times: int = 1) -> None:
        self._faults.setdefault(op, []).extend([error] * times)

    def _maybe_fail(self, op: str) -> None:
        waiting = self._faults.get(op)
        if waiting:
            raise waiting.pop(0)

    def _snapshot(self, m: _Member) -> Member:
        return Member(m.user_id, m.email, frozenset(m.units), holds_nothing=not m.units)

    # -- the port --
    def find_member(
        self, email: str, max_age: float = 0.0, consistent: bool = True
    ) -> Member | None:
        self._maybe_fail("find_member")
        wanted = email.strip().lower()
        for m in self._members.values():
            if m.email.lower() == wanted:
                return self._snapshot(m)
        return None

    def member(self, user_id: str, max_age: float = 0.0) -> Member | None:
        self._maybe_fail("member")
        m = self._members.get(user_id)
        return self._snapshot(m) if m else None

    def members(self, max_age: float = 0.0, skip_unreadable: bool = False) -> list[Member]:
        self._maybe_fail("members")
        return [self._snapshot(m) for m in self._members.values()]

    def member_ids(self, max_age: float = 0.0) -> set[str]:
        self._maybe_fail("members")
        return set(self._members)

    def add_units(self, user_id: str, units: Iterable[Unit]) -> None:
        units = sorted(units)
        self._maybe_fail("add_units")
        self.calls.append(("add_units", (user_id, units)))
        self._members[user_id].units.update(units)

    def remove_units(self, user_id: str, units: Iterable[Unit]) -> None:
        units = sorted(units)
        self._maybe_fail("remove_units")
        self.calls.append(("remove_units", (user_id, units)))
        self._members[user_id].units.difference_update(units)

    def remove_member(self, user_id: str) -> bool:
        self._maybe_fail("remove_member")
        self.calls.append(("remove_member", user_id))
        return self._members.pop(user_id, None) is not None

    def invite(self, email: str, units: Iterable[Unit], expires_in: str) -> str:
        self._maybe_fail("invite")
        token = hashlib.sha256(f"{email}|{len(self.invitations)}".encode()).hexdigest()[:24]
        self.invitations[token] = (email, tuple(sorted(units)), "pending")
        self.calls.append(("invite", (email, expires_in)))
        return token

    def pending_invitations(self) -> dict[str, str]:
        return {t: e for t, (e, _, s) in self.invitations.items() if s == "pending"}

    def invitation_states(self) -> dict[str, str]:
        return {t: s for t, (_, _, s) in self.invitations.items()}

    def delete_invitation(self, token: str) -> None:
        self.calls.append(("delete_invitation", token))
        self.invitations.pop(token, None)

    def deployment_state(self, deployment_id: str) -> str:
        return self.deployments.get(deployment_id, "visible")


# -- Slack's directory ----------------------------------------------------------------------------
class MemoryDirectory:
    """People by Slack user ID, user groups by handle. A user ID in ``down`` makes the
    lookup fail as Slack does when it does not answer (an :class:`UpstreamError`)."""

    def __init__(self, people: Iterable[Person] = ()) -> None:
        self.people: dict[str, Person] = {p.id: p for p in people}
        self.groups: dict[str, list[str]] = {}
        self.down: set[str] = set()
        self.unresolved: dict[str, str] = {}

    def add(self, person: Person) -> None:
        self.people[person.id] = person

    def person(self, user_id: str, fresh: bool = False) -> Person | None:
        # ``fresh``: the engine asks for Slack as it is now (the Protocol does not declare it)
        if user_id in self.down:
            raise UpstreamError("Slack did not answer", retryable=True)
        return self.people.get(user_id)

    def resolve(self, reference: str, fresh: bool = False) -> list[Person]:
        ref = reference.strip()
        if ref.startswith("@"):
            found = [self.people[i] for i in self.groups.get(ref[1:], []) if i in self.people]
        elif "@" in ref:
            found = [p for p in self.people.values() if (p.email or "").lower() == ref.lower()]
        else:
            one = self.person(ref, fresh)
            found = [one] if one else []
        if not found:
            self.unresolved[ref] = "names nobody"
        return [p for p in found if p.active]


# -- the notifier ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Told:
    """One call to the notifier: which method, the request's state then, and the rest."""

    what: str
    request_id: int | None
    state: State | None
    args: dict[str, Any]


class RecordingNotifier:
    """Records what would be told to whom instead of telling anyone."""

    def __init__(self) -> None:
        self.told: list[Told] = []

    def _record(self, what: str, request: AccessRequest | None = None, **args: Any) -> None:
        self.told.append(
            Told(what, request.id if request else None, request.state if request else None, args)
        )

    def kinds(self, request_id: int | None = None) -> list[str]:
        return [t.what for t in self.told if request_id is None or t.request_id == request_id]

    def of(self, what: str) -> list[Told]:
        return [t for t in self.told if t.what == what]

    def request_filed(self, request: AccessRequest) -> bool | None:
        self._record("request_filed", request, approvers=list(request.approvers))
        return True

    def request_decided(self, request: AccessRequest) -> bool | None:
        self._record("request_decided", request, decided_by=request.decided_by)
        return True

    def request_granted(self, request: AccessRequest) -> bool | None:
        self._record("request_granted", request, requester=request.requester_id)
        return True

    def request_failed(self, request: AccessRequest) -> bool | None:
        self._record("request_failed", request, error=request.last_error)
        return True

    def request_ended(self, request: AccessRequest) -> bool | None:
        self._record("request_ended", request, outcome=request.outcome)
        return True

    def approval_recorded(self, request: AccessRequest) -> None:
        self._record("approval_recorded", request)

    def remind(self, request: AccessRequest, approvers: list[str]) -> None:
        self._record("remind", request, approvers=list(approvers))

    def escalated(self, request: AccessRequest, added: list[str]) -> None:
        self._record("escalated", request, added=list(added))

    def extension_requested(
        self, request: AccessRequest, approvers: list[str], needed: int = 1
    ) -> None:
        self._record("extension_requested", request, approvers=list(approvers), needed=needed)

    def extension_approval_recorded(
        self, request: AccessRequest, approved_by: list[str], needed: int
    ) -> None:
        self._record(
            "extension_approval_recorded", request, approved_by=list(approved_by), needed=needed
        )

    def extension_decided(
        self,
        request: AccessRequest,
        *,
        approved: bool,
        actor_id: str,
        reason: str | None,
        after: AccessRequest | None = None,
    ) -> None:
        self._record(
            "extension_decided",
            request,
            approved=approved,
            actor_id=actor_id,
            reason=reason,
            expires_at=after.expires_at if after else None,
        )

    def expiring_soon(self, request: AccessRequest) -> None:
        self._record("expiring_soon", request)

    def grant_delayed(self, request: AccessRequest) -> None:
        self._record("grant_delayed", request, error=request.last_error)

    def revocation_overdue(self, request: AccessRequest, owners: list[str]) -> None:
        self._record("revocation_overdue", request, owners=list(owners))

    def revocation_recovered(self, request: AccessRequest, owners: list[str]) -> None:
        self._record("revocation_recovered", request, owners=list(owners))

    def revocation_parked(self, request: AccessRequest, owners: list[str]) -> None:
        self._record("revocation_parked", request, owners=list(owners))

    def notify_owners(self, owners: list[str], alert: Alert) -> None:
        self._record("notify_owners", None, owners=list(owners), alert=alert)

    def credentials_refused(self, owners: list[str], error: str) -> None:
        self._record("credentials_refused", None, owners=list(owners), error=error)

    def credentials_restored(self, owners: list[str], waiting: int) -> None:
        self._record("credentials_restored", None, owners=list(owners), waiting=waiting)

    def access_review(self, user_id: str, review: Any) -> None:
        self._record("access_review", None, user_id=user_id, review=review)


# -- the catalogue --------------------------------------------------------------------------------
class MemoryCatalogue:
    """The organization, all deployments, and whatever deployments a test adds."""

    def __init__(self, organization_id: str = ORG_ID) -> None:
        self.resources: list[Resource] = [
            Resource(ResourceKind.ORGANIZATION, organization_id, "organization"),
            Resource(ResourceKind.ALL_DEPLOYMENTS, "*", "all deployments"),
        ]
        #: A project's roles as Elastic lists them now, when they differ from the cache.
        self.live: dict[str, tuple[str, ...]] = {}
        #: Raised by :meth:`stack_roles` (the roles endpoint failing), when set.
        self.failing: Exception | None = None

    def add(self, resource: Resource) -> Resource:
        self.resources.append(resource)
        return resource

    def find(self, text: str) -> Resource | None:
        needle = (text or "").strip().lower()
        if needle in ORGANIZATION_ALIASES:
            return self.resources[0]
        if needle in ALL_DEPLOYMENTS_ALIASES:
            return self.resources[1]
        for r in self.resources:
            if needle in (r.key.lower(), r.id.lower(), r.name.lower()):
                return r
        return None

    def find_fresh(self, text: str) -> Resource | None:
        return self.find(text)

    def search(self, text: str, limit: int) -> list[Resource]:
        needle = (text or "").strip().lower()
        return [r for r in self.resources if needle in r.name.lower()][:limit]

    def all(self) -> tuple[Resource, ...]:
        return tuple(self.resources)

    def stack_roles(self, resource: Resource) -> tuple[str, ...]:
        """The project's custom roles as Elastic would list them now: those the resource
        was added with, or ``live[resource.id]``; ``failing`` raises as Elastic down would."""
        if self.failing is not None:
            raise self.failing
        added = next((r.stack_roles for r in self.resources if r.id == resource.id), ())
        return self.live.get(resource.id, added)


# -- the world: people, resources and the service wired together ----------------------------------
ALICE = Person("U_ALICE", "alice@example.com", "Alice")  # asks for access
OLIVIA = Person("U_OLIVIA", "olivia@example.com", "Olivia")  # integration owner
OSCAR = Person("U_OSCAR", "oscar@example.com", "Oscar")  # integration owner
GUEST = Person("U_GUEST", "gus@example.com", "Gus", ineligible="guest")
PROD_ID = "d" * 32
STAGING_ID = "e" * 32
PROD = Resource(ResourceKind.DEPLOYMENT, PROD_ID, "prod-search")
STAGING = Resource(ResourceKind.DEPLOYMENT, STAGING_ID, "staging-logs")
ALICE_ELASTIC = "1000000001"


def unit(role: str = "deployment-viewer", target: str = PROD_ID) -> Unit:
    return Unit("deployment", role, target)


class World:
    """An :class:`AccessService` on in-memory ports, built as ``bot/runtime.py`` builds it.

    ``expiries`` records what the scheduler would have been asked (the ``on_expiry_set``
    hook), ``ended`` the timers it would have dropped (``on_ended``)."""

    def __init__(
        self,
        *,
        rules: Iterable[Rule] = (),
        semantics: Semantics = SAFEST,
        **policy: Any,
    ) -> None:
        self.clock = FakeClock(START)
        self.store = Store(Database(":memory:"))
        self.store.migrate()
        self.elastic = MemoryElastic()
        self.directory = MemoryDirectory([ALICE, OLIVIA, OSCAR, GUEST])
        self.notifier = RecordingNotifier()
        self.catalogue = MemoryCatalogue()
        self.catalogue.add(PROD)
        self.catalogue.add(STAGING)
        self.elastic.add_member(ALICE.email or "", ALICE_ELASTIC)
        self.elastic.add_member(GUEST.email or "", "1000000009")
        policy.setdefault("integration_owners", (OLIVIA.id, OSCAR.id))
        self.policy = AccessPolicy(organization_id=ORG_ID, rules=Rules(tuple(rules)), **policy)
        self.service = AccessService(
            store=self.store,
            elastic=self.elastic,
            directory=self.directory,
            catalogue=self.catalogue,
            notifier=self.notifier,
            clock=self.clock,
            policy=self.policy,
        )
        self.service.semantics = lambda: semantics
        self.expiries: list[tuple[int, datetime]] = []
        self.ended: list[int] = []
        self.service.on_expiry_set = lambda rid, at: self.expiries.append((rid, at))
        self.service.on_ended = self.ended.append
        # The one place the core starts a thread on a single-row path: after a revocation,
        # ``Outbox.notify_later`` hands the notice to a one-thread queue. Here it is told at
        # once, on the caller's thread, which is what the queue does a moment later.
        outbox = self.service.core.outbox
        outbox.notify_later = outbox.tell  # type: ignore[method-assign]

    # -- what a person does --
    def file(
        self,
        role: str = "deployment-viewer",
        resource: str = "prod-search",
        duration: timedelta = timedelta(hours=1),
        justification: str = "INC-42 debugging search latency",
        requester: str = ALICE.id,
        break_glass: bool = False,
    ) -> AccessRequest:
        return self.service.file_request(
            requester, resource, role, duration, justification, break_glass
        )

    def granted(self, **kwargs: Any) -> AccessRequest:
        """A request filed by Alice and approved by Olivia: active, unless Elastic refused."""
        request = self.file(**kwargs)
        return self.service.decide(request.id, OLIVIA.id, approve=True)

    def pass_time(self, delta: timedelta) -> None:
        self.clock.advance(delta)

    def expire_all(self) -> None:
        """What the expiry timers would do: ``expire`` each grant that has one, one by one."""
        for request_id, _ in list(self.expiries):
            self.service.expire(request_id)

    # -- what a test looks at --
    def alice_holds(self) -> set[Unit]:
        return self.elastic.units_of(ALICE_ELASTIC)

    def state(self, request_id: int) -> State:
        return self.service.get(request_id).state

    def events(self, request_id: int) -> list[str]:
        return [e["kind"] for e in self.store.events(request_id)]
