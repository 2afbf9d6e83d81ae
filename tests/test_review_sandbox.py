"""Security review of ``python -m bot sandbox``: what another origin, the shell's environment
or a malformed request can make the local sandbox do.

Each ``xfail(strict=True)`` test is a finding that still stands: it fails today and will
start passing (and so fail the suite, as a reminder to drop the mark) once it is fixed.
The tests without a mark pin down what held under attack.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from bot.sandbox.actions import Actions
from bot.sandbox.blockkit import mrkdwn, render
from bot.sandbox.seed import demo_seed
from bot.sandbox.web import SandboxServer, serve
from bot.sandbox.world import World

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[World, SandboxServer, str]]:
    world = World(demo_seed()).start()
    server = serve(world, 0)
    try:
        yield world, server, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        world.stop()


def _client() -> httpx.Client:
    # The test's own requests never go through a proxy the shell names.
    return httpx.Client(trust_env=False, timeout=30)


def _raw(port: int, request: bytes, wait: float = 3.0) -> bytes:
    """Send ``request`` as it is and return what came back (b"" for nothing)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(request)
        try:
            return sock.recv(4096)
        except TimeoutError:
            return b""


# -- findings ----------------------------------------------------------------------------


def test_no_sandbox_traffic_goes_to_a_proxy_named_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A developer behind a corporate proxy (HTTPS_PROXY=http://proxy.corp:3128) runs the
    sandbox: nothing may leave 127.0.0.1 — here a recording "proxy" stands in for the
    remote one, and must see no request at all."""
    seen: list[str] = []

    class Proxy(BaseHTTPRequestHandler):
        def _any(self) -> None:
            seen.append(f"{self.command} {self.path}")
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_CONNECT = _any

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        for name in PROXY_VARS:
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.server_address[1]}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        with World(demo_seed()) as world:
            Actions(world).command("U0ALICE", "help")
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert seen == [], f"{len(seen)} request(s) went to the proxy, first: {seen[:3]}"


def test_another_site_cannot_frame_the_page(running: tuple[World, SandboxServer, str]) -> None:
    _, _, url = running
    with _client() as client:
        page = client.get(f"{url}/")
    assert page.status_code == 200
    csp = page.headers.get("content-security-policy", "")
    framing = page.headers.get("x-frame-options", "").upper()
    assert "frame-ancestors 'none'" in csp or framing == "DENY", (csp, framing)


def test_another_origin_cannot_forge_a_private_reply(
    running: tuple[World, SandboxServer, str],
) -> None:
    world, server, _ = running
    actions = server.actions
    actions.command("U0ALICE", "help")  # hands out a response_url
    forged = {
        "text": "FORGED",
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "FORGED <https://phish.example|Sign in again>"},
            }
        ],
    }
    # What ``fetch(url, {method: "POST", mode: "no-cors", body})`` sends from any web page
    # (a CORS-safelisted request: no preflight) once it has found the fake Slack's port.
    with _client() as client:
        for n in range(1, 60):
            client.post(
                world.slack.webhook_url(f"sandbox-{n}"),
                content=json.dumps(forged),
                headers={
                    "Content-Type": "text/plain;charset=UTF-8",
                    "Origin": "https://evil.example",
                },
            )
    shown = [p for p in actions.private("U0ALICE") if "FORGED" in p.text]
    assert shown == []


@pytest.mark.parametrize(
    ("length", "body"),
    [
        (b"abc", b"{}"),
        (b"-1", b"{}"),
        (b"200002", b"[" * 100_001 + b"]" * 100_001),
    ],
    ids=["non-numeric-length", "negative-length", "deeply-nested-json"],
)
def test_a_malformed_post_gets_a_4xx_answer(
    running: tuple[World, SandboxServer, str], length: bytes, body: bytes
) -> None:
    _, server, _ = running
    port = server.server_address[1]
    answer = _raw(
        port,
        b"POST /api/command HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: " + length + b"\r\n\r\n" + body,
    )
    assert answer.startswith((b"HTTP/1.0 4", b"HTTP/1.1 4")), answer[:80]


# -- what held ---------------------------------------------------------------------------


def test_cross_origin_requests_cannot_act(running: tuple[World, SandboxServer, str]) -> None:
    """The requests a page elsewhere can send without a preflight are refused, the preflight
    itself is not granted, and a rebound hostname is refused."""
    world, _, url = running
    before = world.clock.now()
    with _client() as client:
        for content_type in (
            "text/plain;charset=UTF-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ):
            answer = client.post(
                f"{url}/api/advance",
                content='{"by": "1d"}',
                headers={"Content-Type": content_type, "Origin": "https://evil.example"},
            )
            assert answer.status_code == 415
            assert "access-control-allow-origin" not in answer.headers
        preflight = client.request(
            "OPTIONS",
            f"{url}/api/advance",
            headers={
                "Origin": "https://evil.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code >= 400
        assert "access-control-allow-origin" not in preflight.headers
        rebound = client.post(
            f"{url}/api/advance",
            json={"by": "1d"},
            headers={"Host": "attacker.example:8400"},
        )
        assert rebound.status_code == 403
        assert (
            client.get(f"{url}/api/state", headers={"Host": "attacker.example"}).status_code == 403
        )
    assert world.clock.now() - before < timedelta(hours=1)


def test_a_failing_action_shows_a_line_not_a_traceback(
    running: tuple[World, SandboxServer, str],
) -> None:
    _, _, url = running
    with _client() as client:
        for route, body in (
            ("click", {"user": "U0ALICE"}),
            ("click", {"user": "U0ALICE", "where": "private", "action_id": "x", "ref": "x"}),
            ("submit", {"user": "U0ALICE", "values": [1]}),
            ("advance", {"by": "99999999999d"}),
            ("fault", {"name": "__class__", "on": True}),
            ("command", {"user": "<script>", "text": "help"}),
        ):
            answer = client.post(f"{url}/api/{route}", json=body)
            assert 400 <= answer.status_code < 500, (route, answer.text)
            assert "Traceback" not in answer.text
        assert client.get(f"{url}/").status_code == 200


@pytest.mark.parametrize(
    "text",
    [
        "<javascript:alert(1)|click>",
        "<JaVaScRiPt:alert(1)>",
        "< javascript:alert(1)|x>",
        "<data:text/html,<script>alert(1)</script>|x>",
        '<https://ok.example/"onmouseover="alert(1)|x>',
        "<https://ok.example/\tjavascript:x|y>",
        '<@U1|"><img src=x onerror=alert(1)>>',
        "`<@U1>` *<img src=x>* _&lt;svg onload=alert(1)&gt;_ :warning:<b>",
        "```</pre><script>alert(1)</script>```",
        "&gt;<iframe src=javascript:alert(1)>",
    ],
)
def test_mrkdwn_never_yields_markup_from_text(text: str) -> None:
    html = mrkdwn(text, {"U1": "<b>x</b>"})
    lowered = html.lower()
    for bad in (
        "<script",
        "<img",
        "<svg",
        "<iframe",
        'href="javascript',
        'href="data',
        '"onmouseover',
    ):
        assert bad not in lowered, html


def test_every_attribute_the_renderer_writes_is_escaped() -> None:
    evil = "\"'><img src=x onerror=alert(1)>"
    text = {"type": "plain_text", "text": evil}
    html = render(
        [
            {
                "type": "actions",
                "block_id": evil,
                "elements": [
                    {
                        "type": "button",
                        "text": text,
                        "action_id": evil,
                        "value": evil,
                        "style": evil,
                        "confirm": {"title": text, "text": text},
                    },
                    {"type": "button", "text": text, "url": "javascript:alert(1)"},
                    {
                        "type": "static_select",
                        "action_id": evil,
                        "placeholder": text,
                        "options": [{"text": text, "value": evil}],
                        "option_groups": [{"label": text, "options": []}],
                    },
                ],
            },
            {
                "type": "input",
                "block_id": evil,
                "label": text,
                "element": {
                    "type": "external_select",
                    "action_id": evil,
                    "initial_option": {"text": text, "value": evil},
                },
            },
            {"type": evil, "text": evil},
        ],
        errors={evil: evil},
    )
    assert "<img" not in html
    assert "javascript:" not in html
