"""Start-up configuration: environment over TOML, one named line per problem, no secrets shown."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import CONFIG_ENV, ConfigError, Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[1]

BOT_TOKEN = "xoxb-zz-bot-7f3a91"
SIGNING_SECRET = "zz-signing-8c1d42"
APP_TOKEN = "xapp-zz-app-5e6b03"
API_KEY = "essu_zz-apikey-93ab17"
SECRETS = (BOT_TOKEN, SIGNING_SECRET, APP_TOKEN, API_KEY)

VALID_ENV = {
    "SLACK_BOT_TOKEN": BOT_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "ELASTIC_CLOUD_API_KEY": API_KEY,
    "ELASTIC_CLOUD_ORGANIZATION_ID": "1234567890",
    "INTEGRATION_OWNERS": "U0OWNER1",
}


@pytest.fixture(autouse=True)
def empty_env(monkeypatch):
    """Nothing from the developer's shell (HOST, PORT, tokens…) may reach these tests."""
    fields = {name.lower() for name in Settings.model_fields}
    for name in list(os.environ):
        if name.lower() in fields or name == CONFIG_ENV:
            monkeypatch.delenv(name)


@pytest.fixture
def env(monkeypatch):
    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_env


@pytest.fixture
def valid_env(env):
    env(**VALID_ENV)


@pytest.fixture
def toml(tmp_path, monkeypatch):
    def write(text: str) -> Path:
        path = tmp_path / "elastic-access.toml"
        path.write_text(text)
        monkeypatch.setenv(CONFIG_ENV, str(path))
        return path

    return write


def _problems(**overrides) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_settings(**overrides)
    lines = err.value.lines
    assert str(err.value) == "\n".join(lines)
    for line in lines:
        assert "\n" not in line
        for secret in SECRETS:
            assert secret not in line, f"secret shown in {line!r}"
    return lines


def _one_problem(name: str) -> str:
    lines = _problems()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{name}: "), lines
    return lines[0]


# -- a good configuration ---------------------------------------------------------------------


def test_environment_alone_is_enough(valid_env):
    settings = load_settings()
    assert settings.api_key() == API_KEY
    assert settings.elastic_cloud_organization_id == "1234567890"
    assert settings.integration_owners == ["U0OWNER1"]
    assert settings.socket_mode is False
    assert settings.max_duration == timedelta(hours=12)
    assert settings.default_duration == timedelta(hours=1)
    assert settings.integration_name == "elastic-cloud"
    assert set(settings.secrets()) == {BOT_TOKEN, SIGNING_SECRET, API_KEY}


def test_toml_file_supplies_integration_settings(valid_env, env, toml, monkeypatch):
    monkeypatch.delenv("INTEGRATION_OWNERS")
    toml(
        """
integration_name = "elastic-prod"
access_details = "Sign in through company SSO."
integration_owners = ["U0OWNER1", "alice@example.com", "@sre-leads"]
max_duration = "8h"
default_duration = "30m"
"""
    )
    settings = load_settings()
    assert settings.integration_name == "elastic-prod"
    assert settings.access_details == "Sign in through company SSO."
    assert settings.integration_owners == ["U0OWNER1", "alice@example.com", "@sre-leads"]
    assert settings.max_duration == timedelta(hours=8)
    assert settings.default_duration == timedelta(minutes=30)


def test_environment_wins_over_toml(valid_env, env, toml):
    toml(
        """
integration_name = "from-toml"
integration_owners = ["U0TOML"]
max_duration = "4h"
elastic_cloud_organization_id = "toml-org"
"""
    )
    env(INTEGRATION_NAME="from-env", INTEGRATION_OWNERS="U0ENV1,U0ENV2")
    settings = load_settings()
    assert settings.integration_name == "from-env"
    assert settings.integration_owners == ["U0ENV1", "U0ENV2"]
    assert settings.elastic_cloud_organization_id == "1234567890"
    assert settings.max_duration == timedelta(hours=4)  # not in the environment: TOML applies


def test_empty_environment_variable_does_not_hide_the_toml_value(valid_env, env, toml):
    toml('integration_name = "from-toml"\n')
    env(INTEGRATION_NAME="")
    assert load_settings().integration_name == "from-toml"


def test_integration_owners_from_the_environment_is_a_comma_list(valid_env, env):
    env(INTEGRATION_OWNERS=" U0OWNER1 , alice@example.com,,@sre-leads ,W0ENTERPRISE")
    assert load_settings().integration_owners == [
        "U0OWNER1",
        "alice@example.com",
        "@sre-leads",
        "W0ENTERPRISE",
    ]


def test_auditors_from_the_environment_is_a_comma_list(valid_env, env):
    env(AUDITORS="U0AUDIT1,@auditors")
    assert load_settings().auditors == ["U0AUDIT1", "@auditors"]


def test_api_key_file_is_read_and_stripped(valid_env, env, tmp_path, monkeypatch):
    monkeypatch.delenv("ELASTIC_CLOUD_API_KEY")
    key_file = tmp_path / "api-key"
    key_file.write_text(f"  {API_KEY}\n\n")
    env(ELASTIC_CLOUD_API_KEY_FILE=str(key_file))
    settings = load_settings()
    assert settings.api_key() == API_KEY
    assert API_KEY in settings.secrets()


def test_socket_mode_does_not_need_a_signing_secret(valid_env, env, monkeypatch):
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    env(SLACK_APP_TOKEN=APP_TOKEN)
    settings = load_settings()
    assert settings.socket_mode is True
    assert settings.slack_signing_secret is None


def test_http_mode_needs_a_signing_secret(valid_env, monkeypatch):
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    line = _one_problem("SLACK_SIGNING_SECRET")
    assert "SLACK_APP_TOKEN" in line  # says how to avoid needing it


def test_slack_is_not_required_when_not_needed(env):
    env(
        ELASTIC_CLOUD_API_KEY=API_KEY,
        ELASTIC_CLOUD_ORGANIZATION_ID="1",
        INTEGRATION_OWNERS="U0OWNER1",
    )
    assert load_settings(need_slack=False).slack_bot_token is None


# -- one line per bad setting, naming it --------------------------------------------------------


def test_empty_environment_names_every_required_setting():
    lines = _problems()
    names = [line.split(":", 1)[0] for line in lines]
    assert names == [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "ELASTIC_CLOUD_API_KEY",
        "ELASTIC_CLOUD_ORGANIZATION_ID",
        "integration_owners",
    ]
    assert "INTEGRATION_OWNERS" in lines[-1]  # says how to set it from the environment


@pytest.mark.parametrize(
    ("variable", "name"),
    [
        ("SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN"),
        ("ELASTIC_CLOUD_API_KEY", "ELASTIC_CLOUD_API_KEY"),
        ("ELASTIC_CLOUD_ORGANIZATION_ID", "ELASTIC_CLOUD_ORGANIZATION_ID"),
        ("INTEGRATION_OWNERS", "integration_owners"),
    ],
)
def test_each_missing_required_setting_is_one_line(valid_env, monkeypatch, variable, name):
    monkeypatch.delenv(variable)
    assert "required" in _one_problem(name)


@pytest.mark.parametrize(
    ("variables", "name", "fragment"),
    [
        ({"INTEGRATION_NAME": "elastic cloud"}, "integration_name", "letters, digits"),
        ({"INTEGRATION_NAME": "elastic--cloud"}, "integration_name", "dashes"),
        ({"ACCESS_DETAILS": "x" * 401}, "access_details", "401 characters; at most 400"),
        ({"MAX_DURATION": "2"}, "max_duration", "2h"),
        ({"DEFAULT_DURATION": "1x"}, "default_duration", "30m"),
        ({"SWEEP_INTERVAL": "0m"}, "sweep_interval", "zero"),
        ({"INTEGRATION_OWNERS": "U0OWNER1,bob"}, "integration_owners", "bob is not"),
        ({"AUDITORS": "bob@nowhere"}, "auditors", "bob@nowhere is not"),
        ({"PORT": "http"}, "PORT", "integer"),
        ({"PORT": "70000"}, "PORT", "65535"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT", "text or json"),
        ({"SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL", "http"),
        ({"ELASTIC_CLOUD_API_URL": "ftp://x"}, "ELASTIC_CLOUD_API_URL", "http"),
        ({"DEFAULT_DURATION": "13h"}, "configuration", "default_duration is longer"),
        ({"ESCALATE_AFTER": "soon"}, "escalate_after", "30m"),
        ({"ESCALATE_AFTER": "24h"}, "configuration", "time out before they escalate"),
    ],
)
def test_bad_environment_value_is_one_line_naming_it(valid_env, env, variables, name, fragment):
    env(**variables)
    assert fragment in _one_problem(name)


def test_access_details_at_the_limit_is_fine(valid_env, env):
    env(ACCESS_DETAILS="x" * 400)
    assert len(load_settings().access_details) == 400


@pytest.mark.parametrize(
    ("text", "name", "fragment"),
    [
        ('integration_name = "elastic cloud"', "integration_name", "letters"),
        (f'access_details = "{"y" * 401}"', "access_details", "401 characters"),
        ('integration_nmae = "typo"', "integration_nmae", "unknown setting"),
        ('max_duration = "2"', "max_duration", "no unit"),
        ('default_duration = "1h1h"', "default_duration", "twice"),
        ('integration_owners = ["U0OWNER1", "bob"]', "integration_owners", "bob"),
        ("port = 0", "PORT", "greater than or equal to 1"),
    ],
)
def test_bad_toml_value_is_one_line_naming_it(valid_env, toml, monkeypatch, text, name, fragment):
    if name == "integration_owners":
        monkeypatch.delenv("INTEGRATION_OWNERS")  # else the environment would win
    toml(text + "\n")
    assert fragment in _one_problem(name)


@pytest.mark.parametrize(
    ("rule", "name", "fragment"),
    [
        ("aprovals = 2", "policy #1.aprovals", "unknown setting"),
        ("approvals = 0", "policy #1.approvals", "greater than or equal to 1"),
        ("approvals = 11", "policy #1.approvals", "less than or equal to 10"),
        ('roles = ["*"]\nauto_aprove = true', "policy #1.auto_aprove", "unknown setting"),
    ],
)
def test_a_typo_in_a_policy_rule_stops_the_start(valid_env, toml, rule, name, fragment):
    """A misspelt or out-of-range ``[[policy]]`` key must not silently become a default
    (one approval instead of two): the start stops, naming the rule and the key."""
    toml(f"[[policy]]\n{rule}\n")
    assert fragment in _one_problem(name)


def test_a_bad_second_policy_rule_is_named_by_its_place(valid_env, toml):
    toml('[[policy]]\nroles = ["deployment-viewer"]\n\n[[policy]]\naprovals = 2\n')
    assert "unknown setting" in _one_problem("policy #2.aprovals")


@pytest.mark.parametrize("approvals", [1, 10])
def test_approvals_from_one_to_ten_are_fine(valid_env, toml, approvals):
    toml(f"[[policy]]\napprovals = {approvals}\n")
    assert load_settings().access_policy().rules.rules[0].approvals == approvals


def test_every_bad_setting_is_reported_at_once(valid_env, env, toml):
    toml('integration_nmae = "typo"\naccess_details = "' + "z" * 500 + '"\n')
    env(INTEGRATION_NAME="two words", MAX_DURATION="soon", LOG_FORMAT="xml")
    names = sorted(line.split(":", 1)[0] for line in _problems())
    assert names == sorted(
        ["integration_nmae", "access_details", "integration_name", "max_duration", "LOG_FORMAT"]
    )


def test_misspelled_secret_in_toml_is_not_shown(valid_env, toml):
    toml(f'elastic_cloud_api_kee = "{API_KEY}"\nslack_bot_tokn = "{BOT_TOKEN}"\n')
    lines = _problems()  # asserts no secret in any line
    names = sorted(line.split(":", 1)[0] for line in lines)
    assert names == ["ELASTIC_CLOUD_API_KEE", "SLACK_BOT_TOKN"]
    assert all("unknown setting" in line for line in lines)


def test_secret_of_the_wrong_type_is_not_shown(valid_env, toml, monkeypatch):
    monkeypatch.delenv("ELASTIC_CLOUD_API_KEY")
    toml(f'elastic_cloud_api_key = ["{API_KEY}"]\n')
    assert "string" in _one_problem("ELASTIC_CLOUD_API_KEY")


def test_missing_api_key(valid_env, monkeypatch):
    monkeypatch.delenv("ELASTIC_CLOUD_API_KEY")
    line = _one_problem("ELASTIC_CLOUD_API_KEY")
    assert "ELASTIC_CLOUD_API_KEY_FILE" in line


def test_api_key_file_that_does_not_exist(valid_env, env, tmp_path, monkeypatch):
    monkeypatch.delenv("ELASTIC_CLOUD_API_KEY")
    missing = tmp_path / "no-such-key"
    env(ELASTIC_CLOUD_API_KEY_FILE=str(missing))
    line = _one_problem("ELASTIC_CLOUD_API_KEY_FILE")
    assert str(missing) in line
    assert "cannot read" in line


def test_api_key_file_that_is_empty(valid_env, env, tmp_path, monkeypatch):
    monkeypatch.delenv("ELASTIC_CLOUD_API_KEY")
    empty = tmp_path / "empty-key"
    empty.write_text(" \n")
    env(ELASTIC_CLOUD_API_KEY_FILE=str(empty))
    assert "is empty" in _one_problem("ELASTIC_CLOUD_API_KEY_FILE")


def test_toml_syntax_error(valid_env, toml):
    toml('integration_name = "unterminated\n')
    assert "line 1" in _one_problem(CONFIG_ENV)


def test_config_file_that_does_not_exist(valid_env, env, tmp_path):
    env(**{CONFIG_ENV: str(tmp_path / "nope.toml")})
    assert "not a readable file" in _one_problem(CONFIG_ENV)


def test_bad_and_missing_settings_are_reported_together(env):
    env(INTEGRATION_NAME="two words", INTEGRATION_OWNERS="U0OWNER1")
    names = {line.split(":", 1)[0] for line in _problems()}
    assert {"integration_name", "SLACK_BOT_TOKEN", "ELASTIC_CLOUD_API_KEY"} <= names


def test_absurd_duration_is_a_config_line(valid_env, env):
    env(MAX_DURATION="9999999999999d")
    assert "'9999999999999d'" in _one_problem("max_duration")


# -- the real start-up ------------------------------------------------------------------------


def _run_bot(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=REPO_ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_python_m_bot_with_an_empty_environment_exits_2_with_config_lines():
    result = _run_bot({})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines
    assert all(line.startswith("config error: ") for line in lines), lines
    text = result.stderr
    for name in (
        "SLACK_BOT_TOKEN",
        "ELASTIC_CLOUD_API_KEY",
        "ELASTIC_CLOUD_ORGANIZATION_ID",
        "integration_owners",
    ):
        assert f"config error: {name}:" in text
    assert result.stdout == ""


def test_python_m_bot_never_shows_a_traceback_for_a_bad_duration():
    result = _run_bot({**VALID_ENV, "MAX_DURATION": "9999999999999d"})
    assert "Traceback" not in result.stderr
    assert result.returncode == 2
    assert "config error: max_duration:" in result.stderr


def test_python_m_bot_refuses_to_start_with_a_policy_typo(tmp_path):
    config = tmp_path / "elastic-access.toml"
    config.write_text('[[policy]]\nroles = ["*"]\naprovals = 2\n\n[[policy]]\napprovals = 11\n')
    result = _run_bot({**VALID_ENV, CONFIG_ENV: str(config)})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "config error: policy #1.aprovals: unknown setting (check the spelling)",
        "config error: policy #2.approvals: Input should be less than or equal to 10",
    ]
