"""What the core tells the integration owners, as data: one kind per situation, with the
facts it needs. The words are the Slack edge's (``bot/slack/blocks/alerts.py``), which
renders each kind; the core only says which happened and to whom (``Notifier.notify_owners``).

Values are raw (names, reasons, errors as they came): the edge escapes them where they enter
``mrkdwn``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.access.model import AccessRequest
from bot.access.resources import Resource, Unit


@dataclass(frozen=True)
class NoOtherApprover:
    """A request nobody but its requester could approve (so it was refused)."""

    requester_id: str
    role_id: str
    resource: Resource


@dataclass(frozen=True)
class BreakGlassUsed:
    """A requester took access without approval, where a policy rule allows it."""

    request: AccessRequest


@dataclass(frozen=True)
class UnresolvedOwners:
    """Owner references (a resource's tag, the integration owners) that name nobody able to
    approve: each reference with why it does not resolve (None: not known)."""

    named_for: str
    references: tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class RequesterLeft:
    """A requester may no longer have access (deactivated, a guest now, …): the bot ended
    their grants and open requests."""

    user_id: str
    reason: str
    ended: tuple[AccessRequest, ...]


@dataclass(frozen=True)
class DriftFinding:
    """One disagreement of the daily reconciliation: a role the bot added that ``vanished``
    from a live grant, or one it removed that ``returned``."""

    kind: str
    request: AccessRequest
    user_id: str
    unit: Unit


@dataclass(frozen=True)
class DriftFound:
    findings: tuple[DriftFinding, ...]


@dataclass(frozen=True)
class ResourceChanged:
    """A resource with open requests was renamed or retagged. ``retagged_key``: the owner
    tag's key when that tag changed, else None."""

    old: Resource
    new: Resource
    renamed: bool
    retagged_key: str | None
    open_refs: tuple[str, ...]


@dataclass(frozen=True)
class RolesAppeared:
    """After an admin grant ended: roles the member came to hold during it that no grant of
    the bot gives. ``names``: deployment and project names by ID, where known."""

    request: AccessRequest
    user_id: str
    units: tuple[Unit, ...]
    names: dict[str, str]


@dataclass(frozen=True)
class ApiKeyExpiring:
    """The bot's Elastic Cloud API key expires in ``days`` whole days (0: today)."""

    key_id: str
    days: int
    expires: datetime


Alert = (
    NoOtherApprover
    | BreakGlassUsed
    | UnresolvedOwners
    | RequesterLeft
    | DriftFound
    | ResourceChanged
    | RolesAppeared
    | ApiKeyExpiring
)
