"""Faults on purpose: scripted answers, lost replies, and actions run after a call.

The tests, the benchmarks and the sandbox's "break things" switches use these to make Elastic
answer 429/503, reject the key, time out, or fail the read that follows a write. A scripted
answer stands in front of the service like a proxy (checked after authentication and
validation, before any state changes); a lost reply takes effect and then answers an error.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.standins.elastic.replies import _error_reply, _Reply
from bot.standins.elastic.state import _OrgState


@dataclass
class _Script:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: Any
    headers: dict[str, str]
    remaining: int
    raw_body: bytes | None
    delay: float


class _Faults(_OrgState):
    """Fault injection for :class:`~bot.standins.elastic.emulator.ElasticEmulator`."""

    _scripts: list[_Script]
    #: (method, path pattern, action, remaining): run after a matching call succeeds.
    _after: list[list[Any]]
    #: (method, path pattern, status): handled, then answered with an error instead.
    _lost_replies: list[tuple[str, re.Pattern[str], int]]
    _stopping: threading.Event

    def script(
        self,
        method: str,
        path_regex: str,
        status: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
        raw_body: bytes | None = None,
        delay: float = 0,
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` (or ``*``) and
        ``path_regex`` (searched in the path, without query) with this response instead of
        handling them; no state changes. ``raw_body`` is sent verbatim (content type
        ``text/html`` unless ``headers`` say otherwise); ``delay`` waits before answering.
        Scripts are checked before authentication, like a proxy in front of the service.
        """
        with self._lock:
            self._scripts.append(
                _Script(
                    method.upper(),
                    re.compile(path_regex),
                    status,
                    body,
                    dict(headers or {}),
                    times,
                    raw_body,
                    delay,
                )
            )

    def after(
        self, method: str, path_regex: str, action: Callable[[], None], times: int = 1
    ) -> None:
        """Run ``action`` once each of the next ``times`` handled (not scripted) requests
        matching ``method`` and ``path_regex`` succeeds, before its reply is sent: for
        example, script a failure of the read that follows a write."""
        with self._lock:
            self._after.append([method.upper(), re.compile(path_regex), action, times])

    def _run_after(self, method: str, path: str) -> None:
        with self._lock:
            due = []
            for hook in list(self._after):
                if hook[0] in ("*", method) and hook[1].search(path):
                    hook[3] -= 1
                    if hook[3] <= 0:
                        self._after.remove(hook)
                    due.append(hook[2])
        for action in due:
            action()

    def lose_reply(self, method: str, path_regex: str, status: int = 504) -> None:
        """The next request matching ``method`` and ``path_regex`` takes effect, but its
        answer is lost: the caller gets ``status`` (a gateway timeout by default)."""
        with self._lock:
            self._lost_replies.append((method.upper(), re.compile(path_regex), status))

    def _lose(self, method: str, path: str, reply: _Reply) -> _Reply:
        with self._lock:
            for lost in self._lost_replies:
                if lost[0] in ("*", method) and lost[1].search(path):
                    self._lost_replies.remove(lost)
                    return _error_reply(lost[2], f"emulator.lost_{lost[2]}", "answer lost")
        return reply

    def clear_scripts(self) -> None:
        with self._lock:
            self._scripts.clear()
            self._after.clear()

    def _scripted(self, method: str, path: str) -> _Reply | None:
        with self._lock:
            for script in self._scripts:
                if script.method in ("*", method) and script.pattern.search(path):
                    script.remaining -= 1
                    if script.remaining <= 0:
                        self._scripts.remove(script)
                    break
            else:
                return None
        if script.delay:
            self._stopping.wait(script.delay)
        reply_headers = dict(script.headers)
        if script.raw_body is not None:
            if not any(k.lower() == "content-type" for k in reply_headers):
                reply_headers["Content-Type"] = "text/html; charset=utf-8"
            return _Reply(script.status, headers=reply_headers, raw=script.raw_body)
        body = script.body
        if body is None and script.status >= 400:
            body = {
                "errors": [
                    {"code": f"emulator.scripted_{script.status}", "message": "scripted error"}
                ]
            }
        if isinstance(body, dict) and body.get("errors"):
            code = body["errors"][0].get("code") if isinstance(body["errors"], list) else None
            if code:
                reply_headers.setdefault("x-cloud-error-codes", str(code))
        return _Reply(script.status, body if body is not None else {}, reply_headers)
