"""The ``requests`` rows: filing, state moves with their audit events, leases and
claims of due work, and the reads the core lists requests with.

A part of :class:`bot.store.repository.Store` (one class per role, one SQL for both
databases); it uses the store's ``db``, ``instance`` and ``_event``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.access.model import AccessRequest
from bot.access.resources import Resource, Unit
from bot.access.states import State, check_move
from bot.access.vocabulary import Actor
from bot.clock import from_iso, to_iso
from bot.store.rows import encode, row_to_request


class RequestRows:
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
        values = {k: encode(v) for k, v in fields.items()}
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
        values = {k: encode(v) for k, v in fields.items()}
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
