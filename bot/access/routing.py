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
from bot.access.resources import Resource, ResourceKind

#: Resources that carry no tags of their own.
_UNTAGGED = (ResourceKind.ORGANIZATION, ResourceKind.ALL_DEPLOYMENTS)


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
    #: Why each approver is one (by Slack user ID): a :func:`owner_reason` or
    #: :func:`integration_reason` dict, stored with the request and shown on its cards.
    why: dict[str, dict] = field(default_factory=dict, compare=False)


#: Why the integration owners approve instead of a resource's owners.
NO_OWNER_SETTING = "no_owner_setting"  # no [resource_owner] configured
NO_TAGS = "no_tags"  # the organization, all deployments: nothing to carry a tag
NO_TAG = "no_tag"  # the resource has no owner tag
NO_OWNER_LEFT = "no_owner_left"  # the tag names nobody who may approve this one


def owner_reason(resource: Resource, tag_key: str, reference: str) -> dict:
    """An approver asked because ``reference`` in the resource's owner tag names them."""
    return {"kind": "owner", "resource": resource.name, "tag": tag_key, "value": reference}


def integration_reason(resource: Resource, because: str) -> dict:
    """An integration owner asked, and why the resource's owners were not."""
    return {"kind": "integration_owner", "resource": resource.name, "because": because}


def escalation_reason(after_seconds: int) -> dict:
    """An integration owner the request was escalated to after ``after_seconds``."""
    return {"kind": "escalated", "after_seconds": after_seconds}


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
) -> tuple[list[str], list[str], dict[str, str]]:
    """The approvers ``refs`` name (in order), the references that named nobody, and which
    reference named each approver first."""
    ids: list[str] = []
    unresolved: list[str] = []
    named_by: dict[str, str] = {}
    for ref in refs:
        people = directory.resolve(ref, fresh=fresh)
        if not people:
            unresolved.append(ref)
        for person in people:
            if person.active and not is_requester(person) and person.id not in ids:
                ids.append(person.id)
                named_by[person.id] = ref
    return ids, unresolved, named_by


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
    because = NO_OWNER_SETTING
    if resource_owner is not None:
        value = resource.tags.get(resource_owner.tag_key)
        because = NO_TAGS if resource.kind in _UNTAGGED else NO_TAG
        if value:
            because = NO_OWNER_LEFT
            refs = []
            for ref in tag_references(value, resource_owner.attribute):
                why = misfit(ref, resource_owner.attribute)
                if why:
                    unresolved.append(ref)
                    reasons[ref] = why
                else:
                    refs.append(ref)
            ids, missing, named_by = _resolve_all(directory, refs, is_requester, fresh)
            unresolved += missing
            if ids:
                why = {i: owner_reason(resource, resource_owner.tag_key, named_by[i]) for i in ids}
                return Routing(tuple(ids), "resource_owner", tuple(unresolved), reasons, why)
    ids, missing, _ = _resolve_all(directory, list(integration_owners), is_requester, fresh)
    why = {i: integration_reason(resource, because) for i in ids}
    return Routing(tuple(ids), "integration_owner", tuple(unresolved + missing), reasons, why)


@dataclass(frozen=True)
class Explanation:
    """``who-approves``: what would happen to one person's request, as data (its words are
    in ``bot/slack/blocks/listing.py``)."""

    resource: Resource
    role: str
    #: The rule that applies to the caller: its name ("" when unnamed), its place in the
    #: policy (0: no rules configured, everything allowed), its ``requesters``.
    rule_name: str
    rule_index: int
    requesters: tuple[str, ...]
    #: (Slack user ID, why: an :func:`owner_reason` or :func:`integration_reason` dict).
    approvers: tuple[tuple[str, dict], ...]
    quorum: int
    longest_seconds: int
    auto_approve: bool
    break_glass: bool
    extend_without_approval: bool
    #: Seconds after which the integration owners are asked too (owners by tag only).
    escalate_after_seconds: int | None = None
