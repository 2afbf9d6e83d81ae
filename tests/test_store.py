"""The SQLite store: conditional moves with their audit events, leases, the sweep's work list."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from bot.access.resources import Resource, ResourceKind, Unit
from bot.access.states import IllegalMove, State
from bot.store import Database, Store

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
DEPLOYMENT = Resource(ResourceKind.DEPLOYMENT, "d" * 32, "prod-search")
ALICE = "1000000001"
BOB = "1000000002"


@pytest.fixture
def db(tmp_path, request, store_kind):
    """The same store tests on SQLite and on a real PostgreSQL server."""
    if store_kind == "postgres":
        from bot.store.postgres import PostgresDatabase

        database = PostgresDatabase(request.getfixturevalue("postgres_url"))
    else:
        database = Database(tmp_path / "sub" / "access.db")
    yield database
    database.close()


@pytest.fixture
def sqlite_db(tmp_path):
    """For what only SQLite has (journal mode, a connection per thread)."""
    database = Database(tmp_path / "sub" / "access.db")
    Store(database).migrate()
    yield database
    database.close()


#: What either database raises when a statement fails (a trigger, a constraint).
DATABASE_ERRORS = (sqlite3.DatabaseError, psycopg.Error)


def _tables(db) -> set[str]:
    if db.dialect == "sqlite":
        return {r["name"] for r in db.query("SELECT name FROM sqlite_master WHERE type='table'")}
    return {
        r[0]
        for r in db.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    }


@pytest.fixture
def store(db):
    s = Store(db)
    s.migrate()
    return s


def _unit(target: str = "d" * 32, role: str = "deployment-viewer") -> Unit:
    return Unit("deployment", role, target)


def _create(store: Store, *, user: str | None = ALICE, unit: Unit | None = None, now=T0):
    return store.create_request(
        requester_id="UREQ",
        requester_email="alice@example.com",
        resource=DEPLOYMENT,
        role_id="deployment-viewer",
        unit=unit or _unit(),
        duration=timedelta(hours=2),
        justification="investigating INC-42",
        approvers=["UOWN1", "UOWN2"],
        approvals_needed=1,
        now=now,
        elastic_user_id=user,
    )


def _move(store: Store, request_id: int, *path: State, now=T0, **fields):
    """Walk a request along ``path`` with legal moves; ``fields`` go with the last move."""
    request = None
    for i, target in enumerate(path):
        current = store.get(request_id).state
        extra = fields if i == len(path) - 1 else {}
        request = store.transition(request_id, [current], target, now=now, actor="test", **extra)
        assert request is not None, f"{current} -> {target} refused"
    return request


def _event_count(db: Database) -> int:
    return db.one("SELECT count(*) FROM events")[0]


# -- schema ---------------------------------------------------------------------------------


def test_migrate_is_idempotent(db):
    first = Store(db).migrate()
    assert first  # something was applied on an empty file
    assert Store(db).migrate() == []
    assert Store(db).migrate() == []
    assert {"requests", "events", "approvals", "messages", "owned_units"} <= _tables(db)


def test_migrate_keeps_existing_rows(store, db):
    request = _create(store)
    assert Store(db).migrate() == []
    assert store.get(request.id) is not None


def test_wal_mode_is_on(sqlite_db):
    db = sqlite_db
    assert db.one("PRAGMA journal_mode")[0].lower() == "wal"


def test_wal_mode_on_every_thread_connection(sqlite_db):
    db = sqlite_db
    modes = []

    def read():
        modes.append(db.one("PRAGMA journal_mode")[0].lower())

    t = threading.Thread(target=read)
    t.start()
    t.join()
    assert modes == ["wal"]


# -- requests and events --------------------------------------------------------------------


def test_create_request_round_trips_and_writes_a_requested_event(store):
    request = _create(store)
    assert request.id >= 1
    assert request.state is State.PENDING
    assert request.resource == DEPLOYMENT
    assert request.unit == _unit()
    assert request.duration == timedelta(hours=2)
    assert request.approvers == ["UOWN1", "UOWN2"]
    assert request.created_at == T0
    events = store.events(request.id)
    assert len(events) == 1
    event = events[0]
    assert event["kind"] == "requested"
    assert event["actor"] == "UREQ"
    assert event["detail"]["justification"] == "investigating INC-42"
    assert event["detail"]["duration_seconds"] == 7200
    assert event["detail"]["resource"] == DEPLOYMENT.key


def test_create_request_and_event_are_one_transaction(store, db):
    """If the event cannot be written, the request is not created either."""
    if db.dialect == "sqlite":
        db.execute(
            "CREATE TEMP TRIGGER fail_events BEFORE INSERT ON events "
            "BEGIN SELECT RAISE(ABORT, 'no events today'); END"
        )
    else:
        db.execute(
            "CREATE FUNCTION no_events() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'no events today'; END $$"
        )
        db.execute(
            "CREATE TRIGGER fail_events BEFORE INSERT ON events "
            "FOR EACH ROW EXECUTE FUNCTION no_events()"
        )
    with pytest.raises(DATABASE_ERRORS, match="no events today"):
        _create(store)
    assert db.one("SELECT count(*) FROM requests")[0] == 0
    db.execute("DROP TRIGGER fail_events" + (" ON events" if db.dialect != "sqlite" else ""))
    assert _create(store).state is State.PENDING


def test_transition_moves_and_records_one_event(store):
    request = _create(store)
    moved = store.transition(
        request.id,
        [State.PENDING],
        State.APPROVED,
        now=T0 + timedelta(minutes=1),
        actor="UOWN1",
        decided_by="UOWN1",
        decided_at=T0 + timedelta(minutes=1),
    )
    assert moved is not None
    assert moved.state is State.APPROVED
    assert moved.decided_by == "UOWN1"
    assert moved.decided_at == T0 + timedelta(minutes=1)
    kinds = [e["kind"] for e in store.events(request.id)]
    assert kinds == ["requested", "approved"]
    assert store.events(request.id)[-1]["actor"] == "UOWN1"


def test_transition_with_custom_event_kind_and_detail(store):
    request = _create(store)
    store.transition(
        request.id,
        [State.PENDING],
        State.CANCELLED,
        now=T0,
        actor="UREQ",
        event="cancelled-by-requester",
        detail={"why": "no longer needed"},
    )
    last = store.events(request.id)[-1]
    assert last["kind"] == "cancelled-by-requester"
    assert last["detail"] == {"why": "no longer needed"}


def test_transition_from_the_wrong_state_does_nothing(store, db):
    request = _create(store)
    before = _event_count(db)
    assert store.transition(request.id, [State.ACTIVE], State.REVOKING, now=T0, actor="x") is None
    assert store.get(request.id).state is State.PENDING
    assert _event_count(db) == before


def test_transition_along_an_edge_the_table_lacks_raises_and_writes_nothing(store, db):
    request = _create(store)
    before = _event_count(db)
    with pytest.raises(IllegalMove, match="pending -> active"):
        store.transition(request.id, [State.PENDING], State.ACTIVE, now=T0, actor="x")
    assert store.get(request.id).state is State.PENDING
    assert _event_count(db) == before


def test_transition_raises_if_any_source_may_not_make_the_move(store, db):
    """A final state never moves again, even when listed beside a legal source."""
    request = _create(store)
    with pytest.raises(IllegalMove, match="revoked -> cancelled"):
        store.transition(
            request.id, [State.PENDING, State.REVOKED], State.CANCELLED, now=T0, actor="x"
        )
    assert store.get(request.id).state is State.PENDING


def test_transition_along_a_legal_edge_still_works(store):
    request = _create(store)
    moved = store.transition(
        request.id, [State.PENDING, State.APPROVED], State.CANCELLED, now=T0, actor="x"
    )
    assert moved is not None and moved.state is State.CANCELLED


def test_transition_of_a_missing_request_does_nothing(store, db):
    before = _event_count(db)
    assert store.transition(999, [State.PENDING], State.APPROVED, now=T0, actor="x") is None
    assert _event_count(db) == before


def test_second_decision_loses(store, db):
    request = _create(store)
    assert store.transition(request.id, [State.PENDING], State.APPROVED, now=T0, actor="A")
    assert store.transition(request.id, [State.PENDING], State.DENIED, now=T0, actor="B") is None
    assert store.get(request.id).state is State.APPROVED
    assert [e["kind"] for e in store.events(request.id)] == ["requested", "approved"]


def test_racing_threads_exactly_one_wins(store, db):
    """Two approvers click at once, 20 times over: each request is approved exactly once."""
    rounds = 20
    ids = [_create(store).id for _ in range(rounds)]
    wins: dict[str, list[int]] = {"A": [], "B": []}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def approver(name: str) -> None:
        try:
            for request_id in ids:
                barrier.wait(timeout=10)
                moved = store.transition(
                    request_id, [State.PENDING], State.APPROVED, now=T0, actor=name
                )
                if moved is not None:
                    wins[name].append(request_id)
        except BaseException as exc:  # surfaced below; a thread must not swallow it
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=approver, args=(n,)) for n in wins]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert sorted(wins["A"] + wins["B"]) == ids  # every row won exactly once
    assert not set(wins["A"]) & set(wins["B"])
    for request_id in ids:
        kinds = [e["kind"] for e in store.events(request_id)]
        assert kinds == ["requested", "approved"]
        winner = "A" if request_id in wins["A"] else "B"
        assert store.events(request_id)[-1]["actor"] == winner


def test_each_thread_has_its_own_connection(sqlite_db):
    db = sqlite_db
    conns = []
    t = threading.Thread(target=lambda: conns.append(db.conn))
    t.start()
    t.join()
    assert conns[0] is not db.conn


# -- the audit trail is append-only -----------------------------------------------------------


def test_events_refuse_update(store, db):
    request = _create(store)
    with pytest.raises(DATABASE_ERRORS, match="append-only"):
        db.execute("UPDATE events SET actor = 'someone-else' WHERE request_id = ?", (request.id,))
    assert store.events(request.id)[0]["actor"] == "UREQ"


def test_events_refuse_delete(store, db):
    request = _create(store)
    with pytest.raises(DATABASE_ERRORS, match="append-only"):
        db.execute("DELETE FROM events")
    assert len(store.events(request.id)) == 1


def test_events_refuse_truncate_on_postgres(postgres_url):
    """PostgreSQL has a TRUNCATE that skips row triggers: its own trigger refuses it."""
    from bot.store.postgres import PostgresDatabase

    db = PostgresDatabase(postgres_url)
    try:
        store = Store(db)
        store.migrate()
        request = _create(store)
        with pytest.raises(psycopg.Error, match="append-only"):
            db.execute("TRUNCATE events")
        assert len(store.events(request.id)) == 1
    finally:
        db.close()


def test_events_without_a_request(store):
    store.event(None, T0, "system", "started", {"version": "x"})
    row = store.db.one("SELECT * FROM events WHERE request_id IS NULL")
    assert row["kind"] == "started"


# -- leases -----------------------------------------------------------------------------------


def test_claim_is_exclusive_until_the_lease_runs_out(store):
    request = _create(store)
    lease = timedelta(seconds=60)
    first = store.claim(request.id, [State.PENDING], now=T0, lease=lease, owner="worker-1")
    assert first is not None
    second = store.claim(
        request.id, [State.PENDING], now=T0 + timedelta(seconds=59), lease=lease, owner="w2"
    )
    assert second is None
    row = store.db.one("SELECT lease_owner FROM requests WHERE id = ?", (request.id,))
    assert row["lease_owner"] == "worker-1"
    # The first worker crashed: once its lease runs out another one may take the row.
    later = store.claim(
        request.id, [State.PENDING], now=T0 + timedelta(seconds=61), lease=lease, owner="w2"
    )
    assert later is not None
    row = store.db.one("SELECT lease_owner FROM requests WHERE id = ?", (request.id,))
    assert row["lease_owner"] == "w2"


def test_claim_requires_the_state(store):
    request = _create(store)
    assert store.claim(request.id, [State.ACTIVE], now=T0, lease=timedelta(seconds=60)) is None


def test_release_and_transition_free_the_lease(store):
    request = _create(store)
    lease = timedelta(minutes=5)
    assert store.claim(request.id, [State.PENDING], now=T0, lease=lease)
    store.release(request.id)
    assert store.claim(request.id, [State.PENDING], now=T0, lease=lease)
    moved = store.transition(request.id, [State.PENDING], State.APPROVED, now=T0, actor="A")
    assert moved is not None
    assert store.claim(request.id, [State.APPROVED], now=T0, lease=lease)


def test_transition_may_keep_the_lease(store):
    request = _create(store)
    lease = timedelta(minutes=5)
    assert store.claim(request.id, [State.PENDING], now=T0, lease=lease, owner="w1")
    store.transition(
        request.id, [State.PENDING], State.APPROVED, now=T0, actor="A", release_lease=False
    )
    assert store.claim(request.id, [State.APPROVED], now=T0, lease=lease, owner="w2") is None


# -- the sweep's work list --------------------------------------------------------------------


def test_due_work_finds_exactly_what_the_sweep_must_act_on(store):
    now = T0 + timedelta(hours=3)
    past, future = now - timedelta(minutes=1), now + timedelta(minutes=1)
    lease = timedelta(minutes=5)

    def new() -> int:
        return _create(store).id

    expected = set()
    # active and past its expiry: revoke it
    expired = new()
    _move(store, expired, State.APPROVED, State.GRANTING, State.ACTIVE, expires_at=past)
    expected.add((expired, State.ACTIVE))
    # active, expiring exactly now: due
    on_the_dot = new()
    _move(store, on_the_dot, State.APPROVED, State.GRANTING, State.ACTIVE, expires_at=now)
    expected.add((on_the_dot, State.ACTIVE))
    # revoking with its retry due, and with no retry scheduled
    retry_due = new()
    _move(
        store,
        retry_due,
        State.APPROVED,
        State.GRANTING,
        State.ACTIVE,
        State.REVOKING,
        next_attempt_at=past,
    )
    expected.add((retry_due, State.REVOKING))
    retry_unscheduled = new()
    _move(store, retry_unscheduled, State.APPROVED, State.GRANTING, State.ACTIVE, State.REVOKING)
    expected.add((retry_unscheduled, State.REVOKING))
    # approved / granting that nobody holds: abandoned work
    abandoned_approved = new()
    _move(store, abandoned_approved, State.APPROVED)
    expected.add((abandoned_approved, State.APPROVED))
    abandoned_granting = new()
    _move(store, abandoned_granting, State.APPROVED, State.GRANTING)
    assert store.claim(abandoned_granting, [State.GRANTING], now=T0, lease=lease)  # lease ran out
    expected.add((abandoned_granting, State.GRANTING))

    # -- and none of these:
    new()  # pending: waiting for a person
    not_yet = new()
    _move(store, not_yet, State.APPROVED, State.GRANTING, State.ACTIVE, expires_at=future)
    leased_expired = new()
    _move(store, leased_expired, State.APPROVED, State.GRANTING, State.ACTIVE, expires_at=past)
    assert store.claim(leased_expired, [State.ACTIVE], now=now, lease=lease)
    retry_later = new()
    _move(
        store,
        retry_later,
        State.APPROVED,
        State.GRANTING,
        State.ACTIVE,
        State.REVOKING,
        next_attempt_at=future,
    )
    granting_held = new()
    _move(store, granting_held, State.APPROVED, State.GRANTING)
    assert store.claim(granting_held, [State.GRANTING], now=now, lease=lease)
    approved_backing_off = new()
    _move(store, approved_backing_off, State.APPROVED, next_attempt_at=future)
    for final_path in (
        (State.DENIED,),
        (State.CANCELLED,),
        (State.FAILED,),
        (State.APPROVED, State.GRANTING, State.ACTIVE, State.REVOKING, State.REVOKED),
        (State.APPROVED, State.GRANTING, State.ACTIVE, State.REVOKING, State.EXPIRED),
    ):
        _move(store, new(), *final_path, expires_at=past, next_attempt_at=past)

    work = store.due_work(now)
    assert len(work) == len(set(work))
    assert set(work) == expected


def test_due_work_respects_the_limit(store):
    for _ in range(5):
        _move(store, _create(store).id, State.APPROVED)
    assert len(store.due_work(T0, limit=3)) == 3


# -- owned units ------------------------------------------------------------------------------


def test_owned_units_are_per_member_and_first_owner_keeps_them(store):
    first, second = _create(store), _create(store)
    viewer, editor = _unit(), _unit(role="deployment-editor")
    store.own_units(ALICE, [viewer], first.id, T0)
    store.own_units(ALICE, [viewer, editor], second.id, T0)  # viewer is already owned
    store.own_units(BOB, [editor], second.id, T0)
    assert store.owned_units(ALICE) == {viewer, editor}
    assert store.owned_units(BOB) == {editor}
    owner = store.db.one(
        "SELECT request_id FROM owned_units WHERE elastic_user_id = ? AND unit = ?",
        (ALICE, viewer.text),
    )
    assert owner["request_id"] == first.id
    assert store.owned_units("nobody") == set()


def test_disown_units_only_touches_that_member(store):
    request = _create(store)
    viewer, editor = _unit(), _unit(role="deployment-editor")
    store.own_units(ALICE, [viewer, editor], request.id, T0)
    store.own_units(BOB, [viewer], request.id, T0)
    store.disown_units(ALICE, [viewer])
    assert store.owned_units(ALICE) == {editor}
    assert store.owned_units(BOB) == {viewer}
    store.disown_units(ALICE, [viewer])  # again: nothing to do, no error
    assert store.owned_units(ALICE) == {editor}


def test_units_needed_by_others_counts_other_grants_that_hold_or_will_hold_the_unit(store):
    """Approved, granting and active grants need their unit; a grant that is itself ending
    (revoking) does not, so two grants ending together cannot keep the role for each other."""
    shared = _unit()
    mine = _create(store, unit=shared)
    _move(store, mine.id, State.APPROVED, State.GRANTING, State.ACTIVE)
    assert store.units_needed_by_others(ALICE, mine.id) == set()

    only_mine = _unit(role="deployment-admin")
    also_active = _create(store, unit=shared)
    _move(store, also_active.id, State.APPROVED, State.GRANTING, State.ACTIVE)
    granting = _create(store, unit=_unit("e" * 32))
    _move(store, granting.id, State.APPROVED, State.GRANTING)
    revoking = _create(store, unit=_unit("f" * 32))
    _move(store, revoking.id, State.APPROVED, State.GRANTING, State.ACTIVE, State.REVOKING)
    approved = _create(store, unit=_unit("a" * 32))
    _move(store, approved.id, State.APPROVED)
    # Pending, ended, ending, or not Alice's: these do not hold anything back.
    _create(store, unit=only_mine)  # pending
    _move(
        store,
        _create(store, unit=only_mine).id,
        State.APPROVED,
        State.GRANTING,
        State.ACTIVE,
        State.REVOKING,
        State.EXPIRED,
    )
    bobs = _create(store, user=BOB, unit=only_mine)
    _move(store, bobs.id, State.APPROVED, State.GRANTING, State.ACTIVE)

    assert store.units_needed_by_others(ALICE, mine.id) == {
        shared,
        _unit("e" * 32),
        _unit("a" * 32),
    }
    assert _unit("f" * 32) not in store.units_needed_by_others(ALICE, mine.id)
    # From the other grant's point of view, mine still needs the shared unit.
    assert shared in store.units_needed_by_others(ALICE, also_active.id)
    assert store.units_needed_by_others(BOB, bobs.id) == set()


# -- slash-command de-duplication -------------------------------------------------------------


def test_seen_recently_dedupes_within_the_window(store):
    window = timedelta(seconds=30)
    assert store.seen_recently("U1:request x", T0, window) is False
    assert store.seen_recently("U1:request x", T0 + timedelta(seconds=5), window) is True
    assert store.seen_recently("U1:request x", T0 + timedelta(seconds=29), window) is True
    # A different user or text is not a duplicate.
    assert store.seen_recently("U2:request x", T0 + timedelta(seconds=5), window) is False
    assert store.seen_recently("U1:request y", T0 + timedelta(seconds=5), window) is False
    # After the window the same command is new again (and starts a new window).
    assert store.seen_recently("U1:request x", T0 + timedelta(seconds=31), window) is False
    assert store.seen_recently("U1:request x", T0 + timedelta(seconds=40), window) is True


def test_seen_recently_forgets_old_fingerprints(store, db):
    window = timedelta(seconds=30)
    store.seen_recently("old", T0, window)
    store.seen_recently("new", T0 + window * 11, window)
    rows = {r["fingerprint"] for r in db.query("SELECT fingerprint FROM slash_dedupe")}
    assert rows == {"new"}


# -- several processes on one database: notices and leases ------------------------------------


def test_a_notice_is_sent_by_one_process_and_again_only_if_it_died(store, db):
    """Two processes (two stores on one database) racing to tell the same state: one wins;
    the loser wins only once the winner's claim ran out untold (it died mid-send)."""
    request = _create(store)
    other = Store(db)
    lease = timedelta(minutes=2)
    assert store.claim_notice(request.id, State.PENDING, now=T0, lease=lease)
    assert not other.claim_notice(request.id, State.PENDING, now=T0, lease=lease)
    assert store.unnotified(T0 + timedelta(minutes=1)) == []  # being told: not resent
    dead = T0 + timedelta(minutes=3)
    assert [r.id for r in other.unnotified(dead)] == [request.id]
    assert other.claim_notice(request.id, State.PENDING, now=dead, lease=lease)
    other.mark_notified(request.id, State.PENDING)
    later = T0 + timedelta(hours=1)
    assert not store.claim_notice(request.id, State.PENDING, now=later, lease=lease)
    assert store.unnotified(later) == []


def test_a_notice_given_back_untold_is_sent_again_and_states_do_not_block_each_other(store):
    request = _create(store)
    lease = timedelta(minutes=2)
    assert store.claim_notice(request.id, State.PENDING, now=T0, lease=lease)
    # The next state's notice does not wait for the previous one's.
    _move(store, request.id, State.APPROVED)
    assert store.claim_notice(request.id, State.APPROVED, now=T0, lease=lease)
    store.release_notice(request.id, State.APPROVED)  # Slack failed: someone tries again
    assert store.claim_notice(request.id, State.APPROVED, now=T0, lease=lease)
    store.mark_notified(request.id, State.APPROVED)
    assert not store.claim_notice(request.id, State.APPROVED, now=T0, lease=lease)


def test_the_heartbeat_keeps_a_live_lease_and_never_revives_a_lost_one(store, db):
    request = _create(store)
    _move(store, request.id, State.APPROVED)
    lease = timedelta(seconds=20)
    assert store.claim(request.id, [State.APPROVED], now=T0, lease=lease) is not None
    assert store.holds_lease(request.id, T0 + timedelta(seconds=10))
    assert store.renew_leases(T0 + timedelta(seconds=15), lease) == 1
    # Renewed: still held after the first lease would have run out, nobody else can claim.
    assert store.holds_lease(request.id, T0 + timedelta(seconds=30))
    other = Store(db)
    assert (
        other.claim(request.id, [State.APPROVED], now=T0 + timedelta(seconds=30), lease=lease)
        is None
    )
    # Not renewed in time (the process stalled): it runs out, another process takes the row,
    # and the stalled one's heartbeat neither renews it nor may it act on it any more.
    gone = T0 + timedelta(seconds=60)
    assert other.claim(request.id, [State.APPROVED], now=gone, lease=lease) is not None
    assert store.renew_leases(gone, lease) == 0
    assert not store.holds_lease(request.id, gone)
    assert other.holds_lease(request.id, gone)


# -- approvals: of requests and of extensions, stored the same way -----------------------


def _active_with_extension(store: Store) -> tuple[int, int]:
    """An active grant with an extension waiting; its ID and the extension's."""
    request = _create(store)
    _move(store, request.id, State.APPROVED, State.GRANTING, State.ACTIVE, expires_at=T0)
    assert store.ask_extension(request.id, 3600, "more time", "UREQ", T0)
    return request.id, store.extension_asked(request.id)


def test_a_request_approval_is_recorded_once_per_approver_while_pending(store, db):
    request = _create(store)
    first = store.record_approval(request.id, "UOWN1", "approve", None, T0)
    assert first is not None and first.new and first.approved_by == ("UOWN1",)
    again = store.record_approval(request.id, "UOWN1", "deny", "changed my mind", T0)
    assert again is not None and not again.new and again.approved_by == ("UOWN1",)
    denied = store.record_approval(request.id, "UOWN2", "deny", "no", T0 + timedelta(seconds=1))
    assert denied is not None and denied.new and denied.approved_by == ("UOWN1",)
    assert [(a.approver_id, a.decision, a.reason) for a in store.approvals(request.id)] == [
        ("UOWN1", "approve", None),
        ("UOWN2", "deny", "no"),
    ]
    _move(store, request.id, State.APPROVED)
    assert store.record_approval(request.id, "UOWN3", "approve", None, T0) is None
    assert len(store.approvals(request.id)) == 2


def test_an_extension_approval_is_recorded_like_a_request_approval(store, db):
    request_id, asked = _active_with_extension(store)
    first = store.record_extension_approval(request_id, "UOWN1", "approve", None, T0)
    assert first is not None and first.new and first.approved_by == ("UOWN1",)
    again = store.record_extension_approval(request_id, "UOWN1", "approve", None, T0)
    assert again is not None and not again.new and again.approved_by == ("UOWN1",)
    kinds = [e["kind"] for e in store.events(request_id)]
    assert kinds.count("extension_approval") == 1  # the audit trail is as before the table
    assert [(a.approver_id, a.decision) for a in store.extension_approvals(request_id, asked)] == [
        ("UOWN1", "approve")
    ]
    assert store.approvals(request_id) == []  # the request's own approvals are apart
    # A click for another extension than the one waiting records nothing.
    stale = store.record_extension_approval(request_id, "UOWN2", "approve", None, T0, asked - 1)
    assert stale is None and store.extension_approvals(request_id, asked - 1) == []
    assert len(store.extension_approvals(request_id, asked)) == 1
    # Nor does one once nothing is waiting.
    assert store.apply_extension(request_id, "UOWN1", T0, extension=asked) is not None
    assert store.record_extension_approval(request_id, "UOWN2", "approve", None, T0) is None


def test_an_extension_decision_lands_only_on_the_extension_it_was_for(store, db):
    request_id, first = _active_with_extension(store)
    assert store.record_extension_approval(request_id, "UOWN1", "approve", None, T0, first)
    with store.write():  # a denial and the end of the extension, together (as the core does)
        denied = store.record_extension_approval(request_id, "UOWN2", "deny", "no", T0, first)
        assert denied is not None and denied.new and denied.approved_by == ("UOWN1",)
        assert store.drop_extension(request_id, "UOWN2", "no", T0)
    assert store.record_extension_approval(request_id, "UOWN3", "approve", None, T0) is None
    assert store.ask_extension(request_id, 1800, "again", "UREQ", T0)
    second = store.extension_asked(request_id)
    assert second > first
    # An approval of the denied extension never counts for the next one.
    now = store.record_extension_approval(request_id, "UOWN2", "approve", None, T0)
    assert now is not None and now.new and now.approved_by == ("UOWN2",)
    assert store.record_extension_approval(request_id, "UOWN3", "approve", None, T0, first) is None
    assert [a.approver_id for a in store.extension_approvals(request_id, first)] == [
        "UOWN1",
        "UOWN2",
    ]
    assert [a.approver_id for a in store.extension_approvals(request_id, second)] == ["UOWN2"]
    # Applying is for the extension approved, not one asked for since.
    assert store.apply_extension(request_id, "UOWN2", T0, extension=first) is None
    applied = store.apply_extension(request_id, "UOWN2", T0, extension=second)
    assert applied is not None and applied.extensions == 1
    assert applied.expires_at == T0 + timedelta(seconds=1800)


def test_two_approvers_racing_on_an_extension_exactly_one_sees_the_quorum(store, db):
    """Both click at once, 20 times over: of each pair, exactly one sees both approvals."""
    rounds = 20
    ids = [_active_with_extension(store)[0] for _ in range(rounds)]
    saw: dict[str, list[int]] = {"UOWN1": [], "UOWN2": []}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def approver(name: str) -> None:
        try:
            for request_id in ids:
                barrier.wait(timeout=10)
                recorded = store.record_extension_approval(request_id, name, "approve", None, T0)
                assert recorded is not None and recorded.new
                if len(recorded.approved_by) == 2:
                    saw[name].append(request_id)
        except BaseException as exc:  # surfaced below; a thread must not swallow it
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=approver, args=(n,)) for n in saw]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert sorted(saw["UOWN1"] + saw["UOWN2"]) == ids
    for request_id in ids:
        asked = store.extension_asked(request_id)
        assert len(store.extension_approvals(request_id, asked)) == 2


def test_both_databases_have_the_same_tables_and_columns(tmp_path, postgres_url):
    """A migration added to one store and not the other would show here first."""
    from bot.store.postgres import PostgresDatabase

    lite = Database(tmp_path / "schema.db")
    pg = PostgresDatabase(postgres_url)
    try:
        Store(lite).migrate()
        Store(pg).migrate()
        lite_tables = _tables(lite) - {"_sqlite_migrations", "sqlite_sequence"}
        pg_tables = _tables(pg) - {"schema_migrations"}
        assert lite_tables == pg_tables
        for table in sorted(lite_tables):
            lite_columns = {r["name"] for r in lite.query(f"PRAGMA table_info({table})")}
            pg_columns = {
                r[0]
                for r in pg.query(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = ?",
                    (table,),
                )
            }
            assert lite_columns == pg_columns, table
    finally:
        lite.close()
        pg.close()
