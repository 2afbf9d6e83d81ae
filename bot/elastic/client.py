"""An httpx client for the Elastic Cloud API calls the bot makes, with retries.

Transient failures (429, 5xx, timeouts, connection errors) are retried here with capped,
jittered exponential backoff (tenacity), honouring ``Retry-After``; longer outages are the
service's business (its rows wait in the database and the sweep tries again).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
import tenacity

from bot.access.ports import Member
from bot.access.resources import Unit
from bot.elastic.assignments import holds_nothing, read_leniently, to_body, unreadable
from bot.elastic.errors import ElasticError
from bot.elastic.models import (
    MEMBER_LIST,
    DeploymentsSearchResponse,
    MemberList,
    Organization,
    OrganizationInvitations,
    OrganizationMembership,
    ProjectList,
    ProjectRolesByProjectID,
    RoleMapping,
    RoleMappings,
)

log = logging.getLogger(__name__)

#: The least time between the starts of two member-list reads (seconds). Each read costs
#: Elastic a page of the whole organization and this process a parse of it (3 ms per
#: thousand members here); callers that need a read arrive together in bursts.
READ_GAP = 0.05


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    initial: float = 0.5
    maximum: float = 10.0
    total: float = 30.0


def _wait(policy: RetryPolicy) -> tenacity.wait.wait_base:
    backoff = tenacity.wait_exponential_jitter(
        multiplier=policy.initial, max=policy.maximum, jitter=policy.initial
    )

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ElasticError) and exc.retry_after is not None:
            return min(exc.retry_after, policy.maximum)
        return backoff(state)

    return wait


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ElasticError) and exc.retryable


def _unreadable(exc: Exception) -> str:
    """What was wrong with a body: not JSON at all (a proxy page), or not the documented shape."""
    if isinstance(exc, msgspec.ValidationError):
        # "Expected `array`, got `str` - at `$.members`" -> "members: Expected `array`, …"
        what, _, where = str(exc).partition(" - at `$")
        where = where.rstrip("`").lstrip(".").replace("[", ".").replace("]", "")
        return (
            f"a body the bot cannot read ({where}: {what})"
            if where
            else f"a body the bot cannot read ({what})"
        )
    if isinstance(exc, msgspec.DecodeError):
        return "a body that is not JSON"
    if isinstance(exc, RecursionError):
        return "a body nested too deeply to read"
    errors = getattr(exc, "errors", None)
    if not callable(errors) or errors()[0].get("type") == "json_invalid":
        return "a body that is not JSON"
    return f"a body the bot cannot read ({_first_error(exc)})"


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg', '')}" if where else str(first.get("msg", ""))
    return str(exc)


def _past(moment: str | None, now: datetime) -> bool:
    """Whether an ISO 8601 time from Elastic is before ``now`` (unreadable: no)."""
    if not moment:
        return False
    try:
        when = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return False
    return when.tzinfo is not None and when <= now


class _Snapshot:
    """One read of the member list; a member's units are worked out only when asked for."""

    def __init__(self, started: float, data: MemberList, organization_id: str = "") -> None:
        self.started = started
        self._organization_id = organization_id
        # Every listing of a user ID: one listed twice is read as holding what either shows.
        self._raw: dict[str, list[OrganizationMembership]] = {}
        for listed in data.members:
            self._raw.setdefault(listed.user_id, []).append(listed)
        self._emails: dict[str, str] | None = None  # built on the first look-up by email
        self._built: dict[str, Member] = {}

    def by_id(self, user_id: str) -> Member | None:
        member = self._built.get(user_id)
        if member is None and (listings := self._raw.get(user_id)) is not None:
            member = self._read(user_id, listings)
            self._built[user_id] = member
        return member

    def _read(self, user_id: str, listings: list[OrganizationMembership]) -> Member:
        """Read leniently: a malformed entry is logged and read as holding more, so it never
        blocks this member's grants and revocations. A listing that cannot be read without
        dropping something (:func:`unreadable`) makes this member, alone, unreadable:
        nothing may take it for "holds less". Left out or null, the assignments are not
        known: no units, and never "holds nothing" (``listed`` False)."""
        units: set[Unit] = set()
        nothing, listed, problems = True, True, []
        for raw in listings:
            try:
                assignments = msgspec.json.decode(raw.role_assignments)
            except (msgspec.DecodeError, RecursionError) as exc:
                raise _unreadable_member(user_id, f"not JSON the bot can read: {exc}") from None
            if (why := unreadable(assignments)) is not None:
                raise _unreadable_member(user_id, why)
            read, found = read_leniently(assignments, self._organization_id)
            units |= read
            problems += found
            listed = listed and assignments is not None
            nothing = nothing and assignments is not None and holds_nothing(assignments)
        if problems:
            log.warning(
                "Elastic Cloud listed member %s with malformed role assignments (%s); "
                "read as holding the most they could mean",
                user_id,
                "; ".join(problems[:5]),
            )
        if len(listings) > 1:
            log.warning(
                "Elastic Cloud listed member %s %d times; read as holding what any listing shows",
                user_id,
                len(listings),
            )
        first = listings[0]
        return Member(user_id, first.email or "", frozenset(units), nothing, listed)

    def by_email(self, email: str) -> Member | None:
        if self._emails is None:  # two threads may both build it: the same dict either way
            self._emails = {
                m.email.lower(): m.user_id for ms in self._raw.values() for m in ms if m.email
            }
        user_id = self._emails.get(email.strip().lower())
        return self.by_id(user_id) if user_id else None

    def all(self, skip_unreadable: bool = False) -> list[Member]:
        """Every member; one that cannot be read raises, or with ``skip_unreadable`` is left
        out (logged), for a caller that only looks for someone else."""
        members: list[Member] = []
        for user_id in self._raw:
            try:
                member = self.by_id(user_id)
            except ElasticError as exc:
                if not skip_unreadable:
                    raise
                log.warning("%s; left out of this look-up", exc)
                continue
            if member is not None:
                members.append(member)
        return members

    def ids(self) -> set[str]:
        """Who is a member, without reading anyone's role assignments."""
        return set(self._raw)


def _unreadable_member(user_id: str, why: str) -> ElasticError:
    return ElasticError(
        f"Elastic Cloud listed member {user_id} with role assignments the bot cannot read "
        f"({why}); nothing is decided on them",
        status=502,
    )


class ElasticClient:
    """Speaks the Elastic Cloud API; knows nothing of Slack or of requests."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        organization_id: str,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.organization_id = organization_id
        self.retry = retry or RetryPolicy()
        self._members: _Snapshot | None = None
        self._fetching: float | None = None
        #: When the last member-list read started (monotonic), for READ_GAP.
        self._last_fetch = 0.0
        self._members_cond = threading.Condition()
        self._last_write = 0.0
        self._last_write_to: dict[str, float] = {}
        #: Why Elastic Cloud last refused the API key, until any call succeeds again.
        self.credentials_rejected: str | None = None
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={
                "Authorization": f"ApiKey {api_key}",
                "Accept": "application/json",
                "User-Agent": "elastic-access-bot",
            },
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    # -- plumbing ------------------------------------------------------------------------
    def _call(
        self, method: str, path: str, *, json: Any = None, params: Any = None, model: Any = None
    ) -> Any:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(_retryable),
            wait=_wait(self.retry),
            stop=tenacity.stop_after_attempt(self.retry.attempts)
            | tenacity.stop_after_delay(self.retry.total),
            reraise=True,
            before_sleep=lambda s: log.warning(
                "elastic %s %s failed (%s); retry %d",
                method,
                path,
                s.outcome.exception(),
                s.attempt_number,
            ),
        )
        return retrying(self._once, method, path, json=json, params=params, model=model)

    def _once(
        self, method: str, path: str, *, json: Any = None, params: Any = None, model: Any = None
    ) -> Any:
        try:
            response = self._http.request(method, path, json=json, params=params)
        except httpx.TimeoutException as exc:
            raise ElasticError(
                f"Elastic Cloud did not answer in time ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise ElasticError(f"Could not reach Elastic Cloud ({type(exc).__name__})") from exc
        if response.status_code >= 400:
            error = ElasticError.from_response(response)
            if error.credentials_rejected:
                self.credentials_rejected = str(error)
            raise error
        self.credentials_rejected = None
        if not response.content:
            if isinstance(model, msgspec.json.Decoder):  # a list must say who is in it
                raise ElasticError(
                    f"Elastic Cloud answered HTTP {response.status_code} with an empty body",
                    status=502,
                )
            return model.model_validate({}) if model is not None else {}
        try:
            if isinstance(model, msgspec.json.Decoder):
                return model.decode(response.content)
            if model is not None:  # parse and validate in one pass
                return model.model_validate_json(response.content)
            return response.json()
        except (ValueError, msgspec.DecodeError, RecursionError) as exc:
            raise ElasticError(
                f"Elastic Cloud answered HTTP {response.status_code} with {_unreadable(exc)}",
                status=502,
            ) from exc

    # -- organization and members ----------------------------------------------------------
    def organization(self) -> Organization:
        return Organization.model_validate(
            self._call("GET", f"/api/v1/organizations/{self.organization_id}")
        )

    def role_mappings(self) -> list[RoleMapping] | None:
        """The organization's SSO role mappings; None when the API does not offer them (404)."""
        try:
            data = self._call("GET", f"/api/v1/organizations/{self.organization_id}/role_mappings")
        except ElasticError as exc:
            if exc.status == 404:
                return None
            raise
        return RoleMappings.model_validate(data).mappings

    def api_key_expiry(self, api_key_id: str) -> datetime | None:
        """When the API key ``api_key_id`` expires (``GET /users/auth/keys/{id}``); None
        if it never does."""
        data = self._call("GET", f"/api/v1/users/auth/keys/{api_key_id}")
        raw = data.get("expiration_date") if isinstance(data, dict) else None
        if not raw:
            return None
        when = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        return when if when.tzinfo else when.replace(tzinfo=UTC)

    def members(self, max_age: float = 0.0, skip_unreadable: bool = False) -> list[Member]:
        return self._snapshot(max_age).all(skip_unreadable)

    def member_ids(self, max_age: float = 0.0) -> set[str]:
        """The organization's user IDs (nobody's assignments read)."""
        return self._snapshot(max_age).ids()

    def find_member(
        self, email: str, max_age: float = 0.0, consistent: bool = True
    ) -> Member | None:
        """``consistent=False``: a cached read may predate our own last change (fine for
        knowing who someone is, never for deciding what to add or remove)."""
        return self._snapshot(max_age, None if consistent else False).by_email(email)

    def member(self, user_id: str, max_age: float = 0.0) -> Member | None:
        """The member as Elastic reports them, read no earlier than ``max_age`` seconds ago.

        ``max_age=0`` means a read that started after this call (read-your-writes): the
        check after a grant or a revocation. Concurrent callers share one read.
        """
        return self._snapshot(max_age, user_id).by_id(user_id)

    def _snapshot(self, max_age: float, consistent_for: str | None | bool = None) -> _Snapshot:
        """One ``GET …/members`` serves every caller whose freshness it satisfies.

        The API has no per-member read, so each check reads the whole organization; when
        many revocations run at once, they share reads instead of each parsing its own.
        """
        with self._members_cond:
            # Never older than our own last change: a cached read must show what we wrote.
            # ``consistent_for``: a user ID (the read must show our last change to that member),
            # None (our last change to anyone), or False (any read of the right age).
            wanted = time.monotonic() - max_age
            if consistent_for is None:
                wanted = max(wanted, self._last_write)
            elif consistent_for:
                wanted = max(wanted, self._last_write_to.get(consistent_for, 0.0))
            while True:
                snap = self._members
                if snap is not None and snap.started >= wanted:
                    return snap
                if self._fetching is None:
                    break
                self._members_cond.wait(timeout=self.retry.total + 30)
            # This caller reads for everyone. Reads start at most one per READ_GAP: in a
            # burst (a thousand grants ending in the same minute) each read then serves
            # every check that asked meanwhile, instead of one read per check or two, each
            # parsing the whole organization. A check waits READ_GAP at most.
            self._fetching = time.monotonic()
            not_before = self._last_fetch + READ_GAP
            while (left := not_before - time.monotonic()) > 0:
                self._members_cond.wait(timeout=left)
            started = time.monotonic()
            self._fetching = self._last_fetch = started
        try:
            data = self._call(
                "GET",
                f"/api/v1/organizations/{self.organization_id}/members",
                model=MEMBER_LIST,
            )
            snap = _Snapshot(started, data, self.organization_id)
            with self._members_cond:
                if self._members is None or snap.started > self._members.started:
                    self._members = snap
            return snap
        finally:
            with self._members_cond:
                self._fetching = None
                self._members_cond.notify_all()

    # -- role assignments ------------------------------------------------------------------
    def add_units(self, user_id: str, units: Iterable[Unit]) -> None:
        self._change("POST", user_id, units)

    def remove_units(self, user_id: str, units: Iterable[Unit]) -> None:
        self._change("DELETE", user_id, units)

    def _change(self, method: str, user_id: str, units: Iterable[Unit]) -> None:
        body = to_body(units, self.organization_id)
        if not body:
            return
        self._wrote(user_id)
        self._call(method, f"/api/v1/users/{user_id}/role_assignments", json=body)

    def send_assignments(self, method: str, user_id: str, body: dict[str, Any]) -> None:
        """POST or DELETE a ``RoleAssignments`` body as given (``python -m bot probe`` only:
        it sends ``application_roles``, which units do not carry)."""
        self._wrote(user_id)
        self._call(method, f"/api/v1/users/{user_id}/role_assignments", json=body)

    def _wrote(self, user_id: str) -> None:
        """About to change ``user_id``: later reads of them must start after this moment."""
        with self._members_cond:
            self._last_write = self._last_write_to[user_id] = time.monotonic()

    def remove_member(self, user_id: str) -> bool:
        """Remove ``user_id`` from the organization; False if they were not a member."""
        self._wrote(user_id)
        try:
            self._call("DELETE", f"/api/v1/organizations/{self.organization_id}/members/{user_id}")
        except ElasticError as exc:
            if exc.status == 404 and exc.code == "organization.membership_not_found":
                return False
            raise
        return True

    # -- invitations (requesters who are not members yet) -----------------------------------
    def invite(self, email: str, units: Iterable[Unit], expires_in: str) -> str:
        """Invite ``email`` with the role assignment; returns the invitation token.

        Sent once, never retried here: after a lost answer a second POST would meet the
        first invitation. The caller lists the invitations and adopts its own instead.
        """
        body = {
            "emails": [email],
            "expires_in": expires_in,
            "role_assignments": to_body(units, self.organization_id),
        }
        data = OrganizationInvitations.model_validate(
            self._once(
                "POST", f"/api/v1/organizations/{self.organization_id}/invitations", json=body
            )
        )
        return data.invitations[0].token

    def pending_invitations(self) -> dict[str, str]:
        """Pending invitations as token → email: neither accepted nor expired (an expiry
        that cannot be read counts as pending, so the bot still withdraws it)."""
        data = OrganizationInvitations.model_validate(
            self._call("GET", f"/api/v1/organizations/{self.organization_id}/invitations")
        )
        now = datetime.now(UTC)
        return {
            i.token: i.email
            for i in data.invitations
            if not i.accepted_at and not i.expired and not _past(i.expires_at, now)
        }

    def invitation_states(self) -> dict[str, str]:
        """Every listed invitation as token → ``pending``, ``expired`` or ``accepted``.

        What became of an invitation the bot sent: one listed as expired was never
        accepted; one no longer listed (or accepted) made somebody a member, whatever their
        email (the accept call takes only the token and the caller's own credentials), or
        was deleted by hand."""
        data = OrganizationInvitations.model_validate(
            self._call("GET", f"/api/v1/organizations/{self.organization_id}/invitations")
        )
        now = datetime.now(UTC)
        return {
            i.token: "accepted"
            if i.accepted_at
            else "expired"
            if i.expired or _past(i.expires_at, now)
            else "pending"
            for i in data.invitations
        }

    def delete_invitation(self, token: str) -> None:
        self._call("DELETE", f"/api/v1/organizations/{self.organization_id}/invitations/{token}")

    def deployment_state(self, deployment_id: str) -> str:
        """``visible``, ``hidden`` (stopped) or ``missing`` (deleted)."""
        try:
            data = self._call("GET", f"/api/v1/deployments/{deployment_id}")
        except ElasticError as exc:
            if exc.status == 404:
                return "missing"
            raise
        return "hidden" if (data.get("metadata") or {}).get("hidden") else "visible"

    # -- resources -------------------------------------------------------------------------
    def deployments(self, page_size: int = 100) -> Iterator[tuple[str, str, dict[str, str]]]:
        """Every deployment as (id, name, tags), following the search cursor to the end."""
        body: dict[str, Any] = {"size": page_size, "sort": ["id"]}
        seen: set[str] = set()
        while True:
            page = DeploymentsSearchResponse.model_validate(
                self._call("POST", "/api/v1/deployments/_search", json=body)
            )
            for hit in page.deployments:
                if hit.id in seen:
                    continue
                seen.add(hit.id)
                tags = {t.key: t.value for t in (hit.metadata.tags if hit.metadata else None) or []}
                yield hit.id, hit.name, tags
            if not page.cursor or not page.deployments:
                return
            body = {"cursor": page.cursor}

    def projects(self, project_type: str) -> list[tuple[str, str, dict[str, str]]]:
        data = ProjectList.model_validate(
            self._call("GET", f"/api/v1/serverless/projects/{project_type}")
        )
        return [
            (p.id, p.name, dict((p.metadata.tags if p.metadata else None) or {}))
            for p in data.items
        ]

    def project_roles(self, project_type: str, project_id: str) -> list[str]:
        """The custom roles defined in a project (``GET …/{type}/{id}/roles``), by name.

        The answer is keyed by project ID; an answer that does not name this project is
        not taken for "no roles" but refused as unreadable."""
        data = self._call("GET", f"/api/v1/serverless/projects/{project_type}/{project_id}/roles")
        try:
            listed = ProjectRolesByProjectID.model_validate(data).root
        except ValueError as exc:
            raise ElasticError(
                f"Elastic Cloud answered the roles of project {project_id} with {_unreadable(exc)}",
                status=502,
            ) from exc
        if project_id not in listed:
            raise ElasticError(
                f"Elastic Cloud's answer for the roles of project {project_id} does not name it",
                status=502,
            )
        return [r.name for r in listed[project_id].roles]
