"""``/elastic-access list …``: the filter words, who sees what, and the SQL that answers it."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlite_utils

from bot.access.errors import InvalidRequest, NotAllowed
from bot.access.listing import (
    LIST_USAGE,
    ListQuery,
    Scope,
    parse_list_filters,
    parse_moment,
    visible_scope,
)
from bot.access.resources import Resource, ResourceKind, unit_for
from bot.access.states import State
from bot.access.text import plain
from bot.access.visibility import Viewer
from bot.clock import FakeClock
from bot.store import Database, Store, migrations
from bot.store.audit import list_requests, list_sql

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
ACTIVE = (State.ACTIVE, State.GRANTING, State.REVOKING)


def parse(text: str, now: datetime = NOW) -> ListQuery:
    return parse_list_filters(text.split(), now)


def error_of(text: str) -> str:
    with pytest.raises(InvalidRequest) as caught:
        parse(text)
    message = plain(str(caught.value))  # as Slack shows the mrkdwn
    assert LIST_USAGE in message  # every error says how to write it right
    return message


# -- filter words ---------------------------------------------------------------------------


def test_no_words_is_the_default_query():
    assert parse("") == ListQuery()
    assert parse_list_filters([], NOW) == ListQuery(page=1)


@pytest.mark.parametrize(
    ("text", "states"),
    [
        ("active", ACTIVE),
        ("pending", (State.PENDING,)),
        ("ACTIVE Pending", (*ACTIVE, State.PENDING)),
        ("status:denied", (State.DENIED,)),
        ("status:timed-out", (State.TIMED_OUT,)),
        ("status:TIMED_OUT status:expired", (State.TIMED_OUT, State.EXPIRED)),
        ("status:active active", ACTIVE),  # no duplicates, first mention keeps its place
        ("pending status:denied", (State.PENDING, State.DENIED)),
    ],
)
def test_state_words(text, states):
    assert parse(text).states == states


def test_unknown_status_lists_the_valid_ones():
    message = error_of("status:approvd")
    assert "approvd" in message
    for state in State:
        assert state.value in message
    assert "needs a state" in error_of("status:")


@pytest.mark.parametrize(
    ("text", "field"),
    [("mine", "mine"), ("MINE", "mine"), ("all", "all"), ("export", "export")],
)
def test_flags(text, field):
    assert getattr(parse(text), field) is True


@pytest.mark.parametrize(
    "word", ["@U0ALICE01", "<@U0ALICE01>", "<@U0ALICE01|alice>", "<@U0ALICE01|alice.smith>"]
)
def test_a_person_by_id_or_escaped_mention(word):
    assert parse(word).user_id == "U0ALICE01"


def test_enterprise_ids_and_the_same_person_twice():
    assert parse("@W0GRID01").user_id == "W0GRID01"
    assert parse("@U0ALICE01 <@U0ALICE01|alice>").user_id == "U0ALICE01"


@pytest.mark.parametrize("word", ["@alice", "@u0alice01", "<@alice>", "<@U0ALICE01", "@"])
def test_a_person_by_name_is_refused_with_the_fix(word):
    message = error_of(word)
    assert word in message and "member ID" in message


def test_two_people_are_refused():
    assert "one person" in error_of("@U0ALICE01 @U0BOB0001")


def test_resource_and_role():
    query = parse("prod-search Deployment-Admin")
    assert query.resource == "prod-search"  # kept as typed; the store compares without case
    assert query.role == "deployment-admin"
    assert parse("security-t1-analyst").role == "security-t1-analyst"
    assert parse("organization-admin").role == "organization-admin"
    assert parse("d" * 32).resource == "d" * 32


def test_one_resource_and_one_role_at_most():
    assert "one resource" in error_of("prod-search staging-logs")
    assert "use the deployment ID" in error_of("prod search")
    assert parse("prod-search PROD-SEARCH").resource == "prod-search"
    assert "one role" in error_of("deployment-viewer deployment-admin")


def test_since_and_until_relative_to_now():
    query = parse("since:7d until:2h")
    assert query.since == NOW - timedelta(days=7)
    assert query.until == NOW - timedelta(hours=2)
    assert parse("since:1h30m").since == NOW - timedelta(minutes=90)
    assert parse("SINCE:1w").since == NOW - timedelta(days=7)


def test_since_and_until_as_dates_and_datetimes():
    assert parse("since:2026-11-01").since == datetime(2026, 11, 1, tzinfo=UTC)
    # A bare date as the end includes that whole day.
    assert parse("until:2026-11-01").until == datetime(2026, 11, 2, tzinfo=UTC)
    same_day = parse("since:2026-11-01 until:2026-11-01")
    assert same_day.until - same_day.since == timedelta(days=1)
    assert parse("since:2026-11-01T10:00").since == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert parse("since:2026-11-01T10:00Z").since == datetime(2026, 11, 1, 10, tzinfo=UTC)
    offset = parse("until:2026-11-01T10:00:00+02:00").until
    assert offset == datetime(2026, 11, 1, 8, tzinfo=UTC)
    assert offset.utcoffset() == timedelta(0)


def test_moments_are_aware_utc_even_from_a_foreign_now():
    foreign = NOW.astimezone(timezone(timedelta(hours=5)))
    moment = parse_moment("1d", foreign)
    assert moment.tzinfo is UTC and moment == NOW - timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("since:7x", "since:7x"),
        ("since:7", "no unit"),
        ("since:", "empty"),
        ("since:2026-13-01", "not a real date"),
        ("until:yesterday", "neither a duration nor a date"),
        ("since:2026-11-01T25:00", "neither a duration nor a date"),
        ("since:0d", "zero"),
        ("since:7d since:2d", "twice"),
        ("until:1d until:2d", "twice"),
        ("since:2026-11-05 until:2026-11-01", "before until"),
        ("since:1h until:2h", "before until"),
    ],
)
def test_bad_times(text, expect):
    assert expect in error_of(text)


def test_pages():
    assert parse("").page == 1
    assert parse("page:3").page == 3
    assert parse("PAGE:2").page == 2
    for bad in ("page:0", "page:-1", "page:x", "page:", "page:100001"):
        assert "page number" in error_of(bad), bad
    assert "twice" in error_of("page:2 page:3")


def test_paging_offsets():
    assert parse("").offset(20) == 0
    assert parse("page:2").offset(20) == 20
    assert parse("page:5").offset(7) == 28


def test_unknown_prefixed_word_names_the_filters():
    message = error_of("state:active")
    assert "state:" in message and "status:" in message and "since:" in message


def test_contradictions():
    assert "contradict" in error_of("mine all")
    assert "either" in error_of("mine @U0ALICE01")


def test_combination_in_any_order():
    query = parse_list_filters(
        ["page:2", "since:2026-11-01", "deployment-viewer", "<@U0BOB0001|bob>", "active"],
        NOW,
    )
    assert query == ListQuery(
        states=ACTIVE,
        user_id="U0BOB0001",
        role="deployment-viewer",
        since=datetime(2026, 11, 1, tzinfo=UTC),
        page=2,
    )
    # Words may also arrive unsplit.
    assert parse_list_filters(["mine  export", "prod-search"], NOW) == ListQuery(
        mine=True, export=True, resource="prod-search"
    )


def test_describe():
    assert ListQuery().describe() == ""
    text = parse("pending prod-search deployment-viewer since:2026-11-01").describe()
    assert text == "pending, on prod-search, as deployment-viewer, since 2026-11-01 00:00 UTC"


# -- who sees what --------------------------------------------------------------------------

ME = "U0VIEWER1"
OTHER = "U0OTHER01"
OWNED = {"deployment:" + "a" * 32}
PLAIN = Viewer(ME)
OWNER = Viewer(ME, is_owner=True)
AUDITOR = Viewer(ME, is_auditor=True)


def test_everyone_sees_their_own():
    scope = visible_scope(parse(""), PLAIN, set())
    assert scope == Scope(ME, None, "your requests")
    assert visible_scope(parse("mine"), PLAIN, OWNED).requester_id == ME
    assert visible_scope(parse("mine"), PLAIN, OWNED).resource_keys is None
    assert visible_scope(parse(f"@{ME}"), PLAIN, OWNED) == Scope(ME, None, "your requests")


@pytest.mark.parametrize("viewer", [OWNER, AUDITOR])
def test_integration_owners_and_auditors_see_all(viewer):
    assert visible_scope(parse(""), viewer, set()) == Scope(None, None, "all requests")
    assert visible_scope(parse("all"), viewer, set()).requester_id is None
    assert visible_scope(parse("mine"), viewer, set()) == Scope(ME, None, "your requests")
    someone = visible_scope(parse(f"@{OTHER}"), viewer, set())
    assert (someone.requester_id, someone.resource_keys) == (None, None)
    assert OTHER in someone.label


def test_resource_owners_also_see_their_resources():
    scope = visible_scope(parse("active"), PLAIN, OWNED)
    assert scope.requester_id == ME and scope.resource_keys == frozenset(OWNED)
    assert "resources you own" in scope.label


def test_all_is_refused_to_everyone_else():
    with pytest.raises(NotAllowed):
        visible_scope(parse("all"), PLAIN, set())
    with pytest.raises(NotAllowed):
        visible_scope(parse("all active"), PLAIN, OWNED)  # owning a resource is not enough


def test_someone_else_only_on_resources_you_own():
    scope = visible_scope(parse(f"@{OTHER}"), PLAIN, OWNED)
    assert scope.requester_id is None and scope.resource_keys == frozenset(OWNED)
    assert not scope.empty
    nothing = visible_scope(parse(f"@{OTHER}"), PLAIN, set())
    assert nothing.empty


# -- the store answers: a few hundred requests, every filter checked against a model ---------

ORG_ID = "1234567890"
PROD = Resource(ResourceKind.DEPLOYMENT, "a" * 32, "prod-search")
STAGING = Resource(ResourceKind.DEPLOYMENT, "b" * 32, "Staging-Logs")
SIEM = Resource(ResourceKind.PROJECT, "c" * 32, "siem", "security")
ORG = Resource(ResourceKind.ORGANIZATION, ORG_ID, "Acme")
ALL_DEPLOYMENTS = Resource(ResourceKind.ALL_DEPLOYMENTS, "all", "all deployments")
RESOURCES = (PROD, STAGING, SIEM, ORG, ALL_DEPLOYMENTS)
USERS = ("U0ALICE01", "U0BOB0001", "U0CAROL01", "U0DAVE001")
START = datetime(2026, 9, 1, tzinfo=UTC)
PATHS = {
    State.PENDING: (),
    State.APPROVED: (State.APPROVED,),
    State.GRANTING: (State.APPROVED, State.GRANTING),
    State.ACTIVE: (State.APPROVED, State.GRANTING, State.ACTIVE),
    State.REVOKING: (State.APPROVED, State.GRANTING, State.ACTIVE, State.REVOKING),
    State.EXPIRED: (State.APPROVED, State.GRANTING, State.ACTIVE, State.REVOKING, State.EXPIRED),
    State.REVOKED: (State.APPROVED, State.GRANTING, State.ACTIVE, State.REVOKING, State.REVOKED),
    State.DENIED: (State.DENIED,),
    State.CANCELLED: (State.CANCELLED,),
    State.FAILED: (State.FAILED,),
    State.TIMED_OUT: (State.TIMED_OUT,),
}


@dataclass(frozen=True)
class Row:
    id: int
    requester: str
    resource: Resource
    role: str
    state: State
    created_at: datetime


@pytest.fixture(scope="module")
def world():
    """300 requests over ~75 days, every user, resource, role and state; plus the model."""
    db = Database(":memory:")
    store = Store(db)
    store.migrate()
    clock = FakeClock(START)
    rnd = random.Random(20261120)
    rows: list[Row] = []
    for _ in range(300):
        clock.advance(timedelta(minutes=rnd.randint(1, 720)))
        user = rnd.choice(USERS)
        resource = rnd.choice(RESOURCES)
        role = rnd.choice(resource.roles())
        state = rnd.choice(list(PATHS))
        request = store.create_request(
            requester_id=user,
            requester_email=f"{user.lower()}@example.com",
            resource=resource,
            role_id=role,
            unit=unit_for(resource, role, ORG_ID),
            duration=timedelta(hours=1),
            justification="audit test",
            approvers=["U0APPROVE"],
            approvals_needed=1,
            now=clock.now(),
            elastic_user_id="1000000001",
        )
        for target in PATHS[state]:
            current = store.get(request.id).state
            assert store.transition(request.id, [current], target, now=clock.now(), actor="t")
        rows.append(Row(request.id, user, resource, role, state, request.created_at))
    # Two requests in the same microsecond: the id breaks the tie, newest first.
    for user in USERS[:2]:
        request = store.create_request(
            requester_id=user,
            requester_email="x@example.com",
            resource=PROD,
            role_id="deployment-viewer",
            unit=unit_for(PROD, "deployment-viewer", ORG_ID),
            duration=timedelta(hours=1),
            justification="same instant",
            approvers=["U0APPROVE"],
            approvals_needed=1,
            now=clock.now(),
            elastic_user_id=None,
        )
        rows.append(Row(request.id, user, PROD, "deployment-viewer", State.PENDING, clock.now()))
    yield db, rows, clock.now()
    db.close()


def expected(rows: list[Row], keep) -> list[int]:
    chosen = [r for r in rows if keep(r)]
    chosen.sort(key=lambda r: (r.created_at, r.id), reverse=True)
    return [r.id for r in chosen]


def ask(db, text: str, viewer: Viewer, owned: set[str], now: datetime, page_size: int = 1000):
    query = parse_list_filters(text.split(), now)
    scope = visible_scope(query, viewer, owned)
    requests, total = list_requests(
        db,
        query,
        requester_id=scope.requester_id,
        resource_keys=scope.resource_keys,
        limit=page_size,
        offset=query.offset(page_size),
    )
    return [r.id for r in requests], total


ALICE, BOB = USERS[0], USERS[1]
BOSS = Viewer("U0BOSS001", is_owner=True)
PROD_KEY = PROD.key
SIEM_KEY = SIEM.key


def nothing(r: Row) -> bool:
    return False


def _is_org(r: Row) -> bool:
    return r.resource.kind is ResourceKind.ORGANIZATION


CASES = [
    ("", BOSS, set(), lambda r: True),
    ("all", Viewer("U0AUDIT01", is_auditor=True), set(), lambda r: True),
    ("", Viewer(ALICE), set(), lambda r: r.requester == ALICE),
    ("mine", BOSS, set(), nothing),  # the boss filed nothing
    ("mine", Viewer(BOB), {PROD_KEY}, lambda r: r.requester == BOB),
    ("active", BOSS, set(), lambda r: r.state in ACTIVE),
    ("pending", Viewer(ALICE), set(), lambda r: r.requester == ALICE and r.state is State.PENDING),
    ("status:denied status:timed_out", BOSS, set(), lambda r: r.state in ("denied", "timed_out")),
    ("PROD-SEARCH", BOSS, set(), lambda r: r.resource == PROD),
    ("staging-logs", BOSS, set(), lambda r: r.resource == STAGING),  # stored as Staging-Logs
    ("c" * 32, BOSS, set(), lambda r: r.resource == SIEM),
    ("organization", BOSS, set(), _is_org),
    ("Org", BOSS, set(), _is_org),
    ("all-deployments", BOSS, set(), lambda r: r.resource == ALL_DEPLOYMENTS),
    ("nonexistent", BOSS, set(), nothing),
    ("deployment-admin", BOSS, set(), lambda r: r.role == "deployment-admin"),
    (
        "since:2026-10-01 until:2026-10-15",
        BOSS,
        set(),
        lambda r: (
            datetime(2026, 10, 1, tzinfo=UTC) <= r.created_at < datetime(2026, 10, 16, tzinfo=UTC)
        ),
    ),
    (
        "mine active since:2026-10-01",
        Viewer(ALICE),
        set(),
        lambda r: (
            r.requester == ALICE
            and r.state in ACTIVE
            and r.created_at >= datetime(2026, 10, 1, tzinfo=UTC)
        ),
    ),
    # A resource owner: their own requests, and everyone's on what they own.
    ("", Viewer(BOB), {PROD_KEY}, lambda r: r.requester == BOB or r.resource == PROD),
    (
        "active",
        Viewer(BOB),
        {PROD_KEY, SIEM_KEY},
        lambda r: r.state in ACTIVE and (r.requester == BOB or r.resource in (PROD, SIEM)),
    ),
    # Someone else, by a resource owner: only on the resources they own.
    (f"@{ALICE}", Viewer(BOB), {PROD_KEY}, lambda r: r.requester == ALICE and r.resource == PROD),
    (f"<@{ALICE}|alice>", Viewer(BOB), set(), nothing),
    (f"@{ALICE} pending", BOSS, set(), lambda r: r.requester == ALICE and r.state is State.PENDING),
    # A key for the right ID but the wrong kind matches nothing.
    ("", Viewer("U0NOBODY1"), {"project:security:" + PROD.id}, nothing),
    ("", Viewer("U0NOBODY1"), {"project:observability:" + SIEM.id}, nothing),
]


@pytest.mark.parametrize(("text", "viewer", "owned", "keep"), CASES)
def test_each_filter_returns_exactly_the_right_requests(world, text, viewer, owned, keep):
    db, rows, now = world
    ids, total = ask(db, text, viewer, owned, now)
    want = expected(rows, keep)
    assert want or keep is nothing  # no case passes by matching nothing by accident
    assert ids == want
    assert total == len(want)


def test_the_world_covers_every_case(world):
    _, rows, _ = world
    assert {r.state for r in rows} == set(State)
    assert {r.requester for r in rows} == set(USERS)
    assert {r.resource for r in rows} == set(RESOURCES)


def test_relative_since_uses_the_given_now(world):
    db, rows, now = world
    ids, total = ask(db, "since:10d", BOSS, set(), now)
    want = expected(rows, lambda r: r.created_at >= now - timedelta(days=10))
    assert ids == want and total == len(want) and 0 < total < len(rows)


def test_pages_walk_the_whole_list_once(world):
    db, rows, now = world
    want = expected(rows, lambda r: True)
    seen: list[int] = []
    for page in range(1, 100):
        ids, total = ask(db, f"page:{page}", BOSS, set(), now, page_size=7)
        assert total == len(want)
        if not ids:
            break
        assert len(ids) <= 7
        seen.extend(ids)
    assert seen == want
    # Past the end: nothing, but the total is still right.
    assert ask(db, "page:9999", BOSS, set(), now, page_size=7) == ([], len(want))


def test_rows_come_back_as_full_requests(world):
    db, rows, now = world
    (request,), total = list_requests(
        db, ListQuery(resource="siem"), requester_id=None, resource_keys=None, limit=1, offset=0
    )
    newest = expected(rows, lambda r: r.resource == SIEM)[0]
    assert request.id == newest and total > 1
    assert request.resource == SIEM and request.resource.key == SIEM_KEY
    assert request.created_at.tzinfo is not None


def test_an_empty_scope_asks_nothing(world):
    db, _, _ = world
    assert list_requests(
        db, ListQuery(), requester_id=None, resource_keys=set(), limit=5, offset=0
    ) == ([], 0)
    with pytest.raises(ValueError):
        list_requests(db, ListQuery(), requester_id=None, resource_keys=None, limit=0, offset=0)


def test_values_are_parameters_never_sql(world):
    db, _, _ = world
    nasty = "x' OR '1'='1"
    query = ListQuery(resource=nasty, user_id="U1'--", role="r')--")
    sql, params = list_sql(
        query, requester_id="U0';DROP", resource_keys={"deployment:'1"}, limit=5, offset=0
    )
    assert nasty not in sql and "U0';DROP" not in sql and "'1" not in sql
    assert nasty in params
    assert list_requests(
        db, query, requester_id="U0';DROP", resource_keys={"deployment:'1"}, limit=5, offset=0
    ) == ([], 0)


# -- the plans: every common filter is answered from an index --------------------------------

#: The indexes of the proposed ``0002_audit_indexes`` migration (same SQL).
AUDIT_INDEXES = {
    "requests_state_created": "CREATE INDEX IF NOT EXISTS requests_state_created "
    "ON requests (state, created_at)",
    "requests_resource": "CREATE INDEX IF NOT EXISTS requests_resource "
    "ON requests (resource_id, created_at)",
    "requests_resource_name": "CREATE INDEX IF NOT EXISTS requests_resource_name "
    "ON requests (resource_name COLLATE NOCASE, created_at)",
}


def plan(db, query: ListQuery, requester_id=None, resource_keys=None) -> list[str]:
    sql, params = list_sql(
        query, requester_id=requester_id, resource_keys=resource_keys, limit=20, offset=0
    )
    return [row["detail"] for row in db.query("EXPLAIN QUERY PLAN " + sql, params)]


def assert_indexed(steps: list[str]) -> None:
    on_requests = [s for s in steps if s.startswith(("SCAN requests", "SEARCH requests"))]
    assert on_requests, steps
    for step in on_requests:
        assert "INDEX" in step, f"full scan of requests: {steps}"


@pytest.fixture
def fresh_db():
    db = Database(":memory:")
    Store(db).migrate()
    yield db
    db.close()


def test_requester_and_created_at_use_an_index(fresh_db):
    since = ListQuery(since=NOW - timedelta(days=7))
    steps = plan(fresh_db, since, requester_id=ALICE)
    assert_indexed(steps)
    assert any("requests_requester" in s and "created_at>" in s for s in steps), steps
    assert_indexed(plan(fresh_db, ListQuery(user_id=ALICE)))


def test_state_uses_an_index(fresh_db):
    assert_indexed(plan(fresh_db, ListQuery(states=(State.PENDING,))))
    assert_indexed(plan(fresh_db, ListQuery(states=ACTIVE)))


def test_created_at_range_uses_an_index(fresh_db):
    query = ListQuery(since=NOW - timedelta(days=30), until=NOW)
    steps = plan(fresh_db, query)
    assert_indexed(steps)
    assert any("requests_created" in s for s in steps), steps


def test_newest_first_needs_no_sort_of_everything(fresh_db):
    """The page is read off the index in order; only the page itself (≤ limit rows) is
    sorted again for the outer join."""
    steps = plan(fresh_db, ListQuery())
    assert sum("TEMP B-TREE" in s for s in steps) == 1, steps


def test_resource_filters_use_indexes_with_the_audit_migration(fresh_db):
    for sql in AUDIT_INDEXES.values():  # a no-op once 0002_audit_indexes is in
        fresh_db.execute(sql)
    assert_indexed(plan(fresh_db, ListQuery(resource="prod-search")))
    owner = plan(fresh_db, ListQuery(), requester_id=BOB, resource_keys={PROD_KEY})
    assert_indexed(owner)
    assert any("MULTI-INDEX OR" in s for s in owner), owner
    assert_indexed(plan(fresh_db, ListQuery(user_id=ALICE), resource_keys={PROD_KEY}))


def test_audit_indexes_migration_is_registered(fresh_db):
    names = [m.name for m in migrations.migrations.pending(sqlite_utils.Database(memory=True))]
    if "0002_audit_indexes" not in names:
        pytest.skip("bot/store/migrations.py has no 0002_audit_indexes yet")
    present = {
        r["name"] for r in fresh_db.query("SELECT name FROM sqlite_master WHERE type = 'index'")
    }
    assert set(AUDIT_INDEXES) <= present
    steps = plan(fresh_db, ListQuery(states=(State.DENIED,)))
    assert any("requests_state_created" in s for s in steps), steps
