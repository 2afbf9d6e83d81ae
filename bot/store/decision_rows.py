"""Approvers' decisions on requests and on extensions (stored the same way), and the
extensions themselves: asked, applied, dropped, and their expiry notices.

A part of :class:`bot.store.repository.Store` (one class per role, one SQL for both
databases); it uses the store's ``db``, ``instance`` and ``_event``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.access.model import AccessRequest
from bot.access.ports import Recorded
from bot.clock import from_iso, to_iso
from bot.store.rows import Approval, row_to_request


class DecisionRows:
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
