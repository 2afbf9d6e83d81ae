"""``python -m bot sandbox`` (issue #17): the scenario runner as a user's CI runs it, and the
sandbox's promise never to reach the real Slack or Elastic Cloud."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from bot.sandbox.seed import demo_seed
from bot.sandbox.web import serve
from bot.sandbox.world import World

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "sandbox" / "request-approve-expire.toml"


def sandbox(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "sandbox", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def test_the_example_scenario_passes_and_prints_the_conversation() -> None:
    done = sandbox("--script", str(EXAMPLE))
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "alice types: /elastic-access request prod-search deployment-viewer 2h" in out
    assert "only alice sees:" in out and "Request #1 filed" in out
    assert "olivia clicks [Approve]" in out
    assert (
        "* alice@acme.example: deployment-viewer on prod-search, deployment-viewer on staging-logs"
        in out
    )
    assert "form error on justification" in out
    assert "invitation to nina@acme.example (pending)" in out
    assert out.rstrip().endswith("passed: 10 step(s)")


def test_a_failing_expectation_exits_1_saying_which_step_and_why(tmp_path: Path) -> None:
    script = tmp_path / "policy-check.json"
    script.write_text(
        '{"step": ['
        '{"as": "alice", "type": "request prod-search deployment-admin 1h INC-1 look"},'
        '{"as": "olivia", "click": "Approve", "on": "Access request #1",'
        ' "expect": {"has": ["alice@acme.example deployment-viewer prod-search"]}}]}'
    )
    done = sandbox("--script", str(script))
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        "✗ step 2 failed: expected Elastic Cloud to show 'alice@acme.example deployment-viewer prod-search'"
        in done.stdout
    )
    assert "FAILED at step 2 of 2" in done.stdout


def test_a_step_that_cannot_be_done_fails_the_run(tmp_path: Path) -> None:
    script = tmp_path / "s.toml"
    script.write_text('[[step]]\nas = "olivia"\nclick = "Approve"\n')
    done = sandbox("--script", str(script))
    assert done.returncode == 1
    assert "olivia has no button 'Approve'" in done.stdout


def test_bad_files_exit_2_with_one_clear_line(tmp_path: Path) -> None:
    script = tmp_path / "s.toml"
    script.write_text('[[step]]\nas = "alice"\ntype = "help"\nexpect.replyy = "x"\n')
    done = sandbox("--script", str(script))
    assert done.returncode == 2
    assert done.stderr.startswith("script error: s.toml: step 1: unknown expectation(s) replyy")
    seed = tmp_path / "seed.toml"
    seed.write_text('[[slack_users]]\nid = "nope"\nname = "x"\n')
    done = sandbox("--seed", str(seed), "--script", str(EXAMPLE))
    assert done.returncode == 2
    assert (
        "seed error: seed.toml: slack_users #1.id:" in done.stderr
        and "Traceback" not in done.stderr
    )
    policy = tmp_path / "policy.toml"
    policy.write_text('integration_owners = ["U0OMAR"]\nmax_duraton = "1h"\n')
    done = sandbox("--config", str(policy), "--script", str(EXAMPLE))
    assert done.returncode == 2
    assert "config error: max_duraton: unknown setting (check the spelling)" in done.stderr


def test_the_users_policy_file_is_what_the_bot_runs_with(tmp_path: Path) -> None:
    """A policy under test (ELASTIC_ACCESS_CONFIG): here one that sends everything to the
    integration owners and forbids admin roles."""
    policy = tmp_path / "policy.toml"
    policy.write_text(
        'integration_owners = ["omar@acme.example"]\n'
        '[[policy]]\nresources = ["*"]\nroles = ["deployment-viewer"]\n'
    )
    script = tmp_path / "s.toml"
    script.write_text(
        '[[step]]\nas = "alice"\ntype = "request prod-search deployment-admin 1h INC-1"\n'
        'expect.reply = "deployment-admin"\n'
        '[[step]]\nas = "alice"\ntype = "request prod-search deployment-viewer 1h INC-1"\n'
        'expect.dm = { to = "omar", text = "Access request #1" }\n'
    )
    done = sandbox("--script", str(script), env={"ELASTIC_ACCESS_CONFIG": str(policy)})
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_url_the_bot_is_given_is_on_127_0_0_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the shell says, the sandbox's bot talks to the stand-ins only."""
    monkeypatch.setenv("SLACK_API_URL", "https://slack.com/api/")
    monkeypatch.setenv("ELASTIC_CLOUD_API_URL", "https://api.elastic-cloud.com")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-real-looking")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db.example:5432/prod")
    with World(demo_seed()) as world:
        settings = world.settings
        assert settings is not None
        urls = world.urls()
        assert set(urls) >= {"slack_api_url", "elastic_cloud_api_url", "bot"}
        for name, url in urls.items():
            assert urlsplit(url).hostname == "127.0.0.1", (name, url)
        for name, value in settings.model_dump().items():
            if name.endswith("_url") and value is not None:
                assert urlsplit(str(value)).hostname == "127.0.0.1", (name, value)
        assert settings.database_url is None
        assert settings.slack_bot_token.get_secret_value() != "xoxb-real-looking"
        # And what the running bot's clients were built with.
        assert urlsplit(world.runtime.slack.base_url).hostname == "127.0.0.1"
        assert world.runtime.elastic._http.base_url.host == "127.0.0.1"
        server = serve(world, 0)
        try:
            assert server.server_address[0] == "127.0.0.1"
            port = server.server_address[1]
            page = httpx.get(f"http://127.0.0.1:{port}/")
            assert page.status_code == 200 and "elastic-access-bot" in page.text
            elsewhere = httpx.get(f"http://127.0.0.1:{port}/", headers={"Host": "evil.example"})
            assert elsewhere.status_code == 403
            form = httpx.post(
                f"http://127.0.0.1:{port}/api/advance",
                content="by=1h",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert form.status_code == 415  # a form on another site cannot act
        finally:
            server.shutdown()
            server.server_close()
