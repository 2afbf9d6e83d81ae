"""Access policy rules: which requests are allowed, for how long, with how many approvals.

Rules are tried in order and the first that matches a request's resource and role decides;
a request no rule matches is refused with the reason. A rule with ``requesters`` applies only
to them: for anyone else the next matching rule decides. With no rules configured every
resource and role is allowed, with one approval, up to the global maximum duration.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from bot.access.resources import Resource, ResourceKind, is_cloud_role, stack_role_name_ok
from bot.access.text import escape


@dataclass(frozen=True)
class Rule:
    resources: tuple[str, ...] = ("*",)
    roles: tuple[str, ...] = ("*",)
    max_duration: timedelta | None = None
    approvals: int = 1
    auto_approve: bool = False
    require_justification: bool = True
    justification_pattern: str = ""
    #: Extensions of a running grant apply at once (still audited) instead of going to approval.
    extend_without_approval: bool = False
    #: The requester may take this access at once with ``break-glass`` and a reason; the
    #: integration owners are alerted and anyone who could approve it can revoke it.
    break_glass: bool = False
    name: str = ""
    #: Who may use this rule: Slack user IDs, emails, ``@usergroup`` handles,
    #: ``domain:example.com``. Empty: everyone who may request at all.
    requesters: tuple[str, ...] = ()
    #: The stack roles this rule covers (issue #14 §1), names or globs. On a project: those
    #: of its custom roles that match (``"*"``: all of them). On a deployment: the names
    #: listed (no glob: Elastic lists no deployment's roles), granted as
    #: ``deployment-viewer`` with that application role. ``roles`` never covers a stack
    #: role, nor ``stack_roles`` a Cloud role: a new custom role in a project becomes
    #: requestable only where a rule says so.
    stack_roles: tuple[str, ...] = ()

    def matches(self, resource: Resource, role_id: str) -> bool:
        if not any(resource_matches(p, resource) for p in self.resources):
            return False
        if role_id in resource.roles():
            return any(fnmatch.fnmatchcase(role_id, r) for r in self.roles)
        if not resource.takes_stack_roles:
            return False
        if resource.kind is ResourceKind.DEPLOYMENT:
            # Elastic lists no stack roles for a deployment: a rule gives only the names it
            # lists outright. A glob meant for projects' custom roles must not hand out a
            # name another rule keeps for its own requesters.
            return role_id in self.named_stack_roles(resource)
        return any(fnmatch.fnmatchcase(role_id, r) for r in self.stack_roles)

    def named_stack_roles(self, resource: Resource) -> tuple[str, ...]:
        """The stack roles this rule names outright for ``resource`` (not globs): what it
        offers on a deployment, where Elastic lists none."""
        if resource.kind is not ResourceKind.DEPLOYMENT or not any(
            resource_matches(p, resource) for p in self.resources
        ):
            return ()
        return tuple(r for r in self.stack_roles if not _GLOB.search(r))

    def usable_by(self, may_use: MayUse | None) -> bool:
        """Whether the person ``may_use`` tests is among this rule's requesters (``None``:
        nobody in particular, so requesters are not considered)."""
        return not self.requesters or may_use is None or may_use(self.requesters)

    def describe(self) -> str:
        return self.name or f"resources={list(self.resources)} roles={list(self.roles)}"


#: With no rules, everything is allowed: every Cloud role, console-only variant and
#: project custom role (deployments have no stack roles without a rule naming them).
DEFAULT_RULE = Rule(name="default", stack_roles=("*",))

_GLOB = re.compile(r"[*?\[]")

#: Tests whether one person is among a rule's ``requesters``; may raise the directory's
#: :class:`bot.access.ports.UpstreamError` (a user group Slack did not list).
MayUse = Callable[[tuple[str, ...]], bool]

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_GROUP = re.compile(r"^@[\w.\-]+$")
_DOMAIN = re.compile(r"^domain:[a-z0-9.\-]+\.[a-z]{2,}$", re.IGNORECASE)


def requester_kind(reference: str) -> str | None:
    """``user``, ``email``, ``group`` or ``domain``; None when ``reference`` is none of them."""
    ref = reference.strip()
    if _USER_ID.match(ref):
        return "user"
    if _GROUP.match(ref):
        return "group"
    if _DOMAIN.match(ref):
        return "domain"
    if _EMAIL.match(ref):
        return "email"
    return None


def validate_requester(reference: str) -> str | None:
    """A configuration error for one ``requesters`` entry, or None if it is well-formed."""
    if requester_kind(reference) is None:
        return (
            f"'{reference}' is not a requester (use a Slack user ID, an email address, "
            "an @usergroup handle or domain:example.com)"
        )
    return None


def describe_requesters(requesters: tuple[str, ...]) -> str:
    """``@oncall, alice@example.com`` as shown to people (user IDs as mentions)."""
    return ", ".join(
        f"<@{r}>" if requester_kind(r) == "user" else f"`{escape(r)}`" for r in requesters
    )


def resource_matches(pattern: str, resource: Resource) -> bool:
    """``organization``, ``all-deployments``, ``deployment:<name|id|glob>``,
    ``deployment-tag:<key>=<value>``, ``project:<type>:<name|id|glob>``, or ``*``."""
    pattern = pattern.strip()
    if pattern == "*":
        return True
    kind, _, rest = pattern.partition(":")
    if kind == ResourceKind.ORGANIZATION:
        return resource.kind is ResourceKind.ORGANIZATION
    if kind == ResourceKind.ALL_DEPLOYMENTS:
        return resource.kind is ResourceKind.ALL_DEPLOYMENTS
    if kind == "deployment":
        return resource.kind is ResourceKind.DEPLOYMENT and (
            fnmatch.fnmatchcase(resource.name, rest) or fnmatch.fnmatchcase(resource.id, rest)
        )
    if kind == "deployment-tag":
        key, _, value = rest.partition("=")
        return resource.kind is ResourceKind.DEPLOYMENT and fnmatch.fnmatchcase(
            resource.tags.get(key, "\0"), value or "*"
        )
    if kind == "project":
        ptype, _, glob = rest.partition(":")
        return (
            resource.kind is ResourceKind.PROJECT
            and fnmatch.fnmatchcase(resource.project_type or "", ptype or "*")
            and (
                fnmatch.fnmatchcase(resource.name, glob or "*")
                or fnmatch.fnmatchcase(resource.id, glob or "*")
            )
        )
    return False


def validate_stack_role(entry: str) -> str | None:
    """A configuration error for one ``stack_roles`` entry, or None if it is well-formed:
    a name the bot would offer (:func:`stack_role_name_ok`), or a glob of such names."""
    if entry == "*" or stack_role_name_ok(_GLOB.sub("x", entry).replace("]", "")):
        return None
    if is_cloud_role(entry):
        return f"'{entry}' is a Cloud role: list it in roles, not stack_roles"
    return (
        f"'{entry}' is not a stack role name (letters, digits and _ . @ -, at most 64 "
        "characters; * and ? as globs)"
    )


def validate_pattern(pattern: str) -> str | None:
    """A configuration error for a resource pattern, or None if it is well-formed."""
    kind = pattern.strip().partition(":")[0]
    if pattern.strip() == "*" or kind in (
        ResourceKind.ORGANIZATION,
        ResourceKind.ALL_DEPLOYMENTS,
        ResourceKind.DEPLOYMENT,
        ResourceKind.PROJECT,
    ):
        return None
    if kind == "deployment-tag":
        return None if "=" in pattern else f"'{pattern}' needs key=value after deployment-tag:"
    return (
        f"'{pattern}' is not a resource pattern (use organization, all-deployments, "
        "deployment:<name|id|glob>, deployment-tag:<key>=<value> or project:<type>:<glob>)"
    )


@dataclass(frozen=True)
class Rules:
    rules: tuple[Rule, ...] = field(default_factory=tuple)

    def decide(
        self, resource: Resource, role_id: str, may_use: MayUse | None = None
    ) -> Rule | None:
        """The first rule that covers ``role_id`` on ``resource`` for the person ``may_use``
        tests (a rule with ``requesters`` applies only to them); None: no rule allows it."""
        if not self.rules:
            return DEFAULT_RULE
        return next(
            (r for r in self.rules if r.matches(resource, role_id) and r.usable_by(may_use)),
            None,
        )

    def closed_to(self, resource: Resource, role_id: str) -> Rule | None:
        """The first rule that would cover ``role_id`` on ``resource`` for its requesters
        alone (to say who may use it when someone else asks)."""
        return next((r for r in self.rules if r.requesters and r.matches(resource, role_id)), None)

    def stack_candidates(self, resource: Resource) -> tuple[str, ...]:
        """The stack roles there are on ``resource`` before policy: a project's custom roles
        (as the catalogue last read them), or the names rules give a deployment."""
        if resource.kind is ResourceKind.PROJECT:
            return resource.stack_roles
        rules = self.rules or (DEFAULT_RULE,)
        return tuple(dict.fromkeys(n for r in rules for n in r.named_stack_roles(resource)))

    def break_glass_on(self, resource: Resource, may_use: MayUse | None) -> bool:
        """Whether this person may take some role on ``resource`` at once: the rule that
        covers it for them allows break-glass (the form shows the option only then)."""
        candidates = (*resource.roles(), *self.stack_candidates(resource))
        return any(
            (rule := self.decide(resource, role, may_use)) is not None and rule.break_glass
            for role in candidates
        )

    def requestable(self, resource: Resource, may_use: MayUse | None) -> list[str]:
        """The roles on ``resource`` some rule lets this person request, in the resource's
        order, then its stack roles."""
        candidates = (*resource.roles(), *self.stack_candidates(resource))
        return [r for r in candidates if self.decide(resource, r, may_use) is not None]


def justification_ok(rule: Rule, justification: str) -> str | None:
    """The reason a justification is refused under ``rule``, or None."""
    text = justification.strip()
    if rule.require_justification and not text:
        return "A justification is required."
    if rule.justification_pattern and not re.search(rule.justification_pattern, text):
        pattern = escape(rule.justification_pattern)  # a regex: its < > & are literal
        return f"The justification must match `{pattern}` (for example a ticket ID)."
    return None
