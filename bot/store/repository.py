"""The store the core talks to: requests, approvals, message references, owned units, events.

Every state change is one conditional write (``UPDATE … WHERE id = ? AND state IN (…)``)
inside an IMMEDIATE transaction together with its audit event, so the database is always the
whole truth and two actors racing for the same move cannot both win.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.access.model import AccessRequest
from bot.access.ports import Recorded
from bot.access.resources import Resource, ResourceKind, Unit
from bot.access.states import State, check_move
from bot.access.vocabulary import Actor, Outcome
from bot.clock import from_iso, to_iso
from bot.store import audit, chain
from bot.store.database import Database
from bot.store.rows import row_to_request


@dataclass(frozen=True)
class MessageRef:
    request_id: int
    kind: str
    user_id: str
    channel: str
    ts: str


@dataclass(frozen=True)
class Approval:
    approver_id: str
    decision: str
    reason: str | None
    at: datetime


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_iso(value)
    if isinstance(value, State):
        return value.value
    if isinstance(value, list):
        return json.dumps([v.text if isinstance(v, Unit) else v for v in value])
    return value


class Store:
    """SQLite implementation of the core's store."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.instance = uuid.uuid4().hex[:12]

    # -- transactions ----------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[None]:
        """One IMMEDIATE transaction around several of the store's writes (own the units, move
        the row), so they land together or not at all. The writes inside join it."""
        with self.db.write():
            yield

    # -- lifecycle -------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        return self.db.migrate()

    # -- requests --------------------------------------------------------------------------
    def create_request(
        self,
        *,
        requester_id: str,
        requester_email: str,
        resource: Resource,
        role_id: str,
        unit: Unit,
        duration: timedelta,
        justification: str,
        approvers: Sequence[str],
        approvals_needed: int,
        now: datetime,
        elastic_user_id: str | None,
        approver_source: str | None = None,
        next_reminder_at: datetime | None = None,
        approver_reasons: dict[str, dict] | None = None,
    ) -> AccessRequest:
        with self.db.write() as conn:
            cur = conn.execute(
                """
                INSERT INTO requests (requester_id, requester_email, resource_kind, resource_id,
                    resource_name, project_type, role_id, unit, duration_seconds, justification,
                    state, approvers, approvals_needed, elastic_user_id, created_at, updated_at,
                    approver_source, next_reminder_at, approver_reasons)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                RETURNING id
                """,
                (
                    requester_id,
                    requester_email,
                    resource.kind.value,
                    resource.id,
                    resource.name,
                    resource.project_type,
                    role_id,
                    unit.text,
                    int(duration.total_seconds()),
                    justification,
                    State.PENDING.value,
                    json.dumps(list(approvers)),
                    approvals_needed,
                    elastic_user_id,
                    to_iso(now),
                    to_iso(now),
                    approver_source,
                    to_iso(next_reminder_at) if next_reminder_at else None,
                    json.dumps(approver_reasons or {}, sort_keys=True),
                ),
            )
            request_id = int(cur.fetchone()[0])
            self._event(
                conn,
                request_id,
                now,
                requester_id,
                "requested",
                {
                    "resource": resource.key,
                    "role": role_id,
                    "duration_seconds": int(duration.total_seconds()),
                    "justification": justification,
                    "approvers": list(approvers),
                    "approver_source": approver_source,
                    "approvals_needed": approvals_needed,
                },
            )
        request = self.get(request_id)
        assert request is not None
        return request

    def get(self, request_id: int) -> AccessRequest | None:
        row = self.db.one("SELECT * FROM requests WHERE id = ?", (request_id,))
        return row_to_request(row) if row else None

    def transition(
        self,
        request_id: int,
        sources: Iterable[State],
        target: State,
        *,
        now: datetime,
        actor: str,
        event: str | None = None,
        detail: dict[str, Any] | None = None,
        release_lease: bool = True,
        **fields: Any,
    ) -> AccessRequest | None:
        """Move ``request_id`` to ``target`` if it is in one of ``sources``; None if it is not.

        The move and its audit event are one transaction: nobody can see one without the other.
        Raises :class:`~bot.access.states.IllegalMove` (writing nothing) if the table in
        ``bot/access/states.py`` does not allow the move from each of ``sources``.
        """
        sources = tuple(State(s) for s in sources)
        check_move(sources, target)
        sources = tuple(s.value for s in sources)
        values = {k: _encode(v) for k, v in fields.items()}
        values["state"] = target.value
        values["updated_at"] = to_iso(now)
        if release_lease:
            values["lease_owner"] = None
            values["lease_until"] = None
        assignments = ", ".join(f"{k} = ?" for k in values)
        placeholders = ", ".join("?" for _ in sources)
        with self.db.write() as conn:
            rows = conn.execute(
                f"UPDATE requests SET {assignments} WHERE id = ? AND state IN ({placeholders}) "
                "RETURNING *",
                (*values.values(), request_id, *sources),
            ).fetchall()
            if len(rows) != 1:
                return None
            self._event(conn, request_id, now, actor, event or target.value, detail or {})
        return row_to_request(rows[0])

    def update_fields(self, request_id: int, *, now: datetime, **fields: Any) -> None:
        """Change bookkeeping columns (retry schedule, errors) without a state move."""
        values = {k: _encode(v) for k, v in fields.items()}
        values["updated_at"] = to_iso(now)
        assignments = ", ".join(f"{k} = ?" for k in values)
        self.db.execute(
            f"UPDATE requests SET {assignments} WHERE id = ?", (*values.values(), request_id)
        )

    def wake_grants(self, now: datetime) -> int:
        """Approved and granting requests waiting for a retry become due now (what held
        them back is gone); returns how many."""
        return self.db.execute(
            "UPDATE requests SET next_attempt_at = NULL, updated_at = ? "
            "WHERE state IN ('approved', 'granting') AND next_attempt_at IS NOT NULL",
            (to_iso(now),),
        ).rowcount

    def claim(
        self,
        request_id: int,
        states: Iterable[State],
        *,
        now: datetime,
        lease: timedelta,
        owner: str | None = None,
    ) -> AccessRequest | None:
        """Take a time-limited lease on a row so only one worker acts on it at a time.

        A worker that crashes simply lets its lease run out; the sweep then claims the row again.
        """
        states = tuple(s.value for s in states)
        placeholders = ", ".join("?" for _ in states)
        free = f"id = ? AND state IN ({placeholders}) AND (lease_until IS NULL OR lease_until <= ?)"
        if self.db.dialect == "postgresql":
            # Row by row with SKIP LOCKED: a row another process is claiming this instant is
            # passed over at once (it is theirs), instead of waiting for its lock to go.
            where = f"id = (SELECT id FROM requests WHERE {free} FOR UPDATE SKIP LOCKED)"
        else:
            where = free  # one writer at a time on SQLite: nothing to skip
        rows = self.db.execute(
            f"UPDATE requests SET lease_owner = ?, lease_until = ? WHERE {where} RETURNING *",
            (owner or self.instance, to_iso(now + lease), request_id, *states, to_iso(now)),
        ).fetchall()
        return row_to_request(rows[0]) if len(rows) == 1 else None

    def release_all_leases(self) -> int:
        """At start-up: leases held by a process that is gone. Only on SQLite, where one
        process runs; on PostgreSQL other replicas hold live leases, and a dead one's run out."""
        if self.db.dialect != "sqlite":
            return 0
        return self.db.execute(
            "UPDATE requests SET lease_owner = NULL, lease_until = NULL, notifying = NULL, "
            "notify_until = NULL WHERE lease_owner IS NOT NULL OR notifying IS NOT NULL"
        ).rowcount

    def renew_leases(self, now: datetime, lease: timedelta) -> int:
        """Extend every lease this process holds that has not run out (the heartbeat): work
        that takes long is not taken over while its process is alive. A lease that ran out
        stays out: another process may already have claimed the row."""
        renewed = self.db.execute(
            "UPDATE requests SET lease_until = ? WHERE lease_owner = ? AND lease_until > ?",
            (to_iso(now + lease), self.instance, to_iso(now)),
        ).rowcount
        # And the notices this process is telling (a slow Slack must not let another
        # process send the same one again).
        self.db.execute(
            "UPDATE requests SET notify_until = ? WHERE notifying LIKE ? AND notify_until > ?",
            (to_iso(now + lease), f"%:{self.instance}", to_iso(now)),
        )
        return renewed

    def clock_offset(self) -> float:
        """The database's clock minus this process's, in seconds (0 on SQLite)."""
        return self.db.clock_offset()

    def holds_lease(self, request_id: int, now: datetime) -> bool:
        """Whether this process still holds the lease on ``request_id`` (checked right
        before an Elastic change, so a process that lost its lease never makes one)."""
        row = self.db.one(
            "SELECT 1 FROM requests WHERE id = ? AND lease_owner = ? AND lease_until > ?",
            (request_id, self.instance, to_iso(now)),
        )
        return row is not None

    def release(self, request_id: int) -> None:
        self.db.execute(
            "UPDATE requests SET lease_owner = NULL, lease_until = NULL WHERE id = ?",
            (request_id,),
        )

    def due_work(self, now: datetime, limit: int = 500) -> list[tuple[int, State]]:
        """Rows the sweep must act on: expired grants, retries due, and abandoned work."""
        stamp = to_iso(now)
        rows = self.db.query(
            """
            SELECT id, state FROM requests
            WHERE state = 'active' AND expires_at <= ?
              AND (lease_until IS NULL OR lease_until <= ?)
            UNION ALL
            SELECT id, state FROM requests
            WHERE state = 'revoking' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
              AND (lease_until IS NULL OR lease_until <= ?)
            UNION ALL
            SELECT id, state FROM requests
            WHERE state IN ('approved', 'granting')
              AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
              AND (lease_until IS NULL OR lease_until <= ?)
            LIMIT ?
            """,
            (stamp, stamp, stamp, stamp, stamp, stamp, limit),
        )
        return [(r["id"], State(r["state"])) for r in rows]

    def expiring_before(self, moment: datetime, limit: int = 5000) -> list[tuple[int, datetime]]:
        """Live grants ending before ``moment`` (whichever process granted them): each
        process keeps a timer for the next ones, so a grant ends on time even when the
        process that made it is gone."""
        rows = self.db.query(
            "SELECT id, expires_at FROM requests WHERE state IN ('active', 'granting') "
            "AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at LIMIT ?",
            (to_iso(moment), limit),
        )
        return [(r["id"], from_iso(r["expires_at"])) for r in rows]

    def scheduled_expiries(self) -> list[tuple[int, datetime]]:
        rows = self.db.query(
            "SELECT id, expires_at FROM requests WHERE state IN ('active', 'granting') "
            "AND expires_at IS NOT NULL"
        )
        return [(r["id"], from_iso(r["expires_at"])) for r in rows]

    def unpinned_invitations(self, limit: int = 200) -> list[AccessRequest]:
        """Active grants sent as an invitation whose new member is not known yet."""
        rows = self.db.query(
            "SELECT * FROM requests WHERE state = 'active' AND invitation_hash IS NOT NULL "
            "AND elastic_user_id IS NULL ORDER BY id LIMIT ?",
            (limit,),
        )
        return [row_to_request(r) for r in rows]

    def overdue(self, now: datetime, grace: timedelta) -> list[AccessRequest]:
        """Live grants past expiry by more than ``grace`` that nobody has been told about yet."""
        rows = self.db.query(
            """
            SELECT * FROM requests WHERE state IN ('active', 'revoking', 'granting')
              AND expires_at <= ? AND overdue_alerted_at IS NULL
            """,
            (to_iso(now - grace),),
        )
        return [row_to_request(r) for r in rows]

    def list_requests(
        self,
        *,
        requester_id: str | None = None,
        states: Sequence[State] | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[list[AccessRequest], int]:
        where, params = [], []
        if requester_id:
            where.append("requester_id = ?")
            params.append(requester_id)
        if states:
            where.append(f"state IN ({', '.join('?' for _ in states)})")
            params.extend(s.value for s in states)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        total = self.db.one(f"SELECT count(*) FROM requests {clause}", params)[0]
        rows = self.db.query(
            f"SELECT * FROM requests {clause} ORDER BY id DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [row_to_request(r) for r in rows], total

    def _of_person(self, where: str, requester_id: str, mailbox: str) -> list[AccessRequest]:
        """Rows matching ``where`` filed by ``requester_id`` or by any account whose email is
        ``mailbox`` up to case and a ``+tag`` (the caller compares exactly afterwards)."""
        local, _, domain = mailbox.rpartition("@")

        def like(text: str) -> str:
            return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

        rows = self.db.query(
            f"SELECT * FROM requests WHERE ({where}) AND (requester_id = ? "
            "OR lower(requester_email) = ? OR lower(requester_email) LIKE ? ESCAPE '\\') "
            "ORDER BY id",
            (requester_id, mailbox, f"{like(local)}+%@{like(domain)}" if mailbox else ""),
        )
        return [row_to_request(r) for r in rows]

    def pending_of_person(self, requester_id: str, mailbox: str) -> list[AccessRequest]:
        """One person's requests waiting for a decision, whichever of their accounts filed."""
        return self._of_person("state = 'pending'", requester_id, mailbox)

    def break_glass_of_person(self, requester_id: str, mailbox: str) -> list[AccessRequest]:
        """One person's break-glass requests, whichever of their accounts filed."""
        return self._of_person("decided_by = 'break-glass'", requester_id, mailbox)

    def extension_asked(self, request_id: int) -> int | None:
        """The event that asked for the extension pending now (its ID names that extension:
        a card for an earlier one must not decide it)."""
        return self._extension_asked(self.db, request_id)

    @staticmethod
    def _extension_asked(conn: Any, request_id: int) -> int | None:
        row = conn.execute(
            "SELECT MAX(id) FROM events WHERE request_id = ? AND kind = 'extension_requested'",
            (request_id,),
        ).fetchone()
        return row[0] if row else None

    def live_break_glass(self) -> int:
        """How many break-glass grants are live (approved and not yet ended)."""
        return self.db.one(
            "SELECT count(*) FROM requests WHERE decided_by = ? "
            "AND state IN ('approved', 'granting', 'active', 'revoking')",
            (Actor.BREAK_GLASS.value,),
        )[0]

    def live_requesters(self) -> list[str]:
        """Everyone with a request that is waiting, or a grant that is or may be live."""
        rows = self.db.query(
            "SELECT requester_id FROM requests "
            "WHERE state IN ('pending', 'approved', 'granting', 'active') "
            "GROUP BY requester_id ORDER BY MIN(id)"
        )
        return [r[0] for r in rows]

    def open_requests_of(self, requester_id: str) -> list[AccessRequest]:
        """``requester_id``'s requests that are waiting, or whose grant is or may be live."""
        rows = self.db.query(
            "SELECT * FROM requests WHERE requester_id = ? "
            "AND state IN ('pending', 'approved', 'granting', 'active') ORDER BY id",
            (requester_id,),
        )
        return [row_to_request(r) for r in rows]

    def open_requests_on(self, resource: Resource) -> list[AccessRequest]:
        """Requests on a resource that are waiting or whose grant is or may be live."""
        kind, rid = resource.kind.value, resource.id
        rows = self.db.query(
            "SELECT * FROM requests WHERE resource_kind = ? AND resource_id = ? "
            "AND state IN ('pending', 'approved', 'granting', 'active', 'revoking') ORDER BY id",
            (kind, rid),
        )
        return [row_to_request(r) for r in rows]

    # -- approvals (of requests and of extensions, stored the same way) ----------------------
    def _record_decision(
        self,
        conn: Any,
        table: str,
        key: dict[str, Any],
        approver_id: str,
        decision: str,
        reason: str | None,
        now: datetime,
    ) -> Recorded:
        """One approver's decision in ``table`` (``approvals`` or ``extension_approvals``),
        once per ``key`` and approver (the primary key makes a second click a no-op), and who
        has approved under ``key`` so far: both in the caller's write transaction."""
        columns = [*key, "approver_id", "decision", "reason", "at"]
        cur = conn.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)}) ON CONFLICT DO NOTHING",
            (*key.values(), approver_id, decision, reason, to_iso(now)),
        )
        where = " AND ".join(f"{column} = ?" for column in key)
        approved_by = tuple(
            r[0]
            for r in conn.execute(
                f"SELECT approver_id FROM {table} WHERE {where} AND decision = 'approve' "
                "ORDER BY at, approver_id",
                tuple(key.values()),
            )
        )
        return Recorded(new=cur.rowcount == 1, approved_by=approved_by)

    def _decisions(self, table: str, key: dict[str, Any]) -> list[Approval]:
        where = " AND ".join(f"{column} = ?" for column in key)
        rows = self.db.query(
            f"SELECT * FROM {table} WHERE {where} ORDER BY at, approver_id", tuple(key.values())
        )
        return [
            Approval(r["approver_id"], r["decision"], r["reason"], from_iso(r["at"])) for r in rows
        ]

    def record_approval(
        self, request_id: int, approver_id: str, decision: str, reason: str | None, now: datetime
    ) -> Recorded | None:
        """Record ``approver_id``'s decision on the pending request, once. None when the
        request is no longer pending. One transaction, so of two approvers clicking together
        only the later one sees both approvals."""
        with self.db.write() as conn:
            pending = conn.execute(
                "SELECT 1 FROM requests WHERE id = ? AND state = 'pending'", (request_id,)
            ).fetchone()
            if pending is None:
                return None
            return self._record_decision(
                conn, "approvals", {"request_id": request_id}, approver_id, decision, reason, now
            )

    def approvals(self, request_id: int) -> list[Approval]:
        """Every decision on the request itself, oldest first."""
        return self._decisions("approvals", {"request_id": request_id})

    def extension_approvals(self, request_id: int, extension: int) -> list[Approval]:
        """Every decision on one extension (named by the event that asked for it)."""
        return self._decisions(
            "extension_approvals", {"request_id": request_id, "extension": extension}
        )

    # -- message references ----------------------------------------------------------------
    def save_message(self, ref: MessageRef) -> None:
        self.db.execute(
            "INSERT INTO messages (request_id, kind, user_id, channel, ts) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (request_id, kind, user_id) "
            "DO UPDATE SET channel = excluded.channel, ts = excluded.ts",
            (ref.request_id, ref.kind, ref.user_id, ref.channel, ref.ts),
        )

    def messages(self, request_id: int, kind: str | None = None) -> list[MessageRef]:
        sql = "SELECT * FROM messages WHERE request_id = ?"
        params: list[Any] = [request_id]
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        return [
            MessageRef(r["request_id"], r["kind"], r["user_id"], r["channel"], r["ts"])
            for r in self.db.query(sql, params)
        ]

    # -- owned units: what the bot added and must one day take away ------------------------
    def own_units(
        self, elastic_user_id: str, units: Iterable[Unit], request_id: int, now: datetime
    ) -> None:
        with self.db.write() as conn:
            for unit in units:
                conn.execute(
                    "INSERT INTO owned_units (elastic_user_id, unit, request_id, added_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (elastic_user_id, unit.text, request_id, to_iso(now)),
                )

    def owned_units(self, elastic_user_id: str) -> set[Unit]:
        rows = self.db.query(
            "SELECT unit FROM owned_units WHERE elastic_user_id = ?", (elastic_user_id,)
        )
        return {Unit.parse(r["unit"]) for r in rows}

    def adder_of(self, elastic_user_id: str, unit: Unit) -> int | None:
        """The request whose grant added ``unit`` (while the bot still owns it)."""
        row = self.db.one(
            "SELECT request_id FROM owned_units WHERE elastic_user_id = ? AND unit = ?",
            (elastic_user_id, unit.text),
        )
        return row["request_id"] if row else None

    def disown_units(self, elastic_user_id: str, units: Iterable[Unit]) -> None:
        with self.db.write() as conn:
            for unit in units:
                conn.execute(
                    "DELETE FROM owned_units WHERE elastic_user_id = ? AND unit = ?",
                    (elastic_user_id, unit.text),
                )

    def units_needed_by_others(self, elastic_user_id: str, request_id: int) -> set[Unit]:
        """Units that other grants of the same member hold or are about to hold.

        A grant that is itself ending (revoking) needs nothing: two grants ending together
        must not each keep the role for the other.
        """
        rows = self.db.query(
            """
            SELECT unit FROM requests WHERE elastic_user_id = ? AND id != ?
              AND state IN ('approved', 'granting', 'active')
            """,
            (elastic_user_id, request_id),
        )
        return {Unit.parse(r["unit"]) for r in rows}

    # -- events ----------------------------------------------------------------------------
    def _event(
        self, conn: Any, request_id: int | None, now: datetime, actor: str, kind: str, detail: dict
    ) -> None:
        """Append an event, hash-chained (bot/store/chain.py), in the caller's transaction."""
        chain.insert_event(
            conn,
            request_id,
            to_iso(now),
            actor,
            kind,
            json.dumps(detail, sort_keys=True, default=str),
        )

    def event(
        self,
        request_id: int | None,
        now: datetime,
        actor: str,
        kind: str,
        detail: dict | None = None,
    ) -> None:
        with self.db.write() as conn:
            self._event(conn, request_id, now, actor, kind, detail or {})

    def events(self, request_id: int) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT * FROM events WHERE request_id = ? ORDER BY id", (request_id,))
        return [dict(r) | {"detail": json.loads(r["detail"])} for r in rows]

    # -- slash-command de-duplication ------------------------------------------------------
    def seen_recently(self, fingerprint: str, now: datetime, window: timedelta) -> bool:
        """True if the same command text from the same user arrived within ``window``."""
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT at FROM slash_dedupe WHERE fingerprint = ?", (fingerprint,)
            ).fetchone()
            if row and from_iso(row["at"]) > now - window:
                return True
            conn.execute(
                "INSERT INTO slash_dedupe (fingerprint, at) VALUES (?, ?) "
                "ON CONFLICT (fingerprint) DO UPDATE SET at = excluded.at, request_id = NULL",
                (fingerprint, to_iso(now)),
            )
            conn.execute("DELETE FROM slash_dedupe WHERE at < ?", (to_iso(now - window * 10),))
        return False

    # -- catalogue cache -------------------------------------------------------------------
    def replace_catalogue(self, resources: Iterable[Resource], now: datetime) -> int:
        stamp = to_iso(now)
        count = 0
        with self.db.write() as conn:
            conn.execute("DELETE FROM catalogue")
            for r in resources:
                conn.execute(
                    "INSERT INTO catalogue (key, kind, id, name, project_type, tags, refreshed_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                    "kind = excluded.kind, id = excluded.id, name = excluded.name, "
                    "project_type = excluded.project_type, tags = excluded.tags, "
                    "refreshed_at = excluded.refreshed_at",
                    (r.key, r.kind.value, r.id, r.name, r.project_type, json.dumps(r.tags), stamp),
                )
                count += 1
        return count

    def catalogue(self) -> list[Resource]:
        rows = self.db.query("SELECT * FROM catalogue ORDER BY kind, lower(name), name")
        return [
            Resource(
                ResourceKind(r["kind"]),
                r["id"],
                r["name"],
                r["project_type"],
                json.loads(r["tags"]),
            )
            for r in rows
        ]

    # -- overdue alerts --------------------------------------------------------------------
    def mark_alerted(self, request_id: int, now: datetime) -> bool:
        """Claim the right to send the overdue alert (once per grant)."""
        cur = self.db.execute(
            "UPDATE requests SET overdue_alerted_at = ? WHERE id = ? AND overdue_alerted_at IS NULL",
            (to_iso(now), request_id),
        )
        return cur.rowcount == 1

    def has_event(self, request_id: int, kind: str) -> bool:
        row = self.db.one(
            "SELECT 1 FROM events WHERE request_id = ? AND kind = ? LIMIT 1", (request_id, kind)
        )
        return row is not None

    def was_granted(self, request_id: int) -> bool:
        """Whether the grant ever reached Elastic (a ``granted`` or ``elastic_add`` event)."""
        row = self.db.one(
            "SELECT 1 FROM events WHERE request_id = ? AND kind IN ('granted', 'elastic_add') LIMIT 1",
            (request_id,),
        )
        return row is not None

    def was_alerted(self, request_id: int) -> bool:
        row = self.db.one("SELECT overdue_alerted_at FROM requests WHERE id = ?", (request_id,))
        return bool(row and row["overdue_alerted_at"])

    # -- notification outbox ---------------------------------------------------------------
    def _notice_tag(self, state: State) -> str:
        """``notifying``: the state being told and the process telling it (``state:owner``),
        so the heartbeat renews this process's notice claims as it does its leases."""
        return f"{state.value}:{self.instance}"

    def claim_notice(
        self,
        request_id: int,
        state: State,
        *,
        now: datetime,
        lease: timedelta,
        current: bool = False,
    ) -> bool:
        """Take the right to tell people about ``state``: not told yet, and nobody (in any
        process) telling it right now. One conditional write, so of two processes racing to
        send the same notice exactly one does. ``current``: only while the row is still in
        ``state`` (a re-send from a list read earlier must not announce a state gone by)."""
        prefix = f"{state.value}:"
        sql = (
            "UPDATE requests SET notifying = ?, notify_until = ? WHERE id = ? "
            "AND (notified_state IS NULL OR notified_state != ?) "
            "AND (notifying IS NULL OR substr(notifying, 1, ?) != ? OR notify_until <= ?)"
        )
        params: list[Any] = [
            self._notice_tag(state),
            to_iso(now + lease),
            request_id,
            state.value,
            len(prefix),
            prefix,
            to_iso(now),
        ]
        if current:
            sql += " AND state = ?"
            params.append(state.value)
        return self.db.execute(sql, params).rowcount == 1

    def release_notice(self, request_id: int, state: State) -> None:
        self.db.execute(
            "UPDATE requests SET notifying = NULL, notify_until = NULL "
            "WHERE id = ? AND notifying = ?",
            (request_id, self._notice_tag(state)),
        )

    def mark_notified(self, request_id: int, state: State) -> None:
        """Remember that people were told about ``state`` (so a crash before it is redone),
        and give back the claim to tell it."""
        # Recorded only while the row is still in that state: a slow notification for an
        # older state must not overwrite the record of a newer one (which would be sent twice).
        self.db.execute(
            "UPDATE requests SET "
            "notified_state = CASE WHEN state = ? THEN ? ELSE notified_state END, "
            "notify_until = CASE WHEN substr(notifying, 1, ?) = ? THEN NULL ELSE notify_until END, "
            "notifying = CASE WHEN substr(notifying, 1, ?) = ? THEN NULL ELSE notifying END "
            "WHERE id = ?",
            (
                state.value,
                state.value,
                *self._notice_prefix(state),
                *self._notice_prefix(state),
                request_id,
            ),
        )

    @staticmethod
    def _notice_prefix(state: State) -> tuple[int, str]:
        prefix = f"{state.value}:"
        return len(prefix), prefix

    def unnotified(self, older_than: datetime, limit: int = 200) -> list[AccessRequest]:
        """Rows whose current state nobody was told about, and that nobody is working on."""
        rows = self.db.query(
            """
            SELECT * FROM requests
            WHERE (notified_state IS NULL OR notified_state != state)
              AND state NOT IN ('approved', 'granting', 'revoking')
              AND updated_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
              AND (notifying IS NULL OR notify_until <= ?)
            ORDER BY id LIMIT ?
            """,
            (to_iso(older_than), to_iso(older_than), to_iso(older_than), limit),
        )
        return [row_to_request(r) for r in rows]

    # -- pending requests: timeouts and reminders -----------------------------------------
    def pending_timed_out(self, cutoff: datetime, limit: int = 200) -> list[int]:
        rows = self.db.query(
            "SELECT id FROM requests WHERE state = 'pending' AND created_at <= ? ORDER BY id LIMIT ?",
            (to_iso(cutoff), limit),
        )
        return [r["id"] for r in rows]

    def reminders_due(self, now: datetime, limit: int = 200) -> list[AccessRequest]:
        rows = self.db.query(
            "SELECT * FROM requests WHERE state = 'pending' AND next_reminder_at IS NOT NULL "
            "AND next_reminder_at <= ? ORDER BY id LIMIT ?",
            (to_iso(now), limit),
        )
        return [row_to_request(r) for r in rows]

    def claim_reminder(
        self, request_id: int, sent: int, next_at: datetime | None, now: datetime
    ) -> bool:
        """Advance the reminder counter once (conditional on the count we saw)."""
        cur = self.db.execute(
            "UPDATE requests SET reminders_sent = ?, next_reminder_at = ?, updated_at = updated_at "
            "WHERE id = ? AND state = 'pending' AND reminders_sent = ?",
            (sent + 1, to_iso(next_at) if next_at else None, request_id, sent),
        )
        if cur.rowcount == 1:
            self.event(request_id, now, Actor.SYSTEM, "reminded", {"count": sent + 1})
            return True
        return False

    def escalations_due(self, cutoff: datetime, limit: int = 200) -> list[AccessRequest]:
        """Pending requests routed to resource owners, filed before ``cutoff``, not escalated."""
        rows = self.db.query(
            "SELECT * FROM requests WHERE state = 'pending' AND escalated_at IS NULL "
            "AND approver_source = 'resource_owner' AND created_at <= ? ORDER BY id LIMIT ?",
            (to_iso(cutoff), limit),
        )
        return [row_to_request(r) for r in rows]

    def escalate(
        self,
        request_id: int,
        approvers: Sequence[str],
        added: Sequence[str],
        now: datetime,
        reasons: dict[str, dict] | None = None,
    ) -> AccessRequest | None:
        """Record the escalation, once, with the approvers it added (and why each was asked,
        merged into the request's reasons); None if it was not due."""
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT approver_reasons FROM requests WHERE id = ?", (request_id,)
            ).fetchone()
            merged = {**json.loads((row[0] if row else None) or "{}"), **(reasons or {})}
            cur = conn.execute(
                "UPDATE requests SET escalated_at = ?, approvers = ?, approver_reasons = ?, "
                "updated_at = ? WHERE id = ? AND state = 'pending' AND escalated_at IS NULL",
                (
                    to_iso(now),
                    json.dumps(list(approvers)),
                    json.dumps(merged, sort_keys=True),
                    to_iso(now),
                    request_id,
                ),
            )
            if cur.rowcount != 1:
                return None
            self._event(conn, request_id, now, Actor.SYSTEM, "escalated", {"to": list(added)})
        return self.get(request_id)

    # -- owners that did not resolve (reported once) ---------------------------------------
    def first_report(self, reference: str, reason: str, now: datetime) -> bool:
        cur = self.db.execute(
            "INSERT INTO reported_owners (reference, reason, at) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (reference, reason, to_iso(now)),
        )
        return cur.rowcount == 1

    # -- findings about Elastic reported to the integration owners (once each) -------------
    def first_finding(
        self, key: str, kind: str, request_id: int | None, detail: dict, now: datetime
    ) -> bool:
        """Record a finding; True the first time ``key`` is seen (report it), else False."""
        cur = self.db.execute(
            "INSERT INTO findings (key, kind, request_id, detail, at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (key, kind, request_id, json.dumps(detail, sort_keys=True), to_iso(now)),
        )
        return cur.rowcount == 1

    def all_owned_units(self) -> list[tuple[str, Unit, int]]:
        """Every (member, unit, adding request) the bot owns."""
        rows = self.db.query(
            "SELECT elastic_user_id, unit, request_id FROM owned_units ORDER BY request_id"
        )
        return [(r["elastic_user_id"], Unit.parse(r["unit"]), r["request_id"]) for r in rows]

    def recent_removals(self, since: datetime) -> list[tuple[int, str, Unit]]:
        """(request, member, unit) the bot removed for grants that ended since ``since``."""
        rows = self.db.query(
            """
            SELECT e.request_id, r.elastic_user_id, e.detail FROM events e
              JOIN requests r ON r.id = e.request_id
            WHERE e.kind = 'elastic_remove' AND r.ended_at >= ?
              AND r.state IN ('expired', 'revoked') AND r.elastic_user_id IS NOT NULL
              AND (r.outcome IS NULL OR r.outcome != ?)
            ORDER BY e.id
            """,
            (to_iso(since), Outcome.RESOURCE_GONE.value),
        )
        return [
            (r["request_id"], r["elastic_user_id"], Unit.parse(text))
            for r in rows
            for text in json.loads(r["detail"]).get("units", [])
        ]

    # -- extensions and expiry notices -------------------------------------------------------
    def ask_extension(
        self, request_id: int, seconds: int, reason: str, actor: str, now: datetime
    ) -> bool:
        """Record a pending extension on an active grant (one at a time)."""
        with self.db.write() as conn:
            cur = conn.execute(
                "UPDATE requests SET extension_seconds = ?, extension_reason = ?, extension_by = ?, "
                "updated_at = ? WHERE id = ? AND state = 'active' AND extension_seconds IS NULL",
                (seconds, reason, actor, to_iso(now), request_id),
            )
            if cur.rowcount != 1:
                return False
            self._event(
                conn,
                request_id,
                now,
                actor,
                "extension_requested",
                {"seconds": seconds, "reason": reason},
            )
        return True

    def record_extension_approval(
        self,
        request_id: int,
        approver_id: str,
        decision: str,
        reason: str | None,
        now: datetime,
        extension: int | None = None,
    ) -> Recorded | None:
        """Record ``approver_id``'s decision on the pending extension, once, as a decision on
        a request is recorded (its row keyed by the event that asked for the extension, so an
        earlier, denied extension's approvals never count for a later one).

        None when no extension is pending, or when ``extension`` is given and is not the one
        pending (a click on an earlier extension's card never decides a later one). One
        transaction, so of two approvers clicking together only the later one sees both
        approvals. An approval is also an ``extension_approval`` event, as before the table."""
        with self.db.write() as conn:
            pending = conn.execute(
                "SELECT 1 FROM requests WHERE id = ? AND state = 'active' "
                "AND extension_seconds IS NOT NULL",
                (request_id,),
            ).fetchone()
            if pending is None:
                return None
            asked = self._extension_asked(conn, request_id)
            if asked is None or (extension is not None and extension != asked):
                return None
            recorded = self._record_decision(
                conn,
                "extension_approvals",
                {"request_id": request_id, "extension": asked},
                approver_id,
                decision,
                reason,
                now,
            )
            if recorded.new and decision == "approve":
                self._event(conn, request_id, now, approver_id, "extension_approval", {})
        return recorded

    def apply_extension(
        self, request_id: int, actor: str, now: datetime, extension: int | None = None
    ) -> AccessRequest | None:
        """Add the pending extension to the grant's end, once; None if nothing was pending, or
        if ``extension`` is given and another one is pending (the approved one was denied and
        a new one asked for meanwhile: that one has approvals of its own to gather)."""
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT expires_at, extension_seconds, extension_reason FROM requests "
                "WHERE id = ? AND state = 'active' AND extension_seconds IS NOT NULL",
                (request_id,),
            ).fetchone()
            if row is None:
                return None
            if extension is not None and extension != self._extension_asked(conn, request_id):
                return None
            seconds = row["extension_seconds"]
            new_end = from_iso(row["expires_at"]) + timedelta(seconds=seconds)
            conn.execute(
                "UPDATE requests SET expires_at = ?, duration_seconds = duration_seconds + ?, "
                "extensions = extensions + 1, extension_seconds = NULL, extension_reason = NULL, "
                "extension_by = NULL, expiry_noticed_at = NULL, updated_at = ? WHERE id = ?",
                (to_iso(new_end), seconds, to_iso(now), request_id),
            )
            self._event(
                conn,
                request_id,
                now,
                actor,
                "extended",
                {
                    "seconds": seconds,
                    "reason": row["extension_reason"],
                    "expires_at": to_iso(new_end),
                },
            )
        return self.get(request_id)

    def drop_extension(
        self, request_id: int, actor: str, reason: str | None, now: datetime
    ) -> bool:
        with self.db.write() as conn:
            cur = conn.execute(
                "UPDATE requests SET extension_seconds = NULL, extension_reason = NULL, "
                "extension_by = NULL, updated_at = ? WHERE id = ? AND extension_seconds IS NOT NULL",
                (to_iso(now), request_id),
            )
            if cur.rowcount != 1:
                return False
            self._event(conn, request_id, now, actor, "extension_denied", {"reason": reason or ""})
        return True

    def expiring_soon(self, horizon: datetime, limit: int = 200) -> list[AccessRequest]:
        rows = self.db.query(
            "SELECT * FROM requests WHERE state = 'active' AND expires_at <= ? "
            "AND expiry_noticed_at IS NULL ORDER BY expires_at LIMIT ?",
            (to_iso(horizon), limit),
        )
        return [row_to_request(r) for r in rows]

    def mark_expiry_noticed(self, request_id: int, now: datetime) -> bool:
        cur = self.db.execute(
            "UPDATE requests SET expiry_noticed_at = ? WHERE id = ? AND expiry_noticed_at IS NULL",
            (to_iso(now), request_id),
        )
        return cur.rowcount == 1

    # -- audit queries (list filters, export) --------------------------------------------------
    def search(
        self, query, *, requester_id: str | None, resource_keys, limit: int, offset: int
    ) -> tuple[list[AccessRequest], int]:
        return audit.list_requests(
            self.db,
            query,
            requester_id=requester_id,
            resource_keys=resource_keys,
            limit=limit,
            offset=offset,
        )

    def export_events(
        self,
        since: datetime,
        until: datetime | None = None,
        *,
        requester_id: str | None = None,
        resource_keys: Iterable[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        return audit.export_events(
            self.db,
            since,
            until,
            requester_id=requester_id,
            resource_keys=None if resource_keys is None else frozenset(resource_keys),
        )

    # -- access reviews (issue #14 §4) -----------------------------------------------------
    def review_grants(self, since: datetime, until: datetime) -> list[AccessRequest]:
        return audit.review_grants(self.db, since, until)

    def review_approvals(self, since: datetime, until: datetime) -> dict[int, list[str]]:
        return audit.review_approvals(self.db, since, until)

    def needing_attention(self, now: datetime, grace: timedelta) -> list[AccessRequest]:
        return audit.needing_attention(self.db, now, grace)

    def has_finding(self, key: str) -> bool:
        return self.db.one("SELECT 1 FROM findings WHERE key = ?", (key,)) is not None
