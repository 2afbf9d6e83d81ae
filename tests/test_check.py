"""``python -m bot check`` against the fakes: one row per dependency, PASS or FAIL with why."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import check
from bot.access.resources import Resource, ResourceKind, Unit
from bot.store import Database, Store
from tests.harness import API_KEY, BOT_TOKEN, ORG_ID, OWNER, SIGNING_SECRET, make_settings

REPO = Path(__file__).resolve().parents[1]
SECRETS = (BOT_TOKEN, SIGNING_SECRET, API_KEY)


ROW = re.compile(r"^(?P<name>.+?)\s{2,}(?P<status>PASS|FAIL|SKIP)\s{2}(?P<detail>.*)$")


def run(settings) -> tuple[int, str, dict[str, check.Result]]:
    """Exit code, the printed table, and its rows by check name."""
    out = io.StringIO()
    code = check.run_checks(settings, out=out)
    table = out.getvalue()
    rows = {}
    for line in table.splitlines()[1:]:
        if match := ROW.match(line):
            rows[match["name"]] = check.Result(match["name"], match["status"], match["detail"])
    return code, table, rows


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_all_pass(tmp_path, slack, elastic) -> None:
    code, table, rows = run(make_settings(tmp_path, elastic.url, slack.api_url))
    assert code == 0, table
    assert [r.status for r in rows.values()] == ["PASS"] * len(rows)
    assert set(rows) == {
        "configuration",
        "Slack auth.test",
        "Slack scopes",
        "Elastic Cloud",
        "database",
    }
    lines = table.splitlines()
    assert lines[0].split() == ["CHECK", "RESULT", "DETAIL"]
    assert sum(" PASS " in line for line in lines) == 5
    assert "All 5 checks passed." in table
    assert ORG_ID in rows["configuration"].detail
    assert "Fake Workspace" in rows["Slack auth.test"].detail
    assert "UBOT" in rows["Slack auth.test"].detail
    assert "Acme" in rows["Elastic Cloud"].detail
    assert "2 deployment(s)" in rows["Elastic Cloud"].detail
    from bot.store.migrations import migrations

    versions = len(migrations._migrations)  # noqa: SLF001 - every registered migration
    assert f"schema version {versions}" in rows["database"].detail
    assert "0 active grant(s)" in rows["database"].detail
    assert not any(secret in table for secret in SECRETS)


def test_wrong_api_key(tmp_path, slack, elastic) -> None:
    settings = make_settings(
        tmp_path, elastic.url, slack.api_url, elastic_cloud_api_key="essu_wrong_key_000000"
    )
    code, table, rows = run(settings)
    assert code == 1
    row = rows["Elastic Cloud"]
    assert row.status == "FAIL"
    assert "API key" in row.detail and "ELASTIC_CLOUD_API_KEY" in row.detail
    assert "root.unauthorized" in row.detail and "401" in row.detail
    assert "essu_wrong_key_000000" not in table
    # the others are unaffected
    assert {n: r.status for n, r in rows.items() if n != "Elastic Cloud"} == dict.fromkeys(
        ("configuration", "Slack auth.test", "Slack scopes", "database"), "PASS"
    )


def test_wrong_organization_id(tmp_path, slack, elastic) -> None:
    settings = make_settings(
        tmp_path, elastic.url, slack.api_url, elastic_cloud_organization_id="9999999999"
    )
    code, _, rows = run(settings)
    assert code == 1
    row = rows["Elastic Cloud"]
    assert row.status == "FAIL"
    assert "9999999999" in row.detail and "ELASTIC_CLOUD_ORGANIZATION_ID" in row.detail
    assert "404" in row.detail


def test_organization_answered_for_another_id(tmp_path, slack, elastic) -> None:
    elastic.script(
        "GET", rf"/organizations/{ORG_ID}$", 200, body={"id": "5555555555", "name": "Other"}
    )
    code, _, rows = run(make_settings(tmp_path, elastic.url, slack.api_url))
    assert code == 1
    assert rows["Elastic Cloud"].status == "FAIL"
    assert "5555555555" in rows["Elastic Cloud"].detail


def test_invalid_slack_token(tmp_path, slack, elastic) -> None:
    settings = make_settings(tmp_path, elastic.url, slack.api_url, slack_bot_token="xoxb-revoked-1")
    code, table, rows = run(settings)
    assert code == 1
    assert rows["Slack auth.test"].status == "FAIL"
    assert "invalid_auth" in rows["Slack auth.test"].detail
    assert rows["Slack scopes"].status == "SKIP"
    assert rows["Elastic Cloud"].status == "PASS"
    assert "xoxb-revoked-1" not in table


def test_missing_scope_is_named(tmp_path, slack, elastic) -> None:
    slack.scopes.remove("users:read.email")
    code, _, rows = run(make_settings(tmp_path, elastic.url, slack.api_url))
    assert code == 1
    row = rows["Slack scopes"]
    assert row.status == "FAIL"
    assert "users:read.email" in row.detail
    assert "chat:write" not in row.detail
    assert rows["Slack auth.test"].status == "PASS"


def test_unreachable_elastic_fails_fast(tmp_path, slack) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    began = time.monotonic()
    code, _, rows = run(make_settings(tmp_path, url, slack.api_url))
    assert time.monotonic() - began < 5
    assert code == 1
    assert rows["Elastic Cloud"].status == "FAIL"
    assert "cannot reach" in rows["Elastic Cloud"].detail
    assert rows["Slack auth.test"].status == "PASS"
    assert rows["database"].status == "PASS"


def test_unreachable_slack_fails_fast(tmp_path, elastic) -> None:
    url = f"http://127.0.0.1:{closed_port()}/api/"
    began = time.monotonic()
    code, _, rows = run(make_settings(tmp_path, elastic.url, url))
    assert time.monotonic() - began < 8
    assert code == 1
    assert rows["Slack auth.test"].status == "FAIL"
    assert "cannot reach Slack" in rows["Slack auth.test"].detail
    assert rows["Elastic Cloud"].status == "PASS"


def test_elastic_that_does_not_answer_times_out(tmp_path, slack, elastic, monkeypatch) -> None:
    monkeypatch.setattr(check, "TIMEOUT", 0.5)
    body = {"id": ORG_ID, "name": "x"}
    elastic.script("GET", r"/organizations/", 200, body=body, delay=5, times=2)
    began = time.monotonic()
    _, _, rows = run(make_settings(tmp_path, elastic.url, slack.api_url))
    assert time.monotonic() - began < 4
    assert rows["Elastic Cloud"].status == "FAIL"
    assert "in time" in rows["Elastic Cloud"].detail


def test_database_counts_active_grants(tmp_path, slack, elastic) -> None:
    settings = make_settings(tmp_path, elastic.url, slack.api_url)
    db = Database(settings.database_path)
    store = Store(db)
    store.migrate()
    deployment = Resource(ResourceKind.DEPLOYMENT, "d" * 32, "prod-search")
    for _ in range(3):
        store.create_request(
            requester_id=OWNER,
            requester_email="owner1@example.com",
            resource=deployment,
            role_id="deployment-viewer",
            unit=Unit("deployment", "deployment-viewer", "d" * 32),
            duration=timedelta(hours=1),
            justification="check",
            approvers=[OWNER],
            approvals_needed=1,
            now=datetime.now(UTC),
            elastic_user_id=None,
        )
    db.execute("UPDATE requests SET state = 'active' WHERE id IN (1, 2)")
    db.close()
    _, _, rows = run(settings)
    assert rows["database"].status == "PASS"
    assert "2 active grant(s)" in rows["database"].detail


def test_corrupt_database(tmp_path, slack, elastic) -> None:
    settings = make_settings(tmp_path, elastic.url, slack.api_url)
    Path(settings.database_path).write_bytes(b"this is not an sqlite database" * 200)
    code, _, rows = run(settings)
    assert code == 1
    assert rows["database"].status == "FAIL"
    assert str(settings.database_path) in rows["database"].detail
    assert rows["Elastic Cloud"].status == "PASS"


def _env(tmp_path: Path, slack, elastic, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "ELASTIC_CLOUD_API_KEY": API_KEY,
        "ELASTIC_CLOUD_ORGANIZATION_ID": ORG_ID,
        "ELASTIC_CLOUD_API_URL": elastic.url,
        "DATABASE_PATH": str(tmp_path / "bot.db"),
        "INTEGRATION_OWNERS": OWNER,
        **extra,
    }


def _check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_check_command_passes(tmp_path, slack, elastic) -> None:
    done = _check(_env(tmp_path, slack, elastic))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0].split() == ["CHECK", "RESULT", "DETAIL"]
    assert "All 5 checks passed." in done.stdout
    for secret in SECRETS:
        assert secret not in done.stdout + done.stderr


@pytest.mark.parametrize("where", ["env", "file"])
def test_check_command_fails_without_leaking(tmp_path, slack, elastic, where) -> None:
    wrong_key = "essu_a_wrong_but_secret_key_42"
    extra = {"ELASTIC_CLOUD_API_URL": f"http://127.0.0.1:{closed_port()}"}
    if where == "env":
        extra["ELASTIC_CLOUD_API_KEY"] = wrong_key
    env = _env(tmp_path, slack, elastic, SLACK_BOT_TOKEN="xoxb-a-wrong-token-77", **extra)
    if where == "file":
        key_file = tmp_path / "key"
        key_file.write_text(wrong_key + "\n")
        del env["ELASTIC_CLOUD_API_KEY"]
        env["ELASTIC_CLOUD_API_KEY_FILE"] = str(key_file)
    done = _check(env)
    assert done.returncode == 1
    assert "invalid_auth" in done.stdout
    assert "cannot reach" in done.stdout
    for secret in (wrong_key, "xoxb-a-wrong-token-77", SIGNING_SECRET):
        assert secret not in done.stdout + done.stderr


def test_socket_mode_app_token_is_checked(tmp_path, slack, elastic) -> None:
    # FakeSlack has no apps.connections.open of its own and accepts only its one token.
    slack.script("apps.connections.open", body={"ok": True, "url": "wss://example/link"})
    settings = make_settings(tmp_path, elastic.url, slack.api_url, slack_app_token=BOT_TOKEN)
    code, table, rows = run(settings)
    assert code == 0, table
    assert rows["Slack Socket Mode"].status == "PASS"
    assert "Socket Mode" in rows["configuration"].detail
    assert [c["method"] for c in slack.calls_to("apps.connections.open")] == [
        "apps.connections.open"
    ]


def test_socket_mode_with_a_bad_app_token(tmp_path, slack, elastic) -> None:
    slack.script("apps.connections.open", body={"ok": True, "url": "wss://example/link"})
    settings = make_settings(
        tmp_path, elastic.url, slack.api_url, slack_app_token="xapp-1-A0-not-valid"
    )
    code, table, rows = run(settings)
    assert code == 1
    assert rows["Slack Socket Mode"].status == "FAIL"
    assert "invalid_auth" in rows["Slack Socket Mode"].detail
    assert "SLACK_APP_TOKEN" in rows["Slack Socket Mode"].detail
    assert "xapp-1-A0-not-valid" not in table
    assert rows["Slack auth.test"].status == "PASS"


SSO_MAPPING = {
    "name": "sre-admins",
    "enabled": True,
    "rule": {"any": [{"group": "sre"}]},
    "role_assignments": {
        "organization": [{"role_id": "organization-admin", "organization_id": ORG_ID}]
    },
}


def test_sso_role_mappings_are_warned_about_by_check(tmp_path, slack, elastic) -> None:
    elastic.role_mappings = [SSO_MAPPING]
    code, table, rows = run(make_settings(tmp_path, elastic.url, slack.api_url))
    assert code == 0, table
    detail = rows["Elastic Cloud"].detail
    assert "1 SSO role mapping(s), 1 enabled (sre-admins)" in detail
    assert "a grant can vanish when the grantee signs in" in detail
    assert elastic.calls_to("GET", "/role_mappings")


@pytest.mark.parametrize("mappings", [[], None], ids=["none", "endpoint-not-offered"])
def test_no_sso_role_mappings_no_warning(tmp_path, slack, elastic, mappings) -> None:
    elastic.role_mappings = mappings
    code, table, rows = run(make_settings(tmp_path, elastic.url, slack.api_url))
    assert code == 0, table
    assert "role mapping" not in rows["Elastic Cloud"].detail
    assert elastic.spec_violations() == []


def test_sso_role_mappings_are_warned_about_at_start_up(make_bot, elastic, caplog) -> None:
    import logging

    elastic.role_mappings = [SSO_MAPPING]
    with caplog.at_level(logging.WARNING):
        make_bot()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(
            "SSO role mapping" in r.getMessage() for r in caplog.records
        ):
            time.sleep(0.02)
    assert any("1 SSO role mapping(s), 1 enabled" in r.getMessage() for r in caplog.records)


def test_an_authentication_error_code_is_named_as_the_api_key(tmp_path, slack, elastic) -> None:
    elastic.script(
        "GET",
        f"/organizations/{ORG_ID}$",
        403,
        {"errors": [{"code": "root.invalid_authentication", "message": "bad credentials"}]},
    )
    code, table, rows = run(make_settings(tmp_path, elastic.url, slack.api_url))
    assert code == 1
    assert rows["Elastic Cloud"].status == "FAIL"
    assert "the API key was rejected" in rows["Elastic Cloud"].detail
    assert "ELASTIC_CLOUD_API_KEY" in rows["Elastic Cloud"].detail
