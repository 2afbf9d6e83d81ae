"""An access request and its grant, as the core sees one row of the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.access.resources import Resource, ResourceKind, Unit
from bot.access.states import State


@dataclass
class AccessRequest:
    id: int
    requester_id: str
    requester_email: str
    resource: Resource
    role_id: str
    duration: timedelta
    justification: str
    state: State
    created_at: datetime
    approvers: list[str] = field(default_factory=list)
    approvals_needed: int = 1
    unit: Unit | None = None
    elastic_user_id: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    granted_at: datetime | None = None
    expires_at: datetime | None = None
    ended_at: datetime | None = None
    ended_by: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    added: list[Unit] = field(default_factory=list)
    #: What the member held when the grant was applied (to restore what Elastic merges away).
    held_before: list[Unit] = field(default_factory=list)
    approver_source: str | None = None
    #: How the grant ended in Elastic: removed, kept (still given by other access), never_granted.
    outcome: str | None = None
    #: Set when the requester was not a member and the grant went out as an invitation: the
    #: sha256 of its token, never the token (bot/access/invitations.py).
    invitation_hash: str | None = None
    #: A pending extension (seconds to add, why), and how many were applied so far.
    extension_seconds: int | None = None
    extension_reason: str | None = None
    extensions: int = 0
    reminders_sent: int = 0
    next_reminder_at: datetime | None = None
    #: When the request was also sent to the integration owners (``escalate_after``).
    escalated_at: datetime | None = None
    #: Set while the revocation is parked: Elastic refuses it (a stopped deployment), why.
    parked: str | None = None
    #: Why each approver was asked, by Slack user ID (``bot/access/routing.py``: ``owner_reason`` and the others).
    approver_reasons: dict[str, dict] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        """How every message names a request."""
        return f"#{self.id}"

    @property
    def resource_label(self) -> str:
        return self.resource.label


def resource_from_row(kind: str, rid: str, name: str, project_type: str | None) -> Resource:
    return Resource(ResourceKind(kind), rid, name, project_type)
