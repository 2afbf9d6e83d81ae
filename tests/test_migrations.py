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
