"""The real bot as a child process: ``python -m bot run --mode http`` on a free port.

Used by the crash suite. The bot runs under gunicorn (a master and one worker), in its own
process group, so ``kill()`` is ``kill -9`` of the whole bot: master, worker and every thread.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from bot.clock import from_iso, to_iso
from bot.faults import CRASH_ENV
from tests.harness import API_KEY, BOT_TOKEN, ORG_ID, OWNER, SIGNING_SECRET, Bot

REPO_ROOT = Path(__file__).resolve().parents[1]

#: Timestamp columns of ``requests`` (and friends) that "time passing" moves back.
_TIME_COLUMNS = {
    "requests": (
        "decided_at",
        "granted_at",
        "expires_at",
        "ended_at",
        "lease_until",
        "next_attempt_at",
        "overdue_alerted_at",
        "next_reminder_at",
        "created_at",
        "updated_at",
    ),
    "approvals": ("at",),
    "owned_units": ("added_at",),
    "slash_dedupe": ("at",),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(
    predicate: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll until ``predicate()`` is truthy and return it; AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


class BotProcess:
    """One run of the bot process on a given database; ``stop()`` always SIGKILLs the group."""

    def __init__(
        self,
        *,
        db_path: Path,
        slack_api_url: str,
        elastic_url: str,
        log_path: Path,
        crash_at: str | None = None,
        sweep_interval: str = "1s",
        owners: str = OWNER,
        database_url: str | None = None,
        extra_env: dict[str, str] | None = None,
        args: tuple[str, ...] = ("run", "--mode", "http"),
    ) -> None:
        self.args = args
        self.db_path = db_path
        self.log_path = log_path
        self.crash_at = crash_at
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "ELASTIC_", "DATABASE_"))
            and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
        }
        env |= {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack_api_url,
            "ELASTIC_CLOUD_API_KEY": API_KEY,
            "ELASTIC_CLOUD_ORGANIZATION_ID": ORG_ID,
            "ELASTIC_CLOUD_API_URL": elastic_url,
            "DATABASE_PATH": str(db_path),
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "INTEGRATION_OWNERS": owners,
            "SWEEP_INTERVAL": sweep_interval,
            "PYTHONUNBUFFERED": "1",
        }
        if database_url:  # PostgreSQL: several processes on one database
            del env["DATABASE_PATH"]
            env["DATABASE_URL"] = database_url
        env |= extra_env or {}
        if crash_at:
            env[CRASH_ENV] = crash_at
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at: float | None = None
        self.ready_at: float | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, timeout: float = 20.0) -> BotProcess:
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", *self.args],
            cwd=REPO_ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until(self._healthy, timeout, what=f"GET /healthz on {self.url}\n{self.log()}")
        except BaseException:
            self.stop()
            raise
        self.ready_at = time.monotonic()
        return self

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"the bot exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        """``kill -9`` of the whole process group (gunicorn master and worker alike)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        # Children re-parented away from the group leader: make sure none survives.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._log.close()
        self.proc = None

    def __enter__(self) -> BotProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- observation -----------------------------------------------------------------------
    def log(self) -> str:
        """What this run wrote to stdout/stderr so far."""
        with open(self.log_path, "rb") as f:
            f.seek(getattr(self, "log_offset", 0))
            return f.read().decode(errors="replace")

    def crashed(self) -> bool:
        return f"crash point {self.crash_at}: exiting now" in self.log()

    def kill_on_crash(self, timeout: float = 15.0) -> float:
        """Wait for the crash line, then SIGKILL the group at once; returns the delay (s).

        gunicorn's master would otherwise boot a new worker: the crash must be of the bot.
        """
        wait_until(self.crashed, timeout, interval=0.005, what=f"crash at {self.crash_at}")
        seen = time.monotonic()
        self.stop()
        return time.monotonic() - seen

    def worker_pids(self) -> list[int]:
        """PIDs of the gunicorn workers (children of the master), from /proc."""
        assert self.proc is not None
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.proc.pid:
                    pids.append(int(entry.name))
        return pids

    # -- driving it like Slack ------------------------------------------------------------
    def slack_client(self, fake_slack: Any) -> Bot:
        """The harness's signed-request sender, pointed at this process (no in-process runtime)."""
        return Bot(runtime=None, url=self.url, slack=fake_slack, clock=None)  # type: ignore[arg-type]


# -- the database, read and edited from outside ----------------------------------------------
@contextlib.contextmanager
def connect(db_path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(db_path, timeout=15, isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    finally:
        conn.close()


def query(db: Path | str, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    """Rows of ``sql`` (``?`` placeholders) from a SQLite file or a ``postgresql://`` URL."""
    if isinstance(db, str):
        import psycopg
        from psycopg.rows import dict_row

        from bot.store.postgres import translate

        with psycopg.connect(db, autocommit=True, row_factory=dict_row) as conn:
            cur = conn.cursor()
            cur.execute(translate(sql), params)
            return list(cur.fetchall()) if cur.description else []
    with connect(db) as conn:
        return [dict(r) for r in conn.execute(sql, params)]


def rows(db_path: Path | str) -> list[dict[str, Any]]:
    return query(db_path, "SELECT * FROM requests ORDER BY id")


def states(db_path: Path) -> dict[int, str]:
    return {r["id"]: r["state"] for r in rows(db_path)}


def pass_time(db_path: Path, delta: timedelta) -> None:
    """Make ``delta`` pass while the bot is down: every stored timestamp moves back by it.

    (The audit events are append-only and keep their times; nothing the bot decides on
    reads them.)
    """
    with connect(db_path) as conn:
        conn.execute("BEGIN IMMEDIATE")
        for table, columns in _TIME_COLUMNS.items():
            for column in columns:
                values = conn.execute(
                    f"SELECT rowid, {column} FROM {table} WHERE {column} IS NOT NULL"
                ).fetchall()
                for rowid, value in values:
                    conn.execute(
                        f"UPDATE {table} SET {column} = ? WHERE rowid = ?",
                        (to_iso(from_iso(value) - delta), rowid),
                    )
        conn.execute("COMMIT")


def expire_now(db_path: Path | str, request_ids: list[int] | None = None, ago: float = 1.0) -> None:
    """Set ``expires_at`` of live grants ``ago`` seconds into the past (nothing else moves;
    a negative ``ago`` is that far in the future)."""
    from datetime import UTC, datetime

    stamp = to_iso(datetime.now(UTC) - timedelta(seconds=ago))
    if isinstance(db_path, str):
        ids = request_ids or [
            r["id"] for r in rows(db_path) if r["state"] in ("active", "granting")
        ]
        for i in ids:
            query(db_path, "UPDATE requests SET expires_at = ? WHERE id = ?", (stamp, i))
        return
    with connect(db_path) as conn:
        if request_ids is None:
            conn.execute(
                "UPDATE requests SET expires_at = ? WHERE state IN ('active', 'granting')",
                (stamp,),
            )
        else:
            conn.executemany(
                "UPDATE requests SET expires_at = ? WHERE id = ?",
                [(stamp, i) for i in request_ids],
            )
