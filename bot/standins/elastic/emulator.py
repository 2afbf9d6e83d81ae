"""An Elastic Cloud API emulator for the sandbox, the tests and the benchmarks.

A real HTTP server on 127.0.0.1 that answers the part of the Elastic Cloud API the bot uses
(organization, members, role assignments, invitations, deployment search, serverless
projects) and refuses what the published specs refuse. Every request is first checked
against the two published specs, loaded at run time from ``spec_dir``:

* ``apidocs-user.json`` (Swagger 2.0, basePath ``/api/v1``), and
* ``serverless-project-api-dereferenced.yml`` (OpenAPI 3.0.1, paths start with ``/api/v1``).

With ``spec_dir`` None (a bare clone) it is checked against the emulator's own request models
instead (:mod:`.models`: the bodies, query and path parameters of the operations it serves),
and refused with the same statuses, codes and wording.

Why: a hand-written fake that accepts anything lets client bugs (a misspelt field, a
missing ``deployment_ids``, a body dropped from a DELETE) pass the tests and fail in
production. Here the spec decides what is well-formed, and the semantics follow the
documented (and reported) behaviour of the real service, including its sharp edges:
removal subtracts ids with no reference counting, and one hidden deployment id fails a
whole role-assignment call.

This module is the public face, :class:`ElasticEmulator`: its construction, lifecycle, and
the API to seed and inspect the organization. The parts it is made of live beside it: the
switches for undocumented behaviour (:mod:`.semantics`), the spec check (:mod:`.validator`),
the organization (:mod:`.state`) and its role-assignment rules (:mod:`.assignments`), the
operations' handlers (:mod:`.handlers`) and JSON shapes (:mod:`.render`), the HTTP pipeline
(:mod:`.server`) and fault injection (:mod:`.faults`).
"""

from __future__ import annotations

import functools
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.standins.elastic.assignments import _apply, _iter_assignments
from bot.standins.elastic.faults import _Script
from bot.standins.elastic.handlers import _Handlers
from bot.standins.elastic.replies import _Reply, _Request
from bot.standins.elastic.search import _Cursor
from bot.standins.elastic.semantics import Semantics
from bot.standins.elastic.server import _Handler, _Pipeline, _Server
from bot.standins.elastic.state import (
    PROJECT_TYPES,
    VALID_ROLE_IDS,
    Apps,
    _Deployment,
    _Invitation,
    _iso,
    _Member,
    _now,
    _Project,
    _slug,
)
from bot.standins.elastic.validator import SpecValidator

_DEPLOYMENT_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_PROJECT_ID_RE = re.compile(r"^[a-z0-9]{32}$")
_PROJECT_TAG_KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_PROJECT_TAG_VALUE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,127}$")


class ElasticEmulator(_Handlers, _Pipeline):
    """A stateful Elastic Cloud API on 127.0.0.1 that refuses what the specs refuse.

    Use as a context manager (or ``start()`` / ``stop()``); point the client at ``url``
    (the client appends ``/api/v1/...``). Seed state with ``add_member``,
    ``add_deployment`` and ``add_project``; inspect it with ``member`` and
    ``member_by_email``; inspect traffic with ``calls``; inject faults with ``script``.
    """

    def __init__(
        self,
        spec_dir: Path | str | None,
        api_key: str,
        organization_id: str,
        organization_name: str = "Acme",
        semantics: Semantics | None = None,
    ) -> None:
        self.validator = SpecValidator(spec_dir)
        #: How the undocumented parts behave (module docstring); replace at any time.
        self.semantics = semantics or Semantics()
        self.api_key = api_key
        self.organization_id = organization_id
        self.organization_name = organization_name
        #: Every request received, in order: method, path, query, body (decoded JSON, raw
        #: text if not JSON, or None), headers (lower-cased names), status, time
        #: (time.monotonic() on arrival), spec_errors (the SpecValidator's findings) and
        #: response (the JSON sent back, or the raw bytes of a scripted raw_body).
        self.calls: list[dict[str, Any]] = []
        self.ratelimit_limit = 1000
        self.ratelimit_interval = "1m0s"
        self._lock = threading.RLock()
        self._members: dict[str, _Member] = {}
        self._deployments: dict[str, _Deployment] = {}
        self._projects: dict[str, _Project] = {}
        #: Each project's custom roles (name, description), for ``GET …/{id}/roles``.
        self._project_roles: dict[str, list[tuple[str, str]]] = {}
        self._invitations: dict[str, _Invitation] = {}
        self._cursors: dict[str, _Cursor] = {}
        self._scripts: list[_Script] = []
        #: (method, path pattern, action, remaining): run after a matching call succeeds.
        self._after: list[list[Any]] = []
        #: SSO role mappings (``GET …/role_mappings``, in the live API but not the copied
        #: spec); None: the API does not offer the endpoint (404).
        self.role_mappings: list[dict[str, Any]] | None = []
        #: (method, path pattern, status): handled, then answered with an error instead.
        self._lost_replies: list[tuple[str, re.Pattern[str], int]] = []
        #: Entries listed verbatim after a member's own (``add_raw_assignment``).
        self._raw_assignments: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        #: A member's whole ``role_assignments`` as listed, replaced (``list_assignments_as``).
        self._listed_as: dict[str, Any] = {}
        self._seq = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._handlers: dict[str, Callable[[_Request], _Reply]] = {
            "get-current-account": self._get_account,
            "list-organizations": self._list_organizations,
            "get-organization": self._get_organization,
            "list-organization-members": self._list_members,
            "delete-organization-memberships": self._delete_members,
            "list-organization-invitations": self._list_invitations,
            "create-organization-invitations": self._create_invitations,
            "delete-organization-invitations": self._delete_invitations,
            "get-organization-invitation": self._get_invitation,
            "accept-organization-invitation": self._accept_invitation_http,
            "add-role-assignments": self._add_role_assignments,
            "remove-role-assignments": self._remove_role_assignments,
            "list-deployments": self._list_deployments,
            "search-deployments": self._search_deployments,
            "get-deployment": self._get_deployment,
            "get-api-key": self._get_api_key,
        }
        #: API keys' metadata by ID (``add_api_key``), for ``GET /users/auth/keys/{id}``.
        self._api_keys: dict[str, dict[str, Any]] = {}
        for kind in PROJECT_TYPES:
            cap = kind.capitalize()
            self._handlers[f"list{cap}Projects"] = functools.partial(self._list_projects, kind)
            self._handlers[f"get{cap}Project"] = functools.partial(self._get_project, kind)
            self._handlers[f"get{cap}ProjectRoles"] = functools.partial(
                self._get_project_roles, kind
            )

    @property
    def one_role_per_resource(self) -> bool:
        """Both ``one_role_per_resource`` and ``one_organization_role`` (#13 item 8's switch)."""
        return self.semantics.one_role_per_resource and self.semantics.one_organization_role

    @one_role_per_resource.setter
    def one_role_per_resource(self, on: bool) -> None:
        self.set_semantics(one_role_per_resource=on, one_organization_role=on)

    def set_semantics(self, **changes: bool) -> None:
        """Change some of the service's behaviours from now on."""
        with self._lock:
            self.semantics = replace(self.semantics, **changes)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> ElasticEmulator:
        """Bind to an ephemeral port and serve from a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.emulator = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="elastic-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; delayed scripted replies are cut short."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ElasticEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``; the client appends ``/api/v1/...``."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def validate_request(
        self, method: str, path: str, query: Mapping[str, Any] | None, body: Any | None
    ) -> list[str]:
        """Spec violations of a request (empty list = valid); see SpecValidator.validate."""
        return self.validator.validate(method, path, query, body)

    # -- seeding and inspection -------------------------------------------------------------

    def add_member(
        self,
        email: str,
        user_id: str | None = None,
        name: str | None = None,
        role_assignments: Mapping[str, Any] | None = None,
    ) -> str:
        """Add an organization member (RoleAssignments-shaped roles); returns the user id.

        Role ids must be valid, but the resources need not exist: the real service keeps
        assignments to deployments that were deleted or hidden.
        """
        with self._lock:
            if self._find_member(email) is not None:
                raise ValueError(f"{email} is already a member")
            user_id = user_id or self._new_user_id()
            if user_id in self._members:
                raise ValueError(f"user id {user_id} is taken")
            member = _Member(user_id, email, name or email.split("@")[0], _iso(_now()))
            assignments = list(_iter_assignments(role_assignments))
            for a in assignments:
                if a.kind == "platform" or a.role_id not in VALID_ROLE_IDS[a.kind]:
                    raise ValueError(f"invalid {a.kind} role id {a.role_id!r}")
            _apply(member, assignments, add=True, semantics=self.semantics)
            self._members[user_id] = member
            return user_id

    def change_email(self, user_id: str, email: str) -> None:
        """The member changes their account's email, as members may at any time."""
        with self._lock:
            self._members[user_id].email = email

    def remove_member(self, user_id: str) -> None:
        with self._lock:
            del self._members[user_id]

    def member(self, user_id: str) -> dict[str, Any]:
        """The user's current role assignments, in the API's RoleAssignments shape."""
        with self._lock:
            return self._role_assignments_json(self._members[user_id])

    def member_by_email(self, email: str) -> dict[str, Any]:
        """Like ``member``, looked up by email (case-insensitive)."""
        with self._lock:
            member = self._find_member(email)
            if member is None:
                raise KeyError(email)
            return self._role_assignments_json(member)

    def user_id_for(self, email: str) -> str | None:
        with self._lock:
            member = self._find_member(email)
            return member.user_id if member else None

    def members(self) -> list[dict[str, Any]]:
        """All memberships, exactly as ``GET .../members`` returns them."""
        with self._lock:
            return [self._membership_json(m) for m in self._members.values()]

    def holdings(self, user_id: str) -> set[tuple[str, str, str]]:
        """The user's access as a flat set of (kind, role_id, target) for easy asserts.

        ``kind`` is organization, deployment, elasticsearch, observability or security;
        ``target`` is a resource id, ``*`` for ``all: true``, or the organization id.
        """
        return {(kind, role, target) for kind, role, target, _ in self.entries(user_id)}

    def entries(self, user_id: str) -> set[tuple[str, str, str, Apps]]:
        """:meth:`holdings` with each entry's ``application_roles`` (None: absent; ``()``:
        console only), so that a plain entry and one with application roles differ."""
        with self._lock:
            member = self._members[user_id]
            held: set[tuple[str, str, str, Apps]] = {
                ("organization", r, self.organization_id, None) for r in member.org_roles
            }
            for (kind, role, apps), scope in member.scoped.items():
                targets = ({"*"} if scope.all else set()) | scope.ids
                held |= {(kind, role, t, apps) for t in targets}
            return held

    def add_deployment(
        self,
        name: str,
        tags: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        deployment_id: str | None = None,
        hidden: bool = False,
    ) -> str:
        """Add a hosted deployment; tags may repeat a key when given as pairs."""
        pairs = list(tags.items()) if isinstance(tags, Mapping) else list(tags or [])
        deployment_id = deployment_id or uuid.uuid4().hex
        if not _DEPLOYMENT_ID_RE.fullmatch(deployment_id):
            raise ValueError(f"deployment ids are 32 lowercase hex characters: {deployment_id}")
        with self._lock:
            if deployment_id in self._deployments:
                raise ValueError(f"deployment {deployment_id} exists")
            self._deployments[deployment_id] = _Deployment(
                deployment_id,
                name,
                _slug(name),
                [(str(k), str(v)) for k, v in pairs],
                hidden,
                self._next_seq(),
            )
        return deployment_id

    def edit_deployment(
        self,
        deployment_id: str,
        *,
        name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Rename a deployment or replace its tags, as anyone with access to it may."""
        with self._lock:
            dep = self._deployments[deployment_id]
            if name is not None:
                dep.name, dep.alias = name, _slug(name)
            if tags is not None:
                dep.tags = [(str(k), str(v)) for k, v in tags.items()]

    def remove_deployment(self, deployment_id: str) -> None:
        """Delete a deployment; role assignments naming it stay behind (issue #1040)."""
        with self._lock:
            del self._deployments[deployment_id]

    def set_hidden(self, deployment_id: str, hidden: bool = True) -> None:
        """Hide (shut down) or unhide a deployment: hidden ones leave list and search
        results, and role-assignment calls naming them fail with 403."""
        with self._lock:
            self._deployments[deployment_id].hidden = hidden

    def add_project(
        self,
        type: str,  # noqa: A002 - the API's own word
        name: str,
        tags: Mapping[str, str] | None = None,
        project_id: str | None = None,
        roles: Iterable[str | tuple[str, str]] = (),
    ) -> str:
        """Add a serverless project; tags must satisfy the spec's key/value rules. ``roles``:
        its custom roles (names, or (name, description)), as ``set_project_roles``."""
        if type not in PROJECT_TYPES:
            raise ValueError(f"project type must be one of {PROJECT_TYPES}")
        tags = dict(tags or {})
        for key, value in tags.items():
            if not _PROJECT_TAG_KEY_RE.fullmatch(key) or not _PROJECT_TAG_VALUE_RE.fullmatch(value):
                raise ValueError(f"tag {key}={value} breaks the spec's ProjectTags rules")
        project_id = project_id or uuid.uuid4().hex
        if not _PROJECT_ID_RE.fullmatch(project_id):
            raise ValueError(f"project ids are 32 characters of [a-z0-9]: {project_id}")
        with self._lock:
            if project_id in self._projects:
                raise ValueError(f"project {project_id} exists")
            alias = f"{_slug(name, 40)}-{project_id[:6]}"
            self._projects[project_id] = _Project(
                project_id, type, name, alias, tags, _iso(_now()), self._next_seq()
            )
        self.set_project_roles(project_id, roles)
        return project_id

    def set_project_roles(self, project_id: str, roles: Iterable[str | tuple[str, str]]) -> None:
        """The custom roles ``GET …/{type}/{id}/roles`` lists for the project from now on."""
        with self._lock:
            self._project_roles[project_id] = [
                (r, f"custom role {r}") if isinstance(r, str) else (r[0], r[1]) for r in roles
            ]

    def add_raw_assignment(self, user_id: str, kind: str, entry: dict[str, Any]) -> None:
        """List ``entry`` verbatim among the member's ``kind`` (``deployment`` or a project
        type) assignments, malformed or not; it changes nothing the member holds. Any other
        ``kind`` (``platform``, a project type the bot does not know, ``project:<type>``)
        is listed as such: scopes the live service has and the copied spec may not."""
        with self._lock:
            self._raw_assignments.setdefault(user_id, []).append((kind, dict(entry)))

    def list_assignments_as(self, user_id: str, listed: Any = None, *, clear: bool = False) -> None:
        """List the member's ``role_assignments`` as ``listed``, verbatim (until ``clear``),
        whatever they hold: an Elastic Cloud that answers otherwise than documented. What the
        member holds, and every call's effect, stay as they are."""
        with self._lock:
            if clear:
                self._listed_as.pop(user_id, None)
            else:
                self._listed_as[user_id] = listed

    def remove_project(self, project_id: str) -> None:
        with self._lock:
            del self._projects[project_id]

    def invitations(self) -> list[dict[str, Any]]:
        """Pending (and expired, not yet deleted) invitations, in the API's shape."""
        with self._lock:
            return [self._invitation_json(i) for i in self._invitations.values()]

    def expire_invitation(self, token: str) -> None:
        """Move an invitation's expiry into the past (a stand-in for waiting 3 days)."""
        with self._lock:
            self._invitations[token].expires_at = _now() - timedelta(seconds=1)

    def accept_invitation(
        self,
        token: str,
        user_id: str | None = None,
        name: str | None = None,
        email: str | None = None,
    ) -> str:
        """The invitee accepts: they become a member holding the invitation's roles.

        ``email``: the accepting account's own email. The accept call takes only the token
        and the caller's credentials, so any account holding the token may accept."""
        with self._lock:
            invitation = self._invitations.get(token)
            if invitation is None:
                raise KeyError(f"no invitation {token}")
            if invitation.expires_at <= _now():
                raise ValueError(f"invitation {token} has expired")
            user_id = self.add_member(
                email or invitation.email, user_id, name, invitation.role_assignments
            )
            del self._invitations[token]
            return user_id

    def add_api_key(self, key_id: str, expires_at: datetime | None = None) -> None:
        """Metadata of an API key (the bot's own, say) that ``get-api-key`` answers."""
        with self._lock:
            key: dict[str, Any] = {
                "id": key_id,
                "description": "bot",
                "creation_date": _iso(_now()),
            }
            if expires_at is not None:
                key["expiration_date"] = _iso(expires_at)
            self._api_keys[key_id] = key

    def calls_to(self, method: str, path_substring: str) -> list[dict[str, Any]]:
        """Recorded calls with this method (``*`` for any) whose path contains the text."""
        with self._lock:
            return [
                c
                for c in self.calls
                if method in ("*", c["method"]) and path_substring in c["path"]
            ]

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    def spec_violations(self) -> list[dict[str, Any]]:
        """Recorded calls the specs would reject (handy as a final assertion)."""
        with self._lock:
            return [c for c in self.calls if c["spec_errors"]]
