"""``python -m bot audit`` on PostgreSQL: ``DATABASE_URL`` selects it, ``--database`` still
means a SQLite file (issue #16)."""

from __future__ import annotations

import json
import socket
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from bot.access.states import State
from bot.audit import _read_only
from bot.clock import FakeClock
from bot.store import Database, Store
from bot.store.postgres import PostgresDatabase
from tests.test_audit_export import ALICE, BOB, PROD, SIEM, START, _request, cli, csv_rows

PASSWORD = "audit-pg-secret-77"


def write_history(db) -> None:
    """The same history on either store (as tests/test_audit_export.py's ``prepared``)."""
    store = Store(db)
    store.migrate()
    clock = FakeClock(START)
    _request(store, clock, ALICE, PROD, "INC-42", State.APPROVED, State.GRANTING, State.ACTIVE)
    clock.advance(timedelta(days=5))
    _request(store, clock, BOB, SIEM, "=cmd|' /C calc'!A0", State.DENIED)
    clock.advance(timedelta(days=7))
    store.event(None, clock.now(), "system", "owner_unresolved", {"reference": "@sre"})
    clock.advance(timedelta(days=3))
    _request(store, clock, ALICE, PROD, "prüfen ✓ «naïve» 100%?")


@pytest.fixture
def both(tmp_path, postgres_url) -> tuple[Path, str]:
    """One history written to a SQLite file and to PostgreSQL."""
    path = tmp_path / "bot.db"
    sqlite_db = Database(path)
    postgres_db = PostgresDatabase(postgres_url)
    try:
        write_history(sqlite_db)
        write_history(postgres_db)
    finally:
        sqlite_db.close()
        postgres_db.close()
    return path, postgres_url


def written(url: str) -> list[dict]:
    with psycopg.connect(url) as conn:
        cursor = conn.execute("SELECT id, at, actor, kind, request_id, detail FROM events")
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]


def test_the_export_reads_postgresql_from_database_url(both):
    path, url = both
    done = cli("--since", "30d", env={"DATABASE_URL": url})
    assert done.returncode == 0, done.stderr
    rows = csv_rows(done.stdout.decode())
    # Exactly what was written, in event order...
    events = sorted(written(url), key=lambda e: (e["at"], e["id"]))
    assert [int(r["id"]) for r in rows] == [e["id"] for e in events]
    for row, event in zip(rows, events, strict=True):
        assert (row["at"], row["actor"], row["kind"]) == (
            event["at"],
            event["actor"],
            event["kind"],
        )
        assert json.loads(row["detail"]) == json.loads(event["detail"])
    assert {r["resource_name"] for r in rows} == {"prod-search", "siem", ""}
    assert any(r["role"] == "deployment-viewer" for r in rows)
    # ...and byte for byte what the same history exports from SQLite.
    from_sqlite = cli("--since", "30d", env={"DATABASE_PATH": str(path)})
    assert from_sqlite.returncode == 0
    assert done.stdout == from_sqlite.stdout


def test_json_to_a_file_and_a_window_on_postgresql(both, tmp_path):
    path, url = both
    target = tmp_path / "out.json"
    since = (START + timedelta(days=5)).date().isoformat()
    until = (START + timedelta(days=12)).date().isoformat()
    args = ("--since", since, "--until", until, "--format", "json", "--output", str(target))
    done = cli(*args, env={"DATABASE_URL": url})
    assert done.returncode == 0, done.stderr
    exported = json.loads(target.read_text())
    assert exported and {e["requester_id"] for e in exported if e["request_id"]} == {BOB}
    assert any(e["kind"] == "owner_unresolved" for e in exported)
    sqlite_target = tmp_path / "sqlite.json"
    assert cli(*args[:-1], str(sqlite_target), env={"DATABASE_PATH": str(path)}).returncode == 0
    assert json.loads(sqlite_target.read_text()) == exported


def test_verify_on_postgresql_gives_the_same_head_and_names_a_tampered_event(both):
    path, url = both
    on_postgres = cli("--verify", env={"DATABASE_URL": url})
    on_sqlite = cli("--verify", env={"DATABASE_PATH": str(path)})
    assert on_postgres.returncode == 0, on_postgres.stderr
    assert b"chain intact" in on_postgres.stdout
    assert on_postgres.stdout == on_sqlite.stdout
    # Someone able to lift the trigger edits an event: the chain shows it.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE events DISABLE TRIGGER events_no_update")
        conn.execute("UPDATE events SET actor = 'U0NOBODY' WHERE id = 3")
    tampered = cli("--verify", env={"DATABASE_URL": url})
    assert tampered.returncode == 1
    assert b"chain broken at event 3" in tampered.stdout


def test_database_option_still_means_a_sqlite_file(both, tmp_path):
    path, _ = both
    nowhere = f"postgresql://bot:{PASSWORD}@127.0.0.1:{closed_port()}/access"
    done = cli("--since", "30d", "--database", str(path), env={"DATABASE_URL": nowhere})
    assert done.returncode == 0, done.stderr
    assert len(csv_rows(done.stdout.decode())) > 5
    missing = tmp_path / "missing.db"
    done = cli("--verify", "--database", str(missing), env={"DATABASE_URL": nowhere})
    assert done.returncode == 2 and str(missing).encode() in done.stderr


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("what", [["--since", "30d"], ["--verify"]])
def test_unreachable_postgresql_is_one_line_without_the_password(what):
    port = closed_port()
    done = cli(*what, env={"DATABASE_URL": f"postgresql://bot:{PASSWORD}@127.0.0.1:{port}/access"})
    assert done.returncode == 2
    err = done.stderr.decode()
    assert err.count("\n") == 1
    assert err.startswith(f"audit: cannot connect to postgresql://bot@127.0.0.1:{port}/access: ")
    assert PASSWORD not in err + done.stdout.decode()


def test_a_postgresql_database_without_the_bots_tables_exits_2(postgres_url):
    done = cli("--since", "30d", env={"DATABASE_URL": postgres_url})
    assert done.returncode == 2
    assert b"has no events table" in done.stderr and done.stderr.count(b"\n") == 1


def test_a_database_url_that_is_not_postgresql_exits_2():
    done = cli("--verify", env={"DATABASE_URL": "mysql://x@y/z"})
    assert done.returncode == 2 and b"postgresql://" in done.stderr


def test_the_postgresql_export_never_writes(both):
    _, url = both
    db = PostgresDatabase(_read_only(url), min_size=1, max_size=1)
    try:
        assert db.one("SELECT count(*) FROM events")[0] > 5  # the search_path option is kept
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            db.execute("INSERT INTO reported_owners (reference, reason, at) VALUES ('a', 'b', 'c')")
    finally:
        db.close()
