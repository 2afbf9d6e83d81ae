"""The trust boundary's edges (issue #12): signatures, input limits, dates, cleartext, files,
and a tamper-evident audit trail.

Most tests build the runtime without starting it (no Elastic Cloud or Slack is reached) and
talk to its WSGI app over real HTTP, so they run without ``../shared``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from bot.config import Settings
from bot.runtime import Runtime
from bot.web.server import serve_in_thread
from bot.web.wsgi import WebApp
from tests import payloads
from tests.harness import API_KEY, BOT_TOKEN, ORG_ID, OWNER, REQUESTER, SIGNING_SECRET

REPO = Path(__file__).resolve().parents[1]
APP_TOKEN = "xapp-1-A0TEST-trust"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def settings_for(tmp_path: Path, **overrides) -> Settings:
    """Settings whose Slack and Elastic URLs lead nowhere: nothing here calls them."""
    values = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": "http://127.0.0.1:9/api/",
        "elastic_cloud_api_key": API_KEY,
        "elastic_cloud_organization_id": ORG_ID,
        "elastic_cloud_api_url": "http://127.0.0.1:9",
        "database_path": tmp_path / "bot.db",
        "integration_owners": [OWNER],
        "sweep_interval": "1h",
    } | overrides
    return Settings(**values)


def serve(app) -> tuple[str, object]:
    server = serve_in_thread(app, "127.0.0.1", 0)
    return f"http://127.0.0.1:{server.server_address[1]}", server


@pytest.fixture
def served(tmp_path) -> Iterator:
    """``served(settings, force_slack=False)`` → base URL of that runtime's WSGI app."""
    started: list[tuple[Runtime, object]] = []

    def make(settings: Settings, force_slack: bool = False) -> str:
        runtime = Runtime(settings)
        app = WebApp(runtime, runtime.bolt, serve_slack=True) if force_slack else runtime.wsgi
        url, server = serve(app)
        started.append((runtime, server))
        return url

    yield make
    for runtime, server in started:
        server.shutdown()  # type: ignore[attr-defined]
        server.server_close()  # type: ignore[attr-defined]
        runtime.stop()


def help_command() -> str:
    return urlencode(
        payloads.command_form(
            REQUESTER, "help", response_url="http://127.0.0.1:9/hook", trigger_id="1.2.3"
        )
    )


# -- 1. Signatures, always ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("secret", "app_token"),
    [(SIGNING_SECRET, None), (SIGNING_SECRET, APP_TOKEN), (None, APP_TOKEN)],
    ids=["http", "http-with-app-token", "socket-without-secret"],
)
def test_unsigned_post_is_refused_in_every_mode_that_serves_slack_events(
    tmp_path, served, secret, app_token
) -> None:
    settings = settings_for(tmp_path, slack_signing_secret=secret, slack_app_token=app_token)
    body = help_command()
    url = served(settings)
    answer = httpx.post(f"{url}/slack/events", content=body, headers=FORM, timeout=5)
    assert answer.status_code in ((401,) if secret else (401, 404)), answer.text[:200]
    # Even if something served this runtime's Bolt app over HTTP, it checks signatures.
    forced = served(settings, force_slack=True)
    answer = httpx.post(f"{forced}/slack/events", content=body, headers=FORM, timeout=5)
    assert answer.status_code == 401, answer.text[:200]
    if secret:
        signed = httpx.post(
            f"{forced}/slack/events",
            content=body,
            headers=FORM | payloads.sign(body, secret),
            timeout=5,
        )
        # Past the signature check (Slack itself is unreachable here, so no 200).
        assert signed.status_code != 401, signed.text[:200]


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "ELASTIC_", "DATABASE_", "INTEGRATION_"))
    }
    environ |= {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "ELASTIC_CLOUD_API_KEY": API_KEY,
        "ELASTIC_CLOUD_ORGANIZATION_ID": ORG_ID,
        "INTEGRATION_OWNERS": OWNER,
        "DATABASE_PATH": str(tmp_path / "bot.db"),
        "XDG_RUNTIME_DIR": str(tmp_path),
    } | env
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_http_mode_without_signing_secret_refuses_to_start(tmp_path) -> None:
    done = run_cli(tmp_path, "run", "--mode", "http", SLACK_APP_TOKEN=APP_TOKEN, PORT="9")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "SLACK_SIGNING_SECRET" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "bot.db").exists()  # refused before touching anything


# -- 13. Cleartext ------------------------------------------------------------------------------
def test_cleartext_api_urls_beyond_loopback_stop_the_bot_naming_each_setting(tmp_path) -> None:
    done = run_cli(
        tmp_path,
        "check",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL="http://slack.example.com/api/",
        ELASTIC_CLOUD_API_URL="http://127.0.0.1.evil.example",
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert any(line.startswith("config error: SLACK_API_URL:") for line in lines), lines
    assert any(line.startswith("config error: ELASTIC_CLOUD_API_URL:") for line in lines), lines
    assert all("https://" in line for line in lines), lines
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://127.5.6.7",
        "http://[::1]:9200",
        "http://localhost:3000/api/",
        "https://api.elastic-cloud.com",
    ],
)
def test_cleartext_is_allowed_only_to_loopback(tmp_path, url) -> None:
    settings = settings_for(tmp_path, slack_api_url=url, elastic_cloud_api_url=url)
    assert settings.elastic_cloud_api_url == url


# -- 12. Dates ----------------------------------------------------------------------------------
OVERFLOWING = ["until:9999-12-31", "since:0001-01-01T00:00+01:00", "until:9999-12-31T23:00-05:00"]


@pytest.mark.parametrize("word", OVERFLOWING)
def test_list_dates_that_overflow_are_refused_naming_the_word(word) -> None:
    from datetime import UTC, datetime

    from bot.access.errors import InvalidRequest
    from bot.access.listing import parse_list_filters

    with pytest.raises(InvalidRequest) as refused:
        parse_list_filters([word], datetime.now(UTC))
    assert "out of range" in str(refused.value) and word.split(":", 1)[1] in str(refused.value)


def test_list_dates_that_overflow_get_a_clear_answer_over_http(bot) -> None:
    for word in OVERFLOWING:
        said = bot.say(REQUESTER, f"list {word}")
        assert "out of range" in said, said


@pytest.mark.parametrize(
    "args",
    [
        ("--since", "30d", "--until", "9999-12-31"),
        ("--since", "0001-01-01T00:00+01:00"),
    ],
)
def test_audit_cli_dates_that_overflow_exit_2_in_one_line(tmp_path, args) -> None:
    done = run_cli(tmp_path, "audit", *args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "out of range" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
