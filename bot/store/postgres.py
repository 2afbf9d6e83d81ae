"""PostgreSQL under the same small interface as :class:`bot.store.database.Database`.

Several processes share one PostgreSQL database (issue #16). The store's SQL is written once,
in the subset both databases understand (``?`` placeholders, ``ON CONFLICT``, ``RETURNING``);
this module translates the placeholders and gives :meth:`PostgresDatabase.write` the meaning
``BEGIN IMMEDIATE`` has on SQLite: one writer at a time, *across every process*, taken with a
transaction-level advisory lock. Read-then-write steps (the audit hash chain, the break-glass
cap, the pending-request limit, quorum counts) therefore stay exact with any number of
replicas, without a coordination service. Single conditional statements (claims, moves)
do not need it and run on their own.

Connections come from a psycopg-pool pool, in autocommit mode; a write pins one connection to
its thread for the transaction. Client-side parameter binding (``ClientCursor``) keeps the
portable SQL free of type casts: a parameter's type comes from the value, as on SQLite.
A connection lost between statements is replaced by the pool (``check``), so a restarted
database costs failed statements, never the process.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.rows import RowMaker, tuple_row
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

#: The advisory lock every write transaction takes (the same number in every process).
WRITE_LOCK = zlib.crc32(b"elastic-access-bot:write")
#: The advisory lock the migrations run under: replicas starting together migrate once.
MIGRATION_LOCK = zlib.crc32(b"elastic-access-bot:migrate")

#: psycopg errors that mean "the database or the connection to it is gone" (retryable).
UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError)


class Row(tuple):
    """A result row readable by position and by column name, like ``sqlite3.Row``."""

    __slots__ = ()
    _names: dict[str, int] = {}

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


@lru_cache(maxsize=512)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    return type("Row", (Row,), {"__slots__": (), "_names": {n: i for i, n in enumerate(names)}})


def row_factory(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    names = tuple(c.name for c in cursor.description or ())
    cls = _row_class(names)
    return lambda values: cls(values)


@lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """SQLite-style ``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled first).
    The store never writes ``?`` or ``%`` inside a string literal, so the swap is exact."""
    return sql.replace("%", "%%").replace("?", "%s")


#: The row class of each statement (its columns never change): psycopg would otherwise
#: describe every column of every result again, a real share of a revocation's CPU.
_ROW_CLASSES: dict[str, type[Row]] = {}


class Result:
    """What a statement returned, read before its connection went back to the pool."""

    def __init__(self, cursor: psycopg.Cursor[Any], sql: str) -> None:
        self.rowcount = cursor.rowcount
        self.lastrowid = None  # use RETURNING
        result = cursor.pgresult
        if result is None or not result.nfields:
            self._rows: list[Any] = []
            return
        cls = _ROW_CLASSES.get(sql)
        if cls is None:
            if len(_ROW_CLASSES) > 4096:  # statements built with variable IN lists
                _ROW_CLASSES.clear()
            names = tuple((result.fname(i) or b"").decode() for i in range(result.nfields))
            cls = _ROW_CLASSES[sql] = _row_class(names)
        self._rows = [cls(values) for values in cursor.fetchall()]

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Any]:
        return self._rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


class Transaction:
    """The connection a :meth:`PostgresDatabase.write` holds, with the SQLite-style API the
    store's writes use (``execute`` and ``in_transaction``)."""

    in_transaction = True

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        return Result(self.conn.execute(translate(sql), params), sql)


class PostgresDatabase:
    dialect = "postgresql"
    read_only = False

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        self._local = threading.local()
        self.pool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={
                "autocommit": True,
                "row_factory": tuple_row,  # names come from Result's per-statement classes
                "cursor_factory": psycopg.ClientCursor,
            },
            # No check on every checkout (a round trip per statement): a connection that broke
            # fails its statement once, the pool drops it, and the caller retries next tick.
            max_idle=60,
            # A statement waits this long for a connection, then fails (and is retried by
            # its caller): /readyz answers within seconds while the database is away.
            timeout=5.0,
            open=False,
            name="elastic-access",
        )
        self.pool.open(wait=False)

    @property
    def path(self) -> str:
        """Where the data is, safe to log (no password)."""
        return describe(self.url)

    # -- transactions ----------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[Transaction]:
        """One transaction, holding the cluster-wide write lock until it ends."""
        held: Transaction | None = getattr(self._local, "tx", None)
        if held is not None:  # nested: the outer transaction owns commit/rollback
            yield held
            return
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            tx = Transaction(conn)
            self._local.tx = tx
            try:
                yield tx
            finally:
                self._local.tx = None

    # -- statements ------------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        held: Transaction | None = getattr(self._local, "tx", None)
        if held is not None:
            return held.execute(sql, params)
        with self.pool.connection() as conn:
            return Result(conn.execute(translate(sql), params), sql)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self.execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.execute(sql, params).fetchone()

    def stream(self, sql: str, params: Sequence[Any] = (), batch: int = 500) -> Iterator[Any]:
        """Rows ``batch`` at a time from a server-side cursor (the audit export)."""
        with (
            self.pool.connection() as conn,
            conn.transaction(),
            conn.cursor(name="export", row_factory=row_factory) as cursor,
        ):
            cursor.itersize = batch
            cursor.execute(translate(sql), params)
            yield from cursor

    def clock_offset(self) -> float:
        """The server's clock minus ours, in seconds, taken at the middle of the round trip."""
        before = time.time()
        server = float(self.one("SELECT extract(epoch FROM clock_timestamp())")[0])
        after = time.time()
        return server - (before + after) / 2

    def ping(self) -> bool:
        try:
            return self.one("SELECT 1")[0] == 1
        except psycopg.Error:
            return False

    # -- lifecycle -------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        from bot.store import postgres_schema

        return postgres_schema.apply(self)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.pool.close(timeout=5)


#: The secret parts of every DATABASE_URL this process was given (:func:`secret_parts`),
#: for :func:`scrub`: libpq's errors may quote them (a password it could not parse).
_SECRETS: set[str] = set()


def secret_parts(url: str) -> set[str]:
    """What of ``url`` must never be printed: the URL itself, its user:password part, and
    the password as written and percent-decoded. Read as text, not parsed: the URL may be
    one libpq refuses (a bare ``%`` in the password, an unclosed ``[``)."""
    from urllib.parse import unquote

    parts = {url}
    rest = url.split("://", 1)[-1]
    authority = rest.split("/", 1)[0]
    userinfo, at, _ = authority.rpartition("@")
    if not at:  # no '@' before the first '/': look for it anywhere (a '/' in the password)
        userinfo, at, _ = rest.rpartition("@")
    if at and userinfo:
        parts.add(userinfo)
        _, colon, password = userinfo.partition(":")
        if colon and password:
            parts |= {password, unquote(password)}
    return {p for p in parts if len(p) >= 3}


def scrub(text: str) -> str:
    """``text`` with every secret part of a DATABASE_URL seen by this process replaced."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return text


def describe(url: str) -> str:
    """``url`` without its password, for logs and ``check``. Remembers its secret parts,
    so :func:`scrub` can take them out of any error message that quotes them."""
    _SECRETS.update(secret_parts(url))
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql (unparsable DATABASE_URL)"
    host = info.get("host", "localhost")
    port = info.get("port", "5432")
    return f"postgresql://{info.get('user', '')}@{host}:{port}/{info.get('dbname', '')}"
