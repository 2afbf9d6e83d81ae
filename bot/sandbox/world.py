"""The running sandbox: the Slack and Elastic Cloud stand-ins, and the real bot between them.

The bot is built exactly as ``python -m bot`` builds it (:class:`bot.runtime.Runtime`, its
WSGI app behind a real HTTP server) and is reached only as Slack reaches it: signed HTTP
requests to ``/slack/events``. What differs is where its settings point: every URL at a
server on 127.0.0.1 that this process started, a signing secret and tokens made up here, a
SQLite file in a temporary directory, and a :class:`~bot.clock.FakeClock` that moves only
when told (so a scenario can jump an hour and watch the reminders and the revocation).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.clock import FakeClock
from bot.config import CONFIG_ENV, ConfigError, Settings, load_settings
from bot.elastic.client import RetryPolicy
from bot.runtime import Runtime
from bot.sandbox.seed import ALL_DEPLOYMENTS, DEMO_POLICY, Seed
from bot.slack.app import web_client
from bot.standins import payloads
from bot.standins.elastic.emulator import ElasticEmulator
from bot.standins.slack.fake import FakeSlack

log = logging.getLogger(__name__)

#: Where the sandbox's clock starts: a fixed Monday morning, so scripts print the same times
#: on every run (a scenario's "in 1h" never depends on when CI ran it).
START = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)

#: Elastic retries quickly in the sandbox: a fault switched on should show within seconds.
SANDBOX_RETRY = RetryPolicy(attempts=3, initial=0.1, maximum=0.5, total=3)

#: The settings the sandbox always decides, whatever the user's file or shell says: they
#: point the bot at the stand-ins and nowhere else.
PINNED = (
    "slack_bot_token",
    "slack_signing_secret",
    "slack_app_token",
    "slack_api_url",
    "elastic_cloud_api_key",
    "elastic_cloud_api_key_file",
    "elastic_cloud_api_key_id",
    "elastic_cloud_organization_id",
    "elastic_cloud_api_url",
    "database_path",
    "database_url",
    "host",
)

_CONFIG_LOCK = threading.Lock()


class SandboxClock(FakeClock):
    """A :class:`FakeClock` that, when ``ticking``, also runs with the wall clock.

    The page ticks (a retry after a fault comes on its own, a grant ends in real time too),
    and jumps forward on a click; a scenario does not tick, so its output is the same on
    every run."""

    def __init__(self, start: datetime, ticking: bool = False) -> None:
        super().__init__(start)
        self.ticking = ticking
        self._since = time.monotonic()

    def now(self) -> datetime:
        moment = super().now()
        if self.ticking:
            moment += timedelta(seconds=time.monotonic() - self._since)
        return moment


class World:
    """Stand-ins plus the bot, started together and stopped together."""

    def __init__(
        self,
        seed: Seed,
        config: Path | None = None,
        start: datetime = START,
        *,
        ticking: bool = False,
    ) -> None:
        self.seed = seed
        #: The policy file: the user's (``ELASTIC_ACCESS_CONFIG`` or ``--config``) or the demo's.
        self.config = config or DEMO_POLICY
        self.clock = SandboxClock(start, ticking)
        self.signing_secret = secrets.token_hex(16)
        self.bot_token = f"xoxb-sandbox-{secrets.token_hex(8)}"
        self.api_key = f"essu_sandbox_{secrets.token_hex(16)}"
        self.workdir = Path(tempfile.mkdtemp(prefix="elastic-access-sandbox-"))
        self.slack = FakeSlack(None, bot_token=self.bot_token, webhook_max_uses=None)
        self.elastic = ElasticEmulator(
            None,
            api_key=self.api_key,
            organization_id=seed.organization.id,
            organization_name=seed.organization.name,
        )
        self.settings: Settings | None = None
        #: The seeded deployments and projects: name → (kind, ID).
        self.resources: dict[str, tuple[str, str]] = {}
        self.runtime: Runtime | None = None
        self.url = ""
        self._server: Any = None
        self.http = httpx.Client(timeout=30, trust_env=False)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> World:
        """Start the stand-ins, seed them, then start the bot (raises ConfigError on a bad
        policy file, after stopping whatever it started)."""
        _bypass_proxies_for_loopback()
        self.slack.start()
        self.elastic.start()
        try:
            self.settings = sandbox_settings(
                self.config,
                slack_api_url=self.slack.api_url,
                elastic_url=self.elastic.url,
                signing_secret=self.signing_secret,
                bot_token=self.bot_token,
                api_key=self.api_key,
                organization_id=self.seed.organization.id,
                database=self.workdir / "sandbox.db",
            )
            seed_slack(self.slack, self.seed, self.settings)
            self.resources = seed_elastic(self.elastic, self.seed)
            client = web_client(self.bot_token, self.slack.api_url, rate_limit_retries=2)
            self.runtime = Runtime(
                self.settings,
                clock=self.clock,
                slack_client=client,
                elastic_retry=SANDBOX_RETRY,
                catch_up_inline=True,
            )
            self.runtime.start()
            from bot.web.server import serve_in_thread

            self._server = serve_in_thread(self.runtime.wsgi, "127.0.0.1", 0)
            self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self.runtime is not None:
            self.runtime.stop()
            self.runtime = None
        self.http.close()
        self.slack.stop()
        self.elastic.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> World:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what Slack sends ----------------------------------------------------------------
    def post(self, body: str, content_type: str) -> httpx.Response:
        """One signed request to the bot's ``/slack/events``, as Slack sends it."""
        headers = {"Content-Type": content_type, **payloads.sign(body, self.signing_secret)}
        return self.http.post(f"{self.url}/slack/events", content=body.encode(), headers=headers)

    # -- time and waiting ------------------------------------------------------------------
    def settle(self, timeout: float = 30) -> None:
        """Return once everything the requests so far set going has finished: Bolt's
        listeners, the work they handed off, grants handed to the scheduler, and the
        notices that work queued. (A scenario's next step must see their effects.)"""
        runtime = self.runtime
        assert runtime is not None
        _idle(runtime.bolt.listener_runner.listener_executor, timeout)
        _idle(runtime.work, timeout)
        idle = getattr(runtime.scheduler, "idle", None)
        if idle is not None:
            idle(timeout)
        runtime.service.drain()

    def advance(self, delta: timedelta) -> None:
        """Move the clock, then let the bot act as its sweep would at that moment: grants
        that ended are revoked, reminders, escalations and expiry notices go out."""
        assert self.runtime is not None
        self.settle()
        self.clock.advance(delta)
        self.runtime.scheduler.sweep()
        self.settle()

    def resource_names(self) -> dict[str, str]:
        """Resource IDs → names, to show Elastic's state in words."""
        return {rid: name for name, (_, rid) in self.resources.items()}

    def urls(self) -> dict[str, str]:
        """Every URL the bot is configured with (each must be on 127.0.0.1)."""
        assert self.settings is not None
        return {
            "slack_api_url": self.settings.slack_api_url,
            "elastic_cloud_api_url": self.settings.elastic_cloud_api_url,
            "bot": self.url,
        }


def sandbox_settings(
    config: Path,
    *,
    slack_api_url: str,
    elastic_url: str,
    signing_secret: str,
    bot_token: str,
    api_key: str,
    organization_id: str,
    database: Path,
) -> Settings:
    """The policy file's settings with everything that reaches outside pinned to the
    sandbox (:data:`PINNED`). The sweep runs every few seconds as in production; the claim
    tick and the drift reconciliation are off (the sandbox moves time itself)."""
    pinned: dict[str, Any] = {
        "slack_bot_token": bot_token,
        "slack_signing_secret": signing_secret,
        "slack_app_token": None,
        "slack_api_url": slack_api_url,
        "elastic_cloud_api_key": api_key,
        "elastic_cloud_api_key_file": None,
        "elastic_cloud_api_key_id": None,
        "elastic_cloud_organization_id": organization_id,
        "elastic_cloud_api_url": elastic_url,
        "database_path": database,
        "database_url": None,
        "host": "127.0.0.1",
        "sweep_interval": "5s",
        "claim_interval": "",
        "reconcile_interval": "24h",
        "work_lease": "10m",  # the clock jumps: a short lease would run out mid-jump
    }
    assert set(PINNED) <= set(pinned)
    with _config_file(config):
        settings = load_settings(need_slack=True, **pinned)
    for name in ("slack_api_url", "elastic_cloud_api_url"):
        host = urlsplit(getattr(settings, name)).hostname
        if host != "127.0.0.1":  # never the real services, whatever the file said
            raise ConfigError([f"{name}: the sandbox talks to 127.0.0.1 only, not {host}"])
    return settings


@contextlib.contextmanager
def _config_file(path: Path) -> Iterator[None]:
    """Read the settings with ``ELASTIC_ACCESS_CONFIG`` naming ``path``, as the bot reads
    its own file (the environment still wins over the file, as in production)."""
    with _CONFIG_LOCK:
        before = os.environ.get(CONFIG_ENV)
        os.environ[CONFIG_ENV] = str(path)
        try:
            yield
        finally:
            if before is None:
                os.environ.pop(CONFIG_ENV, None)
            else:
                os.environ[CONFIG_ENV] = before


def seed_slack(slack: FakeSlack, seed: Seed, settings: Settings) -> None:
    """The workspace: its people, user groups, and the notify channel the policy names."""
    for user in seed.slack_users:
        standing = {"is_restricted": True} if user.guest else {}
        slack.add_user(
            user.id,
            email=user.email,
            name=user.name,
            real_name=user.real_name or user.name,
            **standing,
        )
    for group in seed.usergroups:
        slack.add_usergroup(group.id, group.handle, list(group.users))
    channel = settings.notify_channel
    if channel:
        if channel.startswith("#"):
            slack.add_channel("C0NOTIFY", name=channel[1:])
        else:
            slack.add_channel(channel, name="access-log")


def seed_elastic(elastic: ElasticEmulator, seed: Seed) -> dict[str, tuple[str, str]]:
    """The organization: deployments and projects first (members' roles name them).
    Returns each resource's kind and ID by name."""
    ids: dict[str, tuple[str, str]] = {}
    for dep in seed.deployments:
        ids[dep.name] = (
            "deployment",
            elastic.add_deployment(
                dep.name, tags=dep.tags, deployment_id=dep.id, hidden=dep.stopped
            ),
        )
    for project in seed.projects:
        ids[project.name] = (
            project.type,
            elastic.add_project(
                project.type, project.name, tags=project.tags, project_id=project.id
            ),
        )
    org = seed.organization.id
    for member in seed.members:
        assignments: dict[str, Any] = {}
        for held in member.roles:
            if held.on is None:
                assignments.setdefault("organization", []).append(
                    {"role_id": held.role, "organization_id": org}
                )
            elif held.on == ALL_DEPLOYMENTS:
                assignments.setdefault("deployment", []).append(
                    {"role_id": held.role, "organization_id": org, "all": True}
                )
            else:
                kind, rid = ids[held.on]
                if kind == "deployment":
                    assignments.setdefault("deployment", []).append(
                        {"role_id": held.role, "organization_id": org, "deployment_ids": [rid]}
                    )
                else:
                    assignments.setdefault("project", {}).setdefault(kind, []).append(
                        {"role_id": held.role, "organization_id": org, "project_ids": [rid]}
                    )
        elastic.add_member(member.email, name=member.name or None, role_assignments=assignments)
    return ids


def _idle(executor: ThreadPoolExecutor, timeout: float) -> None:
    """Return once every task submitted to ``executor`` before this call has finished (its
    queue is first in, first out: a barrier task on every thread runs after them all)."""
    workers = executor._max_workers  # type: ignore[attr-defined]
    barrier = threading.Barrier(workers + 1)
    for _ in range(workers):
        executor.submit(barrier.wait, timeout)
    barrier.wait(timeout)


def _bypass_proxies_for_loopback() -> None:
    """Keep the sandbox's traffic on 127.0.0.1 when the shell names a proxy (HTTPS_PROXY
    behind a corporate network): httpx and urllib (so slack_sdk) both skip proxies for the
    hosts in ``NO_PROXY``, and nothing the sandbox calls is anywhere else."""
    for name in ("NO_PROXY", "no_proxy"):
        hosts = [h.strip() for h in os.environ.get(name, "").split(",") if h.strip()]
        os.environ[name] = ",".join(dict.fromkeys([*hosts, "127.0.0.1", "localhost"]))
