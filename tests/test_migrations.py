"""Schema migrations run forward from every earlier version and keep the data."""

from __future__ import annotations

import pytest

from bot.clock import FakeClock
from bot.store import Database, Store
from bot.store.migrations import migrations

NAMES = [m.name for m in migrations._migrations]  # noqa: SLF001 - the registered order


@pytest.mark.parametrize("stop_before", NAMES[1:])
def test_every_earlier_version_upgrades_in_place(tmp_path, stop_before):
    db = Database(tmp_path / "old.db")
    migrations.apply(db.utils, stop_before=stop_before)
    applied = [m.name for m in migrations.applied(db.utils)]
    assert stop_before not in applied
    # A row as the oldest schema has it (written by hand: today's Store reads newer columns).
    now = FakeClock().now().isoformat()
    db.execute(
        "INSERT INTO requests (requester_id, requester_email, resource_kind, resource_id, "
        "resource_name, role_id, unit, duration_seconds, justification, state, approvers, "
        "elastic_user_id, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            "U1",
            "a@example.com",
            "deployment",
            "d" * 32,
            "prod-search",
            "deployment-viewer",
            f"deployment|deployment-viewer|{'d' * 32}",
            3600,
            "before the upgrade",
            "pending",
            '["U2"]',
            "9",
            now,
            now,
        ),
    )
    db.close()

    upgraded = Database(tmp_path / "old.db")
    store = Store(upgraded)
    newly = store.migrate()
    assert newly == NAMES[NAMES.index(stop_before) :]
    assert [m.name for m in migrations.applied(upgraded.utils)] == NAMES
    kept = store.get(1)
    assert kept.justification == "before the upgrade" and kept.state.value == "pending"
    assert store.migrate() == []  # idempotent
    indexes = {
        row[1]
        for row in upgraded.query("SELECT type, name FROM sqlite_master WHERE type = 'index'")
    }
    assert {"requests_state_created", "requests_resource"} <= indexes


def _old_database(store_kind: str, tmp_path, request, before: str):
    """A database of ``store_kind`` with every migration before ``before`` applied."""
    if store_kind == "sqlite":
        db = Database(tmp_path / "old.db")
        migrations.apply(db.utils, stop_before=before)
        return db
    from bot.store import postgres_schema
    from bot.store.postgres import PostgresDatabase

    db = PostgresDatabase(request.getfixturevalue("postgres_url"))
    names = [name for name, _ in postgres_schema.MIGRATIONS]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            postgres_schema, "MIGRATIONS", postgres_schema.MIGRATIONS[: names.index(before)]
        )
        postgres_schema.apply(db)
    return db


def test_an_extension_waiting_at_the_upgrade_keeps_the_approvals_already_given(
    tmp_path, request, store_kind
):
    """0009 moves extension approvals from events into their table: an active grant whose
    extension had one of its two approvals before the upgrade still has it after, while the
    approvals of an earlier, denied extension and of a grant with nothing pending stay events."""
    from bot.store import chain

    db = _old_database(store_kind, tmp_path, request, "0009_extension_approvals")
    at = FakeClock().now().isoformat()
    with db.write() as conn:
        for extension_seconds in (3600, None):  # 1: an extension waiting; 2: none
            conn.execute(
                "INSERT INTO requests (requester_id, requester_email, resource_kind, "
                "resource_id, resource_name, role_id, unit, duration_seconds, justification, "
                "state, approvers, approvals_needed, elastic_user_id, granted_at, expires_at, "
                "extension_seconds, extension_reason, extension_by, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    "U1",
                    "a@example.com",
                    "deployment",
                    "d" * 32,
                    "prod-search",
                    "deployment-viewer",
                    f"deployment|deployment-viewer|{'d' * 32}",
                    3600,
                    "before the upgrade",
                    "active",
                    '["U2", "U3", "U4"]',
                    2,
                    "9",
                    at,
                    "2099-01-01T00:00:00.000000+00:00",
                    extension_seconds,
                    "more time" if extension_seconds else None,
                    "U1" if extension_seconds else None,
                    at,
                    at,
                ),
            )
        for request_id, actor, kind in [
            (1, "U1", "extension_requested"),  # the first extension: approved once, denied
            (1, "U4", "extension_approval"),
            (1, "U3", "extension_denied"),
            (2, "U1", "extension_requested"),  # grant 2: its extension was applied
            (2, "U2", "extension_approval"),
            (1, "U1", "extension_requested"),  # the one waiting now
            (1, "U2", "extension_approval"),
        ]:
            chain.insert_event(conn, request_id, at, actor, kind, "{}")
    db.close()

    upgraded = (
        Database(tmp_path / "old.db")
        if store_kind == "sqlite"
        else type(db)(request.getfixturevalue("postgres_url"))
    )
    try:
        store = Store(upgraded)
        assert store.migrate()[0] == "0009_extension_approvals"
        waiting = store.extension_asked(1)
        assert waiting == 6
        assert [(a.approver_id, a.decision) for a in store.extension_approvals(1, waiting)] == [
            ("U2", "approve")
        ]
        assert store.extension_approvals(1, 1) == []  # the denied one's approval stays an event
        assert store.extension_approvals(2, 4) == []  # nothing waits on grant 2
        # The approval given before the upgrade counts: U2 again changes nothing, U3 completes
        # the quorum of two.
        later = FakeClock().now()
        again = store.record_extension_approval(1, "U2", "approve", None, later)
        assert again is not None and not again.new and again.approved_by == ("U2",)
        second = store.record_extension_approval(1, "U3", "approve", None, later, extension=6)
        assert second is not None and second.new and second.approved_by == ("U2", "U3")
        assert store.apply_extension(1, "U3", later, extension=6).extensions == 1
        assert store.migrate() == []
    finally:
        upgraded.close()
