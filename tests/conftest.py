"""Shared fixtures: the fakes (real HTTP servers on 127.0.0.1) and a running bot."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import settings as hypothesis_settings

from bot.standins.elastic.emulator import ElasticEmulator
from bot.standins.shared import elastic_spec_dir, in_ci, missing_shared, shared_dir
from bot.standins.slack.fake import FakeSlack
from fakes import throwaway_postgres
from tests.harness import (
    API_KEY,
    BOT_TOKEN,
    ORG_ID,
    OWNER,
    OWNER2,
    REQUESTER,
    STRANGER,
    Bot,
    make_settings,
    start_bot,
    stop_bot,
)

# Property tests run harder in CI (issue #15: the exact-planning property at 300+ examples
# per combination there); HYPOTHESIS_PROFILE=ci does the same anywhere.
hypothesis_settings.register_profile("ci", max_examples=300, deadline=None, print_blob=True)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if in_ci() else "default")
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real tokens or proxies in the developer's shell must never reach a test."""
    for name in list(os.environ):
        if name.startswith(
            ("SLACK_", "ELASTIC_CLOUD_", "ELASTIC_ACCESS_CONFIG")
        ) or name.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
    for name in (
        "DATABASE_PATH",
        "DATABASE_URL",
        "PORT",
        "INTEGRATION_OWNERS",
        "LOG_FORMAT",
        "MAX_DURATION",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def spec_dir():
    path = elastic_spec_dir()
    if path is None:
        missing_shared("elastic-cloud-api (Elastic's published API specs)")
    return path


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    root = shared_dir()
    fixtures = root / "slack-fixtures" / "web-api-methods" if root else None
    if in_ci() and not (fixtures and fixtures.is_dir()):
        missing_shared("slack-fixtures/web-api-methods (Slack's published method fixtures)")
    fake = FakeSlack(fixtures if fixtures and fixtures.is_dir() else None, bot_token=BOT_TOKEN)
    fake.start()
    fake.add_user(REQUESTER, email="alice@example.com", name="alice", real_name="Alice Requester")
    fake.add_user(OWNER, email="owner1@example.com", name="olivia", real_name="Olivia Owner")
    fake.add_user(OWNER2, email="owner2@example.com", name="oscar", real_name="Oscar Owner")
    fake.add_user(STRANGER, email="sam@example.com", name="sam", real_name="Sam Stranger")
    yield fake
    fake.stop()
    # A response_url post Slack refuses is a reply the person never saw; no test may pass
    # while the bot sends one (the bot only logs the 400).
    refused = fake.webhook_refusals()
    assert not refused, f"Slack refused the bot's response_url posts: {refused}"


@pytest.fixture
def elastic() -> Iterator[ElasticEmulator]:
    """The Elastic Cloud emulator. With the published specs beside the checkout it refuses
    what they refuse; on a bare clone it runs on its own route table, so every behaviour
    test still runs there (only the checks against the specs themselves skip). In CI the
    specs must be there."""
    spec_dir = elastic_spec_dir()
    if spec_dir is None and in_ci():
        missing_shared("elastic-cloud-api (Elastic's published API specs)")
    emulator = ElasticEmulator(spec_dir, api_key=API_KEY, organization_id=ORG_ID)
    emulator.start()
    emulator.add_member("alice@example.com", user_id="1000000001", name="Alice Requester")
    emulator.add_member("owner1@example.com", user_id="1000000002", name="Olivia Owner")
    emulator.add_deployment(
        "prod-search", tags={"owner": "owner1@example.com"}, deployment_id="d" * 32
    )
    emulator.add_deployment("staging-logs", deployment_id="e" * 32)
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL server for the session: ``TEST_DATABASE_URL`` (``scripts/test`` starts
    one), else a throwaway server started here. Without PostgreSQL installed the PostgreSQL
    runs skip, except in CI, where they fail."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    try:
        server = throwaway_postgres.start()
    except RuntimeError as exc:
        if in_ci():
            pytest.fail(f"CI needs PostgreSQL: {exc}")
        pytest.skip(f"PostgreSQL is not available here: {exc}")
    yield server.url
    server.stop()


def with_schema(url: str, schema: str) -> str:
    """``url`` with every connection's search_path set to ``schema`` (one per test)."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A DATABASE_URL of an empty schema of its own, dropped after the test."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield with_schema(postgres_server, schema)
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """Which store the bot runs on: every behaviour test runs on both (issue #16)."""
    return request.param


@pytest.fixture
def database_settings(request: pytest.FixtureRequest, store_kind: str) -> dict[str, str]:
    """The settings that select ``store_kind``'s database."""
    if store_kind == "sqlite":
        return {}
    return {"database_url": request.getfixturevalue("postgres_url")}


@pytest.fixture
def make_bot(tmp_path, slack, elastic, database_settings):
    """Start a bot with optional setting overrides; every bot started is stopped afterwards."""
    bots: list[Bot] = []

    def make(**overrides) -> Bot:
        settings = make_settings(
            tmp_path, elastic.url, slack.api_url, **(database_settings | overrides)
        )
        bot = start_bot(settings, slack)
        bots.append(bot)
        return bot

    yield make
    for bot in bots:
        stop_bot(bot)


@pytest.fixture
def bot(make_bot) -> Bot:
    return make_bot()
