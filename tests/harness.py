"""Drives the bot the way Slack does: signed HTTP requests to a real server on 127.0.0.1."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.clock import FakeClock
from bot.config import Settings
from bot.elastic.client import RetryPolicy
from bot.runtime import Runtime
from bot.slack.app import web_client
from bot.standins import payloads
from bot.standins.slack.answers import answer_errors
from bot.web.server import serve_in_thread

SIGNING_SECRET = "test-signing-secret-8f2d1c"
BOT_TOKEN = "xoxb-test-token"
API_KEY = "essu_test_api_key_0123456789abcdef"
ORG_ID = "1234567890"

REQUESTER = "U0REQUEST"
OWNER = "U0OWNER01"
OWNER2 = "U0OWNER02"
STRANGER = "U0STRANGE"


def sign(body: str, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    return payloads.sign(body, secret, timestamp)


def fast_retry() -> RetryPolicy:
    return RetryPolicy(attempts=3, initial=0.01, maximum=0.05, total=5)


@dataclass
class Bot:
    """A running bot (real WSGI server, real SQLite file) wired to the fakes."""

    runtime: Runtime
    url: str
    slack: Any
    clock: FakeClock
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))

    # -- sending what Slack sends ----------------------------------------------------------
    def post(
        self, body: str, content_type: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        hdrs = {"Content-Type": content_type, **sign(body), **(headers or {})}
        return self.http.post(f"{self.url}/slack/events", content=body.encode(), headers=hdrs)

    def command(self, user: str, text: str, **extra: str) -> httpx.Response:
        form = payloads.command_form(
            user,
            text,
            response_url=self.slack.webhook_url(f"cmd-{user}"),
            trigger_id=self.slack.new_trigger_id(),
        )
        response = self.post(urlencode(form | extra), "application/x-www-form-urlencoded")
        return _as_slack_takes_it(response, "command")

    def say(self, user: str, text: str) -> str:
        """Run a command and return what only the caller saw: the ack, or the next reply."""
        name = f"cmd-{user}"
        before = len(self.slack.webhook_posts(name))
        response = self.command(user, text)
        assert response.status_code == 200, response.text
        if response.headers.get("content-type", "").startswith("application/json"):
            said = response.json().get("text")
            if said:
                return said
        posts = self.slack.wait_for(
            lambda: self.slack.webhook_posts(name)[before:], message=f"reply to {text!r}"
        )
        return posts[0]["text"]

    def interact(self, payload: dict[str, Any]) -> httpx.Response:
        """Send an interaction; the bot's answer must be one Slack takes (see
        :func:`bot.standins.slack.answers.answer_errors`): a view submission's errors name input
        blocks of the submitted view, type-ahead answers are valid option lists."""
        response = self.post(
            payloads.interaction_body(payload), "application/x-www-form-urlencoded"
        )
        return _as_slack_takes_it(response, payload.get("type", ""), view=payload.get("view"))

    def click(
        self, user: str, action_id: str, value: str, message: dict[str, Any] | None = None
    ) -> httpx.Response:
        return self.interact(
            payloads.block_actions(
                user,
                action_id,
                value,
                response_url=self.slack.webhook_url(f"click-{user}"),
                trigger_id=self.slack.new_trigger_id(),
                message=message,
            )
        )

    def submit_view(
        self, user: str, view: dict[str, Any], values: dict[str, Any]
    ) -> httpx.Response:
        state = {block: {block: value} for block, value in values.items()}
        payload = {
            "type": "view_submission",
            "team": {"id": "T0001", "domain": "example"},
            "user": {"id": user, "username": user.lower(), "team_id": "T0001"},
            "api_app_id": "A0APP",
            "token": "legacy-verification-token",
            "trigger_id": self.slack.new_trigger_id(),
            "view": view | {"id": view.get("id", "V0TEST"), "state": {"values": state}},
            "response_urls": [],
        }
        return self.interact(payload)

    def options(self, user: str, action_id: str, value: str) -> httpx.Response:
        return self.interact(payloads.block_suggestion(user, action_id, value, "V0TEST"))

    # -- the core, called directly (as a click's lazy part would) ---------------------------
    def decide(self, request_id: int, actor: str, **kwargs: Any):
        """``service.decide``, then wait for what it handed over (an approval's grant runs on
        the worker's threads, not on the caller's)."""
        try:
            return self.runtime.service.decide(request_id, actor, **kwargs)
        finally:
            self.settle()

    def decide_extension(self, request_id: int, actor: str, **kwargs: Any):
        try:
            return self.runtime.service.decide_extension(request_id, actor, **kwargs)
        finally:
            self.settle()

    def revoke(self, request_id: int, actor: str):
        """``service.revoke`` (Revoke now), then wait for the removal handed to the worker."""
        try:
            return self.runtime.service.revoke(request_id, actor)
        finally:
            self.settle()

    def file_request(self, *args: Any, **kwargs: Any):
        """``service.file_request``, then wait for an auto-approved or break-glass grant."""
        try:
            return self.runtime.service.file_request(*args, **kwargs)
        finally:
            self.settle()

    # -- time and waiting ------------------------------------------------------------------
    def advance(self, delta: timedelta) -> None:
        """Move the bot's clock and let the sweep act (as a sweep tick would)."""
        self.clock.advance(delta)
        self.runtime.scheduler.sweep()
        self.runtime.service.drain()  # and let it finish telling people

    def settle(self, timeout: float = 30) -> None:
        """Wait until everything the requests sent so far set going has finished: Bolt's
        listeners, the work they handed off, the grants handed to the worker
        (``Scheduler.idle``), and the notifications that work queued.

        The positive signal to wait for before asserting that nothing else happened (a fixed
        sleep passes vacuously on a slow machine). Bolt submits a listener before it answers,
        and a listener hands its work off before it returns, so each stage is complete once
        its pool has run a task on every thread at the same time (its queue is first in,
        first out)."""
        _idle(self.runtime.bolt.listener_runner.listener_executor, timeout)
        _idle(self.runtime.work, timeout)
        assert self.runtime.scheduler.idle(timeout), "a handed-over grant did not finish"
        self.runtime.service.drain()

    def request(self, request_id: int):
        return self.runtime.store.get(request_id)

    def state(self, request_id: int):
        """The request's state, or None while it does not exist yet (for polling)."""
        found = self.runtime.store.get(request_id)
        return found.state if found else None

    def close(self) -> None:
        self.http.close()


def _as_slack_takes_it(
    response: httpx.Response, kind: str, view: dict[str, Any] | None = None
) -> httpx.Response:
    """``response``, after checking that Slack would take it (only a 200 is an answer;
    tests check other statuses themselves)."""
    if response.status_code == 200:
        errors = answer_errors(
            kind, response.content, response.headers.get("content-type", ""), view=view
        )
        assert not errors, f"Slack would refuse the bot's answer to a {kind}: {errors}"
    return response


def _idle(executor: ThreadPoolExecutor, timeout: float) -> None:
    """Return once every task submitted to ``executor`` before this call has finished."""
    workers = executor._max_workers  # type: ignore[attr-defined]
    barrier = threading.Barrier(workers + 1)
    for _ in range(workers):
        executor.submit(barrier.wait, timeout)
    barrier.wait(timeout)


def make_settings(
    tmp_path: Path, elastic_url: str, slack_api_url: str, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack_api_url,
        "elastic_cloud_api_key": API_KEY,
        "elastic_cloud_organization_id": ORG_ID,
        "elastic_cloud_api_url": elastic_url,
        "database_path": tmp_path / "bot.db",
        "integration_owners": [OWNER],
        "access_details": "Sign in at https://cloud.elastic.co with your company SSO.",
        "max_duration": "12h",
        "sweep_interval": "1h",  # tests drive the sweep themselves unless they say otherwise
        "claim_interval": "",  # likewise the claims of due work (the failover tests use them)
        "work_lease": "2m",  # the fake clock moves in jumps: a short lease would run out
    }
    values.update(overrides)
    return Settings(**values)


def start_bot(settings: Settings, slack: Any, clock: FakeClock | None = None) -> Bot:
    clock = clock or FakeClock()
    client = web_client(BOT_TOKEN, slack.api_url, rate_limit_retries=2)
    runtime = Runtime(
        settings,
        clock=clock,
        slack_client=client,
        elastic_retry=fast_retry(),
        catch_up_inline=True,  # the tests drive the sweep themselves (see make_settings)
    )
    runtime.start()
    server = serve_in_thread(runtime.wsgi, "127.0.0.1", 0)
    bot = Bot(runtime, f"http://127.0.0.1:{server.server_address[1]}", slack, clock)
    bot._server = server  # type: ignore[attr-defined]
    return bot


def stop_bot(bot: Bot) -> None:
    bot._server.shutdown()  # type: ignore[attr-defined]
    bot._server.server_close()  # type: ignore[attr-defined]
    bot.runtime.stop()
    bot.close()


def stored_bytes(runtime: Runtime) -> bytes:
    """Everything the bot's database holds, as bytes, to search for what must never be
    stored: SQLite's files (after a checkpoint, so nothing hides in the WAL), or every row of
    every table of the bot's PostgreSQL schema."""
    db = runtime.db
    if db.dialect == "sqlite":
        db.conn.execute("PRAGMA wal_checkpoint(FULL)")
        path = Path(db.path)
        return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))
    tables = [
        r[0]
        for r in db.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    ]
    return "\n".join(
        str(tuple(row)) for t in tables for row in db.query(f"SELECT * FROM {t}")
    ).encode()


def database_env(settings: Settings) -> dict[str, str]:
    """The environment that points a ``python -m bot …`` subprocess at ``settings``' database."""
    if settings.database_url is not None:
        return {"DATABASE_URL": settings.database_url.get_secret_value()}
    return {"DATABASE_PATH": str(settings.database_path)}
