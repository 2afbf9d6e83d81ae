"""The audit trail's hash chain: each event carries sha256(previous hash, the event).

Triggers already stop the bot (and anyone using it) from editing or deleting events; the
chain is for someone who has the file itself and could drop a trigger. Change one event, or
remove one, and every hash from there on no longer follows, and ``python -m bot audit
--verify`` names the first event that breaks.

What it cannot show: someone who rewrites an event and recomputes every later hash, or who
cuts events off the end. Record the head hash ``--verify`` prints somewhere the bot cannot
write (a ticket, a log shipper) and compare it later to catch both.

The hash covers every column of the event in one canonical form (:func:`canonical`), and the
event's ID, so moving an event or reusing an ID breaks the chain too.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: The "previous hash" of the first event.
GENESIS = "0" * 64
#: The columns the hash covers, in order.
COLUMNS = ("id", "request_id", "at", "actor", "kind", "detail")


def canonical(row: Any) -> str:
    """One event's columns as compact JSON, in :data:`COLUMNS` order (``detail`` stays the
    JSON text it was stored as: the hash is of what the database holds)."""
    return json.dumps(
        [row[column] for column in COLUMNS], ensure_ascii=False, separators=(",", ":")
    )


def link(previous: str, row: Any) -> str:
    """The hash of ``row`` following ``previous``."""
    return hashlib.sha256(f"{previous}\n{canonical(row)}".encode()).hexdigest()


def insert_event(
    conn: sqlite3.Connection,
    request_id: int | None,
    at: str,
    actor: str,
    kind: str,
    detail: str,
) -> int:
    """Append one event and its hash. Must run inside the caller's write transaction
    (``BEGIN IMMEDIATE``): reading the last hash and appending after it are one step only
    while this connection holds the write lock."""
    if not conn.in_transaction:
        raise RuntimeError("audit events are appended inside a write transaction")
    last = conn.execute("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
    event_id = (last[0] + 1) if last else 1
    previous = (last[1] or GENESIS) if last else GENESIS
    row = {
        "id": event_id,
        "request_id": request_id,
        "at": at,
        "actor": actor,
        "kind": kind,
        "detail": detail,
    }
    conn.execute(
        "INSERT INTO events (id, request_id, at, actor, kind, detail, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (event_id, request_id, at, actor, kind, detail, link(previous, row)),
    )
    return event_id


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify` found: ``broken_at`` is the first event that does not follow
    (None when the chain is intact), with ``why``; ``head`` is the last hash."""

    events: int
    head: str
    broken_at: int | None = None
    why: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def verify(rows: Iterable[Any]) -> Verdict:
    """Walk the events in ID order and check every link. A gap in the IDs is a deleted
    event (IDs are assigned one after another, in the write transaction)."""
    previous, expected_id, count = GENESIS, 1, 0
    for row in rows:
        count += 1
        if row["id"] != expected_id:
            return Verdict(
                count, previous, expected_id, f"event {expected_id} is missing (deleted?)"
            )
        if row["hash"] != link(previous, row):
            why = "has no hash" if row["hash"] is None else "does not match its hash"
            return Verdict(count, previous, row["id"], f"event {row['id']} {why} (edited?)")
        previous, expected_id = row["hash"], expected_id + 1
    return Verdict(count, previous)


def chain_existing(conn: sqlite3.Connection) -> int:
    """Give every event without a hash its link, in ID order (the migration that introduces
    the chain). Returns how many were chained."""
    previous, done = GENESIS, 0
    rows = conn.execute(f"SELECT {', '.join(COLUMNS)}, hash FROM events ORDER BY id").fetchall()
    for values in rows:
        row = dict(zip((*COLUMNS, "hash"), values, strict=True))
        if row["hash"] is None:
            row["hash"] = link(previous, row)
            conn.execute("UPDATE events SET hash = ? WHERE id = ?", (row["hash"], row["id"]))
            done += 1
        previous = row["hash"]
    return done
