"""The composition root: builds every part from the settings and runs the start-up sequence.

Start-up order matters for the revocation guarantee: migrations, then the timers (those of
grants that fell due while we were down fire at once), then ready; the catch-up sweep (rows
left half-done, retries, follow-ups, notices never sent) runs right after, in the background,
so a restart with a thousand overdue grants is ready in well under a second.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.access.service import AccessService
from bot.access.states import State
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.elastic.catalogue import ResourceCatalogue
from bot.elastic.client import ElasticClient, RetryPolicy
from bot.scheduler import Scheduler
from bot.slack import blocks
from bot.slack.app import create_app, web_client
from bot.slack.directory import SlackDirectory
from bot.slack.notifier import SlackNotifier
from bot.store import Store
from bot.store.opening import describe_database, open_database
from bot.store.semantics import current as measured_semantics
from bot.web.wsgi import WebApp

log = logging.getLogger(__name__)


#: What a process runs: the Slack front end and the worker together (the default), the front
#: end alone (it acks, records and may start a grant; it revokes nothing), or the worker
#: alone (grants, revocations, retries, follow-ups; it serves no Slack requests).
ROLES = ("all", "web", "worker")


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        role: str = "all",
        catch_up_inline: bool = False,
        clock: Clock | None = None,
        slack_client: WebClient | None = None,
        elastic_transport: httpx.BaseTransport | None = None,
        elastic_retry: RetryPolicy | None = None,
    ) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        self.role = role
        #: Run the catch-up sweep before ready (the in-process test harness, which drives the
        #: sweep itself) instead of right after it in the background (a real process).
        self.catch_up_inline = catch_up_inline
        self.settings = settings
        self.clock = clock or SystemClock()
        self.policy = settings.access_policy()
        self.db = open_database(settings)
        self.store = Store(self.db)
        self.elastic = ElasticClient(
            settings.elastic_cloud_api_url,
            settings.api_key(),
            settings.elastic_cloud_organization_id or "",
            transport=elastic_transport,
            retry=elastic_retry,
        )
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
        self.slack = slack_client or web_client(token, settings.slack_api_url)
        self.directory = SlackDirectory(self.slack)
        self.catalogue = ResourceCatalogue(self.store, self.elastic, self.clock)
        self.notifier = SlackNotifier(
            self.slack, self.store, self.policy.access_details, self.policy.notify_channel
        )
        #: Users who opened the Home tab since start: only their tabs are kept up to date
        #: (re-rendering everyone's on every change would cost a Slack call per person).
        self.home_users: set[str] = set()
        self.notifier.on_home_changed = self.refresh_home
        self.service = AccessService(
            store=self.store,
            elastic=self.elastic,
            directory=self.directory,
            catalogue=self.catalogue,
            notifier=self.notifier,
            clock=self.clock,
            policy=self.policy,
        )
        self.scheduler = Scheduler(
            self.service,
            sweep_interval=settings.sweep_interval,
            catalogue=self.catalogue,
            catalogue_refresh=settings.catalogue_refresh,
            reconcile_interval=settings.reconcile_interval,
            claim_interval=settings.claim_interval,
            lease=settings.work_lease,
        )
        self.catalogue.on_changed = self.service.resources_changed
        self.service.api_key_id = settings.elastic_cloud_api_key_id
        self.service.semantics = lambda: measured_semantics(self.db)
        if role != "web":  # the front end alone keeps no timers: the workers do
            self.service.on_expiry_set = self.scheduler.schedule_expiry
            self.service.on_ended = self.scheduler.cancel
            # An approval's grant runs on this process's grant threads, not on the thread
            # that recorded the click; a front end alone leaves it to the workers, whose
            # claim tick (CLAIM_INTERVAL) finds the approved row in the database.
            self.service.on_grant_due = self.scheduler.grant_soon
            self.service.on_revoke_due = self.scheduler.revoke_soon
        else:
            self.service.on_grant_due = self.service.on_revoke_due = _left_to_the_workers
        secret = (
            settings.slack_signing_secret.get_secret_value()
            if settings.slack_signing_secret
            else None
        )
        self.bolt = create_app(self, signing_secret=secret, client=self.slack)
        # Only a process that can check Slack's signatures answers /slack/events over HTTP,
        # and a worker answers none (it serves the probes).
        self.wsgi = WebApp(self, self.bolt, serve_slack=secret is not None and role != "worker")
        self.started = False
        self.stopping = False
        #: Slow work after an ack (filing, deciding, revoking) runs here, not on Bolt's threads.
        self.work = ThreadPoolExecutor(max_workers=settings.work_threads, thread_name_prefix="work")
        #: More readiness checks from the run mode (Socket Mode adds its connection).
        self.extra_readiness: dict[str, Any] = {}

    def start(self) -> None:
        began = time.monotonic()
        for warning in self.policy.warnings():
            log.warning("%s", warning)
        applied = self.store.migrate()
        if applied:
            log.info("database migrations applied: %s", ", ".join(applied))
        released = self.store.release_all_leases()
        if released:
            log.info("released %d leases left by a previous process", released)
        cached = self.catalogue.load()
        if not cached:  # first start: the form needs resources before anyone opens it
            try:
                self.catalogue.refresh()
            except Exception as exc:
                log.warning("catalogue: first refresh failed (%s); retrying on schedule", exc)
        if self.role == "web":
            # The front end alone: the worker processes sweep, revoke and keep the timers;
            # this one only renews the leases it takes (an approval's grant, a Revoke click).
            self.scheduler.start(heartbeat_only=True)
            self.started = True
            gc.collect()
            gc.freeze()
            log.info("ready in %.2fs (front end only)", time.monotonic() - began)
            return
        if self.catch_up_inline:
            caught_up: int | str = self.scheduler.catch_up(follow_ups=True)
            self.scheduler.start(refresh_now=bool(cached))
        else:
            caught_up = "in the background"
            self.scheduler.start(refresh_now=bool(cached), catch_up=True)
        self.background(self.warn_role_mappings)
        self.started = True
        # Everything built so far lives for the process: keep it out of the collector's
        # full passes, which otherwise pause every in-flight request for tens of ms.
        gc.collect()
        gc.freeze()
        log.info("ready in %.2fs (catch-up sweep: %s)", time.monotonic() - began, caught_up)

    def warn_role_mappings(self) -> None:
        """Log a warning when SSO role mappings may overwrite the roles the bot assigns."""
        from bot.check import role_mapping_warning

        try:
            warning = role_mapping_warning(self.elastic.role_mappings())
        except Exception as exc:
            log.warning("could not read the organization's SSO role mappings (%s)", exc)
            return
        if warning:
            log.warning("%s", warning)

    def background(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` after the listener has acknowledged; failures are logged, not lost."""

        def run() -> None:
            try:
                fn()
            except Exception:
                log.exception("background work failed")

        self.work.submit(run)

    def stop(self) -> None:
        self.stopping = True
        self.work.shutdown(wait=True)  # let in-flight work finish
        self.scheduler.stop(wait=True)
        self.service.close()
        self.elastic.close()
        self.db.close()
        self.started = False

    def readiness(self) -> dict[str, bool]:
        recent = self.scheduler.last_sweep is not None and (
            time.monotonic() - self.scheduler.last_sweep
            < 3 * self.settings.sweep_interval.total_seconds() + 5
        )
        checks = {
            "started": self.started,
            "database": self.db.ping() and self.scheduler.database_reachable,
            # False while this clock and the database's disagree (scheduler.MAX_CLOCK_SKEW).
            "clock": self.scheduler.clock_skew is None,
        }
        if self.role != "web":
            checks["scheduler"] = self.scheduler.running
            checks["sweep_recent"] = recent
        checks |= {
            # False while Elastic Cloud refuses the API key (granting is paused).
            "elastic_credentials": self.elastic.credentials_rejected is None,
        }
        for name, check in self.extra_readiness.items():
            try:
                checks[name] = bool(check())
            except Exception:
                checks[name] = False
        return checks

    def refresh_home(self, user_id: str) -> None:
        if user_id in self.home_users:
            self.publish_home(user_id)

    def publish_home(self, user_id: str) -> None:
        self.home_users.add(user_id)
        mine, _ = self.store.list_requests(requester_id=user_id, limit=50)
        active = [r for r in mine if r.state in (State.ACTIVE, State.GRANTING)]
        pending = [r for r in mine if r.state is State.PENDING]
        parked = [r for r in mine if r.state is State.REVOKING and r.parked]
        waiting, _ = self.store.list_requests(states=[State.PENDING], limit=50)
        to_approve = [r for r in waiting if user_id in r.approvers]
        view = blocks.home_view(
            active=active,
            pending=pending,
            to_approve=to_approve,
            now=self.clock.now(),
            parked=parked,
        )
        try:
            self.slack.views_publish(user_id=user_id, view=view)
        except SlackApiError as exc:
            log.warning("views.publish for %s failed: %s", user_id, exc.response.get("error"))


def describe(settings: Settings) -> dict[str, Any]:
    """What the process runs with, safe to log (no secrets)."""
    return {
        "mode": "socket" if settings.socket_mode else "http",
        "database": describe_database(settings),
        "elastic": settings.elastic_cloud_api_url,
        "organization": settings.elastic_cloud_organization_id,
        "integration": settings.integration_name,
    }


def _left_to_the_workers(request_id: int) -> None:
    """A front end alone grants and removes nothing itself: the approved or revoking row
    waits in the database for a worker's claim tick (``CLAIM_INTERVAL``)."""
    log.info("request #%s recorded: a worker takes it from here", request_id)
