"""A ``requests`` row as the core's :class:`AccessRequest`: shared by the store's writes
(:mod:`bot.store.repository`) and its read side (:mod:`bot.store.audit`), so neither imports
the other for it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.access.model import AccessRequest, resource_from_row
from bot.access.resources import Unit
from bot.access.states import State
from bot.clock import from_iso, to_iso


def _dt(value: str | None) -> datetime | None:
    return from_iso(value) if value else None


def row_to_request(row: Any) -> AccessRequest:
    return AccessRequest(
        id=row["id"],
        requester_id=row["requester_id"],
        requester_email=row["requester_email"],
        resource=resource_from_row(
            row["resource_kind"], row["resource_id"], row["resource_name"], row["project_type"]
        ),
        role_id=row["role_id"],
        duration=timedelta(seconds=row["duration_seconds"]),
        justification=row["justification"],
        state=State(row["state"]),
        created_at=from_iso(row["created_at"]),
        approvers=json.loads(row["approvers"]),
        approvals_needed=row["approvals_needed"],
        unit=Unit.parse(row["unit"]),
        elastic_user_id=row["elastic_user_id"],
        decided_by=row["decided_by"],
        decided_at=_dt(row["decided_at"]),
        decision_reason=row["decision_reason"],
        granted_at=_dt(row["granted_at"]),
        expires_at=_dt(row["expires_at"]),
        ended_at=_dt(row["ended_at"]),
        ended_by=row["ended_by"],
        attempts=row["attempts"],
        next_attempt_at=_dt(row["next_attempt_at"]),
        last_error=row["last_error"],
        added=[Unit.parse(u) for u in json.loads(row["added"])],
        held_before=[Unit.parse(u) for u in json.loads(row["held_before"])],
        approver_source=row["approver_source"],
        outcome=row["outcome"],
        invitation_hash=row["invitation_hash"],
        extension_seconds=row["extension_seconds"],
        extension_reason=row["extension_reason"],
        extensions=row["extensions"],
        reminders_sent=row["reminders_sent"],
        next_reminder_at=_dt(row["next_reminder_at"]),
        escalated_at=_dt(row["escalated_at"]),
        parked=row["parked"],
        approver_reasons=json.loads(row["approver_reasons"] or "{}"),
    )


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


def encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_iso(value)
    if isinstance(value, State):
        return value.value
    if isinstance(value, list):
        return json.dumps([v.text if isinstance(v, Unit) else v for v in value])
    return value
