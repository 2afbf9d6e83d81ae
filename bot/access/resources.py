"""What can be granted: the organization, deployments, all deployments, serverless projects.

A :class:`Resource` is the core's view of an Elastic Cloud target; :class:`Unit` is the
smallest piece of access the bot adds or removes (one role on one target), which is what
exact revocation counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.access.vocabulary import ProjectType


class ResourceKind(StrEnum):
    ORGANIZATION = "organization"
    DEPLOYMENT = "deployment"
    ALL_DEPLOYMENTS = "all-deployments"
    PROJECT = "project"


ORGANIZATION_ROLES = ("organization-admin", "billing-admin")
DEPLOYMENT_ROLES = ("deployment-viewer", "deployment-editor", "deployment-admin")
PROJECT_ROLES: dict[str, tuple[str, ...]] = {
    ProjectType.ELASTICSEARCH: (
        "elasticsearch-viewer",
        "elasticsearch-developer",
        "elasticsearch-admin",
    ),
    ProjectType.OBSERVABILITY: (
        "observability-viewer",
        "observability-editor",
        "observability-admin",
    ),
    ProjectType.SECURITY: (
        "security-viewer",
        "security-editor",
        "security-admin",
        "security-t1-analyst",
        "security-t2-analyst",
        "security-t3-analyst",
        "security-threat-intel-analyst",
        "security-rule-author",
        "security-soc-manager",
        "security-endpoint-operations-analyst",
        "security-platform-engineer",
        "security-detections-admin",
        "security-endpoint-policy-manager",
    ),
}

ROLE_LABELS = {
    "organization-admin": "Organization owner",
    "billing-admin": "Billing admin",
    "deployment-viewer": "Viewer",
    "deployment-editor": "Editor",
    "deployment-admin": "Admin",
}


@dataclass(frozen=True)
class Resource:
    """One grantable target, as the catalogue knows it."""

    kind: ResourceKind
    id: str
    name: str
    project_type: str | None = None
    tags: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        """Stable text key used in the modal picker and the catalogue cache."""
        if self.kind is ResourceKind.PROJECT:
            return f"project:{self.project_type}:{self.id}"
        return f"{self.kind.value}:{self.id}"

    @property
    def label(self) -> str:
        if self.kind is ResourceKind.ORGANIZATION:
            return f"Organization {self.name}"
        if self.kind is ResourceKind.ALL_DEPLOYMENTS:
            return "All deployments"
        if self.kind is ResourceKind.PROJECT:
            return f"{self.project_type} project {self.name}"
        return f"Deployment {self.name}"

    def roles(self) -> tuple[str, ...]:
        return roles_for(self.kind, self.project_type)


def roles_for(kind: ResourceKind, project_type: str | None = None) -> tuple[str, ...]:
    if kind is ResourceKind.ORGANIZATION:
        return ORGANIZATION_ROLES
    if kind in (ResourceKind.DEPLOYMENT, ResourceKind.ALL_DEPLOYMENTS):
        return DEPLOYMENT_ROLES
    return PROJECT_ROLES.get(project_type or "", ())


def role_label(role_id: str) -> str:
    return ROLE_LABELS.get(role_id, role_id)


@dataclass(frozen=True, order=True)
class Unit:
    """One role on one target: ``("deployment", "deployment-viewer", "<id>")``.

    ``target`` is ``"*"`` for an ``all: true`` assignment and the organization ID for
    organization roles. ``scope`` is ``organization``, ``deployment`` or ``project:<type>``.
    """

    scope: str
    role_id: str
    target: str

    @property
    def text(self) -> str:
        return f"{self.scope}|{self.role_id}|{self.target}"

    @classmethod
    def parse(cls, text: str) -> Unit:
        scope, role_id, target = text.split("|", 2)
        return cls(scope, role_id, target)


def unit_for(resource: Resource, role_id: str, organization_id: str) -> Unit:
    """The unit a request for ``role_id`` on ``resource`` asks for."""
    if resource.kind is ResourceKind.ORGANIZATION:
        return Unit(ResourceKind.ORGANIZATION.value, role_id, organization_id)
    if resource.kind is ResourceKind.ALL_DEPLOYMENTS:
        return Unit("deployment", role_id, "*")
    if resource.kind is ResourceKind.DEPLOYMENT:
        return Unit("deployment", role_id, resource.id)
    return Unit(f"project:{resource.project_type}", role_id, resource.id)
