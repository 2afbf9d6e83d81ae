"""Access reviews (issue #14 §4): what happened on each resource in a period, as data.

A review lists, per resource, the just-in-time grants that were live at some point in the
period (who, what, how long, why, who approved), the **standing** access Elastic Cloud shows
that the bot did not add (role assignments of the member list that are not in the bot's
owned units), and the grants that need a person now (a parked revocation, or one overdue).

Everything here is pure: the engine (``engine/reviews.py``) and ``python -m bot review``
read the store and Elastic, hand the rows in, and the edges render the result. A member
list that could not be read is carried as ``standing_error``, never as "no standing access".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from bot.access.durations import DurationError, parse_duration
from bot.access.model import AccessRequest
from bot.access.ports import Member
from bot.access.resources import Resource, ResourceKind, Unit
from bot.access.states import State

#: What ``access_review`` may say besides an interval such as ``14d``.
NAMED_INTERVALS = {"weekly": timedelta(days=7), "daily": timedelta(days=1)}
#: The shortest review period: anything shorter is noise, not a review.
SHORTEST = timedelta(hours=1)
#: Periods are counted from a Monday, midnight UTC: weekly reviews cover Monday to Monday,
#: daily ones midnight to midnight (UTC), ``14d`` every other Monday.
ANCHOR = datetime(1970, 1, 5, tzinfo=UTC)
#: States in which the member may hold the access because of the request.
LIVE = frozenset({State.GRANTING, State.ACTIVE, State.REVOKING})


def parse_interval(text: str) -> timedelta:
    """``weekly``, ``daily`` or a duration (``14d``, ``12h``) → the review period."""
    raw = (text or "").strip().lower()
    if raw in NAMED_INTERVALS:
        return NAMED_INTERVALS[raw]
    try:
        interval = parse_duration(raw)
    except DurationError as exc:
        raise ValueError(f"{exc} (or weekly, daily)") from None
    if interval < SHORTEST:
        raise ValueError(f"'{text}' is shorter than the shortest review period, 1h")
    return interval


@dataclass(frozen=True)
class Period:
    """``start <= moment < end``."""

    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        """What the database remembers a period's review by (sent once)."""
        return f"access_review:{self.start.astimezone(UTC).isoformat()}"


def last_complete_period(now: datetime, interval: timedelta) -> Period:
    """The latest period of ``interval`` that has ended by ``now``."""
    count = (now - ANCHOR) // interval
    end = ANCHOR + count * interval
    return Period(end - interval, end)


@dataclass(frozen=True)
class Grant:
    """One just-in-time grant live during the period, and who approved it (Slack user IDs,
    in the order they did; empty when a rule approved it or it was break-glass: see
    ``request.decided_by``)."""

    request: AccessRequest
    approved_by: tuple[str, ...] = ()

    @property
    def granted_for(self) -> timedelta:
        """How long the grant was given for, extensions included."""
        r = self.request
        if r.granted_at is not None and r.expires_at is not None:
            return r.expires_at - r.granted_at
        return r.duration

    @property
    def held_for(self) -> timedelta:
        """How long the access lasted, or is set to last when still live."""
        start = self.request.granted_at or self.request.created_at
        end = self.request.ended_at or self.request.expires_at
        return (end - start) if end else self.request.duration


@dataclass(frozen=True)
class Standing:
    """A role a member holds that the bot did not add."""

    user_id: str
    email: str
    unit: Unit


@dataclass(frozen=True)
class Attention:
    """A grant that needs a person: its revocation is parked (``why`` says why) or overdue."""

    request: AccessRequest
    kind: str  # "parked" | "overdue"
    why: str = ""


@dataclass(frozen=True)
class ResourceReview:
    resource: Resource
    grants: tuple[Grant, ...] = ()
    standing: tuple[Standing, ...] = ()
    attention: tuple[Attention, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.grants or self.standing or self.attention)


@dataclass(frozen=True)
class Review:
    """A review of ``resources`` for ``period``. ``standing_error`` says why the standing
    access could not be read (then none is listed, and that is not "none");
    ``standing_skipped`` that it was not asked for (``--no-elastic``)."""

    period: Period
    resources: tuple[ResourceReview, ...] = ()
    standing_error: str | None = None
    standing_skipped: bool = False
    made_at: datetime | None = field(default=None, compare=False)
    #: Members Elastic listed without role assignments (null or left out): their standing
    #: access is not known, which the review says rather than list them as holding none.
    standing_unknown: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return all(r.empty for r in self.resources)

    @property
    def standing_read(self) -> bool:
        return self.standing_error is None and not self.standing_skipped

    def only(self, keys: Iterable[str]) -> Review:
        """The same review narrowed to the resources whose keys are in ``keys``."""
        wanted = set(keys)
        return replace(self, resources=tuple(r for r in self.resources if r.resource.key in wanted))


def resource_of_unit(unit: Unit, known: Mapping[str, Resource]) -> Resource:
    """The resource one unit is on: the catalogue's when it knows it (names, tags), else one
    named by its ID (a deleted deployment keeps its assignments in Elastic)."""
    if unit.scope == ResourceKind.ORGANIZATION.value:
        resource = Resource(ResourceKind.ORGANIZATION, unit.target, unit.target)
    elif unit.scope == "deployment" and unit.target == "*":
        found = [r for r in known.values() if r.kind is ResourceKind.ALL_DEPLOYMENTS]
        resource = found[0] if found else Resource(ResourceKind.ALL_DEPLOYMENTS, "all", "all")
    elif unit.scope == "deployment":
        resource = Resource(ResourceKind.DEPLOYMENT, unit.target, unit.target)
    else:
        project_type = unit.scope.partition(":")[2]
        name = f"all {project_type} projects" if unit.target == "*" else unit.target
        resource = Resource(ResourceKind.PROJECT, unit.target, name, project_type)
    return known.get(resource.key, resource)


def build_review(
    period: Period,
    *,
    now: datetime,
    grants: Sequence[AccessRequest],
    approvals: Mapping[int, Sequence[str]],
    attention: Sequence[AccessRequest],
    overdue_after: timedelta,
    members: Sequence[Member] | None,
    owned: Iterable[tuple[str, Unit, int]],
    resources: Iterable[Resource],
    organization_id: str,
    standing_error: str | None = None,
    standing_skipped: bool = False,
) -> Review:
    """The whole organization's review.

    ``grants``: requests granted before ``period.end`` that had not ended by
    ``period.start`` (the store's ``review_grants``); ``approvals``: who approved each, by
    request ID; ``attention``: live grants parked or past their end (``needing_attention``);
    ``members``: Elastic's member list (None when it was not read: ``standing_error`` or
    ``standing_skipped`` says why); ``owned``: the bot's owned units (member, unit, request);
    ``resources``: the catalogue, for names and tags.
    """
    known = {r.key: r for r in resources}
    by_key: dict[str, dict[str, list]] = {}

    def slot(resource: Resource) -> dict[str, list]:
        key = resource.key
        if key not in by_key:
            known.setdefault(key, resource)
            by_key[key] = {"grants": [], "standing": [], "attention": []}
        return by_key[key]

    for request in grants:
        if request.granted_at is None or request.granted_at >= period.end:
            continue
        if request.ended_at is not None and request.ended_at < period.start:
            continue
        resource = known.get(request.resource.key, request.resource)
        slot(resource)["grants"].append(
            Grant(request, tuple(dict.fromkeys(approvals.get(request.id, ()))))
        )
    for request in attention:
        if request.state not in LIVE:
            continue
        resource = known.get(request.resource.key, request.resource)
        if request.parked:
            slot(resource)["attention"].append(Attention(request, "parked", request.parked))
        elif request.expires_at is not None and request.expires_at <= now - overdue_after:
            slot(resource)["attention"].append(Attention(request, "overdue"))
    unknown: list[str] = []
    if members is not None:
        unknown = sorted(m.email or m.user_id for m in members if not m.listed)
        mine: dict[str, set[Unit]] = {}
        for user_id, unit, _request_id in owned:
            mine.setdefault(user_id, set()).add(unit)
        for member in sorted(members, key=lambda m: (m.email.lower(), m.user_id)):
            for unit in sorted(member.units - mine.get(member.user_id, set())):
                if (
                    unit.scope == ResourceKind.ORGANIZATION.value
                    and organization_id
                    and unit.target != organization_id
                ):
                    continue  # a role in another organization: not ours to review
                resource = resource_of_unit(unit, known)
                slot(resource)["standing"].append(Standing(member.user_id, member.email, unit))
    reviews = tuple(
        ResourceReview(
            known[key],
            tuple(sorted(parts["grants"], key=lambda g: (g.request.granted_at, g.request.id))),
            tuple(parts["standing"]),
            tuple(sorted(parts["attention"], key=lambda a: a.request.id)),
        )
        for key, parts in sorted(by_key.items(), key=lambda kv: _order(known[kv[0]]))
    )
    return Review(
        period,
        reviews,
        standing_error=None if members is not None else standing_error,
        standing_skipped=members is None and standing_error is None and standing_skipped,
        made_at=now,
        standing_unknown=tuple(unknown),
    )


_KIND_ORDER = {
    ResourceKind.ORGANIZATION: 0,
    ResourceKind.ALL_DEPLOYMENTS: 1,
    ResourceKind.DEPLOYMENT: 2,
    ResourceKind.PROJECT: 3,
}


def _order(resource: Resource) -> tuple:
    return (_KIND_ORDER[resource.kind], resource.name.lower(), resource.key)


def digests(
    review: Review, owners: Mapping[str, Sequence[str]], every: Iterable[str] = ()
) -> dict[str, Review]:
    """Each person's part of ``review``: ``owners`` maps a resource key to the Slack user IDs
    who own it now (its tag's owners, else the integration owners). Only people who own a
    resource with something to review get one; an owner of nothing gets nothing. When the
    standing access could not be read, an owner of a resource with nothing else still gets a
    digest saying so (silence would read as "no standing access"): ``every`` lists the
    resource keys to consider then (all the catalogue's resources)."""
    keys_of: dict[str, list[str]] = {}
    listed = {r.resource.key for r in review.resources}
    considered = list(listed)
    if review.standing_error is not None:
        considered += [k for k in every if k not in listed]
    for key in considered:
        for user_id in owners.get(key, ()):
            keys_of.setdefault(user_id, []).append(key)
    out: dict[str, Review] = {}
    for user_id, keys in keys_of.items():
        mine = review.only(keys)
        mine = replace(mine, resources=tuple(r for r in mine.resources if not r.empty))
        if mine.resources or review.standing_error is not None:
            out[user_id] = mine
    return out
