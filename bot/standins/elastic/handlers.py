"""One handler per emulated operation (by the spec's operationId), answering as Elastic does.

Account and organization, members, role assignments, invitations, deployments (list, get,
search) and serverless projects (list, get, custom roles), plus the bot's own API key. A
handler gets a routed, validated :class:`~.replies._Request`; it raises
:class:`~.replies._ApiError` for a documented refusal.
"""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Any

from bot.standins.elastic.assignments import _apply, _authorize, _displace, _iter_assignments
from bot.standins.elastic.render import _Render
from bot.standins.elastic.replies import _ApiError, _Reply, _Request
from bot.standins.elastic.search import (
    DEFAULT_SEARCH_SIZE,
    MAX_SEARCH_SIZE,
    _check_query,
    _Cursor,
    _is_after,
    _query_matches,
    _sort_fields,
    _sort_key,
)
from bot.standins.elastic.state import (
    _DURATION_PART_RE,
    DEFAULT_INVITATION_TTL,
    _Invitation,
    _now,
    parse_duration,
)
from bot.standins.elastic.validator import _DEEP_OBJECT_RE

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class _Handlers(_Render):
    """The operations' handlers for :class:`~bot.standins.elastic.emulator.ElasticEmulator`."""

    def _require_org(self, organization_id: str) -> None:
        if organization_id != self.organization_id:
            raise _ApiError(404, "organization.not_found", f"organization {organization_id}")

    def _get_api_key(self, req: _Request) -> _Reply:
        with self._lock:
            key = self._api_keys.get(req.path_params["api_key_id"])
            if key is None:
                raise _ApiError(404, "api_keys.key_not_found", "no such API key")
            return _Reply(200, dict(key))

    # -- handlers: account and organization -------------------------------------------------

    def _get_account(self, req: _Request) -> _Reply:
        return _Reply(200, {"id": f"account-{self.organization_id}"})

    def _list_organizations(self, req: _Request) -> _Reply:
        return _Reply(200, {"organizations": [self._organization_json()]})

    def _get_organization(self, req: _Request) -> _Reply:
        self._require_org(req.path_params["organization_id"])
        return _Reply(200, self._organization_json())

    def _list_members(self, req: _Request) -> _Reply:
        self._require_org(req.path_params["organization_id"])
        return _Reply(200, {"members": self.members()})

    def _delete_members(self, req: _Request) -> _Reply:
        self._require_org(req.path_params["organization_id"])
        user_ids = [u for u in req.path_params["user_ids"].split(",") if u]
        with self._lock:
            missing = [u for u in user_ids if u not in self._members]
            if missing or not user_ids:
                raise _ApiError(
                    404, "organization.membership_not_found", f"no membership for {missing}"
                )
            for user_id in user_ids:
                del self._members[user_id]
        return _Reply(200, {})

    # -- handlers: role assignments ---------------------------------------------------------

    def _change_roles(self, req: _Request, *, add: bool) -> _Reply:
        with self._lock:
            member = self._members.get(req.path_params["user_id"])
            if member is None:
                raise _ApiError(
                    400,
                    "role_assignments.invalid_target_user_id",
                    f"user {req.path_params['user_id']} is not in organization "
                    f"{self.organization_id}",
                )
            assignments = list(_iter_assignments(req.body))
            if not assignments:
                raise _ApiError(
                    400,
                    "role_assignments.invalid_role_assignments",
                    "the request names no role assignment",
                )
            _authorize(self, assignments)
            if add:
                _displace(member, assignments, self.semantics)
            _apply(member, assignments, add=add, semantics=self.semantics)
        return _Reply(200, {})

    def _add_role_assignments(self, req: _Request) -> _Reply:
        return self._change_roles(req, add=True)

    def _remove_role_assignments(self, req: _Request) -> _Reply:
        return self._change_roles(req, add=False)

    # -- handlers: invitations ----------------------------------------------------------------

    def _list_invitations(self, req: _Request) -> _Reply:
        self._require_org(req.path_params["organization_id"])
        return _Reply(200, {"invitations": self.invitations()})

    def _create_invitations(self, req: _Request) -> _Reply:
        self._require_org(req.path_params["organization_id"])
        body = req.body
        try:
            ttl = parse_duration(body["expires_in"]) if "expires_in" in body else None
            units = [u for _, u in _DURATION_PART_RE.findall(body.get("expires_in", ""))]
            if not self.semantics.invitation_minutes and {"s", "m"} & set(units):
                raise ValueError(f"expires_in {body['expires_in']!r}: use hours or days")
        except ValueError as err:
            raise _ApiError(400, "root.invalid_data", str(err)) from None
        ttl = ttl or DEFAULT_INVITATION_TTL
        emails: list[str] = []
        for email in body["emails"]:
            if not _EMAIL_RE.fullmatch(email.strip()):
                raise _ApiError(
                    400, "organization.invitation_invalid_email", f"invalid email {email!r}"
                )
            if email.strip().lower() not in {e.lower() for e in emails}:
                emails.append(email.strip())
        if not emails:
            raise _ApiError(400, "organization.invitation_invalid_email", "no emails given")
        role_assignments = body.get("role_assignments")
        now = _now()
        with self._lock:
            _authorize(self, list(_iter_assignments(role_assignments)))
            replaced: list[str] = []
            for email in emails:
                if self._find_member(email) is not None:
                    raise _ApiError(
                        400,
                        "organization.user_organization_already_belongs",
                        f"{email} already belongs to the organization",
                    )
                for token, inv in self._invitations.items():
                    if inv.email.lower() == email.lower():
                        if inv.expires_at > now:
                            raise _ApiError(
                                400,
                                "organization.invitation_already_exists",
                                f"an invitation for {email} is pending",
                            )
                        replaced.append(token)  # an expired one is refreshed
            for token in replaced:
                del self._invitations[token]
            created = []
            for email in emails:
                invitation = _Invitation(
                    secrets.token_hex(16), email, now, now + ttl, role_assignments
                )
                self._invitations[invitation.token] = invitation
                created.append(self._invitation_json(invitation))
        return _Reply(201, {"invitations": created})

    def _delete_invitations(self, req: _Request) -> _Reply:
        self._require_org(req.path_params["organization_id"])
        tokens = [t for t in req.path_params["invitation_tokens"].split(",") if t.strip()]
        if not tokens:
            raise _ApiError(400, "root.invalid_data", "no invitation token supplied")
        with self._lock:
            missing = [t for t in tokens if t not in self._invitations]
            if missing:
                raise _ApiError(
                    404, "organization.invitation_not_found", f"no invitation {missing[0]}"
                )
            for token in tokens:
                del self._invitations[token]
        return _Reply(200, {})

    def _get_invitation(self, req: _Request) -> _Reply:
        with self._lock:
            invitation = self._invitations.get(req.path_params["invitation_token"])
            if invitation is None:
                raise _ApiError(404, "organization.invitation_not_found", "no such invitation")
            return _Reply(200, self._invitation_json(invitation))

    def _accept_invitation_http(self, req: _Request) -> _Reply:
        """Accepting needs the invitee's own credentials; the bot's key already belongs
        to the organization, so the service refuses it."""
        with self._lock:
            if req.path_params["invitation_token"] not in self._invitations:
                raise _ApiError(404, "organization.invitation_not_found", "no such invitation")
        raise _ApiError(
            400,
            "organization.user_organization_already_belongs",
            "the caller already belongs to an organization",
        )

    # -- handlers: deployments -------------------------------------------------------------

    def _list_deployments(self, req: _Request) -> _Reply:
        with self._lock:
            visible = [d for d in self._deployments.values() if not d.hidden]
        return _Reply(
            200,
            {
                "deployments": [
                    {
                        "id": d.id,
                        "name": d.name,
                        "resources": [
                            {
                                "ref_id": f"main-{kind}",
                                "id": uuid.uuid5(uuid.NAMESPACE_OID, d.id + kind).hex,
                                "kind": kind,
                                "region": d.region,
                            }
                            for kind in ("elasticsearch", "kibana")
                        ],
                    }
                    for d in visible
                ]
            },
        )

    def _get_deployment(self, req: _Request) -> _Reply:
        with self._lock:
            dep = self._deployments.get(req.path_params["deployment_id"])
            if dep is None:
                raise _ApiError(
                    404,
                    "deployments.deployment_not_found",
                    f"deployment {req.path_params['deployment_id']} could not be found",
                )
            return _Reply(200, self._deployment_json(dep))

    def _search_deployments(self, req: _Request) -> _Reply:
        body = req.body or {}
        with self._lock:
            if "cursor" in body:  # "When set, all other fields are ignored."
                cursor = self._cursors.get(body["cursor"])
                if cursor is None:
                    raise _ApiError(400, "root.invalid_data", "unknown or expired cursor")
                query, fields, size, last = cursor.query, cursor.fields, cursor.size, cursor.last
                offset = 0
            else:
                query, fields = body.get("query"), _sort_fields(body.get("sort"))
                _check_query(query)
                size = body.get("size", DEFAULT_SEARCH_SIZE)
                offset, last = body.get("from", 0), None
                if size < 0 or offset < 0:
                    raise _ApiError(400, "root.invalid_data", "size and from must be >= 0")
                size = min(size, MAX_SEARCH_SIZE)
            matching = [
                d for d in self._deployments.values() if not d.hidden and _query_matches(query, d)
            ]
            for index in reversed(range(len(fields))):
                name, descending = fields[index]
                matching.sort(key=lambda d, i=index: _sort_key(d, fields)[i], reverse=descending)
            remaining = [
                d for d in matching if last is None or _is_after(_sort_key(d, fields), last, fields)
            ][offset:]
            page = remaining[:size]
            result: dict[str, Any] = {"return_count": len(page), "match_count": len(matching)}
            wanted = req.query.get("minimal_metadata")
            if wanted:
                names = [n.strip() for n in wanted[-1].split(",") if n.strip()]
                result["deployments"] = []
                result["minimal_metadata"] = [
                    {n: v for n, v in self._deployment_json(d).items() if n in names} for d in page
                ]
            else:
                result["deployments"] = [self._deployment_json(d) for d in page]
            if page and len(remaining) > len(page):
                token = secrets.token_urlsafe(18)
                self._cursors[token] = _Cursor(query, fields, size, _sort_key(page[-1], fields))
                result["cursor"] = token
        return _Reply(200, result)

    # -- handlers: serverless projects -------------------------------------------------------

    def _list_projects(self, kind: str, req: _Request) -> _Reply:
        wanted_tags = {
            m.group(2): values[-1]
            for key, values in req.query.items()
            if (m := _DEEP_OBJECT_RE.fullmatch(key)) and m.group(1) == "tags"
        }
        # The emulator models neither traffic filters nor linked projects: such
        # filters match nothing.
        unmatched_filter = "traffic_filter" in req.query or "linked" in req.query
        with self._lock:
            items = [
                self._project_json(p)
                for p in sorted(self._projects.values(), key=lambda p: p.seq)
                if p.type == kind
                and not unmatched_filter
                and all(p.tags.get(k) == v for k, v in wanted_tags.items())
            ]
        return _Reply(200, {"items": items})

    def _get_project_roles(self, kind: str, req: _Request) -> _Reply:
        """``ProjectRolesByProjectID``: ``{<id>: {"roles": [{name, description}]}}``."""
        project_id = req.path_params["id"]
        with self._lock:
            project = self._projects.get(project_id)
            if project is None or project.type != kind:
                raise _ApiError(404, "projects.not_found", f"{kind} project not found")
            roles = [
                {"name": name, "description": description}
                for name, description in self._project_roles.get(project_id, [])
            ]
        return _Reply(200, {project_id: {"roles": roles}})

    def _get_project(self, kind: str, req: _Request) -> _Reply:
        with self._lock:
            project = self._projects.get(req.path_params["id"])
            if project is None or project.type != kind:
                raise _ApiError(404, "projects.not_found", f"{kind} project not found")
            reply = _Reply(200, self._project_json(project))
        reply.headers["ETag"] = f'"{project.seq}"'
        return reply
