"""What every part of the engine shares: the ports, the clock, the policy, the hooks.

The engine is split by what a newcomer would look for (filing, decisions, granting,
revocation, follow-ups…); the parts call each other through one :class:`Core`, wired once by
:class:`bot.access.service.AccessService`, so each part reads like the single class it was
cut from (``self.store``, ``self.clock``) and a call into another part names it
(``self.core.revocation.finish(...)``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bot.access.model import AccessRequest
from bot.access.planning import SAFEST, Semantics
from bot.access.policy import AccessPolicy
from bot.access.ports import Catalogue, Directory, ElasticPort, Notifier, Store
from bot.access.vocabulary import Actor
from bot.clock import Clock

if TYPE_CHECKING:
    from bot.access.engine.apikey import KeyWatch
    from bot.access.engine.decisions import Decisions
    from bot.access.engine.drift import Drift
    from bot.access.engine.extensions import Extensions
    from bot.access.engine.failures import Failures
    from bot.access.engine.filing import Filing
    from bot.access.engine.followups import FollowUps
    from bot.access.engine.granting import Granting
    from bot.access.engine.inviting import Inviting
    from bot.access.engine.leavers import Leavers
    from bot.access.engine.outbox import Outbox
    from bot.access.engine.people import People
    from bot.access.engine.reviews import Reviews
    from bot.access.engine.revocation import Revocation
    from bot.access.engine.sweep import Sweeper

#: Who "acts" when nobody clicked: the expiry timer, the sweep.
SYSTEM = Actor.SYSTEM
#: Who approves when a policy rule says auto_approve.
AUTO = Actor.POLICY
#: Who approves a break-glass request: nobody; the requester took it, on the record.
BREAK_GLASS = Actor.BREAK_GLASS
#: What a person is told when Slack could not say who they are: nothing is assumed.
SLACK_DOWN = (
    "Slack did not answer when I looked you up, so nothing was done. Try again in a minute."
)
#: Who ends a grant whose requester may no longer have access (deactivated, now a guest…).
OFFBOARDING = Actor.OFFBOARDING
#: Why a requester may no longer have access, for the records and the messages.
LEFT = {
    "deactivated": "the requester was deactivated in Slack",
    "bot": "the requester is a bot account",
    "guest": "the requester is now a guest in Slack",
    "external": "the requester is not a member of this workspace",
    "unconfirmed": "the requester's Slack email address is not confirmed",
    "domain": "the requester's email address is outside the allowed domains",
}
#: How old (seconds) a read of the members may be when deciding what to add or remove;
#: every change is then confirmed by a read that starts after it.
PLANNING_READ_AGE = 2.0
#: How old a read may be when it only tells who someone is (membership, user ID).
IDENTITY_READ_AGE = 30.0


class Core:
    """The shared context: ports and hooks (set by the runtime after construction, so
    read through here at each use) and the parts, each a cohesive slice of the lifecycle."""

    people: People
    filing: Filing
    decisions: Decisions
    extensions: Extensions
    granting: Granting
    inviting: Inviting
    keys: KeyWatch
    failures: Failures
    revocation: Revocation
    leavers: Leavers
    drift: Drift
    followups: FollowUps
    outbox: Outbox
    sweeper: Sweeper
    reviews: Reviews

    def __init__(
        self,
        *,
        store: Store,
        elastic: ElasticPort,
        directory: Directory,
        catalogue: Catalogue,
        notifier: Notifier,
        clock: Clock,
        policy: AccessPolicy,
    ) -> None:
        self.store = store
        self.elastic = elastic
        self.directory = directory
        self.catalogue = catalogue
        self.notifier = notifier
        self.clock = clock
        self.policy = policy
        #: Called with (request_id, expires_at) when a grant gets an expiry (the scheduler).
        self.on_expiry_set: Callable[[int, datetime], None] | None = None
        #: Called with request_id when a grant ends early (to drop its timer).
        self.on_ended: Callable[[int], None] | None = None
        #: Called with request_id when an approved request is ready to grant: the runtime
        #: wakes its worker, which claims the row from the database like any due work (so
        #: the process that took the click only recorded it). None: grant at once, here
        #: (the in-memory unit tests, a caller that wants the facade synchronous).
        self.on_grant_due: Callable[[int], None] | None = None
        #: Likewise when a person ended a grant (Revoke now): the row is revoking, and the
        #: worker removes the role. None: remove it at once, here.
        self.on_revoke_due: Callable[[int], None] | None = None
        #: The API key's ID (``ELASTIC_CLOUD_API_KEY_ID``): set, its expiry is watched.
        self.api_key_id: str | None = None
        #: How Elastic behaves where it documents nothing: what ``python -m bot probe``
        #: measured (the runtime reads it from the database), else the safest assumptions.
        self.semantics: Callable[[], Semantics] = lambda: SAFEST


class LeaseLost(Exception):
    """This process no longer holds the lease on a row it was working on (it stalled, or lost
    the database, for longer than the lease): another process may be working on the row now,
    so this one stops without an Elastic change and without writing anything."""


class Part:
    """One slice of the engine. The ports and hooks are read through the core at each use:
    the runtime sets the hooks (and the semantics) after the service is built."""

    def __init__(self, core: Core) -> None:
        self.core = core

    @property
    def store(self) -> Store:
        return self.core.store

    @property
    def elastic(self) -> ElasticPort:
        return self.core.elastic

    @property
    def directory(self) -> Directory:
        return self.core.directory

    @property
    def catalogue(self) -> Catalogue:
        return self.core.catalogue

    @property
    def notifier(self) -> Notifier:
        return self.core.notifier

    @property
    def clock(self) -> Clock:
        return self.core.clock

    @property
    def policy(self) -> AccessPolicy:
        return self.core.policy

    def hold_lease(self, request: AccessRequest) -> None:
        """Raise :class:`LeaseLost` unless this process still holds ``request``'s lease: the
        fence right before each change to Elastic, so of two processes that both believed
        they held a row, at most one changes Elastic for it."""
        if not self.store.holds_lease(request.id, self.clock.now()):
            raise LeaseLost(f"{request.ref}: the lease ran out; another process takes over")

    @property
    def semantics(self) -> Callable[[], Semantics]:
        return self.core.semantics

    @property
    def on_expiry_set(self) -> Callable[[int, datetime], None] | None:
        return self.core.on_expiry_set

    @property
    def on_ended(self) -> Callable[[int], None] | None:
        return self.core.on_ended

    @property
    def on_grant_due(self) -> Callable[[int], None] | None:
        return self.core.on_grant_due

    @property
    def on_revoke_due(self) -> Callable[[int], None] | None:
        return self.core.on_revoke_due


def not_yours(request_id: int) -> str:
    return f"Request #{request_id} was not found, or is not yours."


def already(request: AccessRequest) -> str:
    who = f" by <@{request.decided_by}>" if request.decided_by else ""
    return f"Request {request.ref} was already {request.state.value}{who}."
