"""The emulated state in the API's own JSON shapes (organization, membership, role
assignments, invitation, deployment, project).

Apart from the handlers because the seeding API answers in the same shapes (``member``,
``members``, ``invitations``) and because the shapes are where the published samples are
matched: ids-scoped entries carry no ``all``, a project's tags are left out when empty (the
spec demands at least one when the map is present), a hidden deployment says so.
"""

from __future__ import annotations

from typing import Any

from bot.standins.elastic.state import (
    PROJECT_TYPES,
    _Deployment,
    _Invitation,
    _iso,
    _key_order,
    _Member,
    _now,
    _OrgState,
    _Project,
)


class _Render(_OrgState):
    """JSON renderers for :class:`~bot.standins.elastic.emulator.ElasticEmulator`."""

    def _organization_json(self) -> dict[str, Any]:
        return {
            "id": self.organization_id,
            "name": self.organization_name,
            "default_disk_usage_alerts_enabled": True,
            "notifications_allowed_email_domains": [],
            "billing_contacts": [],
            "operational_contacts": [],
        }

    def _role_assignments_json(self, member: _Member) -> dict[str, Any]:
        org = self.organization_id
        out: dict[str, Any] = {
            "organization": [
                {"role_id": r, "organization_id": org} for r in sorted(member.org_roles)
            ],
            "deployment": [],
            "project": {kind: [] for kind in PROJECT_TYPES},
        }
        for (kind, role, apps), scope in sorted(
            member.scoped.items(), key=lambda item: _key_order(item[0])
        ):
            entries: list[dict[str, Any]] = []
            if scope.all:
                entries.append({"role_id": role, "organization_id": org, "all": True})
            if scope.ids:  # ids-scoped entries carry no "all", like the published samples
                ids_key = "deployment_ids" if kind == "deployment" else "project_ids"
                entries.append(
                    {"role_id": role, "organization_id": org, ids_key: sorted(scope.ids)}
                )
            for entry in entries:
                if apps is not None:
                    entry["application_roles"] = list(apps)
                if kind == "deployment":
                    out["deployment"].append(entry)
                else:
                    out["project"][kind].append(entry)
        for kind, raw in self._raw_assignments.get(member.user_id, []):
            if kind == "deployment":
                out["deployment"].append(raw)
            elif kind in PROJECT_TYPES or kind.startswith("project:"):
                out["project"].setdefault(kind.removeprefix("project:"), []).append(raw)
            else:
                out.setdefault(kind, []).append(raw)
        return out

    def _membership_json(self, member: _Member) -> dict[str, Any]:
        return {
            "organization_id": self.organization_id,
            "user_id": member.user_id,
            "name": member.name,
            "email": member.email,
            "member_since": member.member_since,
            "role_assignments": (
                self._listed_as[member.user_id]
                if member.user_id in self._listed_as
                else self._role_assignments_json(member)
            ),
        }

    def _invitation_json(self, invitation: _Invitation) -> dict[str, Any]:
        out: dict[str, Any] = {
            "token": invitation.token,
            "email": invitation.email,
            "created_at": _iso(invitation.created_at),
            "expires_at": _iso(invitation.expires_at),
            "expired": invitation.expires_at <= _now(),
            "organization": {"id": self.organization_id, "name": self.organization_name},
        }
        if invitation.role_assignments is not None:
            out["role_assignments"] = invitation.role_assignments
        return out

    @staticmethod
    def _deployment_json(dep: _Deployment) -> dict[str, Any]:
        metadata: dict[str, Any] = {"tags": [{"key": k, "value": v} for k, v in dep.tags]}
        if dep.hidden:
            metadata["hidden"] = True  # what the live API adds for shut-down deployments
        return {
            "id": dep.id,
            "name": dep.name,
            "alias": dep.alias,
            "healthy": True,
            "resources": {
                "elasticsearch": [],
                "kibana": [],
                "apm": [],
                "appsearch": [],
                "enterprise_search": [],
                "integrations_server": [],
            },
            "metadata": metadata,
        }

    def _project_json(self, project: _Project) -> dict[str, Any]:
        host = f"{project.alias}.{{}}.{project.region_id.removeprefix('aws-')}.aws.elastic.cloud"
        endpoints = {
            "elasticsearch": f"https://{host.format('es')}",
            "kibana": f"https://{host.format('kb')}",
        }
        if project.type == "observability":
            endpoints["apm"] = f"https://{host.format('apm')}"
        if project.type in ("observability", "security"):
            endpoints["ingest"] = f"https://{host.format('ingest')}"
        metadata: dict[str, Any] = {
            "created_at": project.created_at,
            "created_by": "1000000000000001",
            "organization_id": self.organization_id,
        }
        if project.tags:  # the spec demands at least one tag when the map is present
            metadata["tags"] = dict(project.tags)
        out: dict[str, Any] = {
            "id": project.id,
            "name": project.name,
            "alias": project.alias,
            "region_id": project.region_id,
            "cloud_id": f"{project.alias}:ZW11bGF0ZWQ=",
            "type": project.type,
            "metadata": metadata,
            "endpoints": endpoints,
        }
        if project.type == "elasticsearch":
            out["optimized_for"] = "general_purpose"
        elif project.type == "observability":
            out["product_tier"] = "complete"
        else:
            out["product_types"] = [
                {"product_line": line, "product_tier": "complete"}
                for line in ("security", "cloud", "endpoint")
            ]
        return out
