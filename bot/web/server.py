"""Serving: gunicorn (one worker process, threads) for HTTP mode; a small server for probes.

One worker process on purpose: the scheduler and the SQLite connections live in-process,
and two workers would run two schedulers over one database.
"""

from __future__ import annotations

import logging
import threading
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from bot.config import Settings

log = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s " + format, self.address_string(), *args)


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def serve_in_thread(app: Any, host: str, port: int) -> ThreadingWSGIServer:
    """A threaded WSGI server on a background thread (health probes, tests)."""
    server = make_server(
        host, port, app, server_class=ThreadingWSGIServer, handler_class=_QuietHandler
    )
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    ).start()
    return server


def serve_health(runtime, host: str, port: int) -> ThreadingWSGIServer:
    """Probes only (Socket Mode): /healthz and /readyz, never /slack/events."""
    from bot.web.wsgi import WebApp

    return serve_in_thread(WebApp(runtime, runtime.bolt, serve_slack=False), host, port)


def serve_http(settings: Settings, workers_threads: int = 8, role: str = "all") -> int:
    from gunicorn.app.base import BaseApplication

    if settings.slack_signing_secret is None:  # the CLI refuses first; never serve unsigned
        raise ValueError("SLACK_SIGNING_SECRET is required to serve /slack/events")

    holder: dict[str, Any] = {}

    class BotApplication(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{settings.host}:{settings.port}")
            self.cfg.set("workers", 1)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", workers_threads)
            self.cfg.set("graceful_timeout", 20)
            self.cfg.set("timeout", 60)
            self.cfg.set("accesslog", None)
            self.cfg.set("worker_exit", _worker_exit)
            if (
                "control_socket_disable" in self.cfg.settings
            ):  # gunicorn ≥ 25.1: no shared ctl socket
                self.cfg.set("control_socket_disable", True)

        def load(self) -> Any:
            # Runs in the worker, after the fork: threads and connections must start here.
            from bot import logs
            from bot.runtime import Runtime

            logs.configure(settings.log_format, settings.log_level, settings.secrets())
            runtime = Runtime(settings, role=role)
            runtime.start()
            holder["runtime"] = runtime
            return runtime.wsgi

    def _worker_exit(server: Any, worker: Any) -> None:
        runtime = holder.get("runtime")
        if runtime is not None:
            log.info("worker exiting: stopping the scheduler (the schedule stays in the database)")
            runtime.stop()

    BotApplication().run()
    return 0
