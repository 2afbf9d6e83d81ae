"""Telling people: message references (to update cards later), the notification
outbox and its claims, reminders and escalations, overdue alerts, owners reported once,
findings about Elastic reported once.

A part of :class:`bot.store.repository.Store` (one class per role, one SQL for both
databases); it uses the store's ``db``, ``instance`` and ``_event``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.access.model import AccessRequest
from bot.access.resources import Unit
from bot.access.states import State
from bot.access.vocabulary import Actor, Outcome
from bot.clock import to_iso
from bot.store.rows import MessageRef, row_to_request


class NoticeRows:
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
        length, prefix = self._notice_prefix(state)
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
            length,
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
