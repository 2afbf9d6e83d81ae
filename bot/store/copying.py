"""Move a bot's SQLite database into PostgreSQL (``python -m bot migrate-to-postgres``).

A one-time move (issue #16): every table of the SQLite file, row for row, into a PostgreSQL
database that holds no requests or events yet. The audit events keep their IDs and hashes as
they are, so the hash chain on PostgreSQL is the same chain with the same head; the
append-only triggers refuse edits and deletions, not inserts.

The source is opened read-only and read in one snapshot. The target is migrated first, then
filled in one transaction under the store's write lock, and checked inside that transaction
before it commits (the same number of rows in every table, the chain intact with the source's
head), so a copy that does not match leaves nothing behind.

Stop the bot (on SQLite) before copying: whatever it writes after the snapshot stays behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from bot.store import chain

#: Tables of the SQLite file that are SQLite's or sqlite-utils' own bookkeeping, not data.
BOOKKEEPING = ("_sqlite_migrations",)
#: Copied first: the other tables refer to it.
FIRST = "requests"
#: What a bot started on the empty PostgreSQL database may already have written that is only a
#: cache (the resource catalogue, recent slash commands): replaced by the source's rows.
CACHES = ("catalogue", "slash_dedupe")
#: Rows per batch read from SQLite and sent to PostgreSQL.
BATCH = 2000
#: Seconds to wait for PostgreSQL before saying it cannot be reached.
CONNECT_TIMEOUT = 10


class CopyRefused(Exception):
    """The copy cannot (or must not) start; ``str(exc)`` is one line for the operator."""


class CopyFailed(Exception):
    """The copy ran but did not match the source; nothing was committed."""


@dataclass
class CopyReport:
    source: str
    target: str
    rows: dict[str, int] = field(default_factory=dict)
    events: int = 0
    head: str = chain.GENESIS
    migrated: list[str] = field(default_factory=list)


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (psycopg's span several), without any part of a
    DATABASE_URL's password: libpq quotes what it cannot parse, password included."""
    from bot.store.postgres import scrub

    return scrub(" ".join(str(exc).split())) or type(exc).__name__


def reach(url: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Connect once, directly, and hang up: a :class:`psycopg.Error` (one short wait, never
    the pool's patient retries) when PostgreSQL cannot be reached or refuses us."""
    with psycopg.connect(url, connect_timeout=max(1, round(timeout))) as conn:
        conn.execute("SELECT 1")


def _source_tables(db: Any) -> list[str]:
    names = [
        row[0]
        for row in db.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        if not row[0].startswith("sqlite_") and row[0] not in BOOKKEEPING
    ]
    return sorted(names, key=lambda name: (name != FIRST, name))


def _source_columns(db: Any, table: str) -> list[str]:
    return [row["name"] for row in db.query(f'PRAGMA table_info("{table}")')]


def _target_columns(conn: psycopg.Connection[Any]) -> dict[str, set[str]]:
    columns: dict[str, set[str]] = {}
    for table, column in conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema()"
    ).fetchall():
        columns.setdefault(table, set()).add(column)
    return columns


def _sequence(conn: psycopg.Connection[Any], table: str) -> str | None:
    """The identity sequence behind ``table.id``, if it has one."""
    return conn.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,)).fetchone()[0]


def _rows(db: Any, sql: str) -> Iterator[Any]:
    cursor = db.conn.execute(sql)
    try:
        while batch := cursor.fetchmany(BATCH):
            yield from batch
    finally:
        cursor.close()


def check_source(path: Path) -> Any:
    """Open ``path`` read-only, or refuse: missing, not the bot's, or an older schema."""
    import sqlite3

    from bot.store.audit import ReadOnlyDatabase
    from bot.store.migrations import migrations

    if not path.is_file():
        raise CopyRefused(f"{path}: no such SQLite file (pass --from or set DATABASE_PATH)")
    db = ReadOnlyDatabase(path)
    try:
        if db.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'") is None:
            raise CopyRefused(f"{path} is not an elastic-access-bot database (no events table)")
        pending = [m.name for m in migrations.pending(db.utils)]
    except sqlite3.Error as exc:
        db.close()
        raise CopyRefused(f"cannot read {path}: {one_line(exc)}") from None
    except CopyRefused:
        db.close()
        raise
    if pending:
        db.close()
        raise CopyRefused(
            f"{path} is not at the latest schema ({len(pending)} migration(s) pending, "
            f"first {pending[0]}): start the bot once on SQLite (DATABASE_PATH={path}, "
            "without DATABASE_URL) to upgrade it, stop it, then copy"
        )
    return db


def copy_to_postgres(
    source: Path, target_url: str, *, say: Callable[[str], None] = lambda line: None
) -> CopyReport:
    """Copy the bot's SQLite database at ``source`` into the PostgreSQL at ``target_url``.

    Raises :class:`CopyRefused` before anything is written to the target's data (the target's
    schema may have been created), :class:`CopyFailed` when the copy did not match (rolled
    back) and :class:`psycopg.Error` when PostgreSQL fails underneath.
    """
    import sqlite3

    from bot.store import Store
    from bot.store.postgres import PostgresDatabase, describe

    src = check_source(source)
    report = CopyReport(str(source), describe(target_url))
    try:
        try:
            reach(target_url)
        except psycopg.Error as exc:
            raise CopyRefused(f"cannot reach {report.target}: {one_line(exc)}") from None
        target = PostgresDatabase(target_url, min_size=1, max_size=2)
        try:
            report.migrated = Store(target).migrate()
            # One snapshot of the source: a reader in WAL mode sees the file as of BEGIN.
            src.conn.execute("BEGIN")
            try:
                _copy(src, target, report, say)
            finally:
                with contextlib.suppress(sqlite3.Error):
                    src.conn.execute("ROLLBACK")
        finally:
            target.close()
    except sqlite3.Error as exc:
        raise CopyRefused(f"reading {source} failed: {one_line(exc)}") from None
    finally:
        src.close()
    return report


def _copy(src: Any, target: Any, report: CopyReport, say: Callable[[str], None]) -> None:
    from bot.store.chain import COLUMNS
    from bot.store.postgres import row_factory

    expected = chain.verify(
        _rows(src, f"SELECT {', '.join(COLUMNS)}, hash FROM events ORDER BY id")
    )
    if not expected.intact:
        raise CopyRefused(
            f"the source's audit chain is broken at event {expected.broken_at} "
            f"({expected.why}): see `python -m bot audit --verify --database {report.source}`"
        )
    tables = _source_tables(src)
    with target.write() as tx:
        conn: psycopg.Connection[Any] = tx.conn
        known = _target_columns(conn)
        plan: list[tuple[str, list[str]]] = []
        for table in tables:
            columns = _source_columns(src, table)
            missing = [c for c in columns if c not in known.get(table, set())]
            if table not in known or missing:
                what = f"table {table}" if table not in known else f"{table}.{missing[0]}"
                raise CopyRefused(
                    f"{report.target} has no {what}: the two schemas differ (is this "
                    "bot's PostgreSQL schema older than its SQLite one?)"
                )
            plan.append((table, columns))
        held = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in known
            if table != "schema_migrations"
        }
        if held.get("requests") or held.get("events"):
            raise CopyRefused(
                f"{report.target} already holds {held.get('requests', 0)} request(s) and "
                f"{held.get('events', 0)} event(s): copy into a database the bot has not "
                "used yet (this is a one-time move)"
            )
        for table, count in held.items():
            if count and table not in CACHES:
                raise CopyRefused(
                    f"{report.target} already holds {count} row(s) in {table}: copy into a "
                    "database the bot has not used yet"
                )
        for table in CACHES:
            if held.get(table):
                conn.execute(f"DELETE FROM {table}")
        for table, columns in plan:
            listed = ", ".join(columns)
            copied = 0
            with conn.cursor().copy(f"COPY {table} ({listed}) FROM STDIN") as copy:
                for row in _rows(src, f'SELECT {listed} FROM "{table}"'):
                    copy.write_row(tuple(row))
                    copied += 1
            report.rows[table] = copied
            if "id" in columns and (name := _sequence(conn, table)) is not None:
                # The next request (probe run) gets the ID after the last one copied.
                conn.execute(
                    f"SELECT setval(%s, coalesce((SELECT max(id) FROM {table}), 0) + 1, false)",
                    (name,),
                )
            say(f"{table}: {copied} row(s)")
        # Check before committing: a copy that does not match leaves nothing behind.
        for table, copied in report.rows.items():
            source_count = src.one(f'SELECT count(*) FROM "{table}"')[0]
            target_count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            if not source_count == copied == target_count:
                raise CopyFailed(
                    f"{table}: {source_count} row(s) in the source, {target_count} in the "
                    "target; nothing was committed"
                )
        with conn.cursor(name="verify_chain", row_factory=row_factory) as cursor:
            cursor.itersize = BATCH
            cursor.execute("SELECT * FROM events ORDER BY id")
            verdict = chain.verify(cursor)
        if not verdict.intact or verdict.head != expected.head or verdict.events != expected.events:
            why = verdict.why or f"{verdict.events} events, head {verdict.head}"
            raise CopyFailed(
                f"the copied audit chain does not match the source's ({expected.events} "
                f"events, head {expected.head}): {why}; nothing was committed"
            )
        report.events, report.head = verdict.events, verdict.head
