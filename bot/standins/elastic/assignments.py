"""Role assignments: how a RoleAssignments body changes what a member holds.

The sharp edges of the real service live here, each behind a :class:`.Semantics` switch where
Elastic documents nothing: removal subtracts ids with no reference counting, one hidden
deployment id fails a whole call, ``all: true`` may absorb the per-resource entries, a second
role on a resource may replace the first, and a DELETE may have to repeat an entry's
``application_roles`` to take it. The handlers call these under the emulator's lock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bot.standins.elastic.replies import _ApiError
from bot.standins.elastic.semantics import Semantics
from bot.standins.elastic.state import PROJECT_TYPES, VALID_ROLE_IDS, _Member, _OrgState, _Scope


@dataclass(frozen=True)
class _Assignment:
    """One entry of a RoleAssignments body, flattened."""

    kind: str  # platform | organization | deployment | elasticsearch | observability | security
    role_id: str
    organization_id: str | None
    all: bool
    ids: tuple[str, ...]
    application_roles: tuple[str, ...] | None


def _iter_assignments(ra: Mapping[str, Any] | None) -> Iterator[_Assignment]:
    ra = ra or {}
    for a in ra.get("platform") or []:
        yield _Assignment("platform", a["role_id"], None, False, (), None)
    for a in ra.get("organization") or []:
        yield _Assignment("organization", a["role_id"], a["organization_id"], False, (), None)
    entries = [("deployment", a, "deployment_ids") for a in ra.get("deployment") or []]
    for kind in PROJECT_TYPES:
        entries += [(kind, a, "project_ids") for a in (ra.get("project") or {}).get(kind) or []]
    for kind, a, ids_key in entries:
        app_roles = a.get("application_roles")
        yield _Assignment(
            kind,
            a["role_id"],
            a["organization_id"],
            a.get("all") is True,
            tuple(a.get(ids_key) or ()),
            None if app_roles is None else tuple(sorted(set(app_roles))),
        )


def _authorize(org: _OrgState, assignments: list[_Assignment]) -> None:
    """Refuse the whole call if any assignment is invalid or not ours to grant."""
    for a in assignments:
        if a.kind != "platform" and a.role_id not in VALID_ROLE_IDS[a.kind]:
            raise _ApiError(
                400,
                "role_assignments.invalid_role_id",
                f"{a.role_id!r} is not a valid {a.kind} role",
            )
    denied = "You are not authorised to change the specified RoleAssignments."
    semantics = org.semantics
    any_hidden = any(d.hidden for d in org._deployments.values())
    for a in assignments:
        if a.kind == "platform" or a.organization_id != org.organization_id:
            raise _ApiError(403, "role_assignments.unauthorized_role_assignments", denied)
        if a.kind == "deployment" and a.all and any_hidden and semantics.hidden_refuses_all:
            raise _ApiError(403, "role_assignments.unauthorized_role_assignments", denied)
        for resource_id in a.ids:
            if a.kind == "deployment":
                dep = org._deployments.get(resource_id)
                visible = dep is not None and (not dep.hidden or not semantics.hidden_refuses_named)
            else:
                project = org._projects.get(resource_id)
                visible = project is not None and project.type == a.kind
            if not visible:
                raise _ApiError(403, "role_assignments.unauthorized_role_assignments", denied)


def _apply(
    member: _Member, assignments: list[_Assignment], *, add: bool, semantics: Semantics
) -> None:
    """Merge (add) or subtract (remove) assignments; no reference counting."""
    absorbs = semantics.all_absorbs
    for a in assignments:
        if a.kind == "organization":
            if add:
                member.org_roles.add(a.role_id)
            else:
                member.org_roles.discard(a.role_id)
            continue
        key = (a.kind, a.role_id, a.application_roles)
        if add:
            scope = member.scoped.setdefault(key, _Scope())
            if a.all:
                scope.all = True
                if absorbs:
                    scope.ids = set()
            elif not scope.all or not absorbs:
                scope.ids |= set(a.ids)
            if not scope.all and not scope.ids:
                del member.scoped[key]
            continue
        # Strict: only the entry with the same application_roles; lenient: every entry
        # of the role, whatever application_roles it or the DELETE carries.
        keys = (
            [key]
            if semantics.delete_needs_application_roles
            else [k for k in member.scoped if k[:2] == key[:2]]
        )
        for k in keys:
            scope = member.scoped.get(k)
            if scope is None:
                continue
            if a.all and scope.all:
                scope.all = False
                if absorbs:
                    scope.ids = set()
            elif not a.all and (not scope.all or not absorbs):
                scope.ids -= set(a.ids)
            if not scope.all and not scope.ids:
                del member.scoped[k]


def _displace(member: _Member, assignments: list[_Assignment], semantics: Semantics) -> None:
    """One role per resource: adding a role on a deployment or project takes away the
    member's other roles there, and an organization role replaces the other one."""
    for a in assignments:
        if a.kind == "organization":
            if semantics.one_organization_role:
                member.org_roles -= {r for r in member.org_roles if r != a.role_id}
            continue
        if not semantics.one_role_per_resource:
            continue
        for (kind, role, apps), scope in list(member.scoped.items()):
            if kind == a.kind and role != a.role_id and not scope.all:
                scope.ids -= set(a.ids)
                if not scope.ids:
                    del member.scoped[(kind, role, apps)]
