"""Drift (#13 item 12): what the bot owns and what it removed, against what Elastic shows.
Findings are reported to the integration owners once each; nothing is added or removed."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx

from bot.access.states import State
from tests.harness import API_KEY, BOT_TOKEN, ORG_ID, OWNER, SIGNING_SECRET, database_env
from tests.test_elastic_grants import ALICE, PROD, VIEWER_ON_PROD, approve, ask, dms

REPO = Path(__file__).resolve().parent.parent
VIEWER_ASSIGNMENT = {
    "deployment": [
        {
            "role_id": "deployment-viewer",
            "organization_id": ORG_ID,
            "all": False,
            "deployment_ids": [PROD],
        }
    ]
}


def _by_hand(elastic, method: str, user_id: str, body: dict) -> None:
    """Someone changes a member's roles in the console (or through the API), not the bot."""
    done = httpx.request(
        method,
        f"{elastic.url}/api/v1/users/{user_id}/role_assignments",
        json=body,
        headers={"Authorization": f"ApiKey {API_KEY}"},
    )
    assert done.status_code == 200, done.text


def _reports(slack) -> list[str]:
    return [t for t in dms(slack, OWNER) if "reconciliation found" in t]


def test_a_removed_role_that_came_back_is_reported_once(bot, slack, elastic):
    rid = ask(bot, "prod-search deployment-viewer 1h look")
    approve(bot, rid)
    bot.advance(timedelta(hours=1, seconds=1))
    assert bot.state(rid) is State.EXPIRED
    assert bot.runtime.service.reconcile() == []
    _by_hand(elastic, "POST", ALICE, VIEWER_ASSIGNMENT)
    found = bot.runtime.service.reconcile()
    assert [f["kind"] for f in found] == ["returned"]
    assert found[0]["unit"] == f"deployment|deployment-viewer|{PROD}"
    bot.runtime.service.drain()
    reports = _reports(slack)
    assert len(reports) == 1 and "#1" in reports[0] and "again" in reports[0]
    assert bot.runtime.service.reconcile() == []  # remembered: reported once
    assert len(_reports(slack)) == 1
    assert VIEWER_ON_PROD in elastic.holdings(ALICE)  # reported, not removed
    assert any(e["kind"] == "drift_returned" for e in bot.runtime.store.events(rid))


def test_an_owned_role_that_vanished_during_the_grant_is_reported(bot, slack, elastic):
    rid = ask(bot, "prod-search deployment-viewer 1h look")
    approve(bot, rid)
    _by_hand(elastic, "DELETE", ALICE, VIEWER_ASSIGNMENT)
    found = bot.runtime.service.reconcile()
    assert [f["kind"] for f in found] == ["vanished"]
    reports = _reports(slack)
    assert len(reports) == 1 and "no longer holds" in reports[0] and "#1" in reports[0]
    assert bot.runtime.service.reconcile() == []
    assert not elastic.calls_to("POST", "/role_assignments")[1:]  # nothing put back


def test_a_member_listed_without_role_assignments_is_not_drift(bot, slack, elastic):
    """Null (or left out) says nothing about what the member holds: no "vanished" finding,
    and nobody is alerted, until Elastic lists the assignments again."""
    rid = ask(bot, "prod-search deployment-viewer 1h look")
    approve(bot, rid)
    elastic.list_assignments_as(ALICE, None)
    assert bot.runtime.service.reconcile() == []
    assert _reports(slack) == []
    elastic.list_assignments_as(ALICE, clear=True)
    _by_hand(elastic, "DELETE", ALICE, VIEWER_ASSIGNMENT)
    assert [f["kind"] for f in bot.runtime.service.reconcile()] == ["vanished"]


def test_standing_access_and_live_grants_are_not_drift(bot, slack, elastic):
    rid = ask(bot, "prod-search deployment-editor 1h fix")
    approve(bot, rid)
    assert bot.state(rid) is State.ACTIVE
    again = ask(bot, "prod-search deployment-viewer 1h look")
    approve(bot, again)
    bot.advance(timedelta(hours=1, seconds=1))
    third = ask(bot, "prod-search deployment-viewer 1h look again")
    approve(bot, third)  # the role the bot removed is back, through the bot
    assert VIEWER_ON_PROD in elastic.holdings(ALICE)
    assert bot.runtime.service.reconcile() == []
    assert _reports(slack) == []


def test_the_reconciliation_runs_daily_next_to_the_sweep(bot):
    job = bot.runtime.scheduler._aps.get_job("reconcile")
    assert job is not None and job.trigger.interval == timedelta(hours=24)


def test_python_m_bot_reconcile_runs_it_once(tmp_path, bot, slack, elastic):
    rid = ask(bot, "prod-search deployment-viewer 1h look")
    approve(bot, rid)
    _by_hand(elastic, "DELETE", ALICE, VIEWER_ASSIGNMENT)
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "ELASTIC_CLOUD_API_KEY": API_KEY,
        "ELASTIC_CLOUD_ORGANIZATION_ID": ORG_ID,
        "ELASTIC_CLOUD_API_URL": elastic.url,
        **database_env(bot.runtime.settings),
        "INTEGRATION_OWNERS": OWNER,
    }

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "reconcile"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    first = run()
    assert first.returncode == 1, first.stdout + first.stderr
    assert "vanished: #1 is live" in first.stdout and "1 new finding(s)" in first.stdout
    assert len(_reports(slack)) == 1
    second = run()
    assert second.returncode == 0, second.stdout + second.stderr
    assert "0 new finding(s)" in second.stdout
    assert API_KEY not in first.stdout + first.stderr
