"""Models of the Elastic Cloud bodies the bot reads and writes (pydantic; the member list,
read on every expiry, with msgspec).

Only the fields the bot uses are modelled; unknown fields are kept out of the way
(``extra="ignore"``) so a newer API adding fields never breaks a revocation.
"""

from __future__ import annotations

from typing import Any

import msgspec
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


class OrganizationMembership(msgspec.Struct, frozen=True):
    """One member as listed, with its role assignments left as raw JSON (see MemberList)."""

    user_id: str
    organization_id: str
    email: str | None = None
    name: str | None = None
    #: Left out or null: not known (the spec has it optional), never "holds nothing".
    role_assignments: msgspec.Raw = msgspec.Raw(b"null")


class MemberList(msgspec.Struct, frozen=True):
    """``GET …/members``: who is in the organization.

    Decoded with msgspec, not pydantic: every expiry check reads the whole organization to
    learn about one or a few people, and a burst of revocations reads it every
    ``READ_GAP``. msgspec checks each member's fields (unknown ones ignored, as above) and
    keeps each ``role_assignments`` as its raw JSON without building it, about ten times
    cheaper than building it all with pydantic (docs/benchmark-history.md). A member's
    assignments are read, leniently, only when that member is looked at.
    """

    #: Required, as the spec has it: a 200 without it is not an organization with nobody
    #: in it (every revocation would then find its grantee gone and send nothing).
    members: list[OrganizationMembership]


#: Decodes a ``GET …/members`` body; raises ``msgspec.DecodeError`` (not JSON) or its
#: subclass ``msgspec.ValidationError`` (JSON of the wrong shape).
MEMBER_LIST = msgspec.json.Decoder(MemberList)


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
