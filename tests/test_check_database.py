"""``python -m bot check``'s database line on both stores: which database, its schema, and a
clear failure when it cannot be used (issue #16)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import psycopg

from bot.access.resources import Resource, ResourceKind, Unit
from bot.store import Store
from bot.store.migrations import migrations
from bot.store.postgres import PostgresDatabase
from bot.store.postgres_schema import MIGRATIONS
from tests.harness import OWNER, make_settings
from tests.test_check import SECRETS, _check, _env, closed_port
from tests.test_check import run as run_table

PASSWORD = "pg-pass-w0rd-never-shown"
DEPLOYMENT = Resource(ResourceKind.DEPLOYMENT, "d" * 32, "prod-search")


def run(settings):
    """As tests/test_check.py's, with each row's detail stripped of the table's padding."""
    code, table, rows = run_table(settings)
    return (
        code,
        table,
        {name: r.__class__(r.name, r.status, r.detail.strip()) for name, r in rows.items()},
    )


def with_password(url: str) -> str:
    """The test server trusts everyone; a password in the URL is sent and ignored."""
    assert url.startswith("postgresql://postgres@")
    return url.replace("postgres@", f"postgres:{PASSWORD}@", 1)


def file_requests(store: Store, count: int) -> None:
    for _ in range(count):
        store.create_request(
            requester_id=OWNER,
            requester_email="owner1@example.com",
            resource=DEPLOYMENT,
            role_id="deployment-viewer",
            unit=Unit("deployment", "deployment-viewer", "d" * 32),
            duration=timedelta(hours=1),
            justification="check",
            approvers=[OWNER],
            approvals_needed=1,
            now=datetime.now(UTC),
            elastic_user_id=None,
        )


def test_sqlite_is_named_by_its_path(tmp_path, slack, elastic) -> None:
    settings = make_settings(tmp_path, elastic.url, slack.api_url)
    code, table, rows = run(settings)
    assert code == 0, table
    versions = len(migrations._migrations)  # noqa: SLF001 - every registered migration
    assert rows["database"].detail.startswith(
        f"{settings.database_path}: schema version {versions}"
    )


def test_postgres_is_named_without_its_password_and_pending_migrations_are_shown(
    tmp_path, slack, elastic, postgres_url, postgres_server
) -> None:
    url = with_password(postgres_url)
    settings = make_settings(tmp_path, elastic.url, slack.api_url, database_url=url)
    info = psycopg.conninfo.conninfo_to_dict(postgres_server)
    where = f"postgresql://postgres@{info['host']}:{info['port']}/{info['dbname']}"

    # An empty database: reachable, every migration still to come (check changes nothing).
    code, table, rows = run(settings)
    assert code == 0, table
    database = rows["database"]
    assert database.status == "PASS"
    assert database.detail.startswith(f"{where}: no schema yet, {len(MIGRATIONS)} migration(s)")
    assert "the bot applies them when it starts" in database.detail
    assert "PostgreSQL 1" in database.detail
    assert PASSWORD not in table
    assert "not measured" in table  # the semantics report reads PostgreSQL too
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT to_regclass('requests')").fetchone()[0] is None

    # Migrated, with grants: the latest schema and the active grants counted.
    db = PostgresDatabase(postgres_url)
    try:
        store = Store(db)
        store.migrate()
        file_requests(store, 3)
        db.execute("UPDATE requests SET state = 'active' WHERE id IN (1, 2)")
    finally:
        db.close()
    code, table, rows = run(settings)
    assert code == 0, table
    latest = MIGRATIONS[-1][0]
    assert rows["database"].detail.startswith(f"{where}: schema {latest} (latest)")
    assert rows["database"].detail.endswith("; 2 active grant(s)")
    assert PASSWORD not in table

    # One migration behind (an older bot migrated it): named as pending.
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DELETE FROM schema_migrations WHERE name = %s", (latest,))
    _, table, rows = run(settings)
    assert rows["database"].status == "PASS"
    assert f"1 migration(s) pending ({latest})" in rows["database"].detail


def test_unreachable_postgres_is_one_clear_failure(tmp_path, slack, elastic) -> None:
    url = f"postgresql://bot:{PASSWORD}@127.0.0.1:{closed_port()}/access"
    settings = make_settings(tmp_path, elastic.url, slack.api_url, database_url=url)
    began = time.monotonic()
    code, table, rows = run(settings)
    assert time.monotonic() - began < 10
    assert code == 1
    database = rows["database"]
    assert database.status == "FAIL"
    assert database.detail.startswith(f"postgresql://bot@127.0.0.1:{url.rsplit(':', 1)[1]}")
    assert "cannot connect" in database.detail and "\n" not in database.detail
    assert PASSWORD not in table
    assert "semantics" not in table
    assert rows["Elastic Cloud"].status == "PASS"


def test_an_unknown_postgres_database_fails_naming_it(tmp_path, slack, elastic, postgres_server):
    url = postgres_server.rsplit("/", 1)[0] + "/no_such_database"
    settings = make_settings(tmp_path, elastic.url, slack.api_url, database_url=url)
    code, _, rows = run(settings)
    assert code == 1
    assert rows["database"].status == "FAIL"
    assert "no_such_database" in rows["database"].detail


def test_check_command_on_postgres(tmp_path, slack, elastic, postgres_url) -> None:
    done = _check(_env(tmp_path, slack, elastic, DATABASE_URL=with_password(postgres_url)))
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("database"))
    assert "postgresql://postgres@" in line and "PASS" in line
    assert not (tmp_path / "bot.db").exists()  # DATABASE_PATH is not used
    for secret in (*SECRETS, PASSWORD):
        assert secret not in done.stdout + done.stderr
