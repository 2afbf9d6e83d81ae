"""The sandbox page: one HTML page, its script and style, and a small JSON API, on 127.0.0.1.

Standard library only (``http.server``): the page is plain HTML, JavaScript and CSS shipped
in ``static/`` — no build step — and polls ``/api/state`` for live updates. Each POST is
one thing a person does (:class:`~bot.sandbox.actions.Actions`); they run one at a time,
as one person at one keyboard would.

Only this machine may use it: it listens on 127.0.0.1, answers only requests addressed to
127.0.0.1 or localhost (a web page elsewhere cannot reach it through DNS rebinding), and
takes actions only as JSON (which a form on another site cannot send without asking).
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.access.durations import parse_duration
from bot.access.errors import AccessError
from bot.sandbox import snapshot
from bot.sandbox.actions import ActionError, Actions
from bot.sandbox.world import World

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/style.css": ("style.css", "text/css; charset=utf-8"),
}
_LOCAL_HOSTS = ("127.0.0.1", "localhost")
_MAX_BODY = 256 * 1024


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, actions: Actions) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.actions = actions
        #: One action at a time: a second click waits for the first's effects.
        self.busy = threading.Lock()


def serve(world: World, port: int) -> SandboxServer:
    """Start the page's server on a background thread; ``port`` 0 takes any free one."""
    server = SandboxServer(port, Actions(world))
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    ).start()
    return server


class _Handler(BaseHTTPRequestHandler):
    server: SandboxServer
    server_version = "ElasticAccessSandbox/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        log.debug("sandbox page: " + format, *args)

    def _local(self) -> bool:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
        return host in _LOCAL_HOSTS

    def do_GET(self) -> None:
        if not self._local():
            return self._json(403, {"error": "the sandbox answers on 127.0.0.1 only"})
        parts = urlsplit(self.path)
        if parts.path in _FILES:
            name, content_type = _FILES[parts.path]
            return self._send(200, (STATIC / name).read_bytes(), content_type)
        if parts.path == "/api/state":
            query = parse_qs(parts.query)
            actions = self.server.actions
            user = (query.get("user") or [""])[0] or actions.world.seed.slack_users[0].id
            if actions.world.seed.user(user) is None:
                return self._json(404, {"error": f"no user {user}"})
            return self._json(200, snapshot.state(actions, user))
        return self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        if not self._local():
            return self._json(403, {"error": "the sandbox answers on 127.0.0.1 only"})
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            return self._json(415, {"error": "send JSON"})
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return self._json(400, {"error": "Content-Length is not a number"})
        if length < 0:
            return self._json(400, {"error": "Content-Length is negative"})
        if length > _MAX_BODY:
            return self._json(413, {"error": "too large"})
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except (ValueError, RecursionError):
            return self._json(400, {"error": "send a JSON object"})
        route = urlsplit(self.path).path.removeprefix("/api/")
        handler = _ROUTES.get(route)
        if handler is None:
            return self._json(404, {"error": "not found"})
        actions = self.server.actions
        user = str(body.get("user", ""))
        if route not in ("advance", "fault") and actions.world.seed.user(user) is None:
            return self._json(400, {"error": f"no user {user!r}"})
        with self.server.busy:
            try:
                result = handler(actions, user, body)
            except (ActionError, AccessError, ValueError, KeyError) as exc:
                return self._json(400, {"error": str(exc)})
            except Exception as exc:  # the page shows it; the sandbox keeps going
                log.exception("sandbox action %s failed", route)
                return self._json(500, {"error": f"{type(exc).__name__}: {exc}"})
        return self._json(200, result or {})

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")  # no clickjacking from another site
        self.send_header(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'",
        )
        self.end_headers()
        self.wfile.write(data)


def _command(actions: Actions, user: str, body: dict[str, Any]) -> dict[str, Any]:
    actions.command(user, str(body.get("text", "")))
    return {}


def _click(actions: Actions, user: str, body: dict[str, Any]) -> dict[str, Any]:
    actions.click(
        user,
        str(body["where"]),
        str(body["action_id"]),
        str(body.get("value", "")),
        str(body.get("block_id", "")),
        ref=str(body.get("ref", "")),
    )
    return {}


def _options(actions: Actions, user: str, body: dict[str, Any]) -> dict[str, Any]:
    found = actions.options(user, str(body["action_id"]), str(body.get("query", "")))
    return {
        "options": [
            {"value": o.get("value", ""), "label": (o.get("text") or {}).get("text", "")}
            for o in found
        ]
    }


def _values(body: dict[str, Any]) -> dict[str, Any]:
    values = body.get("values") or {}
    if not isinstance(values, dict):
        raise ValueError("values is an object")
    return values


def _pick(actions: Actions, user: str, body: dict[str, Any]) -> dict[str, Any]:
    actions.pick(user, _values(body), str(body["block_id"]))
    return {}


def _submit(actions: Actions, user: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"errors": actions.submit(user, _values(body))}


def _close(actions: Actions, user: str, body: dict[str, Any]) -> dict[str, Any]:
    actions.close_modal(user)
    return {}


def _home(actions: Actions, user: str, body: dict[str, Any]) -> dict[str, Any]:
    actions.open_home(user)
    return {}


def _advance(actions: Actions, user: str, body: dict[str, Any]) -> dict[str, Any]:
    delta: timedelta = parse_duration(str(body.get("by", "")))
    actions.advance(delta)
    return {}


def _fault(actions: Actions, user: str, body: dict[str, Any]) -> dict[str, Any]:
    actions.set_fault(str(body["name"]), bool(body.get("on")))
    return {}


_ROUTES = {
    "command": _command,
    "click": _click,
    "options": _options,
    "pick": _pick,
    "submit": _submit,
    "close": _close,
    "home": _home,
    "advance": _advance,
    "fault": _fault,
}
