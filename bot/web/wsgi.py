"""One WSGI application: ``POST /slack/events`` (Bolt), ``GET /healthz``, ``GET /readyz``.

Bolt's own WSGI adapter answers only the Slack path; platforms probe health, so this wraps it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt.adapter.wsgi import SlackRequestHandler

SLACK_PATH = "/slack/events"
#: Slack's payloads are a few kilobytes; nothing legitimate comes near this. A body is
#: refused at this size before anyone parses (or signs, or even reads all of) it.
MAX_BODY = 1024 * 1024
StartResponse = Callable[..., Any]


def _json(start_response: StartResponse, status: str, data: dict[str, Any]) -> Iterable[bytes]:
    body = json.dumps(data).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


class WebApp:
    """``serve_slack=False`` (Socket Mode) answers only the probes: Slack's requests come over
    the socket there, unsigned, so the HTTP path must not take them."""

    def __init__(self, runtime, bolt_app, serve_slack: bool = True) -> None:
        self.runtime = runtime
        self.slack = SlackRequestHandler(bolt_app, path=SLACK_PATH) if serve_slack else None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        refused = _bounded_body(environ)
        if refused is not None:
            return _json(start_response, refused, {"ok": False, "error": refused[4:].lower()})
        if path == "/healthz":
            ok = self.runtime.started
            return _json(start_response, "200 OK" if ok else "503 Service Unavailable", {"ok": ok})
        if path == "/readyz":
            checks = self.runtime.readiness()
            ok = all(checks.values())
            return _json(
                start_response,
                "200 OK" if ok else "503 Service Unavailable",
                {"ok": ok, "checks": checks},
            )
        if path == SLACK_PATH and method == "POST" and self.slack is not None:
            if self.runtime.stopping:
                return _json(
                    start_response,
                    "503 Service Unavailable",
                    {"ok": False, "error": "shutting down"},
                )
            return self.slack(environ, start_response)
        return _json(start_response, "404 Not Found", {"ok": False, "error": "not found"})


def _bounded_body(environ: dict[str, Any]) -> str | None:
    """Keep the request body within :data:`MAX_BODY`; returns an error status, or None.

    A declared ``Content-Length`` over the limit is refused unread. A body without one
    (chunked, which gunicorn decodes and marks ``wsgi.input_terminated``) is read up to one
    byte past the limit, then handed on as a plain body with its length, so what follows
    never reads an unbounded stream."""
    declared = (environ.get("CONTENT_LENGTH") or "").strip()
    if declared:
        if not declared.isdigit():
            return "400 Bad Request"
        return "413 Content Too Large" if int(declared) > MAX_BODY else None
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    if not chunked and not environ.get("wsgi.input_terminated"):
        return None  # no body at all
    if not environ.get("wsgi.input_terminated"):
        return "411 Length Required"  # a server that cannot end a chunked body for us
    body = environ["wsgi.input"].read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        return "413 Content Too Large"
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return None
