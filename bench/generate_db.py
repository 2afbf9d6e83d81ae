"""Build a large, realistic bot database fast: ``python -m bench.generate_db PATH [options]``.

The schema comes from the bot's own migrations (``bot.store.migrations``), so it is the real
one; rows go in with ``executemany`` inside one transaction (journal off while building).
Every row looks like the bot wrote it: a request's state, timestamps, ``added`` units and
``notified_state`` agree, finished grants have their audit events (hash-chained like the
bot's, so ``python -m bot migrate-to-postgres`` accepts the file), and live grants own their
units in ``owned_units``. Nothing is due at start unless the caller asks for it (active
grants expire in the future, pending requests are recent and have no reminder due), so a bot
started on the file has no catch-up work beyond what a benchmark sets up on purpose.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.clock import to_iso
from bot.store import chain, migrations

OWNER = "U0OWNER01"
ORG_ID = "1234567890"
ROLES = ("deployment-viewer", "deployment-editor", "deployment-admin")
HISTORY_STATES = (
    ("expired", 70),
    ("revoked", 10),
    ("denied", 8),
    ("timed_out", 5),
    ("failed", 4),
    ("cancelled", 3),
)
GRANTED_STATES = {"expired", "revoked", "active"}


def user_id(k: int) -> str:
    return f"U{k:08d}"


def user_email(k: int) -> str:
    return f"user{k}@example.com"


def elastic_user_id(k: int) -> str:
    return str(10**15 + k)


def deployment_id(j: int) -> str:
    """32 lowercase hex characters, as Elastic Cloud deployment ids are."""
    return hashlib.md5(f"deployment-{j}".encode()).hexdigest()  # noqa: S324 - not security


def migrate(path: Path) -> None:
    """Create (or upgrade) the schema with the bot's own migrations."""
    db = sqlite_utils.Database(str(path))
    try:
        migrations.apply(db)
    finally:
        db.conn.close()


@dataclass(frozen=True)
class Grant:
    """One live grant to seed: ``requester`` is a user number (see user_id/user_email)."""

    requester: int
    deployment: str
    deployment_name: str
    role: str
    granted_at: datetime
    expires_at: datetime


class Writer:
    """Inserts request rows (with their events and owned units) in one transaction."""

    def __init__(self, path: Path) -> None:
        migrate(path)
        self.conn = sqlite3.connect(str(path), isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = OFF")
        self.conn.execute("PRAGMA synchronous = OFF")
        self.conn.execute("PRAGMA cache_size = -262144")  # 256 MiB: index pages stay in memory
        self.columns = {r[1] for r in self.conn.execute("PRAGMA table_info(requests)")}
        (self.next_id,) = self.conn.execute(
            "SELECT coalesce(max(id), 0) + 1 FROM requests"
        ).fetchone()
        last = self.conn.execute("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
        self.next_event = last[0] + 1 if last else 1
        self.last_hash = (last[1] or chain.GENESIS) if last else chain.GENESIS
        self.conn.execute("BEGIN")

    def close(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.close()

    def requests(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        names = [c for c in rows[0] if c in self.columns]
        sql = f"INSERT INTO requests ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
        self.conn.executemany(sql, ([row[c] for c in names] for row in rows))

    def events(self, rows: Iterable[tuple[Any, ...]]) -> None:
        self.conn.executemany(
            "INSERT INTO events (id, request_id, at, actor, kind, detail, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            self._chained(rows),
        )

    def _chained(self, rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
        """Give each event its ID and its link in the audit chain (bot/store/chain.py)."""
        for request_id, at, actor, kind, detail in rows:
            event = {
                "id": self.next_event,
                "request_id": request_id,
                "at": at,
                "actor": actor,
                "kind": kind,
                "detail": detail,
            }
            self.last_hash = chain.link(self.last_hash, event)
            yield (self.next_event, request_id, at, actor, kind, detail, self.last_hash)
            self.next_event += 1

    def owned_units(self, rows: Iterable[tuple[Any, ...]]) -> None:
        self.conn.executemany(
            "INSERT OR IGNORE INTO owned_units (elastic_user_id, unit, request_id, added_at) "
            "VALUES (?, ?, ?, ?)",
            rows,
        )


def request_row(
    request_id: int,
    *,
    requester: int,
    deployment: str,
    deployment_name: str,
    role: str,
    state: str,
    created: datetime,
    duration: timedelta,
    granted: datetime | None = None,
    ended: datetime | None = None,
    justification: str = "investigating an incident",
) -> dict[str, Any]:
    unit = f"deployment|{role}|{deployment}"
    decided = created + timedelta(minutes=3) if state not in ("pending", "timed_out") else None
    expires = granted + duration if granted else None
    return {
        "id": request_id,
        "requester_id": user_id(requester),
        "requester_email": user_email(requester),
        "resource_kind": "deployment",
        "resource_id": deployment,
        "resource_name": deployment_name,
        "project_type": None,
        "role_id": role,
        "unit": unit,
        "duration_seconds": int(duration.total_seconds()),
        "justification": justification,
        "state": state,
        "approvers": json.dumps([OWNER]),
        "approvals_needed": 1,
        "elastic_user_id": elastic_user_id(requester),
        "decided_by": OWNER if decided else None,
        "decided_at": to_iso(decided) if decided else None,
        "decision_reason": "not needed" if state == "denied" else None,
        "granted_at": to_iso(granted) if granted else None,
        "expires_at": to_iso(expires) if expires else None,
        "ended_at": to_iso(ended) if ended else None,
        "ended_by": (
            "system" if state == "expired" else user_id(requester) if state == "revoked" else None
        ),
        "added": json.dumps([unit] if granted else []),
        "attempts": 0,
        "notified_state": state,
        "approver_source": "integration_owner",
        "reminders_sent": 0,
        "next_reminder_at": None,
        "created_at": to_iso(created),
        "updated_at": to_iso(ended or granted or decided or created),
    }


_LIFECYCLE = {
    "expired": (
        "requested",
        "approved",
        "granting",
        "elastic_add",
        "granted",
        "expiring",
        "elastic_remove",
        "expired",
    ),
    "revoked": (
        "requested",
        "approved",
        "granting",
        "elastic_add",
        "granted",
        "revoke_requested",
        "elastic_remove",
        "revoked",
    ),
    "active": ("requested", "approved", "granting", "elastic_add", "granted"),
    "pending": ("requested",),
    "denied": ("requested", "denied"),
    "timed_out": ("requested", "reminded", "reminded", "timed_out"),
    "failed": ("requested", "approved", "granting", "retry_scheduled", "failed"),
    "cancelled": ("requested", "cancelled"),
}


def events_for(row: dict[str, Any], count: int) -> Iterator[tuple[Any, ...]]:
    """``count`` audit events for a request row (its lifecycle, padded with retries).

    Built with plain string formatting (no json.dumps, no timezone conversion per event):
    a million of these is most of the generator's work.
    """
    kinds = list(_LIFECYCLE[row["state"]])
    while len(kinds) < count:  # pad with what long-lived rows collect: retries, reminders
        kinds.insert(-1 if len(kinds) > 1 else 1, "retry_scheduled")
    if count:
        kinds = kinds[:count]
    start = datetime.fromisoformat(row["created_at"])
    request_id, requester = row["id"], row["requester_id"]
    units = '{{"units": ["{}"]}}'.format(row["unit"])
    requested = '{{"resource": "deployment:{}", "role": "{}"}}'.format(
        row["resource_id"], row["role_id"]
    )
    for n, kind in enumerate(kinds):
        if kind == "requested":
            actor, detail = requester, requested
        elif kind in ("approved", "denied"):
            actor, detail = OWNER, "{}"
        elif kind.startswith("elastic"):
            actor, detail = "system", units
        elif kind == "retry_scheduled":
            actor, detail = "system", _RETRY
        else:
            actor, detail = "system", "{}"
        at = (start + timedelta(seconds=20 * n)).isoformat(timespec="microseconds")
        yield (request_id, at, actor, kind, detail)


_RETRY = '{"attempt": 1, "error": "Elastic Cloud answered HTTP 503"}'


def generate(
    path: Path,
    *,
    requests: int = 100_000,
    events: int = 1_000_000,
    active: int = 200,
    pending: int = 100,
    requesters: int = 1_000,
    deployments: int = 500,
    seed: int = 1,
    now: datetime | None = None,
) -> dict[str, float]:
    """A history of ``requests`` rows (the newest ``active`` live, ``pending`` waiting)."""
    began = time.monotonic()
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    if path.exists():
        path.unlink()
    writer = Writer(path)
    per_request, extra = divmod(events, requests)
    rows: list[dict[str, Any]] = []
    event_rows: list[tuple[Any, ...]] = []
    owned: list[tuple[Any, ...]] = []
    states = [s for s, _ in HISTORY_STATES]
    weights = [w for _, w in HISTORY_STATES]
    span = timedelta(days=365)
    history = requests - active - pending
    for n in range(requests):
        request_id = writer.next_id + n
        requester = rng.randrange(requesters)
        j = rng.randrange(deployments)
        role = rng.choice(ROLES)
        duration = timedelta(hours=rng.choice((1, 2, 4, 8)))
        if n < history:
            state = rng.choices(states, weights)[0]
            created = now - span + span * (n / max(1, history)) - timedelta(hours=13)
        elif n < history + active:
            state = "active"
            created = now - timedelta(minutes=rng.uniform(5, 30))
        else:
            state = "pending"
            created = now - timedelta(minutes=rng.uniform(1, 30))
        granted = None
        ended = None
        if state in GRANTED_STATES:
            granted = created + timedelta(minutes=4)
            if state == "active":
                duration = timedelta(hours=rng.uniform(1, 12))
            else:
                ended = granted + (duration if state == "expired" else duration / 3)
        elif state not in ("pending",):
            ended = created + timedelta(minutes=5)
        row = request_row(
            request_id,
            requester=requester,
            deployment=deployment_id(j),
            deployment_name=f"svc-{j:04d}",
            role=role,
            state=state,
            created=created,
            duration=duration,
            granted=granted,
            ended=ended,
        )
        rows.append(row)
        event_rows.extend(events_for(row, per_request + (1 if n < extra else 0)))
        if state == "active":
            owned.append((row["elastic_user_id"], row["unit"], request_id, row["granted_at"]))
        if len(rows) >= 10_000:
            writer.requests(rows)
            writer.events(event_rows)
            rows, event_rows = [], []
    writer.requests(rows)
    writer.events(event_rows)
    writer.owned_units(owned)
    writer.close()
    return {"seconds": time.monotonic() - began, "bytes": path.stat().st_size}


def seed_grants(path: Path, grants: Sequence[Grant]) -> list[int]:
    """Add ACTIVE grants (with events and owned units); returns their request ids."""
    writer = Writer(path)
    rows, event_rows, owned, ids = [], [], [], []
    for n, g in enumerate(grants):
        request_id = writer.next_id + n
        created = g.granted_at - timedelta(minutes=4)
        row = request_row(
            request_id,
            requester=g.requester,
            deployment=g.deployment,
            deployment_name=g.deployment_name,
            role=g.role,
            state="active",
            created=created,
            duration=g.expires_at - g.granted_at,
            granted=g.granted_at,
        )
        row["expires_at"] = to_iso(g.expires_at)  # exact, not via duration rounding
        rows.append(row)
        ids.append(request_id)
        event_rows.extend(events_for(row, 0))
        owned.append((row["elastic_user_id"], row["unit"], request_id, row["granted_at"]))
    writer.requests(rows)
    writer.events(event_rows)
    writer.owned_units(owned)
    writer.close()
    return ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--active", type=int, default=200)
    parser.add_argument("--pending", type=int, default=100)
    parser.add_argument("--requesters", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    out = generate(
        args.path,
        requests=args.requests,
        events=args.events,
        active=args.active,
        pending=args.pending,
        requesters=args.requesters,
        seed=args.seed,
    )
    print(f"{args.path}: {out['bytes'] / 1e6:.0f} MB in {out['seconds']:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
