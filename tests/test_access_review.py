"""Access reviews (#14 §4): each resource owner and the integration owners get, once per
period, a digest of their resources (the just-in-time grants of the period, the standing
access the bot did not grant, what is parked or overdue); ``python -m bot review`` prints
the same for the whole organization."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from bot.access.engine.reviews import Reviews
from bot.access.states import State
from tests.harness import API_KEY, ORG_ID, OWNER, OWNER2, REQUESTER, STRANGER, database_env
from tests.slack_view import dms
from tests.test_elastic_grants import PROD, STAGING, ask

REPO = Path(__file__).resolve().parent.parent
SECLEAD = "U0SECLEAD"  # the integration owner in these tests
GUEST = "U0GUEST01"
BILLING = "b" * 32
GUESTS_DEPLOYMENT = "c" * 32
EMAIL_OWNER = {"tag_key": "owner", "attribute": "email"}


def _deployment_role(role: str, deployment_id: str) -> dict:
    return {
        "deployment": [
            {
                "role_id": role,
                "organization_id": ORG_ID,
                "all": False,
                "deployment_ids": [deployment_id],
            }
        ]
    }


def _reviews(slack, user: str) -> list[str]:
    return [t for t in dms(slack, user) if "Access review" in t]


def _decide(bot, request_id: int, approver: str) -> None:
    bot.decide(request_id, approver, approve=True)


def _world(make_bot, slack, elastic, **settings):
    """Two owners' deployments (prod-search: Olivia; billing-api: Oscar), staging-logs with
    no owner tag (the integration owner's), a deployment whose tag names a guest, and a bot
    with weekly reviews."""
    slack.add_user(SECLEAD, email="sec@example.com", name="sec", real_name="Sec Lead")
    slack.add_user(GUEST, email="guest@example.com", name="guest", is_restricted=True)
    elastic.add_deployment(
        "billing-api", tags={"owner": "owner2@example.com"}, deployment_id=BILLING
    )
    elastic.add_deployment(
        "guest-owned", tags={"owner": "guest@example.com"}, deployment_id=GUESTS_DEPLOYMENT
    )
    bot = make_bot(
        access_review="weekly",
        resource_owner=EMAIL_OWNER,
        integration_owners=[SECLEAD],
        **settings,
    )
    bot.runtime.catalogue.refresh()
    return bot


def _standing(elastic) -> None:
    """Access given in the console, not by the bot."""
    elastic.add_member(
        "bob@example.com", role_assignments=_deployment_role("deployment-admin", PROD)
    )
    elastic.add_member(
        "carol@example.com", role_assignments=_deployment_role("deployment-editor", BILLING)
    )
    elastic.add_member(
        "erin@example.com",
        role_assignments=_deployment_role("deployment-viewer", GUESTS_DEPLOYMENT),
    )
    elastic.add_member(
        "dave@example.com",
        role_assignments={
            "organization": [{"role_id": "billing-admin", "organization_id": ORG_ID}]
        },
    )


def test_each_owner_gets_their_resources_once_per_period(make_bot, slack, elastic):
    bot = _world(make_bot, slack, elastic)
    prod = ask(bot, "prod-search deployment-viewer 1h INC-1 slow queries")
    _decide(bot, prod, OWNER)
    billing = ask(bot, "billing-api deployment-editor 2h INC-2 refund job stuck")
    _decide(bot, billing, OWNER2)
    # Olivia's own grant on staging-logs, whose removal Elastic keeps refusing: overdue.
    elastic.script("DELETE", r"/users/1000000002/role_assignments", 500, times=1000)
    staging = ask(bot, "staging-logs deployment-viewer 1h INC-3 log shipping", who=OWNER)
    _decide(bot, staging, SECLEAD)
    assert {bot.state(prod), bot.state(billing), bot.state(staging)} == {State.ACTIVE}
    _standing(elastic)
    assert all(_reviews(slack, u) == [] for u in (OWNER, OWNER2, SECLEAD, STRANGER))

    bot.advance(timedelta(days=7))  # past the end of this week: its review goes out

    assert bot.state(staging) is State.REVOKING  # still held: the review says so
    [olivia] = _reviews(slack, OWNER)
    assert f"#{prod}" in olivia and "prod-search" in olivia and "INC-1 slow queries" in olivia
    assert f"<@{REQUESTER}>" in olivia and f"approved by <@{OWNER}>" in olivia
    assert "bob@example.com" in olivia and "deployment-admin" in olivia
    for other in ("billing-api", "carol@", "staging-logs", "dave@", "erin@", "guest-owned"):
        assert other not in olivia, other
    assert f"#{billing}" not in olivia and f"#{staging}" not in olivia

    [oscar] = _reviews(slack, OWNER2)
    assert f"#{billing}" in oscar and "INC-2 refund job stuck" in oscar and "for 2h" in oscar
    assert f"approved by <@{OWNER2}>" in oscar and "carol@example.com" in oscar
    for other in ("prod-search", "bob@", "staging-logs", "dave@", "erin@", "guest-owned"):
        assert other not in oscar, other

    # The integration owner: the organization, untagged resources, and the one whose tag
    # names a guest (a guest owns nothing): never the tagged owners' resources.
    [sec] = _reviews(slack, SECLEAD)
    assert "dave@example.com" in sec and "billing-admin" in sec
    assert f"#{staging}" in sec and "not removed yet" in sec  # overdue
    assert "guest-owned" in sec and "erin@example.com" in sec
    for other in ("prod-search", "billing-api", "bob@", "carol@"):
        assert other not in sec, other

    assert _reviews(slack, STRANGER) == []  # owns nothing
    assert _reviews(slack, GUEST) == []  # a guest owns nothing, whatever a tag says
    assert _reviews(slack, REQUESTER) == []

    bot.advance(timedelta(minutes=1))  # the next sweep: this period is done
    bot.advance(timedelta(hours=1))
    assert [len(_reviews(slack, u)) for u in (OWNER, OWNER2, SECLEAD)] == [1, 1, 1]
    # One record per period (the one before the bot started had nothing to send).
    sent = [e["detail"] for e in _events(bot) if e["kind"] == "access_review_sent"]
    assert len({d["since"] for d in sent}) == len(sent) == 2
    assert (
        sorted(sent[-1]["recipients"]) == sorted([OWNER, OWNER2, SECLEAD])
        and sent[0]["recipients"] == []
    )


def _events(bot) -> list[dict]:
    rows = bot.runtime.db.query("SELECT kind, detail FROM events WHERE request_id IS NULL")
    return [{"kind": r["kind"], "detail": json.loads(r["detail"])} for r in rows]


def test_a_period_is_sent_by_one_process_only(make_bot, slack, elastic):
    bot = _world(make_bot, slack, elastic)
    _standing(elastic)
    core = bot.runtime.service.core

    class Racing(Reviews):
        """Another process that looked before the first claimed the period."""

    other = Racing(core)
    real = core.store.has_finding
    core.store.has_finding = lambda key: False  # type: ignore[method-assign]
    try:
        bot.clock.advance(timedelta(days=7))
        first = core.reviews.send_due()
        second = other.send_due()
    finally:
        core.store.has_finding = real  # type: ignore[method-assign]
    bot.runtime.service.drain()
    assert first == 3 and second == 0
    assert [len(_reviews(slack, u)) for u in (OWNER, OWNER2, SECLEAD)] == [1, 1, 1]


def test_standing_access_that_cannot_be_read_is_said_never_taken_for_none(make_bot, slack, elastic):
    bot = _world(make_bot, slack, elastic)
    _standing(elastic)
    rid = ask(bot, "prod-search deployment-viewer 1h INC-9 look")
    _decide(bot, rid, OWNER)
    bot.advance(timedelta(hours=2))
    elastic.script("GET", r"/organizations/[^/]+/members", 503, times=1000)
    bot.advance(timedelta(days=7))
    [olivia] = _reviews(slack, OWNER)
    assert "Standing access could not be read" in olivia and f"#{rid}" in olivia
    assert "bob@" not in olivia
    # Owners with nothing else in the period are told too: silence would read as "none".
    [oscar] = _reviews(slack, OWNER2)
    assert "Standing access could not be read" in oscar and "billing-api" not in oscar
    assert _reviews(slack, STRANGER) == []


def test_reviews_are_off_unless_set(bot, slack, elastic):
    _standing(elastic)
    bot.advance(timedelta(days=8))
    assert _reviews(slack, OWNER) == []


def _cli(bot, slack, elastic, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "ELASTIC_CLOUD_API_KEY": API_KEY,
        "ELASTIC_CLOUD_ORGANIZATION_ID": ORG_ID,
        "ELASTIC_CLOUD_API_URL": elastic.url,
        **database_env(bot.runtime.settings),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "review", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_python_m_bot_review_prints_the_whole_organization(make_bot, slack, elastic):
    bot = _world(make_bot, slack, elastic)
    prod = ask(bot, "prod-search deployment-viewer 1h INC-1 slow queries")
    _decide(bot, prod, OWNER)
    billing = ask(bot, "billing-api deployment-editor 2h =HYPERLINK(evil)")
    _decide(bot, billing, OWNER2)
    _standing(elastic)
    period = ("--since", "2000-01-01", "--until", "2100-01-01")

    text = _cli(bot, slack, elastic, *period)
    assert text.returncode == 0, text.stderr
    out = text.stdout
    assert "whole organization" in out and "read from Elastic Cloud" in out
    for expected in (
        f"#{prod}",
        f"#{billing}",
        "prod-search",
        "billing-api",
        "bob@example.com",
        "carol@example.com",
        "dave@example.com",
        "erin@example.com",
        "INC-1 slow queries",
        OWNER2,
    ):
        assert expected in out, expected
    assert "alice@example.com (1000000001)" not in out  # the bot's grants are not standing

    data = json.loads(_cli(bot, slack, elastic, *period, "--format", "json").stdout)
    assert data["standing_access"] == "read"
    by_key = {r["key"]: r for r in data["resources"]}
    prod_review = by_key[f"deployment:{PROD}"]
    assert [g["request_id"] for g in prod_review["grants"]] == [prod]
    assert prod_review["grants"][0]["approved_by"] == [OWNER]
    assert [s["email"] for s in prod_review["standing"]] == ["bob@example.com"]
    assert [s["email"] for s in by_key[f"organization:{ORG_ID}"]["standing"]] == [
        "dave@example.com"
    ]
    assert f"deployment:{STAGING}" not in by_key  # nothing there

    table = list(
        csv.DictReader(io.StringIO(_cli(bot, slack, elastic, *period, "--format", "csv").stdout))
    )
    grants = [r for r in table if r["section"] == "grant"]
    assert {r["request_id"] for r in grants} == {str(prod), str(billing)}
    assert any(r["justification"] == "'=HYPERLINK(evil)" for r in grants)  # inert in a sheet
    assert {r["email"] for r in table if r["section"] == "standing"} == {
        "bob@example.com",
        "carol@example.com",
        "dave@example.com",
        "erin@example.com",
    }

    skipped = _cli(bot, slack, elastic, *period, "--no-elastic", ELASTIC_CLOUD_API_KEY="")
    assert skipped.returncode == 0, skipped.stderr
    assert "not read (--no-elastic)" in skipped.stdout and "bob@" not in skipped.stdout
    assert f"#{prod}" in skipped.stdout


def test_python_m_bot_review_refuses_in_one_line(make_bot, slack, elastic):
    bot = _world(make_bot, slack, elastic)
    bad = _cli(bot, slack, elastic, "--since", "yesterday")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--since" in bad.stderr
    down = _cli(bot, slack, elastic, "--since", "7d", ELASTIC_CLOUD_API_URL="http://127.0.0.1:9")
    assert down.returncode == 2 and down.stderr.count("\n") == 1, down.stderr
    assert "member list" in down.stderr and "--no-elastic" in down.stderr
    assert API_KEY not in down.stderr
    unset = _cli(bot, slack, elastic, "--since", "7d", ELASTIC_CLOUD_API_KEY="")
    assert unset.returncode == 2 and "ELASTIC_CLOUD_API_KEY" in unset.stderr


def test_the_setting_takes_weekly_daily_or_an_interval(monkeypatch):
    from bot.config import ConfigError, load_settings

    for name, value in {
        "SLACK_BOT_TOKEN": "xoxb-x",
        "SLACK_SIGNING_SECRET": "s",
        "ELASTIC_CLOUD_API_KEY": "k",
        "ELASTIC_CLOUD_ORGANIZATION_ID": ORG_ID,
        "INTEGRATION_OWNERS": OWNER,
    }.items():
        monkeypatch.setenv(name, value)
    assert load_settings().access_policy().access_review is None  # off unless set
    for text, interval in (
        ("weekly", timedelta(days=7)),
        ("daily", timedelta(days=1)),
        ("14d", timedelta(days=14)),
    ):
        monkeypatch.setenv("ACCESS_REVIEW", text)
        assert load_settings().access_policy().access_review == interval
    monkeypatch.setenv("ACCESS_REVIEW", "monthly")
    try:
        load_settings()
    except ConfigError as exc:
        assert len(exc.lines) == 1 and "access_review" in exc.lines[0], exc.lines
    else:
        raise AssertionError("monthly was taken")


def test_a_standing_console_only_entry_is_named_as_such_in_the_review(make_bot, slack, elastic):
    """#14 §1: a standing entry with application_roles is not plain access; the owner's
    digest and `review --format json` say which it is."""
    bot = _world(make_bot, slack, elastic)
    console_only = _deployment_role("deployment-admin", PROD)
    console_only["deployment"][0]["application_roles"] = []
    elastic.add_member("frank@example.com", role_assignments=console_only)
    bot.advance(timedelta(days=7))
    [olivia] = _reviews(slack, OWNER)
    line = next(t for t in olivia.splitlines() if "frank@example.com" in t)
    assert "deployment-admin" in line and "console only" in line.lower(), line
