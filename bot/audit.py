"""``python -m bot audit``: export the audit trail (the ``events`` table) as CSV or JSON.

    python -m bot audit --since 30d [--until 2026-11-01] [--format csv|json] [--output FILE]
                        [--database PATH]
    python -m bot audit --verify [--database PATH]

With ``DATABASE_URL=postgresql://…`` set (and no ``--database``) both read PostgreSQL.

Needs nothing but the database: ``--database`` (a SQLite file), else ``DATABASE_URL``
(PostgreSQL), else ``DATABASE_PATH``, else ``./elastic-access.db`` (no Slack or Elastic
settings). It only reads (a SQLite file is opened read-only, PostgreSQL transactions are
read-only), so this is safe against the live bot. Events are those with
``since <= at < until``; ``--since`` and ``--until`` take ``30d``/``2h`` (before now),
``2026-11-01`` (midnight UTC; as ``--until`` the whole day is included) or an ISO date-time
(UTC when it has no offset).

CSV has a header row (:data:`bot.store.audit.EVENT_COLUMNS`) and ``detail`` as a JSON string;
a cell that a spreadsheet would take for a formula starts with ``'`` (:func:`csv_cell`).
JSON is one array of objects with the same keys and ``detail`` as a nested object; both are
written as they are read, never held in memory. Exit 0 on success, 2 on bad arguments or a
missing, unreachable or unreadable database (one line on stderr). An ``--output`` file is
created readable by its owner only (0600): the trail names people and their reasons.

``--verify`` checks the events' hash chain (:mod:`bot.store.chain`): exit 0 and the head hash
when it is intact, exit 1 naming the first event that breaks it.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import sqlite3
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from bot.clock import SystemClock

DEFAULT_DATABASE = "./elastic-access.db"


def _columns() -> tuple[str, ...]:
    from bot.store.audit import EVENT_COLUMNS

    return EVENT_COLUMNS


#: What a spreadsheet reads as the start of a formula (or, TAB and CR, as a cell break that
#: can hide one). Justifications, reasons and resource names are typed by people other than
#: whoever opens the export.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """One CSV cell: None as empty, and text a spreadsheet would run as a formula
    (``=HYPERLINK(…)``, ``@SUM(…)``) behind a leading ``'``, so it opens as the literal text."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(rows: Iterable[Mapping[str, Any]], out: IO[str]) -> int:
    """Write a header row and one row per event (cells through :func:`csv_cell`). Returns the
    count."""
    columns = _columns()
    writer = csv.writer(out)
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([csv_cell(row[c]) for c in columns])
        count += 1
    return count


def write_json(rows: Iterable[Mapping[str, Any]], out: IO[str]) -> int:
    """Write one JSON array, an element per line, as rows arrive. Returns the count."""
    columns = _columns()
    count = 0
    out.write("[")
    for row in rows:
        item = {c: row[c] for c in columns}
        if isinstance(item.get("detail"), str):
            item["detail"] = json.loads(item["detail"])
        out.write(("\n" if count == 0 else ",\n") + json.dumps(item))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def events_csv(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """The same CSV as ``--format csv``, as UTF-8 bytes (for a file upload to Slack)."""
    buffer = io.StringIO(newline="")
    write_csv(rows, buffer)
    return buffer.getvalue().encode("utf-8")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``audit`` on the ``python -m bot`` sub-command parsers."""
    parser = subparsers.add_parser(
        "audit",
        help="export the audit trail as CSV or JSON",
        description="Export audit events (who did what to which request, and when).",
    )
    _arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--since",
        help="start: 30d or 2h (before now), 2026-11-01, or 2026-11-01T10:00 (UTC)",
    )
    what.add_argument(
        "--verify",
        action="store_true",
        help="check the events' hash chain instead: exit 0 if intact, 1 naming the first break",
    )
    parser.add_argument(
        "--until", default=None, help="end (exclusive; a bare date includes that day)"
    )
    parser.add_argument("--format", choices=("csv", "json"), default="csv", help="default csv")
    parser.add_argument("--output", default=None, help="write to FILE instead of stdout")
    parser.add_argument(
        "--database",
        default=None,
        help="SQLite file (default: PostgreSQL at $DATABASE_URL when set, else "
        f"$DATABASE_PATH, else {DEFAULT_DATABASE})",
    )


def _error(message: str) -> int:
    print(f"audit: {message}", file=sys.stderr)
    return 2


class _Unusable(Exception):
    """The database cannot be read; ``str(exc)`` is the one line to print."""


def _errors() -> tuple[type[Exception], ...]:
    """What reading either database may raise (psycopg only imported when needed)."""
    import psycopg

    return (sqlite3.Error, psycopg.Error)


def _database(args: argparse.Namespace) -> Path | str:
    """``--database`` (a SQLite file), else ``DATABASE_URL`` (PostgreSQL), else
    ``DATABASE_PATH``, else :data:`DEFAULT_DATABASE`."""
    if args.database:
        return Path(args.database)
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return Path(os.environ.get("DATABASE_PATH") or DEFAULT_DATABASE)


def _read_only(url: str) -> str:
    """``url`` as a connection string whose every transaction is read-only."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    info = conninfo_to_dict(url)
    options = f"{info.get('options') or ''} -c default_transaction_read_only=on".strip()
    return make_conninfo("", **{**info, "options": options})


def _open(where: Path | str) -> tuple[Any, str]:
    """The database at ``where``, opened read-only, with the name to print for it; raises
    :class:`_Unusable` when it is missing, unreachable or not the bot's."""
    from bot.store.audit import ReadOnlyDatabase

    if isinstance(where, Path):
        if not where.is_file():
            raise _Unusable(f"database not found: {where} (set DATABASE_PATH or pass --database)")
        db: Any = ReadOnlyDatabase(where)
        name = str(where)
        probe = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'"
        missing = f"{name} is not an elastic-access-bot database (no events table)"
    else:
        import psycopg

        from bot.store.copying import reach
        from bot.store.postgres import PostgresDatabase, describe

        name = describe(where)
        if not where.startswith(("postgresql://", "postgres://")):
            raise _Unusable("DATABASE_URL must be a postgresql:// URL")
        try:
            reach(where)
        except psycopg.Error as exc:
            raise _Unusable(f"cannot connect to {name}: {_one_line(exc)}") from None
        db = PostgresDatabase(_read_only(where), min_size=1, max_size=1)
        probe = (
            "SELECT 1 FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_name = 'events'"
        )
        missing = f"{name} has no events table (has the bot been started on it?)"
    try:
        found = db.one(probe)
    except _errors() as exc:
        db.close()
        raise _Unusable(f"cannot read {name}: {_one_line(exc)}") from None
    if found is None:
        db.close()
        raise _Unusable(missing)
    return db, name


def _one_line(exc: BaseException) -> str:
    from bot.store.copying import one_line

    return one_line(exc)


def window(args: argparse.Namespace, now, until_default=None):
    """``--since`` and ``--until`` as moments (``until_default`` without ``--until``); a
    ValueError carries the one line to print (``audit`` and ``review`` share it)."""
    from bot.access.listing import parse_moment

    try:
        since = parse_moment(args.since, now)
    except ValueError as exc:
        raise ValueError(f"--since {exc}") from None
    try:
        until = parse_moment(args.until, now, end=True) if args.until else until_default
    except ValueError as exc:
        raise ValueError(f"--until {exc}") from None
    if until is not None and since >= until:
        raise ValueError("--since must be before --until")
    return since, until


def run(args: argparse.Namespace) -> int:
    from bot.store.audit import export_events

    if args.verify:
        return verify(_database(args))
    try:
        since, until = window(args, SystemClock().now())
    except ValueError as exc:
        return _error(str(exc))

    try:
        db, name = _open(_database(args))
    except _Unusable as exc:
        return _error(str(exc))
    try:
        write = write_json if args.format == "json" else write_csv
        rows = export_events(db, since, until)
        if args.output is None:
            with contextlib.suppress(AttributeError, ValueError):  # not a plain text stream
                sys.stdout.reconfigure(encoding="utf-8")  # type: ignore[union-attr]
            try:
                write(rows, sys.stdout)
                sys.stdout.flush()
            except BrokenPipeError:  # `… | head`: the reader has what it wanted
                with contextlib.suppress(OSError):
                    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        return _write_file(Path(args.output), write, rows)
    except _errors() as exc:
        return _error(f"reading {name} failed: {_one_line(exc)}")
    finally:
        db.close()


def verify(where: Path | str) -> int:
    """``--verify``: walk the hash chain of the events at ``where`` (read-only): a SQLite
    file's path or a PostgreSQL URL."""
    from bot.store.chain import COLUMNS
    from bot.store.chain import verify as walk

    try:
        db, name = _open(where)
    except _Unusable as exc:
        return _error(str(exc))
    try:
        if db.dialect == "sqlite":
            columns = {row["name"] for row in db.query("PRAGMA table_info(events)")}
            if "hash" not in columns:
                return _error(f"{name} has no hash chain yet (start the bot once to migrate it)")
        rows = db.stream(f"SELECT {', '.join(COLUMNS)}, hash FROM events ORDER BY id")
        verdict = walk(rows)
    except _errors() as exc:
        return _error(f"reading {name} failed: {_one_line(exc)}")
    finally:
        db.close()
    if verdict.intact:
        print(f"audit: chain intact: {verdict.events} events, head {verdict.head}")
        return 0
    print(f"audit: chain broken at event {verdict.broken_at}: {verdict.why}")
    return 1


def _private(path: Path) -> IO[str]:
    """``path`` opened for writing, created (or reset) to mode 0600 before any data goes in."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its mode on open: reset it
    except BaseException:
        os.close(fd)
        raise
    return open(fd, "w", encoding="utf-8", newline="")  # noqa: SIM115 - the caller closes it


def _write_file(target: Path, write: Any, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write beside the target and rename, so a failed export never leaves half a file."""
    partial = target.with_name(target.name + ".partial")
    try:
        with _private(partial) as out:
            count = write(rows, out)
        partial.replace(target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        return _error(f"cannot write {target}: {exc.strerror or exc}")
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    print(f"audit: wrote {count} events to {target}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point (``python -c 'from bot.audit import main; …'``)."""
    parser = argparse.ArgumentParser(
        prog="python -m bot audit",
        description="Export audit events (who did what to which request, and when).",
    )
    _arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
