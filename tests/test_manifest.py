"""manifest.yml is a valid Slack app manifest and asks for exactly what the code uses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from bot import manifest as m
from bot.__main__ import main
from bot.standins.shared import missing_shared, shared_dir

REPO = Path(__file__).resolve().parents[1]
SCHEMA = "slack-app-manifest/slack-app-manifest.schema.json"


@pytest.fixture(scope="module")
def manifest() -> dict:
    return m.load_manifest()


@pytest.fixture(scope="module")
def code() -> m.CodeRequirements:
    return m.code_requirements()


# -- the manifest itself ----------------------------------------------------------------------
def test_manifest_matches_the_slack_app_manifest_schema(manifest: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    root = shared_dir()
    if root is None or not (root / SCHEMA).is_file():
        missing_shared(f"{SCHEMA} (Slack's app manifest schema)")
    schema = json.loads((root / SCHEMA).read_text(encoding="utf-8"))
    validator_cls = jsonschema.validators.validator_for(schema)
    validator_cls.check_schema(schema)
    validator = validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)
    errors = [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
        for e in validator.iter_errors(manifest)
    ]
    assert errors == []


def test_every_url_is_the_bolt_path(manifest: dict) -> None:
    urls = m.urls(manifest)
    assert len(urls) == 4  # slash command, events, interactivity, options
    assert all(urlsplit(u).path == m.SLACK_PATH for u in urls), urls
    assert manifest["settings"]["socket_mode_enabled"] is False


# -- manifest ⇄ code --------------------------------------------------------------------------
def test_the_scanner_sees_the_code(code: m.CodeRequirements) -> None:
    """Guards the checks below against a scanner that silently finds nothing."""
    from bot.slack.listeners.commands import COMMAND

    assert COMMAND in code.commands
    assert "app_home_opened" in code.events
    assert {"chat_postMessage", "users_info", "views_open"} <= set(code.methods)
    assert code.unresolved == []


def test_slash_commands_match_both_ways(manifest: dict, code: m.CodeRequirements) -> None:
    assert set(m.slash_commands(manifest)) == code.commands


def test_bot_events_match_both_ways(manifest: dict, code: m.CodeRequirements) -> None:
    assert set(m.bot_events(manifest)) == code.events


def test_every_web_api_method_called_has_known_scopes(code: m.CodeRequirements) -> None:
    unknown = {k: v for k, v in code.methods.items() if k not in m.METHOD_SCOPES}
    assert unknown == {}, "add these to METHOD_SCOPES in bot/manifest.py"


def test_bot_scopes_are_exactly_what_the_code_needs(
    manifest: dict, code: m.CodeRequirements
) -> None:
    needed, asked = code.scopes(), set(m.bot_scopes(manifest))
    assert not needed - asked, f"the code needs {sorted(needed - asked)}; add them to manifest.yml"
    assert not asked - needed, (
        f"manifest.yml asks for {sorted(asked - needed)} but no code needs them "
        f"(Web API methods called: {sorted(code.methods)})"
    )


def test_differences_reports_nothing(manifest: dict) -> None:
    assert m.differences(manifest) == []


def test_scanner_on_a_made_up_package(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "listeners.py").write_text(
        textwrap.dedent(
            """
            SHORTCUT = "/deploy"

            def register(app, runtime):
                @app.command(SHORTCUT)
                def deploy(ack, say, client):
                    client.files_upload_v2(channel="C1", content="x")
                    runtime.client.conversations_open(users="U1")

                @app.event({"type": "message", "subtype": "bot_message"})
                def on_message(event):
                    pass

                app.event(runtime.name)(on_message)
            """
        )
    )
    found = m.code_requirements(pkg)
    assert found.commands == {"/deploy"}
    assert found.events == {"message"}
    assert set(found.methods) == {"files_upload_v2", "conversations_open", "chat_postMessage"}
    assert len(found.unresolved) == 1 and "runtime.name" in found.unresolved[0]
    assert found.scopes() == {"commands", "files:write", "im:write", "chat:write"}

    (pkg / "more.py").write_text("def f(client):\n    client.reactions_add(name='x')\n")
    with pytest.raises(KeyError, match="reactions_add"):
        m.code_requirements(pkg).scopes()


def test_users_lookup_by_email_needs_both_user_scopes() -> None:
    assert set(m.METHOD_SCOPES["users_lookupByEmail"]) == {"users:read", "users:read.email"}


# -- rendering --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "https://access.example.com",
        "https://access.example.com/",
        "https://access.example.com/slack/events",
    ],
)
def test_render_puts_every_url_under_the_host(url: str, manifest: dict) -> None:
    text = m.render_manifest(url)
    rendered = yaml.safe_load(text)
    urls = m.urls(rendered)
    assert len(urls) == len(m.urls(manifest))
    for value in urls:
        parts = urlsplit(value)
        assert (parts.scheme, parts.netloc, parts.path) == (
            "https",
            "access.example.com",
            "/slack/events",
        )
    assert m.PLACEHOLDER not in text
    assert text.startswith("#")  # the comments survive


def test_render_for_socket_mode_has_no_urls(manifest: dict) -> None:
    rendered = yaml.safe_load(m.render_manifest(socket_mode=True))
    assert m.urls(rendered) == []
    assert rendered["settings"]["socket_mode_enabled"] is True
    assert m.bot_scopes(rendered) == m.bot_scopes(manifest)
    assert m.slash_commands(rendered) == m.slash_commands(manifest)


@pytest.mark.parametrize(
    "url", ["http://access.example.com", "access.example.com", "https://", "ftp://x.example"]
)
def test_render_refuses_a_url_slack_would_refuse(url: str) -> None:
    with pytest.raises(ValueError, match="https://"):
        m.render_manifest(url)


# -- the command line -------------------------------------------------------------------------
def _run(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ELASTIC_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=base | (env or {}),
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_manifest_command_prints_the_manifest_for_a_url() -> None:
    done = _run("manifest", "--url", "https://access.example.com")
    assert done.returncode == 0, done.stderr
    rendered = yaml.safe_load(done.stdout)
    urls = m.urls(rendered)
    assert urls and all(u == "https://access.example.com/slack/events" for u in urls)


@pytest.mark.parametrize("command", [[], ["run"], ["check"], ["manifest"]])
def test_help_exits_zero(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    assert "usage:" in capsys.readouterr().out


def _installed_copy(tmp_path: Path, with_manifest: bool) -> Path:
    """The package as a non-editable install lays it out: site/bot/..., no repository around."""
    site = tmp_path / "site"
    shutil.copytree(REPO / "bot", site / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    if with_manifest:  # what [tool.setuptools.package-data] bot = ["*.yml"] ships
        shutil.copy(m.manifest_path(), site / "bot" / "manifest.yml")
    else:
        (site / "bot" / "manifest.yml").unlink(missing_ok=True)
    return site


def test_manifest_command_works_from_an_installed_package(tmp_path: Path) -> None:
    site = _installed_copy(tmp_path, with_manifest=True)
    done = _run(
        "manifest",
        "--url",
        "https://access.example.com",
        cwd=tmp_path,
        env={"PYTHONPATH": str(site)},
    )
    assert done.returncode == 0, done.stderr
    assert m.urls(yaml.safe_load(done.stdout))
    where = subprocess.run(
        [sys.executable, "-c", "import bot.manifest as m; print(m.manifest_path())"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert Path(where.stdout.strip()) == site / "bot" / "manifest.yml"


def test_an_install_without_the_manifest_says_so(tmp_path: Path) -> None:
    site = _installed_copy(tmp_path, with_manifest=False)
    done = subprocess.run(
        [sys.executable, "-c", "import bot.manifest as m; m.render_manifest()"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert "manifest.yml is neither in the installed package" in done.stderr
