"""Builds the Bolt app. No side effects at import; the runtime hands in everything it needs."""

from __future__ import annotations

import logging
import secrets
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.logs import WithholdForgedBodies
from bot.slack.listeners import register

log = logging.getLogger(__name__)


def web_client(
    token: str,
    base_url: str,
    *,
    rate_limit_retries: int = 3,
) -> WebClient:
    """A WebClient that rides out rate limits (Retry-After) and dropped connections."""
    return WebClient(
        token=token,
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("bot.slack.bolt")
    if not any(isinstance(f, WithholdForgedBodies) for f in logger.filters):
        logger.addFilter(WithholdForgedBodies())
    return logger


def create_app(runtime, *, signing_secret: str | None, client: WebClient) -> App:
    """The Bolt app, always with Slack's request signatures checked.

    Without a signing secret (Socket Mode) the check still runs, against a random secret that
    nobody knows: Bolt skips it only for requests that arrived over the socket, so a request
    that reaches this app over HTTP can never be taken as Slack's."""
    app = App(
        client=client,
        signing_secret=signing_secret or secrets.token_hex(32),
        token_verification_enabled=False,
        request_verification_enabled=True,
        listener_executor=ThreadPoolExecutor(max_workers=16, thread_name_prefix="bolt"),
        logger=_bolt_logger(),
    )

    @app.middleware
    def skip_event_retries(req, resp, next):  # noqa: A002 - Bolt's own parameter name
        """Events API redeliveries are acknowledged and dropped: the first delivery did the work."""
        if req.headers.get("x-slack-retry-num") and req.body.get("type") == "event_callback":
            return BoltResponse(status=200, body="")
        return next()

    register(app, runtime)
    return app
