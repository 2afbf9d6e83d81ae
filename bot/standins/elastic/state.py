"""The emulated organization: members and what they hold, deployments, projects, invitations.

Plain data, with no HTTP in it: the seeding API (:mod:`.emulator`), the handlers and the
role-assignment rules (:mod:`.assignments`) all read and change these records under the
emulator's lock. A member's scoped roles are entries keyed by kind, role *and*
``application_roles`` (absent, ``()`` for console only, or the stack roles), as the API lists
them.
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.standins.elastic.semantics import Semantics

if TYPE_CHECKING:
    from bot.standins.elastic.search import _Cursor

PROJECT_TYPES = ("elasticsearch", "observability", "security")

#: Role ids the service accepts, per scope. Project kinds carry a type prefix.
VALID_ROLE_IDS: dict[str, frozenset[str]] = {
    "organization": frozenset({"organization-admin", "billing-admin"}),
    "deployment": frozenset({"deployment-admin", "deployment-editor", "deployment-viewer"}),
    "elasticsearch": frozenset(
        {"elasticsearch-admin", "elasticsearch-developer", "elasticsearch-viewer"}
    ),
    "observability": frozenset(
        {"observability-admin", "observability-editor", "observability-viewer"}
    ),
    "security": frozenset(
        f"security-{r}"
        for r in (
            "admin",
            "editor",
            "viewer",
            "t1-analyst",
            "t2-analyst",
            "t3-analyst",
            "threat-intel-analyst",
            "rule-author",
            "soc-manager",
            "endpoint-operations-analyst",
            "platform-engineer",
            "detections-admin",
            "endpoint-policy-manager",
        )
    ),
}

DEFAULT_INVITATION_TTL = timedelta(days=3)

_DURATION_PART_RE = re.compile(r"(\d+)([smhdw])")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


#: The application roles an entry carries: None when absent, else the list (sorted).
Apps = tuple[str, ...] | None
#: One entry of a member's assignments: (kind, role_id, application roles).
_Key = tuple[str, str, Apps]


def _key_order(key: _Key) -> tuple[str, str, tuple[Any, ...]]:
    kind, role, apps = key
    return (kind, role, () if apps is None else (1, *apps))


@dataclass
class _Scope:
    """What one user holds for one (kind, role_id, application roles): all resources and/or
    a set of ids (both only where ``all`` keeps the specific entries)."""

    all: bool = False
    ids: set[str] = field(default_factory=set)


@dataclass
class _Member:
    user_id: str
    email: str
    name: str
    member_since: str
    org_roles: set[str] = field(default_factory=set)
    scoped: dict[_Key, _Scope] = field(default_factory=dict)


@dataclass
class _Deployment:
    id: str
    name: str
    alias: str
    tags: list[tuple[str, str]]
    hidden: bool
    seq: int
    region: str = "gcp-us-central1"


@dataclass
class _Project:
    id: str
    type: str
    name: str
    alias: str
    tags: dict[str, str]
    created_at: str
    seq: int
    region_id: str = "aws-us-east-1"


@dataclass
class _Invitation:
    token: str
    email: str
    created_at: datetime
    expires_at: datetime
    role_assignments: dict[str, Any] | None


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _slug(name: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:limit].strip("-")
    if not slug or not slug[0].isalpha():
        slug = f"p-{slug}".rstrip("-")
    return slug


def parse_duration(text: str) -> timedelta:
    """Parse an invitation ``expires_in`` such as ``3d``, ``2h``, ``30m`` or ``1d12h``."""
    text = text.strip()
    if not text or _DURATION_PART_RE.sub("", text):
        raise ValueError(f"invalid duration {text!r}")
    total = timedelta()
    for amount, unit in _DURATION_PART_RE.findall(text):
        total += timedelta(**{_DURATION_UNITS[unit]: int(amount)})
    return total


class _OrgState:
    """The attributes the emulator's parts share (set by ``ElasticEmulator.__init__``), and
    the small lookups they all use. Hold ``_lock`` to read or change any of them."""

    semantics: Semantics
    api_key: str
    organization_id: str
    organization_name: str
    calls: list[dict[str, Any]]
    _lock: threading.RLock
    _members: dict[str, _Member]
    _deployments: dict[str, _Deployment]
    _projects: dict[str, _Project]
    _project_roles: dict[str, list[tuple[str, str]]]
    _invitations: dict[str, _Invitation]
    _cursors: dict[str, _Cursor]
    _raw_assignments: dict[str, list[tuple[str, dict[str, Any]]]]
    _listed_as: dict[str, Any]
    _api_keys: dict[str, dict[str, Any]]
    _seq: int

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _new_user_id(self) -> str:
        while True:
            candidate = str(secrets.randbelow(9 * 10**15) + 10**15)
            if candidate not in self._members:
                return candidate

    def _find_member(self, email: str) -> _Member | None:
        wanted = email.strip().lower()
        return next((m for m in self._members.values() if m.email.lower() == wanted), None)
