"""One SQLite file, one connection per thread, WAL, a busy timeout, explicit transactions.

sqlite3 connections may not cross threads, and Bolt listeners, the scheduler and the sweep
all run on their own threads; so each thread gets its own connection, opened lazily.
Connections run in autocommit mode (``isolation_level=None``) and every multi-statement
write goes through :meth:`Database.write`, which takes the write lock up front
(``BEGIN IMMEDIATE``) so a read-then-write can never fail on a stale snapshot.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

BUSY_TIMEOUT_SECONDS = 15.0
log = logging.getLogger(__name__)


def _owner_only(path: Path, *, create: bool = True) -> None:
    """Make ``path`` readable and writable by its owner only (0600), creating it empty if
    asked, before SQLite writes anything into it. The database holds who had what access and
    why; nobody else on the host needs to read it."""
    if create:
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)
    except FileNotFoundError:
        pass
    except PermissionError:  # someone else's file: say so, and go on as before
        log.warning("%s is readable by others and not ours to restrict (chmod 600 it)", path)


class Database:
    dialect = "sqlite"
    #: A read-only view (the audit CLI) never creates the file nor changes its mode.
    read_only = False

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if self.path != ":memory:" and not self.read_only:
            Path(self.path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _owner_only(Path(self.path))

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:":  # SQLite gives -wal/-shm the file's mode; make sure
                for suffix in ("-wal", "-shm"):
                    _owner_only(Path(self.path + suffix), create=False)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @property
    def utils(self) -> sqlite_utils.Database:
        """sqlite-utils over this thread's connection (schema work, inserts, queries)."""
        db = getattr(self._local, "utils", None)
        if db is None:
            db = sqlite_utils.Database(self.conn)
            self._local.utils = db
        return db

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """An IMMEDIATE transaction: all or nothing, and no lost race on a stale read."""
        conn = self.conn
        if conn.in_transaction:  # nested: the outer transaction owns commit/rollback
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def query(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Any = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def stream(self, sql: str, params: Any = (), batch: int = 500) -> Iterator[sqlite3.Row]:
        """Rows ``batch`` at a time; the statement stays open until the iterator ends."""
        cursor = self.conn.execute(sql, params)
        try:
            while rows := cursor.fetchmany(batch):
                yield from rows
        finally:
            cursor.close()

    def clock_offset(self) -> float:
        """One machine, one clock."""
        return 0.0

    def migrate(self) -> list[str]:
        from bot.store import migrations

        return migrations.apply(self.utils)

    def ping(self) -> bool:
        try:
            return self.conn.execute("SELECT 1").fetchone()[0] == 1
        except sqlite3.Error:
            return False

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                # A connection opened by a thread that is gone may refuse; the OS closes it.
                with contextlib.suppress(sqlite3.ProgrammingError):
                    conn.close()
            self._all.clear()
        self._local = threading.local()
