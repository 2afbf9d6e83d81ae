"""Who approves a request: the resource's owners (by tag) or else the integration owners.

Resolution runs at request time and again at click time, against the directory as it is
now, so a person who left a Slack group can no longer approve.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from bot.access.ports import Directory, Person
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
    #: Why each unresolved reference named nobody, where routing itself knows.
    reasons: dict[str, str] = field(default_factory=dict, compare=False)


#: What a tag value must look like under each ``attribute``. A value of another form names
#: nobody: an ``@group`` under ``attribute = "email"`` must not reach a whole user group.
_FORMS: dict[OwnerAttribute, tuple[re.Pattern[str], str]] = {
    OwnerAttribute.EMAIL: (re.compile(r"^[^@\s<>]+@[^@\s<>]+$"), "an email address"),
    OwnerAttribute.SLACK_USER: (re.compile(r"^[UW][A-Z0-9]{2,}$"), "a Slack user ID (U…)"),
    OwnerAttribute.SLACK_USERGROUP: (re.compile(r"^@[\w.\-]+$"), "a user group handle"),
}


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


def misfit(reference: str, attribute: OwnerAttribute) -> str | None:
    """Why ``reference`` is not of the form ``attribute`` names, or None when it is."""
    pattern, form = _FORMS[attribute]
    if pattern.match(reference):
        return None
    return f"not {form}, as resource_owner.attribute = {attribute.value} requires"


def _resolve_all(
    directory: Directory, refs: list[str], is_requester: Callable[[Person], bool], fresh: bool
) -> tuple[list[str], list[str]]:
    ids: list[str] = []
    unresolved: list[str] = []
    for ref in refs:
        people = directory.resolve(ref, fresh=fresh)
        if not people:
            unresolved.append(ref)
        for person in people:
            if person.active and not is_requester(person) and person.id not in ids:
                ids.append(person.id)
    return ids, unresolved


def route(
    resource: Resource,
    is_requester: Callable[[Person], bool],
    directory: Directory,
    integration_owners: tuple[str, ...],
    resource_owner: ResourceOwnerSetting | None,
    fresh: bool = False,
) -> Routing:
    """The resource's owners named by its tag, strictly by the configured attribute, else
    the integration owners; never anyone ``is_requester`` says is the requester."""
    unresolved: list[str] = []
    reasons: dict[str, str] = {}
    if resource_owner is not None:
        value = resource.tags.get(resource_owner.tag_key)
        if value:
            refs = []
            for ref in tag_references(value, resource_owner.attribute):
                why = misfit(ref, resource_owner.attribute)
                if why:
                    unresolved.append(ref)
                    reasons[ref] = why
                else:
                    refs.append(ref)
            ids, missing = _resolve_all(directory, refs, is_requester, fresh)
            unresolved += missing
            if ids:
                return Routing(tuple(ids), "resource_owner", tuple(unresolved), reasons)
    ids, missing = _resolve_all(directory, list(integration_owners), is_requester, fresh)
    return Routing(tuple(ids), "integration_owner", tuple(unresolved + missing), reasons)
