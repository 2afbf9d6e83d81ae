"""The rules the core applies to every request: limits, owners, retry pacing.

Built from the validated settings at start; the core never reads the environment itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from bot.access.resources import Resource, ResourceKind
from bot.access.routing import ResourceOwnerSetting
from bot.access.rules import Rule, Rules


@dataclass(frozen=True)
class AccessPolicy:
    organization_id: str
    integration_name: str = "elastic-cloud"
    integration_owners: tuple[str, ...] = ()
    access_details: str = ""
    max_duration: timedelta = timedelta(hours=12)
    default_duration: timedelta = timedelta(hours=1)
    min_duration: timedelta = timedelta(minutes=1)
    #: How long a worker may hold a row before the sweep assumes it crashed.
    lease: timedelta = timedelta(minutes=2)
    #: Revocation retries: first delay, doubling up to ``retry_cap`` (never giving up).
    retry_base: timedelta = timedelta(seconds=5)
    retry_cap: timedelta = timedelta(seconds=60)
    #: A revocation Elastic refuses because the deployment is stopped is retried this often.
    parked_retry: timedelta = timedelta(minutes=15)
    #: An expired grant still not revoked after this long alerts the integration owners.
    overdue_alert_after: timedelta = timedelta(minutes=5)
    #: The same request from the same person within this window is not filed twice.
    dedupe_window: timedelta = timedelta(seconds=10)
    auditors: tuple[str, ...] = field(default_factory=tuple)
    resource_owner: ResourceOwnerSetting | None = None
    rules: Rules = field(default_factory=Rules)
    #: A pending request nobody decided on within this long times out.
    pending_timeout: timedelta = timedelta(hours=24)
    #: First reminder to approvers who have not acted; later ones back off (x2 each time).
    reminder_after: timedelta = timedelta(hours=1)
    max_reminders: int = 3
    #: A request routed to resource owners that nobody decided on within this long also goes
    #: to the integration owners (None: never).
    escalate_after: timedelta | None = None
    #: Optional channel that gets one message per request, updated in place.
    notify_channel: str | None = None
    #: The requester is warned this long before a grant ends (with an Extend button).
    expiry_notice: timedelta = timedelta(minutes=10)
    #: Threads the sweep uses to work on due rows side by side.
    sweep_workers: int = 8
    #: A state change nobody was told about after this long is told again by the sweep.
    renotify_after: timedelta = timedelta(seconds=30)
    #: Requesters' (and so invitation) email domains; empty: any.
    allowed_email_domains: tuple[str, ...] = ()
    #: Open (pending) requests one person may have at once.
    max_pending_per_requester: int = 5
    #: After a break-glass grant, the same person waits this long for the next.
    break_glass_cooldown: timedelta = timedelta(hours=1)
    #: Break-glass grants live at once, across everyone.
    break_glass_max_active: int = 2
    #: How often the sweep re-checks live grants' requesters against Slack.
    requester_recheck: timedelta = timedelta(minutes=5)
    #: Access reviews: each resource owner and the integration owners get a digest of their
    #: resources once per period of this length (None: off).
    access_review: timedelta | None = None

    def warnings(self) -> list[str]:
        """Rules that let someone hold the organization without a human approving: legal,
        but a security team should have chosen it knowingly (``check`` and start-up say so)."""
        org = Resource(ResourceKind.ORGANIZATION, self.organization_id or "org", "organization")
        warnings = []
        for index, rule in enumerate(self.rules.rules, start=1):
            how = [
                k
                for k, on in (
                    ("auto_approve", rule.auto_approve),
                    ("break_glass", rule.break_glass),
                )
                if on
            ]
            roles = [r for r in org.roles() if rule.matches(org, r)]
            if how and roles:
                name = rule.name or f"rule {index}"
                warnings.append(
                    f"warning: [[policy]] {name} has {' and '.join(how)} on organization roles "
                    f"({', '.join(roles)}): access to the whole organization without an approval"
                )
        return warnings

    def email_allowed(self, email: str | None) -> bool:
        """Whether ``email`` is in an allowed domain (any address, when none are set)."""
        if not self.allowed_email_domains:
            return True
        domain = (email or "").rsplit("@", 1)[-1].lower() if "@" in (email or "") else ""
        return domain in self.allowed_email_domains

    def longest(self, rule: Rule) -> timedelta:
        """The longest total duration a grant under ``rule`` may have."""
        return min(self.max_duration, rule.max_duration or self.max_duration)

    def retry_delay(self, attempts: int) -> timedelta:
        """Capped exponential backoff for the n-th failed attempt (1-based)."""
        seconds = self.retry_base.total_seconds() * (2 ** max(0, attempts - 1))
        return timedelta(seconds=min(seconds, self.retry_cap.total_seconds()))
