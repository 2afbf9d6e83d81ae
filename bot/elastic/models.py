"""Pydantic models of the Elastic Cloud bodies the bot reads and writes.

Only the fields the bot uses are modelled; unknown fields are kept out of the way
(``extra="ignore"``) so a newer API adding fields never breaks a revocation.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class OrganizationRoleAssignment(_Model):
    role_id: str
    organization_id: str


class DeploymentRoleAssignment(_Model):
    role_id: str
    organization_id: str
    all: bool | None = None
    deployment_ids: list[str] | None = None
    application_roles: list[str] | None = None

    @model_validator(mode="after")
    def _ids_match_all(self) -> DeploymentRoleAssignment:
        # The spec: deployment_ids "must be absent if all is true, and present if all is false".
        if self.all and self.deployment_ids:
            raise ValueError("deployment_ids must be absent when all is true")
        return self


class ProjectRoleAssignment(_Model):
    role_id: str
    organization_id: str
    all: bool | None = None
    project_ids: list[str] | None = None
    application_roles: list[str] | None = None


class ProjectRoleAssignments(_Model):
    elasticsearch: list[ProjectRoleAssignment] | None = None
    observability: list[ProjectRoleAssignment] | None = None
    security: list[ProjectRoleAssignment] | None = None


class RoleAssignments(_Model):
    organization: list[OrganizationRoleAssignment] | None = None
    deployment: list[DeploymentRoleAssignment] | None = None
    project: ProjectRoleAssignments | None = None


class OrganizationMembership(_Model):
    """One member as listed, with its role assignments left unread (see MemberList)."""

    user_id: str
    organization_id: str
    email: str | None = None
    name: str | None = None
    role_assignments: dict[str, Any] | None = None


class MemberList(_Model):
    """``GET …/members``: who is in the organization.

    Each member's role assignments are validated (``RoleAssignments``) only when that member
    is looked at: a check reads the whole organization to learn about one person, and fully
    validating every member's assignments took twice as long as parsing the body
    (docs/benchmark-history.md).
    """

    members: list[OrganizationMembership] = Field(default_factory=list)


class MetadataItem(_Model):
    key: str
    value: str


class DeploymentMetadata(_Model):
    tags: list[MetadataItem] | None = None
    hidden: bool | None = None


class DeploymentSearchHit(_Model):
    id: str
    name: str
    metadata: DeploymentMetadata | None = None


class DeploymentsSearchResponse(_Model):
    deployments: list[DeploymentSearchHit] = Field(default_factory=list)
    cursor: str | None = None
    match_count: int | None = None
    return_count: int | None = None


class ProjectMetadata(_Model):
    tags: dict[str, str] | None = None


class Project(_Model):
    id: str
    name: str
    type: str | None = None
    metadata: ProjectMetadata | None = None


class ProjectList(_Model):
    items: list[Project] = Field(default_factory=list)
    next_page: str | None = None


class ProjectRoleDetails(_Model):
    name: str
    description: str | None = None


class ProjectRoles(_Model):
    roles: list[ProjectRoleDetails] = Field(default_factory=list)


class ProjectRolesByProjectID(RootModel[dict[str, ProjectRoles]]):
    """``GET /serverless/projects/{type}/{id}/roles``: ``{<project id>: {"roles": [...]}}``."""


class Organization(_Model):
    id: str
    name: str


class ApiError(_Model):
    code: str = "unknown"
    message: str = ""


class BasicFailedReply(_Model):
    errors: list[ApiError] = Field(default_factory=list)


class RoleMapping(_Model):
    """An SSO (SAML) role mapping: at each sign-in it sets the member's roles from groups."""

    name: str = ""
    enabled: bool = True


class RoleMappings(_Model):
    mappings: list[RoleMapping] = Field(default_factory=list)


class OrganizationInvitation(_Model):
    token: str
    email: str
    expires_at: str | None = None
    expired: bool = False
    accepted_at: str | None = None
    #: Left unread: a malformed entry must not make the whole list unreadable.
    role_assignments: dict[str, Any] | None = None


class OrganizationInvitations(_Model):
    invitations: list[OrganizationInvitation] = Field(default_factory=list)
