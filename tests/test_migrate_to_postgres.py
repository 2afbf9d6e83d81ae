"""``python -m bot migrate-to-postgres``: a bot's SQLite history moved into a real PostgreSQL
server, every table and the audit chain as they were (issue #16)."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from bot.__main__ import main
from bot.access.resources import Resource, ResourceKind, unit_for
from bot.access.states import State
from bot.clock import FakeClock
from bot.standins.slack.text import text_of
from bot.store import Database, Store, chain
from bot.store.migrations import migrations
from bot.store.postgres import PostgresDatabase
from tests.harness import OWNER, REQUESTER, make_settings, start_bot, stop_bot
from tests.slack_view import buttons

REPO = Path(__file__).resolve().parents[1]
PROD = Resource(ResourceKind.DEPLOYMENT, "a" * 32, "prod-search")
#: Every table of the bot's schema and the column that orders its rows.
TABLES = {
    "requests": "id",
    "approvals": "request_id, approver_id",
    "messages": "request_id, kind, user_id",
    "owned_units": "elastic_user_id, unit",
    "events": "id",
    "catalogue": "key",
    "reported_owners": "reference",
    "slash_dedupe": "fingerprint",
    "findings": "key",
    "probe_answers": "id",
}


def migrate(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["migrate-to-postgres", *args])
    out, err = capsys.readouterr()
    return code, out, err


def sqlite_rows(path: Path, table: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return [tuple(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY {TABLES[table]}")]


def postgres_rows(url: str, table: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return [tuple(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY {TABLES[table]}")]


def source_head(path: Path) -> chain.Verdict:
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        return chain.verify(conn.execute("SELECT * FROM events ORDER BY id"))


def card_for(slack, request_id: int) -> dict:
    return slack.wait_for(
        lambda: [
            m
            for m in slack.messages_to(OWNER)
            if "approve" in buttons(m) and f"#{request_id}" in text_of(m)
        ],
        message=f"approval card of #{request_id}",
    )[0]


def store_history(path: Path, *, stop_before: str | None = None) -> Path:
    """A small history written through the Store API: one active grant, one pending request
    and one system event."""
    db = Database(path)
    if stop_before:
        migrations.apply(db.utils, stop_before=stop_before)
    else:
        Store(db).migrate()
    store, clock = Store(db), FakeClock()
    if stop_before is None:
        for path_through in ([State.APPROVED, State.GRANTING, State.ACTIVE], []):
            role = PROD.roles()[0]
            request = store.create_request(
                requester_id=REQUESTER,
                requester_email="alice@example.com",
                resource=PROD,
                role_id=role,
                unit=unit_for(PROD, role, "1234567890"),
                duration=timedelta(hours=1),
                justification="INC-7 100% sure? yes",
                approvers=[OWNER],
                approvals_needed=1,
                now=clock.now(),
                elastic_user_id="1000000001",
            )
            for target in path_through:
                current = store.get(request.id).state
                assert store.transition(request.id, [current], target, now=clock.now(), actor=OWNER)
        store.event(None, clock.now(), "system", "owner_unresolved", {"reference": "@sre"})
    db.close()
    return path


# -- the whole move, from a history a real bot wrote ------------------------------------------


def test_a_real_bots_history_moves_to_postgres_and_a_bot_carries_on_there(
    tmp_path, slack, elastic, postgres_url, capsys
):
    # A bot on SQLite: #1 approved, granted and expired; #2 granted and still active; #3 pending.
    sqlite_settings = make_settings(tmp_path, elastic.url, slack.api_url)
    bot = start_bot(sqlite_settings, slack)
    try:
        bot.say(REQUESTER, "request prod-search deployment-viewer 2h INC-1 first look")
        assert bot.click(OWNER, "approve", "1", card_for(slack, 1)).status_code == 200
        slack.wait_for(lambda: bot.state(1) is State.ACTIVE, message="#1 active")
        bot.advance(timedelta(hours=2, seconds=1))
        slack.wait_for(lambda: bot.state(1) is State.EXPIRED, message="#1 expired")
        bot.say(REQUESTER, "request prod-search deployment-editor 4h INC-2 fix the mapping")
        assert bot.click(OWNER, "approve", "2", card_for(slack, 2)).status_code == 200
        slack.wait_for(lambda: bot.state(2) is State.ACTIVE, message="#2 active")
        bot.say(REQUESTER, "request staging-logs deployment-viewer 1h INC-3 read the logs")
        card_for(slack, 3)
        bot.settle()
    finally:
        stop_bot(bot)
    source = Path(sqlite_settings.database_path)
    before = {table: sqlite_rows(source, table) for table in TABLES}
    assert before["approvals"] and before["owned_units"] and before["messages"]
    assert len(before["requests"]) == 3 and before["catalogue"]
    expected = source_head(source)
    assert expected.intact and expected.events > 5

    code, out, err = migrate(capsys, "--from", str(source), "--to", postgres_url)
    assert code == 0, err
    assert f"head {expected.head}" in out and f"{expected.events} events" in out
    for table in TABLES:
        assert f"{table}: {len(before[table])} row(s)" in out

    # Every row of every table, as it was.
    for table in TABLES:
        assert postgres_rows(postgres_url, table) == before[table], table
    # Through the store: the requests, their events, approvals and owned units.
    db = PostgresDatabase(postgres_url)
    sqlite_db = Database(source)
    try:
        copied, original = Store(db), Store(sqlite_db)
        for request_id in (1, 2, 3):
            assert copied.get(request_id) == original.get(request_id)
            assert copied.events(request_id) == original.events(request_id)
            assert copied.approvals(request_id) == original.approvals(request_id)
            assert copied.messages(request_id) == original.messages(request_id)
        assert copied.all_owned_units() == original.all_owned_units()
        assert copied.get(2).state is State.ACTIVE
        verdict = chain.verify(db.stream("SELECT * FROM events ORDER BY id"))
        assert verdict.intact and verdict.head == expected.head
    finally:
        db.close()
        sqlite_db.close()

    # Once only: a second copy into the same database is refused, and changes nothing.
    code, out, err = migrate(capsys, "--from", str(source), "--to", postgres_url)
    assert code == 2
    assert err.count("\n") == 1 and "already holds 3 request(s)" in err
    assert postgres_rows(postgres_url, "events") == before["events"]

    # A bot started on the copy lists the old requests, and the next request is #4.
    pg_settings = make_settings(tmp_path, elastic.url, slack.api_url, database_url=postgres_url)
    bot = start_bot(pg_settings, slack)
    try:
        listed = text_of(bot.command(OWNER, "list").json())
        for request_id in (1, 2, 3):
            assert f"#{request_id}" in listed
        # It knows what is pending from before the move...
        said = bot.say(REQUESTER, "request staging-logs deployment-viewer 1h INC-4 once more")
        assert "request #3 is waiting for approval" in said
        # ...and numbers the next request after the copied ones.
        said = bot.say(REQUESTER, "request staging-logs deployment-editor 1h INC-4 write too")
        assert "#4" in said
        slack.wait_for(lambda: bot.state(4) is State.PENDING, message="#4 pending")
        # The chain goes on from the copied head.
        db = bot.runtime.db
        verdict = chain.verify(db.stream("SELECT * FROM events ORDER BY id"))
        assert verdict.intact and verdict.events > expected.events
    finally:
        stop_bot(bot)


# -- through the Store API: the next IDs, and what is refused -------------------------------


def test_the_next_request_and_probe_run_get_the_ids_after_the_copied_ones(
    tmp_path, postgres_url, capsys
):
    source = store_history(tmp_path / "bot.db")
    code, _, err = migrate(capsys, "--from", str(source), "--to", postgres_url)
    assert code == 0, err
    db = PostgresDatabase(postgres_url)
    try:
        store = Store(db)
        role = PROD.roles()[0]
        request = store.create_request(
            requester_id=REQUESTER,
            requester_email="alice@example.com",
            resource=PROD,
            role_id=role,
            unit=unit_for(PROD, role, "1234567890"),
            duration=timedelta(hours=1),
            justification="after the move",
            approvers=[OWNER],
            approvals_needed=1,
            now=FakeClock().now(),
            elastic_user_id=None,
        )
        assert request.id == 3
        assert chain.verify(db.stream("SELECT * FROM events ORDER BY id")).intact
    finally:
        db.close()


def test_the_defaults_are_database_path_and_database_url(tmp_path, postgres_url):
    """As its own process, with nothing but DATABASE_PATH and DATABASE_URL."""
    source = store_history(tmp_path / "bot.db")
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "migrate-to-postgres"],
        cwd=REPO,
        env=env | {"DATABASE_PATH": str(source), "DATABASE_URL": postgres_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"head {source_head(source).head}" in done.stdout
    assert len(postgres_rows(postgres_url, "requests")) == 2


def test_an_older_sqlite_schema_is_refused_with_what_to_do(tmp_path, postgres_url, capsys):
    latest = migrations._migrations[-1].name  # noqa: SLF001 - every registered migration
    source = store_history(tmp_path / "old.db", stop_before=latest)
    code, _, err = migrate(capsys, "--from", str(source), "--to", postgres_url)
    assert code == 2
    assert err.count("\n") == 1
    assert "not at the latest schema" in err and "start the bot once on SQLite" in err
    # The source was opened read-only: still at the older version.
    db = Database(source)
    try:
        assert [m.name for m in migrations.pending(db.utils)] == [latest]
    finally:
        db.close()


def test_a_missing_source_or_target_is_one_line_and_exit_2(tmp_path, postgres_url, capsys):
    code, _, err = migrate(capsys, "--from", str(tmp_path / "nope.db"), "--to", postgres_url)
    assert code == 2 and err.count("\n") == 1 and "no such SQLite file" in err
    source = store_history(tmp_path / "bot.db")
    code, _, err = migrate(capsys, "--from", str(source))
    assert code == 2 and "DATABASE_URL" in err
    code, _, err = migrate(capsys, "--from", str(source), "--to", "mysql://x@y/z")
    assert code == 2 and "postgresql://" in err


def test_an_unreachable_target_is_one_line_without_the_password(tmp_path, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    source = store_history(tmp_path / "bot.db")
    url = f"postgresql://bot:hunter2secret@127.0.0.1:{port}/access"
    code, out, err = migrate(capsys, "--from", str(source), "--to", url)
    assert code == 2
    assert err.count("\n") == 1
    assert f"cannot reach postgresql://bot@127.0.0.1:{port}/access" in err
    assert "hunter2secret" not in out + err


def test_a_broken_source_chain_is_not_carried_over(tmp_path, postgres_url, capsys):
    source = store_history(tmp_path / "bot.db")
    with sqlite3.connect(source) as conn:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("UPDATE events SET actor = 'someone-else' WHERE id = 2")
    code, _, err = migrate(capsys, "--from", str(source), "--to", postgres_url)
    assert code == 2
    assert "chain is broken at event 2" in err
    assert postgres_rows(postgres_url, "requests") == []


def test_a_copy_that_fails_half_way_leaves_nothing_behind(tmp_path, postgres_url, capsys):
    """A row PostgreSQL refuses (an approval of a request that does not exist, which SQLite
    took with its foreign keys off) rolls the whole copy back."""
    source = store_history(tmp_path / "bot.db")
    with sqlite3.connect(source) as conn:
        conn.execute(
            "INSERT INTO approvals (request_id, approver_id, decision, at) "
            "VALUES (99, 'U0GHOST', 'approve', '2026-01-01T00:00:00+00:00')"
        )
    code, _, err = migrate(capsys, "--from", str(source), "--to", postgres_url)
    assert code == 2
    assert err.count("\n") == 1 and "nothing was committed" in err
    for table in TABLES:
        assert postgres_rows(postgres_url, table) == [], table
    # Fixed, it goes through.
    with sqlite3.connect(source) as conn:
        conn.execute("DELETE FROM approvals WHERE request_id = 99")
    assert migrate(capsys, "--from", str(source), "--to", postgres_url)[0] == 0


@pytest.mark.parametrize("cache", ["catalogue", "slash_dedupe"])
def test_a_target_holding_only_caches_is_accepted(tmp_path, postgres_url, capsys, cache):
    """A bot started once on the new database refreshed its catalogue: that is replaced."""
    source = store_history(tmp_path / "bot.db")
    db = PostgresDatabase(postgres_url)
    try:
        Store(db).migrate()
        if cache == "catalogue":
            db.execute(
                "INSERT INTO catalogue (key, kind, id, name, refreshed_at) VALUES (?, ?, ?, ?, ?)",
                ("deployment:x", "deployment", "x", "x", "2026-01-01T00:00:00+00:00"),
            )
        else:
            db.execute(
                "INSERT INTO slash_dedupe (fingerprint, at) VALUES (?, ?)",
                ("f", "2026-01-01T00:00:00+00:00"),
            )
        db.execute(
            "INSERT INTO reported_owners (reference, reason, at) VALUES (?, ?, ?)",
            ("@x", "why", "2026-01-01T00:00:00+00:00"),
        )
    finally:
        db.close()
    code, _, err = migrate(capsys, "--from", str(source), "--to", postgres_url)
    assert code == 2 and "1 row(s) in reported_owners" in err
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DELETE FROM reported_owners")
    code, _, err = migrate(capsys, "--from", str(source), "--to", postgres_url)
    assert code == 0, err
    assert postgres_rows(postgres_url, cache) == sqlite_rows(source, cache)
