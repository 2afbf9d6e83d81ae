"""Who approves a request: the resource's owners (by tag) or else the integration owners.

Resolution runs at request time and again at click time, against the directory as it is
now, so a person who left a Slack group can no longer approve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.access.ports import Directory
from bot.access.resources import Resource


class OwnerAttribute(StrEnum):
    EMAIL = "email"
    SLACK_USER = "slack_user"
    SLACK_USERGROUP = "slack_usergroup"


@dataclass(frozen=True)
class ResourceOwnerSetting:
    tag_key: str
    attribute: OwnerAttribute


@dataclass(frozen=True)
class Routing:
    approvers: tuple[str, ...]
    source: str  # "resource_owner" | "integration_owner"
    unresolved: tuple[str, ...] = field(default_factory=tuple)


def tag_references(value: str, attribute: OwnerAttribute) -> list[str]:
    """The directory references one tag value names (several, comma-separated)."""
    refs = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        if attribute is OwnerAttribute.SLACK_USERGROUP and not part.startswith("@"):
            part = "@" + part
        refs.append(part)
    return refs


def _resolve_all(
    directory: Directory, refs: list[str], exclude: str, fresh: bool
) -> tuple[list[str], list[str]]:
    ids: list[str] = []
    unresolved: list[str] = []
    for ref in refs:
        people = directory.resolve(ref, fresh=fresh)
        if not people:
            unresolved.append(ref)
        for person in people:
            if person.active and person.id != exclude and person.id not in ids:
                ids.append(person.id)
    return ids, unresolved


def route(
    resource: Resource,
    requester_id: str,
    directory: Directory,
    integration_owners: tuple[str, ...],
    resource_owner: ResourceOwnerSetting | None,
    fresh: bool = False,
) -> Routing:
    unresolved: list[str] = []
    if resource_owner is not None:
        value = resource.tags.get(resource_owner.tag_key)
        if value:
            ids, unresolved = _resolve_all(
                directory, tag_references(value, resource_owner.attribute), requester_id, fresh
            )
            if ids:
                return Routing(tuple(ids), "resource_owner", tuple(unresolved))
    ids, missing = _resolve_all(directory, list(integration_owners), requester_id, fresh)
    return Routing(tuple(ids), "integration_owner", tuple(unresolved + missing))
