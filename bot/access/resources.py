"""What can be granted: the organization, deployments, all deployments, serverless projects.

A :class:`Resource` is the core's view of an Elastic Cloud target; :class:`Unit` is the
smallest piece of access the bot adds or removes (one role on one target, with the
``application_roles`` of its entry), which is what exact revocation counts.

Three kinds of role are requestable (issue #14 §1), each under a name people type:

* a Cloud role as Elastic names it (``deployment-viewer``, ``elasticsearch-admin``);
* the *console-only* variant of an admin role (``elasticsearch-admin:console-only``):
  the Cloud role with ``application_roles: []``, so the Cloud console and no stack role
  (no data access);
* a *stack role* (``marketing-reader``): a project's custom role as Elastic lists it, or
  one a ``[[policy]]`` rule names in ``stack_roles`` for deployments; granted as the
  resource's viewer role with ``application_roles: [<name>]``.
"""

from __future__ import annotations

import json
import re
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

#: The suffix of a console-only role's name: ``deployment-admin:console-only``.
CONSOLE_ONLY = ":console-only"
#: Admin roles with a console-only variant. Not ``organization-admin``: the published spec
#: gives organization assignments no ``application_roles``, so there is nothing to send.
CONSOLE_ONLY_OF = frozenset({"deployment-admin"} | {f"{t.value}-admin" for t in ProjectType})
CONSOLE_ONLY_LABEL = "Admin, console only, no data access"

#: A stack role name the bot will offer, accept and put in a Slack message: letters, digits
#: and ``_ . @ -``, up to 64 characters. Elasticsearch allows more (spaces, punctuation);
#: such roles are not offered (a name typed in a command or shown in mrkdwn must mean one
#: thing), which the README says.
STACK_ROLE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$")


@dataclass(frozen=True)
class Resource:
    """One grantable target, as the catalogue knows it."""

    kind: ResourceKind
    id: str
    name: str
    project_type: str | None = None
    tags: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    #: A project's custom roles as Elastic last listed them (the catalogue's cache; those
    #: with names the bot would not offer already left out). Empty for anything else.
    stack_roles: tuple[str, ...] = field(default=(), compare=False, hash=False)

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
        """The Cloud roles and console-only variants on this resource (never stack roles,
        which policy offers: :meth:`bot.access.rules.Rules.requestable`)."""
        return roles_for(self.kind, self.project_type)

    @property
    def takes_stack_roles(self) -> bool:
        """Whether a stack role can be granted here: a deployment or a project (Elastic
        documents ``application_roles`` on those entries; not on the organization's, and
        the bot does not grant them on all deployments at once)."""
        return self.kind in (ResourceKind.DEPLOYMENT, ResourceKind.PROJECT)


def roles_for(kind: ResourceKind, project_type: str | None = None) -> tuple[str, ...]:
    if kind is ResourceKind.ORGANIZATION:
        return ORGANIZATION_ROLES
    if kind in (ResourceKind.DEPLOYMENT, ResourceKind.ALL_DEPLOYMENTS):
        cloud = DEPLOYMENT_ROLES
    else:
        cloud = PROJECT_ROLES.get(project_type or "", ())
    return cloud + tuple(r + CONSOLE_ONLY for r in cloud if r in CONSOLE_ONLY_OF)


def viewer_role(resource: Resource) -> str:
    """The Cloud role a stack role is granted with: the resource's viewer role."""
    if resource.kind is ResourceKind.PROJECT:
        return f"{resource.project_type}-viewer"
    return "deployment-viewer"


def is_console_only(role: str) -> bool:
    return role.endswith(CONSOLE_ONLY) and role.removesuffix(CONSOLE_ONLY) in CONSOLE_ONLY_OF


def is_cloud_role(role: str) -> bool:
    """A Cloud role ID or its console-only variant: never a stack role's name."""
    return any(role in roles_for(kind, t) for kind in ResourceKind for t in (None, *ProjectType))


def stack_role_name_ok(name: str) -> bool:
    """Whether ``name`` may be offered as a stack role (see :data:`STACK_ROLE_NAME`)."""
    return bool(STACK_ROLE_NAME.match(name)) and not is_cloud_role(name)


def role_label(role_id: str) -> str:
    if is_console_only(role_id):
        return CONSOLE_ONLY_LABEL
    return ROLE_LABELS.get(role_id, role_id)


def access_label(role: str, unit: Unit) -> str:
    """What a requested role gives, in a few words: ``Viewer``; ``Admin, console only, no
    data access``; ``stack role, as elasticsearch-viewer``."""
    if unit.application_roles is None:
        return role_label(role)
    if not unit.application_roles:
        return CONSOLE_ONLY_LABEL
    return f"stack role, as {unit.role_id}"


@dataclass(frozen=True)
class Unit:
    """One role on one target: ``("deployment", "deployment-viewer", "<id>")``.

    ``target`` is ``"*"`` for an ``all: true`` assignment and the organization ID for
    organization roles. ``scope`` is ``organization``, ``deployment`` or ``project:<type>``.
    ``application_roles`` is the entry's list, kept apart because Elastic keeps it apart: None
    for an entry without one (the default stack role mapping), ``()`` for console only, else
    the stack roles (sorted, each once). Units that differ only there are different units: an
    entry with application roles does not give what a plain one does, nor the reverse.
    """

    scope: str
    role_id: str
    target: str
    application_roles: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.application_roles is not None:
            object.__setattr__(
                self, "application_roles", tuple(sorted(set(self.application_roles)))
            )

    def _key(self) -> tuple:
        apps = self.application_roles
        return (self.scope, self.role_id, self.target, () if apps is None else (1, *apps))

    def __lt__(self, other: Unit) -> bool:
        return self._key() < other._key()

    def __le__(self, other: Unit) -> bool:
        return self._key() <= other._key()

    def __gt__(self, other: Unit) -> bool:
        return self._key() > other._key()

    def __ge__(self, other: Unit) -> bool:
        return self._key() >= other._key()

    @property
    def plain(self) -> Unit:
        """The same role on the same target, whatever the application roles."""
        return Unit(self.scope, self.role_id, self.target)

    @property
    def text(self) -> str:
        """``scope|role|target`` (as stored before #14), then ``|`` and the application
        roles as a JSON list when the entry has them (``[]``: console only)."""
        base = f"{self.scope}|{self.role_id}|{self.target}"
        if self.application_roles is None:
            return base
        return f"{base}|{json.dumps(list(self.application_roles), separators=(',', ':'))}"

    @classmethod
    def parse(cls, text: str) -> Unit:
        scope, role_id, rest = text.split("|", 2)
        target, bar, apps = rest.partition("|")
        if not bar:
            return cls(scope, role_id, target)
        return cls(scope, role_id, target, tuple(json.loads(apps)))


def unit_for(resource: Resource, role: str, organization_id: str, stack: bool = False) -> Unit:
    """The unit a request for ``role`` on ``resource`` asks for: the Cloud role; an admin
    role with no application roles (``…:console-only``); or, ``stack``, the resource's
    viewer role with ``role`` as its one application role."""
    apps: tuple[str, ...] | None = None
    if stack:
        role, apps = viewer_role(resource), (role,)
    elif is_console_only(role):
        role, apps = role.removesuffix(CONSOLE_ONLY), ()
    if resource.kind is ResourceKind.ORGANIZATION:
        return Unit(ResourceKind.ORGANIZATION.value, role, organization_id)
    if resource.kind is ResourceKind.ALL_DEPLOYMENTS:
        return Unit("deployment", role, "*", apps)
    if resource.kind is ResourceKind.DEPLOYMENT:
        return Unit("deployment", role, resource.id, apps)
    return Unit(f"project:{resource.project_type}", role, resource.id, apps)
