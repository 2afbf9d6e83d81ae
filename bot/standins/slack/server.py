"""The HTTP side of the fake: routing ``/api/<method>``, ``/webhook/<name>`` and
``/upload/<file>``, parsing arguments as Slack does, and the checks every method call gets
(authentication, scripted replies, scopes, required args) before its handler runs.
"""

from __future__ import annotations

import contextlib
import copy
import json
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from bot.standins.slack.answers import _response_url_error
from bot.standins.slack.replies import _ApiError, _invalid_arguments, _missing, _Reply
from bot.standins.slack.state import _SlackState

if TYPE_CHECKING:
    from bot.standins.slack.fake import FakeSlack

_JSON_ARGS = ("blocks", "attachments", "view", "files", "metadata")


class _Handler(BaseHTTPRequestHandler):
    """Routes every request to the owning FakeSlack (set as a class attribute per server)."""

    fake: FakeSlack
    server_version = "FakeSlack/1.0"

    def do_GET(self) -> None:
        self.fake._serve(self)

    def do_POST(self) -> None:
        self.fake._serve(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging; the fake records calls itself."""


class _Serving(_SlackState):
    """From an HTTP request to a recorded Web API answer, for :class:`~.fake.FakeSlack`."""

    def _serve(self, req: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(req.path)
        host = (req.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
        if host not in ("127.0.0.1", "localhost", "::1"):
            # Only this machine's clients (a page elsewhere reaching it by DNS rebinding is
            # not one): the stand-in answers on 127.0.0.1 alone.
            return self._send(req, _Reply(403, {"ok": False, "error": "local_only"}, {}))
        try:
            length = max(0, int(req.headers.get("Content-Length") or 0))
        except ValueError:
            return self._send(req, _Reply(400, {"ok": False, "error": "bad_length"}, {}))
        raw = req.rfile.read(length) if length else b""
        path = parts.path
        if path.startswith("/api/"):
            reply = self._api(unquote(path[len("/api/") :]), req, parts.query, raw)
        elif path.startswith("/webhook/"):
            if not (req.headers.get("Content-Type") or "").startswith("application/json"):
                # Slack takes response_url posts as JSON; a text/plain one is what another
                # origin's no-cors fetch can send without asking.
                reply = _Reply(415, {"ok": False, "error": "invalid_content_type"}, {})
            else:
                reply = self._webhook(unquote(path[len("/webhook/") :]), raw)
        elif path.startswith("/upload/"):
            reply = self._upload(unquote(path[len("/upload/") :]), raw)
        else:
            reply = _Reply(404, "not found", {})
        self._send(req, reply)

    def _send(self, req: BaseHTTPRequestHandler, reply: _Reply) -> None:
        body = reply.body
        headers = dict(reply.headers)
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode("utf-8")
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        elif isinstance(body, bytes):
            data = body
        else:
            data = str(body).encode("utf-8")
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        req.send_response(reply.status)
        for key, value in headers.items():
            req.send_header(key, value)
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    @staticmethod
    def _parse_args(req: BaseHTTPRequestHandler, query: str, raw: bytes) -> dict[str, Any]:
        """Parse like Slack: query string, then a JSON or form-urlencoded body."""
        args: dict[str, Any] = {
            k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()
        }
        content_type = (req.headers.get("Content-Type") or "").lower()
        text = raw.decode("utf-8", errors="replace")
        if content_type.startswith("application/json"):
            try:
                body = json.loads(text) if text.strip() else {}
            except ValueError:
                body = {}
            if isinstance(body, dict):
                args.update(body)
        elif text:
            args.update({k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()})
        for key in _JSON_ARGS:
            value = args.get(key)
            if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
                # Left as a string when unparseable; validation reports the bad format.
                with contextlib.suppress(ValueError):
                    args[key] = json.loads(value)
        return args

    def _api(self, method: str, req: BaseHTTPRequestHandler, query: str, raw: bytes) -> _Reply:
        """Answer a Web API call and record it with the answer (``calls()[i]["response"]``)."""
        record: dict[str, Any] = {}
        reply = self._api_reply(method, req, query, raw, record)
        with self._lock:
            record["status"] = reply.status
            record["response"] = copy.deepcopy(reply.body)
        return reply

    def _api_reply(
        self,
        method: str,
        req: BaseHTTPRequestHandler,
        query: str,
        raw: bytes,
        record: dict[str, Any],
    ) -> _Reply:
        args = self._parse_args(req, query, raw)
        headers = {k.lower(): v for k, v in req.headers.items()}
        auth = headers.get("authorization", "")
        token = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else None
        token = token or args.pop("token", None)
        args.pop("token", None)
        scope_header = {"x-oauth-scopes": ",".join(self.scopes)}
        with self._lock:
            record.update(
                {
                    "method": method,
                    "args": copy.deepcopy(args),
                    "headers": headers,
                    "time": self.clock(),
                }
            )
            self._calls.append(record)
            scripted = self._scripts.get(method)
            if method not in self._methods and not scripted:
                return _Reply(
                    404, {"ok": False, "error": "unknown_method", "req_method": method}, {}
                )
            if not token:
                return _Reply(200, {"ok": False, "error": "not_authed"}, {})
            if token != self.bot_token:
                return _Reply(200, {"ok": False, "error": "invalid_auth"}, {})
            if scripted:
                entry = scripted[0]
                entry.remaining -= 1
                if entry.remaining <= 0:
                    scripted.popleft()
                return _Reply(
                    entry.reply.status,
                    copy.deepcopy(entry.reply.body),
                    {**scope_header, **entry.reply.headers},
                )
            try:
                self._check_scopes(method)
                for arg in self.required_args(method):
                    if _missing(args.get(arg)):
                        code = self.missing_arg_error(method, arg)
                        if code == "invalid_arguments":
                            raise _invalid_arguments([f"[ERROR] missing required field: {arg}"])
                        raise _ApiError(code)
                body = self._methods[method](args)
            except _ApiError as exc:
                return _Reply(
                    exc.status, {"ok": False, "error": exc.code, **exc.extra}, scope_header
                )
            except Exception as exc:  # a bug in the fake: say so instead of hanging up
                detail = f"fake bug in {method}: {exc!r}"
                return _Reply(500, {"ok": False, "error": "internal_error", "detail": detail}, {})
            return _Reply(200, {"ok": True, **body}, scope_header)

    def _check_scopes(self, method: str) -> None:
        needed = self._method_scopes.get(method)
        if needed and not set(needed) & set(self.scopes):
            raise _ApiError(
                "missing_scope", needed=",".join(needed), provided=",".join(self.scopes)
            )

    def _webhook(self, name: str, raw: bytes) -> _Reply:
        try:
            body: Any = json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            body = raw.decode("utf-8", errors="replace")
        with self._lock:
            uses = self._webhook_uses.get(name, 0)
            if self.webhook_max_uses is not None and uses >= self.webhook_max_uses:
                # response_url works 5 times within 30 minutes.
                return _Reply(404, {"ok": False, "error": "used_url"}, {})
            error = _response_url_error(body)
            if error is not None:
                self._webhook_refusals.append((name, body, error))
                return _Reply(400, error, {})
            self._webhook_uses[name] = uses + 1
            self._webhooks.append((name, body))
        return _Reply(200, {"ok": True}, {})

    def _upload(self, file_id: str, raw: bytes) -> _Reply:
        with self._lock:
            pending = self._pending_files.get(file_id)
            if pending is None:
                return _Reply(404, "file not found", {})
            pending["content"] = raw
        return _Reply(200, f"OK - {len(raw)}", {})
