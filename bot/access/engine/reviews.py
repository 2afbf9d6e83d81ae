"""Access reviews (``access_review``): once per period, each resource owner and the
integration owners get a digest of their resources (what :mod:`bot.access.review` puts in
it), driven by the sweep.

Exactly once per period, across processes: the period is claimed in the database with one
conditional write (``Store.first_finding`` under the period's key) after the digests are
worked out and before any is sent. A process that finds the period claimed sends nothing.
Claimed and then stopped before sending, a period's digests are lost rather than sent twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot.access.engine.core import SYSTEM, Part
from bot.access.ports import Person
from bot.access.resources import Resource
from bot.access.review import Period, Review, build_review, digests, last_complete_period
from bot.access.routing import route
from bot.access.text import summary

log = logging.getLogger(__name__)

#: What the digest says when Elastic's member list could not be read (the reason follows).
STANDING_UNREAD = "standing access could not be read"


def _nobody_is_the_requester(person: Person) -> bool:
    return False


class Reviews(Part):
    def __init__(self, core) -> None:
        super().__init__(core)
        #: The period this process knows to be done (saves a read on every sweep).
        self._done: str | None = None

    def send_due(self) -> int:
        """Send the digests of the latest period that ended, unless some process has (or is
        about to). Returns how many people were sent one."""
        interval = self.policy.access_review
        if interval is None:
            return 0
        now = self.clock.now()
        period = last_complete_period(now, interval)
        if self._done == period.key:
            return 0
        if self.store.has_finding(period.key):
            self._done = period.key
            return 0
        review = self.review(period)
        resources = {r.key: r for r in self.catalogue.all()}
        resources.update((r.resource.key, r.resource) for r in review.resources)
        sent = digests(review, self.owners(resources.values()), every=list(resources))
        detail = {
            "since": period.start.isoformat(),
            "until": period.end.isoformat(),
            "recipients": sorted(sent),
            "resources": len(review.resources),
            "standing_access": "read" if review.standing_read else STANDING_UNREAD,
        }
        if not self.store.first_finding(period.key, "access_review", None, detail, now):
            self._done = period.key
            return 0  # another process claimed this period first: it sends
        self._done = period.key
        self.store.event(None, now, SYSTEM, "access_review_sent", detail)
        log.info("access review %s – %s: %d digest(s)", period.start, period.end, len(sent))
        for user_id, digest in sent.items():
            try:
                self.notifier.access_review(user_id, digest)
            except Exception:  # one person's DM failing must not keep the others from theirs
                log.exception("access review: the digest to %s failed", user_id)
        return len(sent)

    def review(self, period: Period, *, read_elastic: bool = True) -> Review:
        """The whole organization's review of ``period`` as it stands now."""
        now = self.clock.now()
        members, error = None, None
        if read_elastic:
            try:
                members = self.elastic.members()
            except Exception as exc:  # reported in the digest, never taken for "none"
                log.warning("access review: reading Elastic's member list failed: %s", exc)
                error = summary(str(exc) or type(exc).__name__, 200)
        return build_review(
            period,
            now=now,
            grants=self.store.review_grants(period.start, period.end),
            approvals=self.store.review_approvals(period.start, period.end),
            attention=self.store.needing_attention(now, self.policy.overdue_alert_after),
            overdue_after=self.policy.overdue_alert_after,
            members=members,
            owned=self.store.all_owned_units(),
            resources=self.catalogue.all(),
            organization_id=self.policy.organization_id,
            standing_error=error,
            standing_skipped=not read_elastic,
        )

    def owners(self, resources: Iterable[Resource]) -> dict[str, list[str]]:
        """Who owns each resource now, by key: the people its owner tag names (full members
        of the workspace only), else the integration owners, as the approvers of a request
        for it are found (nobody is left out as a requester here). A resource the catalogue
        does not know now (deleted, or a role on all projects) has no tag: the integration
        owners. Slack not answering raises: the period is not claimed, the next sweep tries
        again."""
        owners: dict[str, list[str]] = {}
        for resource in resources:
            current = self.catalogue.find(resource.key)
            if current is None or current.key != resource.key:
                current = Resource(resource.kind, resource.id, resource.name, resource.project_type)
            found = route(
                current,
                _nobody_is_the_requester,
                self.directory,
                self.policy.integration_owners,
                self.policy.resource_owner,
            )
            owners[resource.key] = list(found.approvers)
        return owners
