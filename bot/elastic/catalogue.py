"""What can be granted, discovered from Elastic Cloud and answered from a cache.

The modal's type-ahead must answer in well under Slack's 3 seconds for thousands of
deployments, so lookups never call Elastic: they read an in-memory index built from the
``catalogue`` table, which a scheduled refresh (and start-up) rewrites.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.access.resources import Resource, ResourceKind, stack_role_name_ok
from bot.access.vocabulary import ALL_DEPLOYMENTS_ALIASES, ORGANIZATION_ALIASES, PROJECT_TYPES
from bot.clock import Clock
from bot.elastic.client import ElasticClient
from bot.elastic.errors import ElasticError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Index:
    resources: tuple[Resource, ...]
    by_text: dict[str, Resource]
    #: (resource, lower-case name, lower-case ID, lower-case label and stack roles), built
    #: once per refresh so that type-ahead over thousands of resources is a plain scan of
    #: ready strings (typing ``marketing`` finds the project with ``marketing-reader``).
    searchable: tuple[tuple[Resource, str, str, str], ...]


def _index(resources: list[Resource]) -> _Index:
    by_text: dict[str, Resource] = {}
    for r in resources:
        by_text.setdefault(r.key.lower(), r)
        by_text.setdefault(r.id.lower(), r)
    for r in resources:  # names last: an ID always wins over a same-looking name
        by_text.setdefault(r.name.lower(), r)
    searchable = tuple(
        (r, r.name.lower(), r.id.lower(), " ".join((r.label, *r.stack_roles)).lower())
        for r in resources
    )
    return _Index(tuple(resources), by_text, searchable)


class ResourceCatalogue:
    def __init__(
        self, store, elastic: ElasticClient, clock: Clock, organization_name: str = ""
    ) -> None:
        self.store = store
        self.elastic = elastic
        self.clock = clock
        self.organization_name = organization_name
        self._lock = threading.Lock()
        self._index = _index(self._fixed())
        self.refreshed = False
        self._last_refresh = 0.0
        #: Called after a refresh with the (before, after) pairs of resources whose name or
        #: tags changed: authority comes from tags, so the core watches them.
        self.on_changed: Callable[[list[tuple[Resource, Resource]]], None] | None = None

    def _fixed(self) -> list[Resource]:
        org_id = self.elastic.organization_id
        return [
            Resource(ResourceKind.ORGANIZATION, org_id, self.organization_name or org_id),
            Resource(ResourceKind.ALL_DEPLOYMENTS, "all", "all deployments"),
        ]

    def load(self) -> int:
        """Fill the index from the database (fast; used at start before any refresh)."""
        cached = self.store.catalogue()
        if cached:
            self._swap(cached)
        return len(cached)

    def refresh(self) -> int:
        """Read every resource from Elastic Cloud, store it, and swap the index."""
        try:
            self.organization_name = self.elastic.organization().name
        except ElasticError as exc:
            log.warning("catalogue: could not read the organization: %s", exc)
        resources = self._fixed()
        for deployment_id, name, tags in self.elastic.deployments():
            resources.append(Resource(ResourceKind.DEPLOYMENT, deployment_id, name, tags=tags))
        known = {r.key: r.stack_roles for r in self._index.resources}
        for project_type in PROJECT_TYPES:
            try:
                for project_id, name, tags in self.elastic.projects(project_type):
                    project = Resource(ResourceKind.PROJECT, project_id, name, project_type, tags)
                    try:
                        roles = self.stack_roles(project)
                    except ElasticError as exc:  # keep what was read before, if anything
                        log.warning("catalogue: could not read %s's roles: %s", name, exc)
                        roles = known.get(project.key, ())
                    resources.append(replace(project, stack_roles=roles))
            except ElasticError as exc:
                log.warning("catalogue: could not list %s projects: %s", project_type, exc)
        self.store.replace_catalogue(resources, self.clock.now())
        before = {r.key: r for r in self._index.resources}
        self._swap(resources)
        changed = [
            (old, new)
            for new in resources
            if (old := before.get(new.key)) is not None
            and (old.name != new.name or old.tags != new.tags)
        ]
        if changed and self.on_changed is not None:
            try:
                self.on_changed(changed)
            except Exception:  # telling about a change must not fail the refresh
                log.exception("catalogue: reporting changed resources failed")
        self.refreshed = True
        self._last_refresh = time.monotonic()
        log.info("catalogue refreshed: %d resources", len(resources))
        return len(resources)

    def _swap(self, resources: list[Resource]) -> None:
        index = _index(resources)
        with self._lock:
            self._index = index

    # -- the core's Catalogue port ----------------------------------------------------------
    def find(self, text: str) -> Resource | None:
        needle = (text or "").strip().lower()
        if needle in ORGANIZATION_ALIASES:
            return self._index.resources[0]
        if needle in ALL_DEPLOYMENTS_ALIASES:
            return self._index.resources[1]
        return self._index.by_text.get(needle)

    def find_fresh(self, text: str, min_age: float = 60.0) -> Resource | None:
        """Like :meth:`find`, but a miss refreshes the cache first (at most once a minute):
        a deployment created a moment ago can be requested without waiting for the schedule."""
        found = self.find(text)
        if found is None and time.monotonic() - self._last_refresh >= min_age:
            try:
                self.refresh()
            except ElasticError as exc:
                log.warning("catalogue: on-demand refresh failed: %s", exc)
                return None
            found = self.find(text)
        return found

    def stack_roles(self, resource: Resource) -> tuple[str, ...]:
        """A project's custom roles as Elastic lists them now, those whose names the bot
        would not offer left out (:func:`bot.access.resources.stack_role_name_ok`); raises
        :class:`ElasticError` when Elastic does not answer. Nothing else has any."""
        if resource.kind is not ResourceKind.PROJECT or not resource.project_type:
            return ()
        listed = self.elastic.project_roles(resource.project_type, resource.id)
        refused = sorted({n for n in listed if not stack_role_name_ok(n)})
        if refused:
            log.info(
                "catalogue: %s has roles the bot does not offer (names): %s",
                resource.name,
                ", ".join(repr(n[:80]) for n in refused[:10]),
            )
        return tuple(dict.fromkeys(n for n in listed if stack_role_name_ok(n)))

    def search(self, text: str, limit: int = 100) -> list[Resource]:
        """Type-ahead: names or IDs starting with ``text`` first, then names containing it."""
        needle = (text or "").strip().lower()
        index = self._index
        if not needle:
            return list(index.resources[:limit])
        starts: list[Resource] = []
        contains: list[Resource] = []
        for resource, name, rid, label in index.searchable:
            if name.startswith(needle) or rid.startswith(needle):
                starts.append(resource)
                if len(starts) >= limit:
                    break
            elif len(contains) < limit and (needle in name or needle in label):
                contains.append(resource)
        return (starts + contains)[:limit]

    def all(self) -> tuple[Resource, ...]:
        return self._index.resources
