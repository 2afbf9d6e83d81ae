"""The real process, as a platform runs it: ``python -m bot run``, probes, one request, SIGTERM.

HTTP mode runs under gunicorn and is driven with signed requests. Socket Mode gets a tiny
WebSocket server standing in for Slack's (``apps.connections.open`` is scripted on the fake
Slack to hand out its URL), so a slash command travels the whole Socket Mode path.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tests.harness import API_KEY, BOT_TOKEN, ORG_ID, OWNER, REQUESTER, SIGNING_SECRET, sign

REPO = Path(__file__).resolve().parents[1]
SECRETS = (BOT_TOKEN, SIGNING_SECRET, API_KEY)
HELP_LINE = "/elastic-access help"  # a line of the help text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Process:
    popen: subprocess.Popen
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_healthy(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                pytest.fail(f"exited with {self.popen.returncode}:\n{self.output()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        pytest.fail(f"/healthz not 200 within {timeout}s:\n{self.output()}")

    def terminate(self, timeout: float = 15.0) -> int:
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {timeout}s after SIGTERM:\n{self.output()}")


@contextlib.contextmanager
def bot_process(tmp_path: Path, slack, elastic, *args: str, **env: str) -> Iterator[Process]:
    port = free_port()
    environ = {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "ELASTIC_CLOUD_API_KEY": API_KEY,
        "ELASTIC_CLOUD_ORGANIZATION_ID": ORG_ID,
        "ELASTIC_CLOUD_API_URL": elastic.url,
        "DATABASE_PATH": str(tmp_path / "bot.db"),
        "INTEGRATION_OWNERS": OWNER,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        # gunicorn >= 25.1 opens a control socket in $XDG_RUNTIME_DIR (else ~/.gunicorn).
        "XDG_RUNTIME_DIR": str(tmp_path),
        **env,
    }
    log = tmp_path / "bot.log"
    with log.open("wb") as sink:
        popen = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", *args],
            cwd=REPO,
            env=environ,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Process(popen, f"http://127.0.0.1:{port}", log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait(5)


def command_form(slack, text: str) -> dict[str, str]:
    return {
        "token": "legacy-verification-token",
        "team_id": "T0001",
        "team_domain": "example",
        "channel_id": "C0GENERAL",
        "channel_name": "general",
        "user_id": REQUESTER,
        "user_name": "alice",
        "command": "/elastic-access",
        "text": text,
        "api_app_id": "A0APP",
        "is_enterprise_install": "false",
        "response_url": slack.webhook_url("cmd"),
        "trigger_id": slack.new_trigger_id(),
    }


def assert_no_secrets(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


# -- HTTP mode --------------------------------------------------------------------------------
def test_http_mode_serves_probes_and_slack_then_stops_gracefully(tmp_path, slack, elastic) -> None:
    with bot_process(tmp_path, slack, elastic, "--mode", "http") as bot:
        bot.wait_healthy()
        ready = httpx.get(f"{bot.url}/readyz", timeout=5)
        assert ready.status_code == 200
        checks = ready.json()["checks"]
        assert checks and all(checks.values()), checks

        body = urlencode(command_form(slack, "help"))
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        events = f"{bot.url}/slack/events"
        answer = httpx.post(events, content=body, headers=form | sign(body), timeout=5)
        assert answer.status_code == 200
        assert answer.json()["response_type"] == "ephemeral"
        assert HELP_LINE in answer.json()["text"]

        unsigned = httpx.post(events, content=body, headers=form, timeout=5)
        assert unsigned.status_code == 401
        forged = httpx.post(
            events, content=body, headers=form | sign(body, secret="not-the-secret"), timeout=5
        )
        assert forged.status_code == 401
        tampered = httpx.post(
            events, content=body.replace("help", "list"), headers=form | sign(body), timeout=5
        )
        assert tampered.status_code == 401
        # Correctly signed with the right secret, but outside Slack's five-minute window.
        for age in (3600, 330, -3600):
            stale = httpx.post(
                events,
                content=body,
                headers=form | sign(body, timestamp=int(time.time()) - age),
                timeout=5,
            )
            assert stale.status_code == 401, age
        recent = sign(body, timestamp=int(time.time()) - 240)
        assert httpx.post(events, content=body, headers=form | recent, timeout=5).status_code == 200

        began = time.monotonic()
        assert bot.terminate() == 0, bot.output()
        assert time.monotonic() - began < 15
        output = bot.output()
        assert "worker exiting" in output
        assert "Traceback" not in output
        assert_no_secrets(output)


# -- Socket Mode ------------------------------------------------------------------------------
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class FakeSocketModeServer:
    """Just enough of Slack's Socket Mode WebSocket: handshake, hello, envelopes, pongs."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(10)
        self.url = f"ws://127.0.0.1:{self.listener.getsockname()[1]}/link/?ticket=test"
        self.conn: socket.socket | None = None
        self.connected = threading.Event()
        self.received: list[dict] = []
        self._got = threading.Condition()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            conn, _ = self.listener.accept()
            conn.settimeout(None)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            key = next(
                line.split(":", 1)[1].strip()
                for line in request.decode().split("\r\n")
                if line.lower().startswith("sec-websocket-key:")
            )
            accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()  # noqa: S324 - RFC 6455
            conn.sendall(
                (
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                ).encode()
            )
            self.conn = conn
            self.send({"type": "hello", "num_connections": 1, "debug_info": {"host": "fake"}})
            self.connected.set()
            while True:
                opcode, payload = self._read_frame(conn)
                if opcode == 0x8:  # close
                    return
                if opcode == 0x9:  # ping → pong
                    self._write_frame(0xA, payload)
                elif opcode == 0x1:
                    with self._got:
                        self.received.append(json.loads(payload))
                        self._got.notify_all()

    @staticmethod
    def _read_exact(conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise OSError("closed")
            data += chunk
        return data

    def _read_frame(self, conn: socket.socket) -> tuple[int, bytes]:
        first, second = self._read_exact(conn, 2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read_exact(conn, 2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read_exact(conn, 8))
        mask = self._read_exact(conn, 4) if second & 0x80 else b"\0\0\0\0"
        data = self._read_exact(conn, length)
        return first & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data))

    def _write_frame(self, opcode: int, payload: bytes) -> None:
        assert self.conn is not None
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
        self.conn.sendall(header + payload)

    def send(self, message: dict) -> None:
        self._write_frame(0x1, json.dumps(message).encode())

    def wait_for(self, envelope_id: str, timeout: float = 5.0) -> dict:
        with self._got:
            found = self._got.wait_for(
                lambda: next(
                    (m for m in self.received if m.get("envelope_id") == envelope_id), None
                ),
                timeout,
            )
        assert found, f"no reply to {envelope_id}; got {self.received}"
        return found

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.close()
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.close()


def test_socket_mode_takes_a_slash_command_and_serves_probes(tmp_path, slack, elastic) -> None:
    ws = FakeSocketModeServer()
    # The fake only accepts its bot token, so the app-level token is the same string here.
    slack.script("apps.connections.open", body={"ok": True, "url": ws.url}, times=5)
    try:
        with bot_process(
            tmp_path, slack, elastic, "--mode", "socket", SLACK_APP_TOKEN=BOT_TOKEN
        ) as bot:
            bot.wait_healthy()
            assert ws.connected.wait(10), bot.output()
            ready = httpx.get(f"{bot.url}/readyz", timeout=5)
            assert ready.status_code == 200 and all(ready.json()["checks"].values())

            ws.send(
                {
                    "envelope_id": "env-1",
                    "type": "slash_commands",
                    "accepts_response_payload": True,
                    "payload": command_form(slack, "help"),
                }
            )
            reply = ws.wait_for("env-1")
            assert HELP_LINE in reply["payload"]["text"]

            assert bot.terminate() == 0, bot.output()
            output = bot.output()
            assert "connected to Slack in Socket Mode" in output
            assert "Traceback" not in output
            assert_no_secrets(output)
    finally:
        ws.close()


def test_socket_mode_that_cannot_reach_slack_exits_cleanly(tmp_path, slack, elastic) -> None:
    """One line saying why, exit code 1, no traceback; the runtime is stopped on the way out."""
    # FakeSlack has no apps.connections.open, so opening the connection fails.
    with bot_process(
        tmp_path, slack, elastic, "--mode", "socket", SLACK_APP_TOKEN="xapp-1-A0-refused"
    ) as bot:
        code = bot.popen.wait(15)
        output = bot.output()
        assert "xapp-1-A0-refused" not in output
        assert code not in (0, None)
        assert "Traceback" not in output, output
        assert "Socket Mode" in output
        assert "unknown_method" in output  # Slack's error code, said once


def test_socket_mode_port_takes_no_slack_requests(tmp_path, slack, elastic) -> None:
    """Slack's requests come over the socket, unsigned; $PORT must not take them from anyone."""
    ws = FakeSocketModeServer()
    slack.script("apps.connections.open", body={"ok": True, "url": ws.url}, times=5)
    try:
        with bot_process(
            tmp_path,
            slack,
            elastic,
            "--mode",
            "socket",
            SLACK_APP_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET="",  # not needed in Socket Mode (empty means unset)
        ) as bot:
            bot.wait_healthy()
            body = urlencode(command_form(slack, "help"))
            forged = httpx.post(
                f"{bot.url}/slack/events",
                content=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=5,
            )
            assert forged.status_code in (401, 404), forged.text[:200]
    finally:
        ws.close()
