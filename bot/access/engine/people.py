"""Who is who: the integration owners, the approvers of a request (resolved again at each
use, and only ever fewer than it was filed with), the owners of resources, who may see what.

Authority comes from data others can edit (owner tags, Slack user groups), so every answer
here is read as Slack and the catalogue say now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.access import alerts
from bot.access.engine.core import (
    IDENTITY_READ_AGE,
    Part,
    not_yours,
)
from bot.access.errors import AccessError, NotFound
from bot.access.identity import same_person
from bot.access.model import AccessRequest
from bot.access.ports import Freshness, Person, UpstreamError
from bot.access.resources import Resource
from bot.access.routing import OwnerAttribute, Routing, route, tag_references
from bot.access.rules import MayUse, Rule, requester_kind
from bot.access.visibility import Viewer

log = logging.getLogger(__name__)

GROUPS_DOWN = (
    "Slack did not answer when I read the user groups that policy rules name, so I cannot "
    "tell which rules you may use. Nothing was done; try again in a minute."
)


def _nobody(requesters: tuple[str, ...]) -> bool:
    return False


class People(Part):
    def integration_owners(
        self,
        exclude: str | None = None,
        fresh: Freshness = False,
        not_requester: Callable[[Person], bool] | None = None,
    ) -> list[str]:
        """The integration owners as Slack user IDs, resolved now (groups change): full
        members only, never ``exclude`` nor anyone ``not_requester`` says is the requester."""
        ids: list[str] = []
        for reference in self.policy.integration_owners:
            try:
                people = self.directory.resolve(reference, fresh=fresh)
            except UpstreamError as exc:  # Slack did not answer: this one counts as nobody now
                log.warning("integration owner %s not resolved now: %s", reference, exc)
                continue
            for person in people:
                if (
                    person.active
                    and person.id != exclude
                    and not (not_requester and not_requester(person))
                    and person.id not in ids
                ):
                    ids.append(person.id)
        return ids

    def is_requester(
        self,
        requester_id: str,
        requester_email: str | None,
        elastic_user_id: str | None = None,
        strict: bool = False,
    ) -> Callable[[Person], bool]:
        """A test for "this person is the requester", per human rather than per account
        (:func:`bot.access.identity.same_person`). ``strict``: when Elastic cannot say who
        someone is, refuse (click time) rather than assume (filing, where a click re-checks)."""

        def elastic_id_of(email: str) -> str | None:
            try:
                member = self.elastic.find_member(
                    email, max_age=IDENTITY_READ_AGE, consistent=False
                )
            except UpstreamError:
                if strict:
                    raise
                return None
            return member.user_id if member else None

        return lambda person: same_person(
            person, requester_id, requester_email, elastic_user_id, elastic_id_of
        )

    def is_requester_of(self, request: AccessRequest, strict: bool = False):
        return self.is_requester(
            request.requester_id, request.requester_email, request.elastic_user_id, strict
        )

    def routing(
        self,
        resource: Resource,
        is_requester: Callable[[Person], bool],
        fresh: Freshness = False,
    ) -> Routing:
        """Who may approve a request for ``resource`` now (owners by tag, else integration)."""
        current = self.catalogue.find(resource.key) or resource  # tags as they are now
        return route(
            current,
            is_requester,
            self.directory,
            self.policy.integration_owners,
            self.policy.resource_owner,
            fresh=fresh,
        )

    def may_use(self, person: Person) -> MayUse:
        """Tests whether ``person`` is among a ``[[policy]]`` rule's requesters: their Slack
        user ID, their email, a user group they are in (as Slack says now, each group read
        once per test), or their email's domain. A group Slack did not list raises
        :class:`UpstreamError`: never "not among them", which would hide rules they may use."""
        email = (person.email or "").strip().lower()
        domain = email.rsplit("@", 1)[-1] if "@" in email else ""
        groups: dict[str, bool] = {}

        def among(requesters: tuple[str, ...]) -> bool:
            for ref in requesters:
                kind = requester_kind(ref)
                if kind == "user" and ref == person.id:
                    return True
                if kind == "email" and email and ref.lower() == email:
                    return True
                if kind == "domain" and domain and ref.partition(":")[2].lower() == domain:
                    return True
                if kind == "group":
                    key = ref.lower()
                    if key not in groups:
                        groups[key] = any(p.id == person.id for p in self.directory.resolve(ref))
                    if groups[key]:
                        return True
            return False

        return among

    def rule_of(self, request: AccessRequest) -> Rule | None:
        """The rule that covers ``request`` for its requester now (an extension's limits and
        quorum). Raises :class:`AccessError` when Slack cannot say which rules they may use."""
        try:
            person = self.directory.person(request.requester_id)
            may_use = self.may_use(person) if person is not None else _nobody
            return self.policy.rules.decide(request.resource, request.role_id, may_use)
        except UpstreamError as exc:
            raise AccessError(GROUPS_DOWN) from exc

    def approvers_for(
        self, request: AccessRequest, fresh: Freshness = False, strict: bool = False
    ) -> list[str]:
        """Who may decide on ``request`` now: the approvers it was filed with (plus the
        integration owners it was escalated to) who are still approvers as Slack and the
        tags are now. An edit of a tag or a user group can take approvers away, never add
        them: authority comes from data others can edit, so it may only shrink."""
        not_requester = self.is_requester_of(request, strict)
        ids = list(self.routing(request.resource, not_requester, fresh).approvers)
        if request.escalated_at is not None:
            ids += [
                i
                for i in self.integration_owners(fresh=fresh, not_requester=not_requester)
                if i not in ids
            ]
        return [i for i in ids if i in request.approvers]

    def report_unresolved(
        self, references: tuple[str, ...], context: str, known: dict[str, str] | None = None
    ) -> None:
        """Tell the integration owners, once per reference, about an owner that names nobody."""
        now = self.clock.now()
        reasons = {**self.directory.unresolved, **(known or {})}
        fresh = [
            r for r in references if self.store.first_report(r, reasons.get(r, "unresolved"), now)
        ]
        if fresh:
            self.notifier.notify_owners(
                self.integration_owners(),
                alerts.UnresolvedOwners(context, tuple((r, reasons.get(r)) for r in fresh)),
            )

    def owned_resource_keys(self, user_id: str) -> set[str]:
        """Keys of the catalogue resources whose owner tag names ``user_id`` (now)."""
        setting = self.policy.resource_owner
        if setting is None:
            return set()
        try:
            person = self.directory.person(user_id)
        except UpstreamError:
            return set()  # who they are is unknown now: they own nothing until Slack says
        email = (person.email or "").lower() if person else ""
        keys: set[str] = set()
        if person is None or not person.active:
            return set()  # guests and other non-members own nothing here
        for resource in self.catalogue.all():
            value = resource.tags.get(setting.tag_key)
            if not value:
                continue
            for ref in tag_references(value, setting.attribute):
                if setting.attribute is OwnerAttribute.EMAIL:
                    hit = ref.lower() == email
                elif setting.attribute is OwnerAttribute.SLACK_USER:
                    hit = ref == user_id
                else:
                    try:
                        hit = any(p.id == user_id for p in self.directory.resolve(ref))
                    except UpstreamError:
                        hit = False
                if hit:
                    keys.add(resource.key)
                    break
        return keys

    def viewer(self, user_id: str) -> Viewer:
        owners = set(self.integration_owners())
        auditors: set[str] = set()
        for reference in self.policy.auditors:
            try:
                auditors.update(p.id for p in self.directory.resolve(reference))
            except UpstreamError as exc:
                log.warning("auditor %s not resolved now: %s", reference, exc)
        return Viewer(user_id, is_owner=user_id in owners, is_auditor=user_id in auditors)

    def get(self, request_id: int) -> AccessRequest:
        request = self.store.get(request_id)
        if request is None:
            raise NotFound(not_yours(request_id))
        return request

    def may_see(self, request: AccessRequest, user_id: str) -> bool:
        """Whether ``user_id`` may know that ``request`` exists: its requester, anyone it was
        sent to, the integration owners, the auditors, the owners of its resource."""
        if user_id == request.requester_id or user_id in request.approvers:
            return True
        viewer = self.viewer(user_id)
        if viewer.is_owner or viewer.is_auditor:
            return True
        return request.resource.key in self.owned_resource_keys(user_id)

    def visible(self, request_id: int, user_id: str) -> AccessRequest:
        """``request_id`` if ``user_id`` may see it; otherwise the same answer as for a request
        that does not exist, so that nobody learns who asked for what."""
        request = self.store.get(request_id)
        if request is None or not self.may_see(request, user_id):
            raise NotFound(not_yours(request_id))
        return request
