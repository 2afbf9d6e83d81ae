"""Schema migrations run forward from every earlier version and keep the data."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.access.resources import Resource, ResourceKind, unit_for
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
    store = Store(db)
    resource = Resource(ResourceKind.DEPLOYMENT, "d" * 32, "prod-search")
    clock = FakeClock()
    store.create_request(
        requester_id="U1",
        requester_email="a@example.com",
        resource=resource,
        role_id="deployment-viewer",
        unit=unit_for(resource, "deployment-viewer", "1"),
        duration=timedelta(hours=1),
        justification="before the upgrade",
        approvers=["U2"],
        approvals_needed=1,
        now=clock.now(),
        elastic_user_id="9",
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
