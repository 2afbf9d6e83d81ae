"""The baseline: a bare slack-bolt App with no-op handlers, served exactly like the bot.

``python -m bench.baseline_app`` (settings from ``BENCH_*`` environment variables). The
server configuration is a copy of ``bot.web.server.serve_http``: gunicorn, one worker,
gthread with 8 threads, the same timeouts, no access log. ``/healthz`` answers 200 once the
worker has loaded the app, like the bot's.

Handlers (all just ``ack()``): the slash command, the ``approve`` button and the ``resource``
options. One extra button, ``approve_floor``, is the floor of the approve-to-grant path:
ack, then a single role-assignment POST to the Elastic emulator (value ``<user_id>:<deployment>``).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

THREADS = 8  # serve_http's default (``--threads``)


def build_wsgi() -> Any:
    import httpx
    from slack_bolt import App
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from slack_sdk import WebClient

    token = os.environ["BENCH_BOT_TOKEN"]
    api_url = os.environ["BENCH_SLACK_API_URL"]
    # Bolt calls auth.test once on the first request: point it at the fake, never at Slack.
    client = WebClient(token=token, base_url=api_url)
    app = App(
        client=client,
        signing_secret=os.environ["BENCH_SIGNING_SECRET"],
        token_verification_enabled=False,
    )

    @app.command("/elastic-access")
    def command(ack):
        ack()

    @app.action("approve")
    def approve(ack):
        ack()

    @app.options("resource")
    def options(ack):
        ack()

    elastic_url = os.environ.get("BENCH_ELASTIC_URL")
    elastic = (
        httpx.Client(
            base_url=elastic_url,
            headers={"Authorization": f"ApiKey {os.environ['BENCH_ELASTIC_API_KEY']}"},
            timeout=10,
        )
        if elastic_url
        else None
    )

    @app.action("approve_floor")
    def approve_floor(ack, body):
        ack()
        user_id, deployment = body["actions"][0]["value"].split(":", 1)
        assert elastic is not None
        elastic.post(
            f"/api/v1/users/{user_id}/role_assignments",
            json={
                "deployment": [
                    {
                        "role_id": "deployment-viewer",
                        "organization_id": os.environ.get("BENCH_ORG_ID", "1234567890"),
                        "all": False,
                        "deployment_ids": [deployment],
                    }
                ]
            },
        ).raise_for_status()

    slack = SlackRequestHandler(app, path="/slack/events")

    def wsgi(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz":
            data = json.dumps({"ok": True}).encode()
            start_response(
                "200 OK",
                [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
            )
            return [data]
        return slack(environ, start_response)

    return wsgi


def main() -> int:
    from gunicorn.app.base import BaseApplication

    port = int(os.environ["BENCH_PORT"])

    class Baseline(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"127.0.0.1:{port}")
            self.cfg.set("workers", 1)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", THREADS)
            self.cfg.set("graceful_timeout", 20)
            self.cfg.set("timeout", 60)
            self.cfg.set("accesslog", None)
            if "control_socket_disable" in self.cfg.settings:  # as serve_http does
                self.cfg.set("control_socket_disable", True)

        def load(self) -> Any:
            logging.basicConfig(level=logging.WARNING)
            return build_wsgi()

    Baseline().run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
