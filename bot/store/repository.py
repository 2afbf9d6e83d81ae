"""The store the core talks to: requests, approvals, message references, owned units, events.

Every state change is one conditional write (``UPDATE … WHERE id = ? AND state IN (…)``)
inside an IMMEDIATE transaction together with its audit event, so the database is always the
whole truth and two actors racing for the same move cannot both win.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from bot.access.model import AccessRequest
from bot.access.resources import Resource, ResourceKind
from bot.clock import from_iso, to_iso
from bot.store import audit, chain
from bot.store.database import Database
from bot.store.decision_rows import DecisionRows
from bot.store.notice_rows import NoticeRows
from bot.store.request_rows import RequestRows
from bot.store.rows import Approval, MessageRef
from bot.store.unit_rows import UnitRows

__all__ = ["Approval", "MessageRef", "Store"]


class Store(RequestRows, DecisionRows, NoticeRows, UnitRows):
    """The core's store, on SQLite or PostgreSQL (``db``): one class per role, joined here."""

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
