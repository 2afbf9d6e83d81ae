"""The HTTP side: the threaded server, its request handler, and the request pipeline.

Every request is recorded, authenticated, checked against the specs and only then answered:
by a scripted fault, by a live-only operation the copied spec lacks, or by the operation's
handler; each answer carries the headers every Elastic Cloud response carries (rate limits).
Head and body go out in one write, since two small writes meet the client's delayed ACK.
"""

from __future__ import annotations

import http.server
import json
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from bot.standins.elastic.faults import _Faults
from bot.standins.elastic.replies import _ApiError, _error_reply, _Reply, _Request
from bot.standins.elastic.validator import SpecValidator, Verdict

if TYPE_CHECKING:
    from bot.standins.elastic.emulator import ElasticEmulator


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # else server_close() waits on idle keep-alive connections
    emulator: ElasticEmulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out and hang up are expected; stay quiet about them."""


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30  # drop idle keep-alive connections eventually

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._pending_head: list[bytes] = []
        self._hold_head = False

    def flush_headers(self) -> None:
        """Inside ``_send``, hold the head back so head and body go out in one write."""
        if not self._hold_head:
            super().flush_headers()
            return
        self._pending_head = list(getattr(self, "_headers_buffer", []))
        self._headers_buffer = []

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        """Silence the per-request stderr log."""

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        try:
            raw = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            reply = _error_reply(400, "root.invalid_data", "unreadable request body")
            self._send(reply)
            return
        reply = self.server.emulator._handle_http(
            self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, raw
        )
        self._send(reply)

    def _send(self, reply: _Reply) -> None:
        if reply.raw is not None:
            payload = reply.raw
        else:
            payload = json.dumps(reply.body if reply.body is not None else {}).encode()
        self._hold_head = True
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            # One write for head and body: two small writes meet the client's delayed ACK
            # (Nagle) and cost ~40 ms per request.
            self.wfile.write(
                b"".join(self._pending_head) + (b"" if self.command == "HEAD" else payload)
            )
        except OSError:  # the client went away (e.g. timed out on a delayed reply)
            self.close_connection = True
        finally:
            self._hold_head = False

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


class _Pipeline(_Faults):
    """From raw HTTP to a reply, for :class:`~bot.standins.elastic.emulator.ElasticEmulator`."""

    validator: SpecValidator
    ratelimit_limit: int
    ratelimit_interval: str
    role_mappings: list[dict[str, Any]] | None
    _handlers: dict[str, Callable[[_Request], _Reply]]

    def _handle_http(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> _Reply:
        parts = urlsplit(target)
        path = parts.path
        query = parse_qs(parts.query, keep_blank_values=True)
        body: Any = None
        malformed = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body, malformed = raw.decode("utf-8", "replace"), True
        record: dict[str, Any] = {
            "method": method,
            "path": path,
            "query": query,
            "body": body,
            "headers": headers,
            "status": None,
            "time": time.monotonic(),
            "spec_errors": [],
            "response": None,
        }
        with self._lock:
            self.calls.append(record)
        verdict = self.validator.check(method, path, query, None if malformed else body)
        live_only = self._live_only(method, path)
        if live_only is not None:
            verdict = Verdict(200)
        record["spec_errors"] = list(verdict.errors) + (["body is not JSON"] if malformed else [])
        # As the service would: a request is authenticated and validated before anything
        # else (a scripted outage included) can answer it.
        reply = self._refusal(headers, raw, malformed, verdict)
        if reply is None:
            reply = self._scripted(method, path)
        if reply is None and live_only is not None:
            reply = live_only()
        if reply is None:
            reply = self._respond(method, path, query, headers, body, raw, malformed, verdict)
            if 200 <= reply.status < 300:
                self._run_after(method, path)
            reply = self._lose(method, path, reply)
        record["status"] = reply.status
        record["response"] = reply.body if reply.raw is None else reply.raw
        self._decorate(reply)
        return reply

    def _live_only(self, method: str, path: str) -> Callable[[], _Reply] | None:
        """Operations of the live API that the copied spec lacks: their handler, else None."""
        if (
            method == "GET"
            and path == f"/api/v1/organizations/{self.organization_id}/role_mappings"
        ):
            return self._get_role_mappings
        return None

    def _get_role_mappings(self) -> _Reply:
        with self._lock:
            if self.role_mappings is None:
                return _error_reply(404, "root.resource_not_found", "no role mappings endpoint")
            return _Reply(200, {"mappings": [dict(m) for m in self.role_mappings]})

    def _refusal(
        self, headers: dict[str, str], raw: bytes, malformed: bool, verdict: Verdict
    ) -> _Reply | None:
        """The answer to a request that is not authenticated or not valid, else None."""
        scheme, _, key = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "apikey" or key.strip() != self.api_key:
            return _error_reply(401, "root.unauthorized", "The supplied credentials are invalid")
        if verdict.status in (404, 405):
            reply = _error_reply(verdict.status, verdict.code or "", "; ".join(verdict.errors))
            if verdict.allowed_methods:
                reply.headers["Allow"] = ", ".join(verdict.allowed_methods)
            return reply
        if raw:
            media = headers.get("content-type", "").split(";")[0].strip().lower()
            if media != "application/json":
                return _error_reply(
                    415,
                    "root.unsupported_media_type",
                    f"request bodies must be application/json, got {media or 'nothing'}",
                )
            if malformed:
                return _error_reply(400, "root.invalid_json_request", "body is not valid JSON")
        if not verdict.ok:
            return _error_reply(400, verdict.code or "root.invalid_data", "; ".join(verdict.errors))
        return None

    def _respond(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: Any,
        raw: bytes,
        malformed: bool,
        verdict: Verdict,
    ) -> _Reply:
        op = verdict.operation
        assert op is not None
        handler = self._handlers.get(op.operation_id)
        if handler is None:
            return _error_reply(
                501,
                "emulator.not_implemented",
                f"{op.operation_id} is valid per the spec but not emulated",
            )
        request = _Request(method, path, query, body, op, verdict.path_params)
        try:
            return handler(request)
        except _ApiError as err:
            return _error_reply(err.status, err.code, err.message)
        except Exception as err:  # an emulator bug: make it loud, not a hung connection
            return _error_reply(500, "emulator.internal_error", repr(err))

    def _decorate(self, reply: _Reply) -> None:
        """Add the headers every Elastic Cloud response carries."""
        window_start = time.monotonic() - 60
        with self._lock:
            recent = sum(1 for c in self.calls if c["time"] >= window_start)
        defaults = {
            "Content-Type": "application/json",
            "x-ratelimit-interval": self.ratelimit_interval,
            "x-ratelimit-limit": str(self.ratelimit_limit),
            "x-ratelimit-remaining": str(max(0, self.ratelimit_limit - recent)),
        }
        present = {k.lower() for k in reply.headers}
        for name, value in defaults.items():
            if name.lower() not in present:
                reply.headers[name] = value
