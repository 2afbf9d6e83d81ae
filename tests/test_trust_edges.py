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
from bot.standins import payloads
from bot.web.server import serve_in_thread
from bot.web.wsgi import WebApp
from tests.harness import (
    API_KEY,
    BOT_TOKEN,
    ORG_ID,
    OWNER,
    REQUESTER,
    SIGNING_SECRET,
    stored_bytes,
)

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


# -- 10. Limits on every path -------------------------------------------------------------------
LONG_JUSTIFICATION = "INC-1 " + "x" * 1000  # 1006 characters
LONG_REASON = "y" * 501


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        (f"request prod-search deployment-viewer 1h {LONG_JUSTIFICATION}", "1000"),
        (f"break-glass prod-search deployment-viewer 1h {LONG_JUSTIFICATION}", "1000"),
        (f"extend 1 30m {LONG_REASON}", "500"),
    ],
)
def test_slash_command_text_over_the_limit_is_refused_naming_it(text, limit) -> None:
    from bot.access.commands import parse_command
    from bot.access.errors import InvalidRequest

    with pytest.raises(InvalidRequest) as refused:
        parse_command(text)
    assert f"at most {limit}" in str(refused.value)


def test_slash_request_over_the_limit_is_refused_and_nothing_is_stored(bot) -> None:
    for verb in ("request", "break-glass"):
        said = bot.say(REQUESTER, f"{verb} prod-search deployment-viewer 1h {LONG_JUSTIFICATION}")
        assert "at most 1000" in said, said
    assert bot.runtime.store.list_requests()[1] == 0


def test_core_refuses_over_long_text_whatever_path_it_came_by(bot, slack) -> None:
    """A forged form submission carries what it likes: the core checks the limits itself."""
    from datetime import timedelta

    from bot.access.errors import InvalidRequest
    from bot.access.states import State

    service = bot.runtime.service
    with pytest.raises(InvalidRequest, match="at most 1000"):
        bot.file_request(
            REQUESTER, "prod-search", "deployment-viewer", timedelta(hours=1), LONG_JUSTIFICATION
        )
    assert bot.runtime.store.list_requests()[1] == 0
    bot.command(REQUESTER, "request prod-search deployment-viewer 1h INC-9 work")
    slack.wait_for(lambda: bot.state(1) is State.PENDING)
    with pytest.raises(InvalidRequest, match="at most 500"):
        bot.decide(1, OWNER, approve=False, reason=LONG_REASON)
    assert bot.state(1) is State.PENDING
    bot.decide(1, OWNER, approve=True)
    assert bot.state(1) is State.ACTIVE
    with pytest.raises(InvalidRequest, match="at most 500"):
        service.request_extension(1, REQUESTER, timedelta(minutes=30), LONG_REASON)
    assert bot.request(1).extension_seconds is None
    events = bot.runtime.store.events(1)
    assert not any(LONG_REASON in str(e["detail"]) for e in events)


def test_deny_form_with_an_over_long_reason_shows_the_limit_inline(bot, slack) -> None:
    import json

    from bot.access.states import State
    from bot.slack.blocks import deny_modal

    bot.command(REQUESTER, "request prod-search deployment-viewer 1h INC-9 work")
    slack.wait_for(lambda: bot.state(1) is State.PENDING)
    # The form the Deny button opens: the inline error must name one of its input blocks.
    view = deny_modal(bot.request(1), {"request_id": 1})
    assert json.loads(view["private_metadata"]) == {"request_id": 1}
    answer = bot.submit_view(
        OWNER, view, {"reason": {"type": "plain_text_input", "value": LONG_REASON}}
    ).json()
    assert answer["response_action"] == "errors"
    assert "at most 500" in answer["errors"]["reason"]
    assert bot.state(1) is State.PENDING


# -- 10. Body size ------------------------------------------------------------------------------
def test_bodies_over_one_megabyte_are_refused_with_413_before_parsing(tmp_path, served) -> None:
    from bot.web.wsgi import MAX_BODY

    url = served(settings_for(tmp_path))
    too_big = b"a" * (MAX_BODY + 1)
    answer = httpx.post(f"{url}/slack/events", content=too_big, headers=FORM, timeout=10)
    assert answer.status_code == 413
    just_fits = b"a" * MAX_BODY  # read and checked: only the signature is wrong
    answer = httpx.post(f"{url}/slack/events", content=just_fits, headers=FORM, timeout=10)
    assert answer.status_code == 401


class _Endless:
    """A request body that never ends, counting what was read of it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        assert size >= 0, "an unbounded read of the request body"
        self.read_bytes += size
        return b"a" * size


def test_a_body_without_content_length_is_read_only_up_to_the_limit(tmp_path) -> None:
    from bot.web.wsgi import MAX_BODY

    runtime = Runtime(settings_for(tmp_path))
    try:
        endless = _Endless()
        statuses: list[str] = []
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/slack/events",
            "HTTP_TRANSFER_ENCODING": "chunked",
            "wsgi.input": endless,
            "wsgi.input_terminated": True,  # the server decodes the chunks (gunicorn does)
        }
        runtime.wsgi(environ, lambda status, headers: statuses.append(status))
        assert statuses[0].startswith("413")
        assert endless.read_bytes <= MAX_BODY + 1
        # A server that cannot end a chunked body: refused, nothing read.
        endless, statuses = _Endless(), []
        environ |= {"wsgi.input": endless, "wsgi.input_terminated": False}
        runtime.wsgi(environ, lambda status, headers: statuses.append(status))
        assert statuses[0].startswith("411") and endless.read_bytes == 0
    finally:
        runtime.stop()


def test_chunked_bodies_under_gunicorn_are_bounded_and_still_verified(
    tmp_path, slack, elastic
) -> None:
    from bot.web.wsgi import MAX_BODY
    from tests.harness import sign
    from tests.test_process import bot_process

    def chunks(data: bytes, size: int = 65536) -> Iterator[bytes]:
        for i in range(0, len(data), size):
            yield data[i : i + size]

    with bot_process(tmp_path, slack, elastic, "--mode", "http") as bot:
        bot.wait_healthy()
        events = f"{bot.url}/slack/events"
        big = httpx.post(events, content=chunks(b"a" * (MAX_BODY + 10)), headers=FORM, timeout=10)
        assert big.status_code == 413
        body = help_command()
        signed = httpx.post(
            events, content=chunks(body.encode()), headers=FORM | sign(body), timeout=10
        )
        assert signed.status_code == 200 and "help" in signed.text
        unsigned = httpx.post(events, content=chunks(body.encode()), headers=FORM, timeout=10)
        assert unsigned.status_code == 401


# -- 15. Tamper evidence ------------------------------------------------------------------------
def _trail(path: Path, events: int = 5):
    """A database with a few events, written the way the bot writes them."""
    from datetime import timedelta

    from bot.clock import FakeClock
    from bot.store import Database, Store

    db = Database(path)
    store = Store(db)
    store.migrate()
    clock = FakeClock()
    for n in range(events):
        clock.advance(timedelta(minutes=1))
        store.event(None, clock.now(), "system", "note", {"n": n, "text": "prüfen ✓"})
    db.close()


def _tamper(path: Path, sql: str, *params) -> None:
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    try:  # an attacker with the file: lift the append-only triggers first
        conn.execute("DROP TRIGGER IF EXISTS events_no_update")
        conn.execute("DROP TRIGGER IF EXISTS events_no_delete")
        conn.execute(sql, params)
    finally:
        conn.close()


def verify_cli(tmp_path: Path, path: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(tmp_path, "audit", "--verify", "--database", str(path))


def test_audit_verify_says_an_intact_chain_is_intact(tmp_path) -> None:
    path = tmp_path / "trail.db"
    _trail(path)
    done = verify_cli(tmp_path, path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "chain intact: 5 events" in done.stdout


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("UPDATE events SET detail = ? WHERE id = 3", ('{"n": 99}',)),
        ("UPDATE events SET actor = ? WHERE id = 3", ("U0ATTACKER",)),
        ("UPDATE events SET at = ? WHERE id = 3", ("2020-01-01T00:00:00+00:00",)),
    ],
    ids=["detail", "actor", "at"],
)
def test_an_event_edited_in_the_file_breaks_the_chain_there(tmp_path, sql, params) -> None:
    path = tmp_path / "trail.db"
    _trail(path)
    _tamper(path, sql, *params)
    done = verify_cli(tmp_path, path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "broken at event 3" in done.stdout


def test_a_deleted_event_breaks_the_chain_where_it_was(tmp_path) -> None:
    path = tmp_path / "trail.db"
    _trail(path)
    _tamper(path, "DELETE FROM events WHERE id = 2")
    done = verify_cli(tmp_path, path)
    assert done.returncode == 1 and "broken at event 2" in done.stdout, done.stdout


def test_events_written_before_the_chain_are_chained_by_the_migration(tmp_path) -> None:
    from bot.clock import FakeClock
    from bot.store import Database, Store
    from bot.store.chain import verify
    from bot.store.migrations import migrations

    path = tmp_path / "old.db"
    db = Database(path)
    migrations.apply(db.utils, stop_before="0004_event_chain")
    for n in range(3):
        db.execute(
            "INSERT INTO events (request_id, at, actor, kind, detail) VALUES (?, ?, ?, ?, ?)",
            (None, f"2026-01-0{n + 1}T00:00:00+00:00", "system", "old", "{}"),
        )
    db.close()
    db = Database(path)
    Store(db).migrate()
    Store(db).event(None, FakeClock().now(), "system", "new", {})
    rows = db.query("SELECT * FROM events ORDER BY id")
    assert len(rows) == 4 and all(r["hash"] for r in rows)
    assert verify(rows).intact
    with pytest.raises(Exception, match="append-only"):
        db.execute("UPDATE events SET hash = 'x' WHERE id = 1")
    db.close()


def test_events_written_concurrently_keep_one_unbroken_chain(tmp_path) -> None:
    import threading

    from bot.clock import FakeClock
    from bot.store import Database, Store
    from bot.store.chain import verify

    db = Database(tmp_path / "busy.db")
    store = Store(db)
    store.migrate()
    now = FakeClock().now()
    barrier = threading.Barrier(8)

    def write(worker: int) -> None:
        barrier.wait()
        for n in range(25):
            store.event(None, now, f"worker-{worker}", "note", {"n": n})

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    verdict = verify(db.query("SELECT * FROM events ORDER BY id"))
    assert verdict.intact and verdict.events == 200
    db.close()


# -- 14. Files ----------------------------------------------------------------------------------
@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The common 022 umask, under which files are world-readable unless the code says not."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_database_and_its_wal_and_shm_are_owner_only(tmp_path, loose_umask) -> None:
    from bot.clock import FakeClock
    from bot.store import Database, Store

    path = tmp_path / "data" / "bot.db"
    db = Database(path)
    store = Store(db)
    store.migrate()
    store.event(None, FakeClock().now(), "system", "note", {})
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        assert file.exists() and _mode(file) == 0o600, (file, oct(_mode(file)))
    db.close()
    # A database left readable by others (an older version, a restore) is tightened at start.
    path.chmod(0o644)
    Database(path).close()
    assert _mode(path) == 0o600


def test_audit_output_files_are_owner_only(tmp_path, loose_umask) -> None:
    path = tmp_path / "trail.db"
    _trail(path)
    for target in (tmp_path / "new.csv", tmp_path / "existing.csv"):
        if target.name == "existing.csv":
            target.write_text("old")
            target.chmod(0o644)
        done = run_cli(
            tmp_path, "audit", "--since", "2000-01-01", "--database", str(path),
            "--output", str(target),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert _mode(target) == 0o600 and "note" in target.read_text()


def test_invitation_tokens_are_kept_only_as_hashes(bot, slack, elastic) -> None:
    from datetime import timedelta

    from bot.access.invitations import digest
    from bot.access.states import State

    slack.add_user("U0NEWBIE1", email="newbie@example.com", name="newbie")
    bot.command("U0NEWBIE1", "request prod-search deployment-viewer 2h onboarding")
    slack.wait_for(lambda: bot.state(1) is State.PENDING)
    bot.decide(1, OWNER, approve=True)
    assert bot.state(1) is State.ACTIVE
    [invitation] = elastic.invitations()
    token = invitation["token"]
    assert bot.request(1).invitation_hash == digest(token)
    assert token.encode() not in stored_bytes(bot.runtime)
    # Withdrawing it still works: the bot finds the token again among the pending ones.
    bot.advance(timedelta(hours=2, seconds=1))
    assert bot.state(1) is State.EXPIRED
    assert elastic.invitations() == []


def test_migration_hashes_invitation_tokens_stored_in_clear(tmp_path) -> None:
    from bot.access.invitations import digest
    from bot.store import Database, Store
    from bot.store.migrations import migrations

    path = tmp_path / "old.db"
    db = Database(path)
    migrations.apply(db.utils, stop_before="0005_invitation_hash")
    db.execute(
        "INSERT INTO requests (requester_id, requester_email, resource_kind, resource_id, "
        "resource_name, role_id, unit, duration_seconds, justification, state, "
        "invitation_token, created_at, updated_at) "
        "VALUES ('U1', 'a@example.com', 'deployment', 'd', 'prod', 'deployment-viewer', "
        "'deployment|deployment-viewer|d', 3600, 'why', 'active', 'secret-invite-token', "
        "'2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')"
    )
    db.close()
    db = Database(path)
    store = Store(db)
    store.migrate()
    assert store.get(1).invitation_hash == digest("secret-invite-token")
    assert db.one("SELECT invitation_token FROM requests WHERE id = 1")[0] is None
    db.close()  # the last connection checkpoints the WAL into the file
    assert b"secret-invite-token" not in path.read_bytes()
