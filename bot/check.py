"""``python -m bot check``: reach every dependency once and print a pass/fail table.

Run it after deploying, or when something looks wrong: it says which part is broken (the
Slack token, a missing scope, the Elastic key, the organization ID, the database) in words
an operator can act on. Each check stands alone, fails fast (short timeouts, one retry) and
never prints a secret. A check that cannot run because the one it needs failed is SKIP.
Exit code 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TextIO

from bot.config import Settings

log = logging.getLogger(__name__)

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"

#: Seconds to wait for Slack or Elastic Cloud before calling the check failed.
TIMEOUT = 5.0
SCOPES_HEADER = "x-oauth-scopes"


@dataclass(frozen=True)
class Result:
    name: str
    status: str
    detail: str


class _Failed(Exception):
    """A check failed for a reason we can explain; ``str(exc)`` is the detail."""


class _Skipped(Exception):
    """A check that cannot run because an earlier one failed."""


# -- the checks ------------------------------------------------------------------------------
def role_mapping_warning(mappings) -> str | None:
    """A warning when the organization has SSO role mappings (``mappings`` as the client
    returns them; None: the API does not offer them): SAML role mappings set a member's roles
    at every SSO sign-in, so a role the bot assigned can vanish when the grantee signs in."""
    if not mappings:
        return None
    enabled = [m for m in mappings if m.enabled]
    names = ", ".join(m.name or "unnamed" for m in (enabled or mappings)[:5])
    return (
        f"warning: the organization has {len(mappings)} SSO role mapping(s), "
        f"{len(enabled)} enabled ({names}): SSO sign-ins overwrite manually assigned roles, "
        "so a grant can vanish when the grantee signs in"
    )


def check_configuration(settings: Settings) -> str:
    mode = "Socket Mode" if settings.socket_mode else f"HTTP mode on port {settings.port}"
    summary = (
        f"{mode}; organization {settings.elastic_cloud_organization_id}; "
        f"integration {settings.integration_name}; "
        f"{len(settings.integration_owners)} integration owner(s)"
    )
    return "; ".join([summary, *settings.access_policy().warnings()])


def _slack_client(settings: Settings):
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
    )

    from bot.slack.app import web_client

    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    client = web_client(token, settings.slack_api_url)
    client.timeout = max(1, round(TIMEOUT))
    # One quick retry, not the bot's patient policy: a check should answer in seconds.
    client.retry_handlers = [
        ConnectionErrorRetryHandler(max_retry_count=1),
        RateLimitErrorRetryHandler(max_retry_count=1),
    ]
    return client


def check_slack(settings: Settings, found: dict) -> str:
    """``auth.test`` with the bot token; keeps the granted scopes for the next check."""
    from slack_sdk.errors import SlackApiError

    client = _slack_client(settings)
    try:
        response = client.auth_test()
    except SlackApiError as exc:
        code = exc.response.get("error") if exc.response is not None else None
        hint = {
            "invalid_auth": "the bot token (SLACK_BOT_TOKEN) is not valid for this workspace",
            "not_authed": "no bot token was sent (SLACK_BOT_TOKEN)",
            "account_inactive": "the app or its bot user was removed from the workspace",
            "token_revoked": "the bot token was revoked; reinstall the app",
            "token_expired": "the bot token expired (token rotation is on?)",
        }.get(str(code), f"Slack answered HTTP {exc.response.status_code}")
        raise _Failed(f"{code}: {hint}") from None
    except Exception as exc:
        raise _Failed(f"cannot reach Slack at {settings.slack_api_url} ({_reason(exc)})") from None
    headers = {k.lower(): v for k, v in (response.headers or {}).items()}
    raw = headers.get(SCOPES_HEADER)
    if isinstance(raw, list):  # some transports keep repeated headers as lists
        raw = ",".join(raw)
    found["scopes"] = None if raw is None else {s.strip() for s in raw.split(",") if s.strip()}
    return (
        f"team {response.get('team')} ({response.get('team_id')}), "
        f"bot user {response.get('user')} ({response.get('user_id')})"
    )


def check_scopes(settings: Settings, found: dict) -> str:
    from bot.manifest import bot_scopes

    granted = found.get("scopes")
    if "scopes" not in found:
        raise _Skipped("auth.test failed, so the token's scopes are unknown")
    if granted is None:
        raise _Failed(f"Slack sent no {SCOPES_HEADER} header with auth.test; scopes unknown")
    wanted = set(bot_scopes())
    missing = sorted(wanted - granted)
    if missing:
        raise _Failed(
            f"missing {', '.join(missing)}: add to the app's bot scopes (manifest.yml) "
            "and reinstall the app"
        )
    extra = sorted(granted - wanted)
    detail = f"all {len(wanted)} manifest scopes granted"
    return detail + (f" (also granted: {', '.join(extra)})" if extra else "")


def check_socket_mode(settings: Settings) -> str:
    """``apps.connections.open`` with the app-level token: what Socket Mode does at start.

    It only hands out a WebSocket URL; a running bot's connection is not disturbed.
    """
    from slack_sdk.errors import SlackApiError

    assert settings.slack_app_token is not None
    client = _slack_client(settings)
    try:
        client.apps_connections_open(app_token=settings.slack_app_token.get_secret_value())
    except SlackApiError as exc:
        code = exc.response.get("error") if exc.response is not None else None
        hint = {
            "invalid_auth": "the app-level token (SLACK_APP_TOKEN) is not valid",
            "not_allowed_token_type": "SLACK_APP_TOKEN must be an app-level token (xapp-…)",
            "missing_scope": "the app-level token needs the connections:write scope",
        }.get(str(code), "turn on Socket Mode in the app's settings (socket_mode_enabled)")
        raise _Failed(f"{code}: {hint}") from None
    except Exception as exc:
        raise _Failed(f"cannot reach Slack at {settings.slack_api_url} ({_reason(exc)})") from None
    return "app-level token accepted; Slack handed out a WebSocket URL"


def _elastic_client(settings: Settings):
    from bot.elastic.client import ElasticClient, RetryPolicy

    return ElasticClient(
        settings.elastic_cloud_api_url,
        settings.api_key(),
        settings.elastic_cloud_organization_id or "",
        timeout=TIMEOUT,
        retry=RetryPolicy(attempts=2, initial=0.2, maximum=1.0, total=TIMEOUT),
    )


def _elastic_failure(exc: Exception, settings: Settings) -> str:
    from bot.elastic.errors import ElasticError

    if not isinstance(exc, ElasticError):
        return f"unexpected answer from Elastic Cloud ({_reason(exc)})"
    org = settings.elastic_cloud_organization_id
    said = f"{exc.code}, HTTP {exc.status}"
    if exc.status is None:
        return f"cannot reach {settings.elastic_cloud_api_url}: {exc}"
    if exc.credentials_rejected:
        return (
            f"the API key was rejected ({said}): check ELASTIC_CLOUD_API_KEY; the bot grants "
            "nothing until the key works again"
        )
    if exc.status == 403:
        return (
            f"the API key may not read organization {org} ({said}): check "
            "ELASTIC_CLOUD_ORGANIZATION_ID and that the key has the Organization owner role"
        )
    if exc.status == 404:
        return f"organization {org} not found ({said}): check ELASTIC_CLOUD_ORGANIZATION_ID"
    return f"Elastic Cloud answered: {exc}"


def check_elastic(settings: Settings, found: dict) -> str:
    client = _elastic_client(settings)
    try:
        organization = client.organization()
        if organization.id != settings.elastic_cloud_organization_id:
            raise _Failed(
                f"the API answered for organization {organization.id}, not "
                f"{settings.elastic_cloud_organization_id}: check ELASTIC_CLOUD_ORGANIZATION_ID"
            )
        found["elastic"] = True
        detail = f"organization {organization.name} ({organization.id})"
        try:
            count = sum(1 for _ in client.deployments())
        except Exception as exc:
            raise _Failed(
                f"{detail}, but listing deployments failed: {_elastic_failure(exc, settings)}"
            ) from None
        detail = f"{detail}; {count} deployment(s)"
        try:
            warning = role_mapping_warning(client.role_mappings())
        except Exception as exc:
            warning = f"could not read SSO role mappings: {_elastic_failure(exc, settings)}"
        return f"{detail}; {warning}" if warning else detail
    except _Failed:
        raise
    except Exception as exc:
        raise _Failed(_elastic_failure(exc, settings)) from None
    finally:
        client.close()


def check_database(settings: Settings) -> str:
    """The database the bot would use: PostgreSQL when ``DATABASE_URL`` is set, else the
    SQLite file (migrated here, as the bot would at start)."""
    if settings.database_url is not None:
        return check_postgres(settings.database_url.get_secret_value())
    return check_sqlite(settings)


def check_postgres(url: str) -> str:
    """Connect once (no pool, a short timeout) and read the schema's state without changing
    it: on a database shared by several replicas, the bot migrates at start, under a lock."""
    import psycopg

    from bot.access.states import State
    from bot.store.copying import one_line
    from bot.store.postgres import describe
    from bot.store.postgres_schema import MIGRATIONS

    where = describe(url)
    try:
        conn = psycopg.connect(url, connect_timeout=max(2, round(TIMEOUT)))
    except psycopg.Error as exc:
        raise _Failed(f"{where}: cannot connect ({one_line(exc)})") from None
    try:
        with conn:

            def value(sql: str, params: tuple = ()) -> object:
                return conn.execute(sql, params).fetchone()[0]  # type: ignore[index]

            number = conn.info.server_version  # 150018 is 15.18
            server = f"{number // 10000}.{number % 10000}"
            done: set[str] = set()
            if value("SELECT to_regclass('schema_migrations')") is not None:
                done = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
            active = None
            if value("SELECT to_regclass('requests')") is not None:
                active = value(
                    "SELECT count(*) FROM requests WHERE state = %s", (State.ACTIVE.value,)
                )
    except psycopg.Error as exc:
        raise _Failed(f"{where}: cannot use the database ({one_line(exc)})") from None
    known = [name for name, _ in MIGRATIONS]
    pending = [name for name in known if name not in done]
    applied = [name for name in known if name in done]
    schema = f"schema {applied[-1]}" if applied else "no schema yet"
    if pending:
        schema += (
            f", {len(pending)} migration(s) pending ({', '.join(pending)}): "
            "the bot applies them when it starts"
        )
    elif newer := sorted(done - set(known)):
        schema += f" (and {', '.join(newer)} from a newer version of the bot)"
    else:
        schema += " (latest)"
    detail = f"{where}: {schema}; PostgreSQL {server}"
    return detail if active is None else f"{detail}; {active} active grant(s)"


def check_sqlite(settings: Settings) -> str:
    import sqlite3

    from bot.access.states import State
    from bot.store import Database, Store
    from bot.store.migrations import migrations

    db = Database(settings.database_path)
    try:
        applied_now = Store(db).migrate()
        verdict = [row[0] for row in db.query("PRAGMA integrity_check")]
        if verdict != ["ok"]:
            raise _Failed(
                f"{settings.database_path}: integrity check failed: {'; '.join(verdict[:3])}"
            )
        version = len(migrations.applied(db.utils))
        active = db.one("SELECT count(*) FROM requests WHERE state = ?", (State.ACTIVE.value,))[0]
        detail = f"{settings.database_path}: schema version {version}"
        if applied_now:
            detail += f" ({len(applied_now)} migration(s) applied now)"
        return f"{detail}; {active} active grant(s)"
    except sqlite3.Error as exc:
        raise _Failed(f"{settings.database_path}: {exc}") from None
    finally:
        db.close()


# -- running and printing -------------------------------------------------------------------
def _reason(exc: BaseException) -> str:
    """A short cause: the innermost exception's type and message, on one line."""
    inner: BaseException = exc
    seen = 0
    while (inner.__cause__ or inner.__context__) is not None and seen < 5:
        inner = inner.__cause__ or inner.__context__  # type: ignore[assignment]
        seen += 1
    text = " ".join(str(inner).split())[:160]
    return f"{type(inner).__name__}: {text}" if text else type(inner).__name__


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return text


def _run(name: str, check: Callable[[], str]) -> Result:
    try:
        return Result(name, PASS, check())
    except _Failed as exc:
        return Result(name, FAIL, str(exc))
    except _Skipped as exc:
        return Result(name, SKIP, str(exc))
    except Exception as exc:  # a check must never take the others down with it
        log.debug("check %s crashed", name, exc_info=True)
        return Result(name, FAIL, f"unexpected error ({_reason(exc)})")


def collect(settings: Settings) -> list[Result]:
    found: dict = {}
    checks: list[tuple[str, Callable[[], str]]] = [
        ("configuration", lambda: check_configuration(settings)),
        ("Slack auth.test", lambda: check_slack(settings, found)),
        ("Slack scopes", lambda: check_scopes(settings, found)),
        *(
            [("Slack Socket Mode", lambda: check_socket_mode(settings))]
            if settings.socket_mode
            else []
        ),
        ("Elastic Cloud", lambda: check_elastic(settings, found)),
        ("database", lambda: check_database(settings)),
    ]
    secrets = settings.secrets()
    results = []
    for name, check in checks:
        result = _run(name, check)
        results.append(Result(result.name, result.status, _redact(result.detail, secrets)))
    return results


def format_table(results: list[Result]) -> str:
    width = max(len("CHECK"), *(len(r.name) for r in results))
    lines = [f"{'CHECK':<{width}}  RESULT  DETAIL"]
    lines += [f"{r.name:<{width}}  {r.status:<6}  {r.detail}" for r in results]
    failed = [r for r in results if r.status != PASS]
    if failed:
        lines.append(f"\n{len(failed)} of {len(results)} checks did not pass.")
    else:
        lines.append(f"\nAll {len(results)} checks passed.")
    return "\n".join(lines) + "\n"


def semantics_report(settings: Settings) -> str:
    """What the bot goes by where Elastic documents nothing: the latest probe's answers with
    their date, or the safest assumptions (issue #18)."""
    import sqlite3

    import psycopg

    from bot.access.planning import SAFEST
    from bot.store import semantics as stored
    from bot.store.opening import open_database

    try:
        db = open_database(settings)
        try:
            run = stored.latest_run(db)
        finally:
            db.close()
    except (sqlite3.Error, psycopg.Error):  # no table yet: nothing measured
        run = None
    current = stored.Semantics.from_answers(run["answers"], run["measured_at"]) if run else SAFEST
    if run:
        head = (
            f"Elastic Cloud semantics, measured {run['measured_at'][:16].replace('T', ' ')} "
            f"by `python -m bot probe` on {run['member']}:"
        )
    else:
        head = (
            "Elastic Cloud semantics: not measured; the bot assumes the safest answers "
            "(run `python -m bot probe`, see README 'Before production'):"
        )
    lines = [head]
    for question in SAFEST.questions():
        value = getattr(current, question)
        measured = run is not None and run["answers"].get(question) is not None
        lines.append(
            f"  {question:<32} {'yes' if value else 'no':<4} "
            f"{'measured' if measured else 'assumed (safest)'}"
        )
    return "\n".join(lines) + "\n"


def run_checks(settings: Settings, out: TextIO | None = None) -> int:
    """Run every check, print the table, and return 0 if all passed, else 1."""
    if not logging.getLogger().handlers:  # the CLI: keep library warnings short and redacted
        from bot import logs

        logs.configure(settings.log_format, "WARNING", settings.secrets())
    results = collect(settings)
    stream = out or sys.stdout
    stream.write(format_table(results))
    if any(r.name == "database" and r.status == PASS for r in results):
        stream.write("\n" + semantics_report(settings))
    stream.flush()
    return 0 if all(r.status == PASS for r in results) else 1
