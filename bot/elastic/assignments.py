"""Translation between the core's units and Elastic's ``RoleAssignments`` body.

One place owns this mapping so that grant, revoke and read-back can never disagree about
what a role assignment means.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from bot.access.resources import ResourceKind, Unit
from bot.access.vocabulary import PROJECT_TYPES
from bot.elastic.models import RoleAssignments


def to_body(units: Iterable[Unit], organization_id: str) -> dict[str, Any]:
    """The smallest ``RoleAssignments`` JSON that names exactly ``units``: one entry per
    role and ``application_roles`` (sent only when the unit has them; ``[]`` is console
    only), so a removal repeats exactly the entry its grant added."""
    organization: list[dict[str, Any]] = []
    deployment_ids: dict[tuple[str, Apps], list[str]] = defaultdict(list)
    deployment_all: list[tuple[str, Apps]] = []
    project_ids: dict[tuple[str, str, Apps], list[str]] = defaultdict(list)
    project_all: list[tuple[str, str, Apps]] = []
    for unit in sorted(set(units)):
        apps = unit.application_roles
        if unit.scope == ResourceKind.ORGANIZATION:
            if apps is not None:
                raise ValueError("organization role assignments have no application_roles")
            organization.append({"role_id": unit.role_id, "organization_id": organization_id})
        elif unit.scope == "deployment":
            if unit.target == "*":
                deployment_all.append((unit.role_id, apps))
            else:
                deployment_ids[(unit.role_id, apps)].append(unit.target)
        elif unit.scope.startswith("project:"):
            kind = unit.scope.split(":", 1)[1]
            if unit.target == "*":
                project_all.append((kind, unit.role_id, apps))
            else:
                project_ids[(kind, unit.role_id, apps)].append(unit.target)
        else:
            raise ValueError(f"unknown unit scope {unit.scope!r}")
    body: dict[str, Any] = {}
    if organization:
        body["organization"] = organization
    deployments = [_entry(r, organization_id, apps, all_=True) for r, apps in deployment_all] + [
        _entry(r, organization_id, apps, ids=("deployment_ids", ids))
        for (r, apps), ids in deployment_ids.items()
    ]
    if deployments:
        body["deployment"] = deployments
    projects: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for kind, role, apps in project_all:
        projects[kind].append(_entry(role, organization_id, apps, all_=True))
    for (kind, role, apps), ids in project_ids.items():
        projects[kind].append(_entry(role, organization_id, apps, ids=("project_ids", ids)))
    if projects:
        body["project"] = dict(projects)
    return body


Apps = tuple[str, ...] | None


def _entry(
    role: str,
    organization_id: str,
    apps: Apps,
    *,
    all_: bool = False,
    ids: tuple[str, list[str]] | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"role_id": role, "organization_id": organization_id, "all": all_}
    if ids is not None:
        entry[ids[0]] = ids[1]
    if apps is not None:
        entry["application_roles"] = list(apps)
    return entry


def from_assignments(assignments: RoleAssignments | None) -> frozenset[Unit]:
    """Every unit a member holds, flattened from their ``role_assignments``."""
    if assignments is None:
        return frozenset()
    units: set[Unit] = set()
    for org in assignments.organization or []:
        units.add(Unit(ResourceKind.ORGANIZATION.value, org.role_id, org.organization_id))
    for dep in assignments.deployment or []:
        apps = _apps(dep.application_roles)
        if dep.all:
            units.add(Unit("deployment", dep.role_id, "*", apps))
        for deployment_id in dep.deployment_ids or []:
            units.add(Unit("deployment", dep.role_id, deployment_id, apps))
    if assignments.project:
        for kind in PROJECT_TYPES:
            for proj in getattr(assignments.project, kind) or []:
                apps = _apps(proj.application_roles)
                if proj.all:
                    units.add(Unit(f"project:{kind}", proj.role_id, "*", apps))
                for project_id in proj.project_ids or []:
                    units.add(Unit(f"project:{kind}", proj.role_id, project_id, apps))
    return frozenset(units)


def _apps(listed: list[str] | None) -> tuple[str, ...] | None:
    return None if listed is None else tuple(listed)


def unreadable(raw: Any) -> str | None:
    """Why a member's ``role_assignments``, as listed, cannot be read without dropping
    something (None when it can): not an object; a scope that is not a list (``project``
    not an object); an entry that is not an object or names no role; IDs that are not a list
    of IDs (unless the entry is read as ``all``); ``application_roles`` that are not a list
    of names.

    No lenient reading of those errs towards *more*: dropped, the grant's own entry could be
    the one missing, and a revocation would end the grant without removing the role. The
    member is unreadable instead, so what depends on it is retried (and the owners alerted
    when a grant's end is overdue). Null (not listed) is not unreadable: see ``Member.listed``.
    """
    if raw is None:
        return None
    if not isinstance(raw, dict):
        return f"role_assignments is {type(raw).__name__}, not an object"
    scopes: list[tuple[str, str | None, Any]] = [
        ("organization", None, raw.get("organization")),
        ("deployment", "deployment_ids", raw.get("deployment")),
    ]
    projects = raw.get("project")
    if projects is not None:
        if not isinstance(projects, dict):
            return f"project is {type(projects).__name__}, not an object"
        scopes += [(f"project.{k}", "project_ids", projects.get(k)) for k in PROJECT_TYPES]
    for where, ids_key, listed in scopes:
        if listed is None:
            continue
        if not isinstance(listed, list):
            return f"{where} is {type(listed).__name__}, not a list"
        for index, entry in enumerate(listed):
            if (why := _entry_unreadable(entry, ids_key)) is not None:
                return f"{where}[{index}] {why}"
    return None


def _entry_unreadable(entry: Any, ids_key: str | None) -> str | None:
    if not isinstance(entry, dict):
        return f"is {type(entry).__name__}, not an object"
    role = entry.get("role_id")
    if not isinstance(role, str) or not role:
        return "names no role"
    apps = entry.get("application_roles")
    if apps is not None and (
        not isinstance(apps, list) or not all(isinstance(a, str) and a for a in apps)
    ):
        return "has application_roles that are not a list of names"
    if ids_key is None:
        return None
    every = entry.get("all")
    if every is not None and every is not False:
        return None  # read as all (a non-boolean too): the IDs add nothing to it
    ids = entry.get(ids_key)
    if ids is None or isinstance(ids, str) and ids:
        return None
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        return f"has {ids_key} that are not a list of IDs"
    return None


def holds_nothing(raw: Any) -> bool:
    """Whether a member's ``role_assignments``, as listed, hold nothing at all: every list
    in it, at any depth, is empty. Scopes the bot does not model (``platform``, connected
    clusters, project types it does not know) count; anything unreadable counts as held."""
    if raw is None:
        return True
    if isinstance(raw, list):
        return not raw
    if isinstance(raw, dict):
        return all(holds_nothing(value) for value in raw.values())
    return False  # not the shape of an empty listing: unsure, so held


def read_leniently(raw: Any, organization_id: str) -> tuple[frozenset[Unit], list[str]]:
    """A member's ``role_assignments`` as listed, read entry by entry; returns the units and
    what was wrong (for the log).

    What can be read as *more* is: ``all: true`` with IDs counts as both; an ``all`` that is
    not a boolean counts as all; an organization entry without an organization ID is taken
    as ours (a unit wrongly thought held is at worst removed once more; one wrongly thought
    gone could outlive its grant). What could only be read as less (an entry without a
    role, IDs that are not IDs) makes the member unreadable instead: the client asks
    :func:`unreadable` first, and the skips below are a second line only.
    """
    problems: list[str] = []
    units: set[Unit] = set()
    if raw is None:
        return frozenset(), problems
    if not isinstance(raw, dict):
        return frozenset(), [f"role_assignments is {type(raw).__name__}, not an object"]
    for index, entry in enumerate(_entries(raw.get("organization"), "organization", problems)):
        role = _role(entry, f"organization[{index}]", problems)
        if role is not None:
            org = entry.get("organization_id")
            if not isinstance(org, str) or not org:
                problems.append(f"organization[{index}] names no organization; taken as ours")
                org = organization_id
            units.add(Unit(ResourceKind.ORGANIZATION.value, role, org))
    scopes: list[tuple[str, str, Any]] = [("deployment", "deployment_ids", raw.get("deployment"))]
    projects = raw.get("project")
    if projects is not None and not isinstance(projects, dict):
        problems.append(f"project is {type(projects).__name__}, not an object")
    elif projects:
        scopes += [(f"project:{kind}", "project_ids", projects.get(kind)) for kind in PROJECT_TYPES]
    for scope, ids_key, listed in scopes:
        for index, entry in enumerate(_entries(listed, scope, problems)):
            where = f"{scope}[{index}]"
            role = _role(entry, where, problems)
            if role is None:
                continue
            every, ids = entry.get("all"), entry.get(ids_key)
            if isinstance(ids, str):
                ids = [ids]
            if ids is not None and not isinstance(ids, list):
                problems.append(f"{where}.{ids_key} is {type(ids).__name__}, not a list")
                ids = []
            good_ids = [i for i in ids or [] if isinstance(i, str) and i]
            if len(good_ids) != len(ids or []):
                problems.append(f"{where}.{ids_key} holds entries that are not IDs")
            if every is not None and not isinstance(every, bool):
                problems.append(f"{where}.all is {every!r}, not a boolean; taken as all")
                every = True
            if every and good_ids:
                problems.append(f"{where} has all: true and {ids_key}; both are counted")
            apps = _read_apps(entry, where, problems)
            if every:
                units.add(Unit(scope, role, "*", apps))
            units.update(Unit(scope, role, i, apps) for i in good_ids)
    return frozenset(units), problems


def _read_apps(entry: dict[str, Any], where: str, problems: list[str]) -> tuple[str, ...] | None:
    """An entry's ``application_roles``: None when absent (or null), else its names. One
    that is not a list of names is read as absent: a plain entry, which satisfies no
    stack-role request and, like any entry of the role, bars adding one beside it."""
    apps = entry.get("application_roles")
    if apps is None:
        return None
    if not isinstance(apps, list) or not all(isinstance(a, str) and a for a in apps):
        problems.append(f"{where}.application_roles is not a list of names; read as absent")
        return None
    return tuple(apps)


def _entries(listed: Any, where: str, problems: list[str]) -> list[dict[str, Any]]:
    if listed is None:
        return []
    if not isinstance(listed, list):
        problems.append(f"{where} is {type(listed).__name__}, not a list")
        return []
    entries = [e for e in listed if isinstance(e, dict)]
    if len(entries) != len(listed):
        problems.append(f"{where} holds entries that are not objects")
    return entries


def _role(entry: dict[str, Any], where: str, problems: list[str]) -> str | None:
    role = entry.get("role_id")
    if isinstance(role, str) and role:
        return role
    problems.append(f"{where} has no role_id; skipped")
    return None
