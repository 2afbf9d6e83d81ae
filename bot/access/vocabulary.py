"""The core's words, each defined once: who acts when no person clicked, how a request ended,
the kinds of serverless project, and the names people may type for the wide resources.

The values are what the database and the audit log store (``requests.ended_by``,
``requests.outcome``, ``events.actor``, ``catalogue.project_type``): change none of them
without a migration. Every member is a ``str``, so comparisons with stored text just work.
"""

from __future__ import annotations

from enum import StrEnum


class Actor(StrEnum):
    """Who "acts" on a request when no person did (``events.actor``, ``decided_by``, ``ended_by``)."""

    #: The expiry timer, the sweep, retries, reminders.
    SYSTEM = "system"
    #: A policy rule with ``auto_approve``.
    POLICY = "policy"
    #: Nobody approved a break-glass request: the requester took it, on the record.
    BREAK_GLASS = "break-glass"
    #: The grant of a requester who may no longer have access (deactivated, now a guest…).
    OFFBOARDING = "offboarding"


class Outcome(StrEnum):
    """What happened to the access (``requests.outcome``); see docs/schema.md."""

    #: An invitation grant is active (the invitation carries the role).
    INVITED = "invited"
    #: The role was removed at the end.
    REMOVED = "removed"
    #: Standing access or another live grant still gives the role, so it stayed.
    KEPT = "kept"
    #: The grant never reached Elastic: there was nothing to remove.
    NEVER_GRANTED = "never_granted"
    #: The deployment was deleted, taking its role assignments with it.
    RESOURCE_GONE = "resource_gone"
    #: The invitation was still pending at the end and was withdrawn.
    INVITATION_WITHDRAWN = "invitation_withdrawn"
    #: The invitation had expired unused.
    INVITATION_UNUSED = "invitation_unused"


class ProjectType(StrEnum):
    """The kinds of serverless project Elastic Cloud lists (``/api/v1/serverless/projects/<type>``)."""

    ELASTICSEARCH = "elasticsearch"
    OBSERVABILITY = "observability"
    SECURITY = "security"


PROJECT_TYPES: tuple[ProjectType, ...] = tuple(ProjectType)

#: What a person may type (or a catalogue key may say) for the organization itself.
ORGANIZATION_ALIASES = ("organization", "org", "organisation")
#: What a person may type for "every deployment" (the ``all-deployments`` resource).
ALL_DEPLOYMENTS_ALIASES = ("all", "all-deployments", "all deployments")
