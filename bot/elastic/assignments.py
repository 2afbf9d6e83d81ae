"""Translation between the core's units and Elastic's ``RoleAssignments`` body.

One place owns this mapping so that grant, revoke and read-back can never disagree about
what a role assignment means.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from bot.access.resources import Unit
from bot.elastic.models import RoleAssignments


def to_body(units: Iterable[Unit], organization_id: str) -> dict[str, Any]:
    """The smallest ``RoleAssignments`` JSON that names exactly ``units``."""
    organization: list[dict[str, Any]] = []
    deployment_ids: dict[str, list[str]] = defaultdict(list)
    deployment_all: list[str] = []
    project_ids: dict[tuple[str, str], list[str]] = defaultdict(list)
    project_all: list[tuple[str, str]] = []
    for unit in sorted(set(units)):
        if unit.scope == "organization":
            organization.append({"role_id": unit.role_id, "organization_id": organization_id})
        elif unit.scope == "deployment":
            if unit.target == "*":
                deployment_all.append(unit.role_id)
            else:
                deployment_ids[unit.role_id].append(unit.target)
        elif unit.scope.startswith("project:"):
            kind = unit.scope.split(":", 1)[1]
            if unit.target == "*":
                project_all.append((kind, unit.role_id))
            else:
                project_ids[(kind, unit.role_id)].append(unit.target)
        else:
            raise ValueError(f"unknown unit scope {unit.scope!r}")
    body: dict[str, Any] = {}
    if organization:
        body["organization"] = organization
    deployments = [
        {"role_id": r, "organization_id": organization_id, "all": True} for r in deployment_all
    ] + [
        {"role_id": r, "organization_id": organization_id, "all": False, "deployment_ids": ids}
        for r, ids in deployment_ids.items()
    ]
    if deployments:
        body["deployment"] = deployments
    projects: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for kind, role in project_all:
        projects[kind].append({"role_id": role, "organization_id": organization_id, "all": True})
    for (kind, role), ids in project_ids.items():
        projects[kind].append(
            {"role_id": role, "organization_id": organization_id, "all": False, "project_ids": ids}
        )
    if projects:
        body["project"] = dict(projects)
    return body


def from_assignments(assignments: RoleAssignments | None) -> frozenset[Unit]:
    """Every unit a member holds, flattened from their ``role_assignments``."""
    if assignments is None:
        return frozenset()
    units: set[Unit] = set()
    for org in assignments.organization or []:
        units.add(Unit("organization", org.role_id, org.organization_id))
    for dep in assignments.deployment or []:
        if dep.all:
            units.add(Unit("deployment", dep.role_id, "*"))
        for deployment_id in dep.deployment_ids or []:
            units.add(Unit("deployment", dep.role_id, deployment_id))
    if assignments.project:
        for kind in ("elasticsearch", "observability", "security"):
            for proj in getattr(assignments.project, kind) or []:
                if proj.all:
                    units.add(Unit(f"project:{kind}", proj.role_id, "*"))
                for project_id in proj.project_ids or []:
                    units.add(Unit(f"project:{kind}", proj.role_id, project_id))
    return frozenset(units)
