"""Command line: ``python -m bot [run]``, ``check``, ``reconcile``, ``manifest``, ``audit``,
``review``, ``probe``, ``migrate-to-postgres``, ``sandbox``.

Configuration problems end the process with exit code 2 and one line per bad setting on
stderr; never a traceback, never a secret.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from bot.config import ConfigError, Settings, load_settings

log = logging.getLogger("bot")


def _settings(need_slack: bool = True) -> Settings:
    try:
        return load_settings(need_slack=need_slack)
    except ConfigError as exc:
        for line in exc.lines:
            print(f"config error: {line}", file=sys.stderr)
        raise SystemExit(2) from None


def _configure_logging(settings: Settings) -> None:
    from bot import logs

    logs.configure(settings.log_format, settings.log_level, settings.secrets())


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings()
    _configure_logging(settings)
    mode = args.mode if args.mode != "auto" else ("socket" if settings.socket_mode else "http")
    if mode == "socket" and not settings.socket_mode:
        print("config error: SLACK_APP_TOKEN: required for Socket Mode", file=sys.stderr)
        return 2
    if mode == "http" and settings.slack_signing_secret is None:
        # Serving /slack/events unsigned would let anyone who reaches the port click Approve.
        print(
            "config error: SLACK_SIGNING_SECRET: required to serve /slack/events in HTTP mode",
            file=sys.stderr,
        )
        return 2
    from bot.runtime import describe

    role = "web" if args.front_end_only else "all"
    if role != "all" and settings.database_url is None:
        print(_SPLIT_NEEDS_POSTGRES, file=sys.stderr)
        return 2
    log.info("starting elastic-access-bot: %s", describe(settings) | {"mode": mode, "role": role})
    if mode == "http":
        from bot.web.server import serve_http

        return serve_http(settings, workers_threads=args.threads, role=role)
    return _run_socket_mode(settings, role)


_SPLIT_NEEDS_POSTGRES = (
    "config error: DATABASE_URL: running the front end and the worker as separate processes "
    "needs PostgreSQL (on SQLite run `python -m bot`, which does both)"
)


def cmd_worker(args: argparse.Namespace) -> int:
    """The worker alone: grants, revocations, retries and follow-ups from the database, and
    the health endpoints on $PORT; no Slack requests (the front ends take those)."""
    settings = _settings()
    _configure_logging(settings)
    if settings.database_url is None:
        print(_SPLIT_NEEDS_POSTGRES, file=sys.stderr)
        return 2
    from bot.runtime import Runtime, describe
    from bot.web.server import serve_health

    log.info("starting elastic-access-bot: %s", describe(settings) | {"role": "worker"})
    runtime = Runtime(settings, role="worker")
    runtime.start()
    health = serve_health(runtime, settings.host, settings.port)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    try:
        done.wait()
        log.info("shutting down")
    finally:
        runtime.stopping = True
        health.shutdown()
        runtime.stop()
    return 0


def _run_socket_mode(settings: Settings, role: str = "all") -> int:
    """Socket Mode for Slack, plus the health endpoints on $PORT for the platform's probes."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.errors import SlackApiError

    from bot.runtime import Runtime
    from bot.web.server import serve_health

    runtime = Runtime(settings, role=role)
    runtime.start()
    assert settings.slack_app_token is not None
    handler = SocketModeHandler(runtime.bolt, settings.slack_app_token.get_secret_value())
    health = serve_health(runtime, settings.host, settings.port)
    runtime.extra_readiness["slack_socket"] = lambda: bool(handler.client.is_connected())
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    code = 0
    try:
        handler.connect()
        log.info("connected to Slack in Socket Mode")
        done.wait()
        log.info("shutting down")
    except SlackApiError as exc:
        log.error("could not open the Socket Mode connection: %s", exc.response.get("error"))
        code = 1
    finally:
        runtime.stopping = True
        handler.close()
        health.shutdown()
        runtime.stop()
    return code


def cmd_check(args: argparse.Namespace) -> int:
    from bot.check import run_checks

    return run_checks(_settings())


def cmd_reconcile(args: argparse.Namespace) -> int:
    """Run the drift reconciliation once (the running bot does it every reconcile_interval):
    findings are printed and reported to the integration owners once; nothing is changed in
    Elastic Cloud. Exit 0 with nothing new, 1 with new findings, 2 when it could not run."""
    settings = _settings()
    _configure_logging(settings)
    from bot.runtime import Runtime

    runtime = Runtime(settings)
    try:
        runtime.store.migrate()
        try:
            findings = runtime.service.reconcile()
        except Exception as exc:
            print(f"reconcile failed: {exc}", file=sys.stderr)
            return 2
        for finding in findings:
            print(f"{finding['kind']}: {finding['what']}")
        print(f"{len(findings)} new finding(s)")
        return 1 if findings else 0
    finally:
        runtime.service.close()
        runtime.elastic.close()
        runtime.db.close()


def cmd_manifest(args: argparse.Namespace) -> int:
    from bot.manifest import render_manifest

    try:
        text = render_manifest(args.url, socket_mode=args.socket_mode)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


def cmd_migrate_to_postgres(args: argparse.Namespace) -> int:
    """Copy the SQLite database into PostgreSQL once (issue #16). Exit 0 when the copy is
    committed and verified, 2 when it was refused or failed (one line on stderr; nothing of
    the data is left in the target)."""
    import os
    from pathlib import Path

    import psycopg

    from bot.store.copying import CopyFailed, CopyRefused, copy_to_postgres, one_line

    def fail(message: str) -> int:
        print(f"migrate-to-postgres: {message}", file=sys.stderr)
        return 2

    source = Path(args.source or os.environ.get("DATABASE_PATH") or "./elastic-access.db")
    target = args.target or os.environ.get("DATABASE_URL")
    if not target:
        return fail("no target: pass --to postgresql://… or set DATABASE_URL")
    if not target.startswith(("postgresql://", "postgres://")):
        return fail("--to must be a postgresql:// URL")
    from bot.store.postgres import describe

    where = describe(target)
    print(f"copying {source} into {where}")
    try:
        report = copy_to_postgres(source, target, say=lambda line: print(f"  {line}"))
    except (CopyRefused, CopyFailed) as exc:
        return fail(str(exc))
    except psycopg.Error as exc:
        return fail(f"{where}: {one_line(exc)}; nothing was committed")
    if report.migrated:
        print(f"  (target schema: applied {', '.join(report.migrated)})")
    print(
        f"copied and verified: {sum(report.rows.values())} row(s) in {len(report.rows)} "
        f"table(s); audit chain intact: {report.events} events, head {report.head}"
    )
    print("start the bot with DATABASE_URL set to this database (and stop using the SQLite file)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="elastic-access-bot",
        description="Just-in-time, time-bound Elastic Cloud access from Slack.",
    )
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the bot (default)", description="Run the bot.")
    run.add_argument(
        "--mode",
        choices=("auto", "http", "socket"),
        default="auto",
        help="http: serve /slack/events on $PORT; socket: Socket Mode; auto: socket if SLACK_APP_TOKEN is set",
    )
    run.add_argument("--threads", type=int, default=8, help="HTTP worker threads (default 8)")
    run.add_argument(
        "--front-end-only",
        action="store_true",
        help="take Slack requests only; `python -m bot worker` processes grant and revoke "
        "(PostgreSQL only)",
    )
    run.set_defaults(func=cmd_run)
    worker = sub.add_parser(
        "worker",
        help="run the worker alone: grants, revocations, follow-ups (PostgreSQL only)",
        description="Grants, revocations, retries and follow-ups from the database, and "
        "/healthz and /readyz on $PORT; no Slack requests.",
    )
    worker.set_defaults(func=cmd_worker)
    check = sub.add_parser(
        "check",
        help="check the configuration, Slack, Elastic Cloud and the database",
        description="Validate the configuration and reach every dependency; exit 0 if all pass.",
    )
    check.set_defaults(func=cmd_check)
    reconcile = sub.add_parser(
        "reconcile",
        help="compare what the bot owns and removed with Elastic Cloud once (drift)",
        description="Report roles the bot removed that are back and roles it owns that "
        "vanished; exit 1 when there are new findings. Nothing is changed.",
    )
    reconcile.set_defaults(func=cmd_reconcile)
    manifest = sub.add_parser(
        "manifest",
        help="print the Slack app manifest",
        description="Print manifest.yml with the request URLs filled in.",
    )
    manifest.add_argument(
        "--url", default=None, help="public base URL, e.g. https://access.example.com"
    )
    manifest.add_argument(
        "--socket-mode", action="store_true", help="no request URLs; socket_mode_enabled: true"
    )
    manifest.set_defaults(func=cmd_manifest)
    move = sub.add_parser(
        "migrate-to-postgres",
        help="copy the SQLite database into PostgreSQL, once, keeping the audit chain",
        description="Copy every table of the bot's SQLite database into an empty PostgreSQL "
        "database (migrated first), in one transaction, then verify row counts and the audit "
        "hash chain. Stop the bot first.",
    )
    move.add_argument(
        "--from",
        dest="source",
        default=None,
        help="the SQLite file (default: $DATABASE_PATH, else ./elastic-access.db)",
    )
    move.add_argument(
        "--to",
        dest="target",
        default=None,
        help="postgresql://user:password@host:port/db (default: $DATABASE_URL)",
    )
    move.set_defaults(func=cmd_migrate_to_postgres)
    from bot import audit, probe, review
    from bot.sandbox import cli as sandbox

    audit.add_parser(sub)
    review.add_parser(sub)
    probe.add_parser(sub)
    sandbox.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        args = parser.parse_args(["run", *(argv or [])])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
