"""The filters of ``/elastic-access list …`` and who may see what they select.

Plain Python: words in, a :class:`ListQuery` out (or an :class:`InvalidRequest` saying what is
wrong and how to fix it); then :func:`visible_scope` narrows the query to what the viewer may
see. The store turns both into one SQL query (:mod:`bot.store.audit`).

Filter words (any order, case-insensitive keywords)::

    active | pending | status:<state>     states (several add up)
    mine | all | @U123 | <@U123|name>      whose requests
    <role id>                              e.g. deployment-viewer
    <any other word>                       resource name or ID (or ``organization``,
                                           ``all-deployments``)
    since:7d | since:2026-11-01[T10:00]    created at or after (relative to now, or UTC)
    until:2h | until:2026-11-01[T10:00]    created before (a bare date includes that day)
    page:N                                 page N (default 1)
    export                                 send the result as a CSV file
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.access.durations import DurationError, parse_duration
from bot.access.errors import InvalidRequest, NotAllowed
from bot.access.resources import DEPLOYMENT_ROLES, ORGANIZATION_ROLES, PROJECT_ROLES
from bot.access.states import State
from bot.access.text import escape
from bot.access.visibility import Viewer

LIST_USAGE = (
    "/elastic-access list [active|pending|status:<state>] [mine|all|@user] [<resource>] "
    "[<role>] [since:7d|since:2026-11-01] [until:<date>] [page:N] [export]"
)

#: Shorthand words and the states they stand for.
STATE_WORDS: dict[str, tuple[State, ...]] = {
    "active": (State.ACTIVE, State.GRANTING, State.REVOKING),
    "pending": (State.PENDING,),
}
KNOWN_ROLES = frozenset(
    (
        *ORGANIZATION_ROLES,
        *DEPLOYMENT_ROLES,
        *(r for roles in PROJECT_ROLES.values() for r in roles),
    )
)
PREFIXES = ("status", "since", "until", "page")
MAX_PAGE = 10_000

# Slack member IDs: U… or W… then upper-case letters and digits. Slack sends an escaped
# mention as <@U123> or <@U123|name>; someone may also type @U123 by hand.
_ESCAPED_MENTION = re.compile(r"^<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>$")
_TYPED_ID = re.compile(r"^@([UW][A-Z0-9]{2,})$")
_PREFIXED = re.compile(r"^([A-Za-z_-]+):(.*)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class ListQuery:
    """What ``/elastic-access list …`` asked for. ``mine``/``all``/``user_id`` are resolved
    against the viewer by :func:`visible_scope`; the rest are plain filters."""

    states: tuple[State, ...] = ()
    mine: bool = False
    all: bool = False
    user_id: str | None = None
    resource: str | None = None
    role: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1
    export: bool = False

    def offset(self, page_size: int) -> int:
        """Rows to skip for this query's page."""
        return (self.page - 1) * page_size

    def describe(self) -> str:
        """The filters in words, for the heading of a reply (mrkdwn; empty when there are
        none)."""
        parts = []
        if self.states:
            parts.append("/".join(s.value for s in self.states))
        if self.resource:
            parts.append(f"on {escape(self.resource)}")
        if self.role:
            parts.append(f"as {self.role}")
        if self.since:
            parts.append(f"since {self.since:%Y-%m-%d %H:%M} UTC")
        if self.until:
            parts.append(f"before {self.until:%Y-%m-%d %H:%M} UTC")
        return ", ".join(parts)


def _fail(message: str) -> InvalidRequest:
    """``message`` is mrkdwn: the words the person typed in it are escaped where it is built."""
    return InvalidRequest(f"{message} Usage: `{escape(LIST_USAGE)}`", field="filters")


def parse_moment(text: str, now: datetime, *, end: bool = False) -> datetime:
    """A point in time as people type it, in UTC.

    ``7d``/``2h``/``1h30m``: that long before ``now``. ``2026-11-01``: midnight UTC that day,
    or with ``end=True`` the next midnight (so an ``until`` date includes the whole day).
    ``2026-11-01T10:00[:00][Z|+02:00]``: that instant (no offset means UTC).
    Raises :class:`ValueError` with a message fit for the user, also for a moment outside
    what a ``datetime`` holds (``until:9999-12-31`` is the next midnight: year 10000), which
    would otherwise surface as an ``OverflowError`` far from the word that caused it.
    """
    try:
        return _moment(text, now, end=end)
    except OverflowError:
        raise ValueError(
            f"'{text.strip()}' is out of range; use a date between 0001-01-02 and 9999-12-30"
        ) from None


def _moment(text: str, now: datetime, *, end: bool) -> datetime:
    raw = text.strip()
    if not raw:
        raise ValueError("is empty; write it like 7d, 2h or 2026-11-01")
    if raw[0].isdigit() and "-" not in raw and ":" not in raw:
        try:
            return now.astimezone(UTC) - parse_duration(raw)
        except DurationError as exc:
            raise ValueError(str(exc)) from None
    if _DATE.match(raw):
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"'{raw}' is not a real date") from None
        moment = datetime.combine(day, time(), tzinfo=UTC)
        return moment + timedelta(days=1) if end else moment
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            f"'{raw}' is neither a duration nor a date; write it like 7d, 2h, 2026-11-01 "
            "or 2026-11-01T10:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _state(value: str) -> State:
    try:
        return State(value.lower().replace("-", "_"))
    except ValueError:
        valid = ", ".join(s.value for s in State)
        raise _fail(f"Unknown status '{escape(value)}'. Valid: {valid}.") from None


def parse_list_filters(words: Sequence[str], now: datetime) -> ListQuery:
    """Parse the words after ``list``; raises :class:`InvalidRequest` naming the bad word."""
    states: list[State] = []
    mine = everyone = export = False
    user_id: str | None = None
    resource: str | None = None
    role: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    page: int | None = None

    for word in (w for raw in words for w in raw.split()):
        lower = word.lower()
        if lower in STATE_WORDS:
            states.extend(STATE_WORDS[lower])
        elif lower == "mine":
            mine = True
        elif lower == "all":
            everyone = True
        elif lower == "export":
            export = True
        elif word.startswith(("@", "<@")):
            match = _ESCAPED_MENTION.match(word) or _TYPED_ID.match(word)
            if not match:
                raise _fail(
                    f"'{escape(word)}' is not a Slack member ID. Mention the person from Slack's "
                    "@ list, "
                    "or type their member ID like @U0123ABCD (profile → ⋮ → Copy member ID)."
                )
            if user_id is not None and user_id != match.group(1):
                raise _fail("Name one person at most.")
            user_id = match.group(1)
        elif match := _PREFIXED.match(word):
            key, value = match.group(1).lower(), match.group(2)
            if key not in PREFIXES:
                raise _fail(
                    f"Unknown filter '{escape(match.group(1))}:'. Filters with a value: "
                    + ", ".join(f"{p}:" for p in PREFIXES)
                    + "."
                )
            if key == "status":
                if not value:
                    raise _fail("status: needs a state, e.g. status:denied.")
                states.append(_state(value))
            elif key == "page":
                if page is not None:
                    raise _fail("page: is given twice.")
                if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
                    raise _fail(f"page:{escape(value)} is not a page number; write it like page:2.")
                page = int(value)
            else:
                if (since if key == "since" else until) is not None:
                    raise _fail(f"{key}: is given twice.")
                try:
                    moment = parse_moment(value, now, end=key == "until")
                except ValueError as exc:
                    raise _fail(f"Bad {key}:{escape(value)} — {escape(exc)}.") from None
                if key == "since":
                    since = moment
                else:
                    until = moment
        elif lower in KNOWN_ROLES:
            if role is not None and role != lower:
                raise _fail(f"Name one role at most (got {role} and {lower}).")
            role = lower
        else:
            if resource is not None and resource.lower() != lower:
                raise _fail(
                    f"Name one resource at most (got '{escape(resource)}' and '{escape(word)}'). "
                    "For a name with spaces, use the deployment ID."
                )
            resource = resource or word

    if mine and everyone:
        raise _fail("`mine` and `all` contradict each other; use one.")
    if mine and user_id is not None:
        raise _fail("Use either `mine` or a person, not both.")
    if since is not None and until is not None and since >= until:
        raise _fail("since: must be before until:.")
    return ListQuery(
        states=tuple(dict.fromkeys(states)),
        mine=mine,
        all=everyone,
        user_id=user_id,
        resource=resource,
        role=role,
        since=since,
        until=until,
        page=page or 1,
        export=export,
    )


@dataclass(frozen=True)
class Scope:
    """Whose requests a viewer may see, in the store's terms.

    ``requester_id`` and ``resource_keys`` are OR-ed: requests filed by ``requester_id``, or
    for a resource in ``resource_keys``. Both None: every request. ``resource_keys`` empty and
    no ``requester_id``: nothing. The query's ``user_id`` is applied on top (AND) by the store.
    """

    requester_id: str | None
    resource_keys: frozenset[str] | None
    label: str

    @property
    def empty(self) -> bool:
        return (
            self.requester_id is None and self.resource_keys is not None and not self.resource_keys
        )


def visible_scope(query: ListQuery, viewer: Viewer, owned_resources: set[str]) -> Scope:
    """What ``viewer`` may see of ``query``.

    Everyone sees their own requests; integration owners and auditors see all; resource owners
    also see the requests for the resources they own (keys like ``deployment:<id>``).
    ``all`` by anyone else is refused; ``@someone-else`` by anyone else shows only that
    person's requests for resources the viewer owns (none if they own none).
    """
    me = viewer.user_id
    owned = frozenset(owned_resources)
    if query.all and not viewer.sees_all:
        raise NotAllowed(
            "Only integration owners and auditors can list everyone's requests. "
            "Use `mine`, or `@person` for their requests on resources you own."
        )
    if query.mine or query.user_id == me:
        return Scope(me, None, "your requests")
    if query.user_id is not None:
        who = f"requests by <@{query.user_id}>"
        if viewer.sees_all:
            return Scope(None, None, who)
        return Scope(None, owned, f"{who} for resources you own")
    if viewer.sees_all:
        return Scope(None, None, "all requests")
    if owned:
        return Scope(me, owned, "your requests and requests for resources you own")
    return Scope(me, None, "your requests")
