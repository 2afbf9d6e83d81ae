"""Read side of the audit trail: filtered request listings and a streaming event export.

Every value reaches SQLite as a parameter; only fixed SQL fragments are joined together.
The listing is one statement (rows of the page and the total, from one snapshot) and each
common filter has an index: requester (``requests_requester``), state
(``requests_state_created``), creation time (``requests_created``), resource
(``requests_resource``, ``requests_resource_name``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Set
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.access.listing import ListQuery
from bot.access.model import AccessRequest
from bot.access.resources import ResourceKind
from bot.access.vocabulary import ORGANIZATION_ALIASES
from bot.clock import to_iso
from bot.store.database import BUSY_TIMEOUT_SECONDS, Database
from bot.store.rows import row_to_request

#: Words that name a kind of resource rather than one by name or ID (as the request grammar
#: and the catalogue accept them: ``/elastic-access request organization …``).
KIND_WORDS = {word: ResourceKind.ORGANIZATION.value for word in ORGANIZATION_ALIASES} | {
    ResourceKind.ALL_DEPLOYMENTS.value: ResourceKind.ALL_DEPLOYMENTS.value,
}

#: The columns of one exported event, in order (the CSV header).
EVENT_COLUMNS = (
    "id",
    "at",
    "actor",
    "kind",
    "request_id",
    "requester_id",
    "resource",
    "resource_name",
    "role",
    "detail",
)


def _key_sql(table: str) -> str:
    """The resource key (``deployment:<id>``, ``project:<type>:<id>``) of a requests row."""
    t = table
    return (
        f"CASE {t}.resource_kind WHEN 'project' "
        f"THEN 'project:' || coalesce({t}.project_type, '') || ':' || {t}.resource_id "
        f"ELSE {t}.resource_kind || ':' || {t}.resource_id END"
    )


def _owned_clause(table: str, keys: Set[str], dialect: str) -> tuple[str, list[Any]]:
    """Rows for one of ``keys``: the ID test finds them by index, the key test makes it exact.
    The lists travel as one parameter each (JSON on SQLite, an array on PostgreSQL), so an
    owner of thousands of resources never meets a limit on the number of parameters."""
    ids = sorted({key.rpartition(":")[2] for key in keys})
    if dialect == "postgresql":
        return (
            f"({table}.resource_id = ANY(?) AND {_key_sql(table)} = ANY(?))",
            [ids, sorted(keys)],
        )
    return (
        f"({table}.resource_id IN (SELECT value FROM json_each(?)) "
        f"AND {_key_sql(table)} IN (SELECT value FROM json_each(?)))",
        [json.dumps(ids), json.dumps(sorted(keys))],
    )


def _scope_clause(
    table: str, requester_id: str | None, resource_keys: Set[str] | None, dialect: str
) -> tuple[str | None, list[Any]]:
    if resource_keys is None:
        if requester_id is None:
            return None, []
        return f"{table}.requester_id = ?", [requester_id]
    owned, params = _owned_clause(table, resource_keys, dialect)
    if requester_id is None:
        return owned, params
    return f"({table}.requester_id = ? OR {owned})", [requester_id, *params]


def _conditions(
    query: ListQuery, requester_id: str | None, resource_keys: Set[str] | None, dialect: str
) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    scope, scope_params = _scope_clause("requests", requester_id, resource_keys, dialect)
    if scope:
        where.append(scope)
        params.extend(scope_params)
    if query.user_id:
        where.append("requests.requester_id = ?")
        params.append(query.user_id)
    if query.states:
        where.append(f"requests.state IN ({', '.join('?' for _ in query.states)})")
        params.extend(s.value for s in query.states)
    if query.resource:
        kind = KIND_WORDS.get(query.resource.lower())
        if kind:
            where.append("requests.resource_kind = ?")
            params.append(kind)
        else:
            name = (
                "lower(requests.resource_name) = lower(?)"  # requests_resource_name
                if dialect == "postgresql"
                else "requests.resource_name = ? COLLATE NOCASE"
            )
            where.append(f"({name} OR requests.resource_id = ?)")
            params.extend([query.resource, query.resource])
    if query.role:
        where.append("requests.role_id = ?")
        params.append(query.role)
    if query.since:
        where.append("requests.created_at >= ?")
        params.append(to_iso(query.since))
    if query.until:
        where.append("requests.created_at < ?")
        params.append(to_iso(query.until))
    return where, params


def list_sql(
    query: ListQuery,
    *,
    requester_id: str | None,
    resource_keys: Set[str] | None,
    limit: int,
    offset: int,
    dialect: str = "sqlite",
) -> tuple[str, list[Any]]:
    """The statement :func:`list_requests` runs (exposed so tests can EXPLAIN it)."""
    where, params = _conditions(query, requester_id, resource_keys, dialect)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    # One statement, one snapshot: the total comes from the same CTE as the page, and the
    # LEFT JOINs keep one row (carrying the total) even when the page is past the end.
    sql = f"""
        WITH matched AS NOT MATERIALIZED (SELECT requests.id, requests.created_at FROM requests {clause})
        SELECT total.n AS total_count, r.*
        FROM (SELECT count(*) AS n FROM matched) AS total
        LEFT JOIN (
            SELECT id, created_at FROM matched ORDER BY created_at DESC, id DESC
            LIMIT ? OFFSET ?
        ) AS page ON TRUE
        LEFT JOIN requests AS r ON r.id = page.id
        ORDER BY page.created_at DESC, page.id DESC
    """
    return sql, [*params, limit, offset]


def list_requests(
    db: Database,
    query: ListQuery,
    *,
    requester_id: str | None,
    resource_keys: Set[str] | None,
    limit: int,
    offset: int,
) -> tuple[list[AccessRequest], int]:
    """One page of the requests matching ``query``, newest first, and how many match in all.

    Visibility (from :func:`bot.access.listing.visible_scope`): requests filed by
    ``requester_id`` OR for a resource key in ``resource_keys``; both None means all, an empty
    ``resource_keys`` without ``requester_id`` means none. ``query.user_id`` narrows further;
    ``query.mine``/``query.all`` are not read here (the scope already says whose).
    """
    if limit < 1 or offset < 0:
        raise ValueError("limit must be at least 1 and offset at least 0")
    if requester_id is None and resource_keys is not None and not resource_keys:
        return [], 0
    sql, params = list_sql(
        query,
        requester_id=requester_id,
        resource_keys=resource_keys,
        limit=limit,
        offset=offset,
        dialect=db.dialect,
    )
    rows = db.query(sql, params)
    total = rows[0]["total_count"] if rows else 0
    return [row_to_request(row) for row in rows if row["id"] is not None], total


def export_sql(
    since: datetime,
    until: datetime | None = None,
    *,
    requester_id: str | None = None,
    resource_keys: Set[str] | None = None,
    dialect: str = "sqlite",
) -> tuple[str, list[Any]]:
    """The statement :func:`export_events` runs (exposed so tests can EXPLAIN it)."""
    if since.tzinfo is None or (until is not None and until.tzinfo is None):
        raise ValueError("since and until must be timezone-aware")
    where = ["e.at >= ?"]
    params: list[Any] = [to_iso(since)]
    if until is not None:
        where.append("e.at < ?")
        params.append(to_iso(until))
    scope, scope_params = _scope_clause("r", requester_id, resource_keys, dialect)
    if scope:
        where.append(scope)
        params.extend(scope_params)
    # ``events_at`` (at, then rowid) hands rows over already in order: no sort, no buffering.
    sql = f"""
        SELECT e.id, e.at, e.actor, e.kind, e.request_id, r.requester_id,
               CASE WHEN r.id IS NULL THEN NULL ELSE {_key_sql("r")} END AS resource,
               r.resource_name, r.role_id AS role, e.detail
        FROM events AS e LEFT JOIN requests AS r ON r.id = e.request_id
        WHERE {" AND ".join(where)}
        ORDER BY e.at, e.id
    """
    return sql, params


def export_events(
    db: Database,
    since: datetime,
    until: datetime | None = None,
    *,
    requester_id: str | None = None,
    resource_keys: Set[str] | None = None,
    batch: int = 500,
) -> Iterator[dict[str, Any]]:
    """Stream the audit events with ``since <= at < until``, in event order, ``batch`` rows at a
    time, each joined with its request (:data:`EVENT_COLUMNS`; ``detail`` stays a JSON string).

    Unscoped by default (everything: for the CLI, owners and auditors). For anyone else pass
    the viewer's scope, as for :func:`list_requests`; events without a request are then left out.
    The statement stays open until the iterator is exhausted or closed.
    """
    if requester_id is None and resource_keys is not None and not resource_keys:
        return
    sql, params = export_sql(
        since, until, requester_id=requester_id, resource_keys=resource_keys, dialect=db.dialect
    )
    for row in db.stream(sql, params, batch):
        yield {column: row[column] for column in EVENT_COLUMNS}


class ReadOnlyDatabase(Database):
    """A :class:`Database` that opens an existing file read-only (``mode=ro``).

    For the audit export: it never creates the file, never changes its journal mode and never
    writes, so it is safe on the live database and on a copy.
    """

    read_only = True

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            uri = Path(self.path).resolve().as_uri() + "?mode=ro"
            conn = sqlite3.connect(
                uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
            )
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn


# -- access reviews (issue #14 §4) ------------------------------------------------------------
#: A grant is in a review period when it was granted before the period's end and had not
#: ended by its start.
_IN_PERIOD = (
    "r.granted_at IS NOT NULL AND r.granted_at < ? AND (r.ended_at IS NULL OR r.ended_at >= ?)"
)


def review_grants(db: Database, since: datetime, until: datetime) -> list[AccessRequest]:
    """Every grant live at some moment of ``since <= t < until``, oldest grant first."""
    rows = db.query(
        f"SELECT r.* FROM requests AS r WHERE {_IN_PERIOD} ORDER BY r.granted_at, r.id",
        (to_iso(until), to_iso(since)),
    )
    return [row_to_request(row) for row in rows]


def review_approvals(db: Database, since: datetime, until: datetime) -> dict[int, list[str]]:
    """Who approved each grant :func:`review_grants` returns, in the order they did."""
    rows = db.query(
        f"""
        SELECT a.request_id, a.approver_id FROM approvals AS a
        JOIN requests AS r ON r.id = a.request_id
        WHERE a.decision = 'approve' AND {_IN_PERIOD}
        ORDER BY a.request_id, a.at, a.approver_id
        """,
        (to_iso(until), to_iso(since)),
    )
    approved: dict[int, list[str]] = {}
    for row in rows:
        approved.setdefault(row["request_id"], []).append(row["approver_id"])
    return approved


def needing_attention(db: Database, now: datetime, grace: timedelta) -> list[AccessRequest]:
    """Live grants whose revocation is parked, or that ended more than ``grace`` ago and
    still hold access (overdue), whether or not anyone was alerted already."""
    rows = db.query(
        """
        SELECT * FROM requests WHERE state IN ('granting', 'active', 'revoking')
          AND (parked IS NOT NULL OR expires_at <= ?)
        ORDER BY id
        """,
        (to_iso(now - grace),),
    )
    return [row_to_request(row) for row in rows]
