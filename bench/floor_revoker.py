"""The floor of the revocation path: the bot's own stack with none of the bot's work.

``python -m bench.floor_revoker --db PATH --elastic-url URL --api-key KEY --org ORG``

Reads the ACTIVE grants from a bot database, schedules one APScheduler 3 date job per grant
with the bot's scheduler settings (BackgroundScheduler, UTC, ThreadPoolExecutor(8),
misfire_grace_time=None, coalesce, max_instances=1), prints ``READY`` and, when each job
fires, sends the one role-assignment DELETE the bot would send (same body, via
``bot.elastic.assignments.to_body``, over one shared httpx client). Prints ``DONE`` and exits
when every grant has been revoked. No SQL writes, no member read-back, no Slack.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import threading
from datetime import UTC

import httpx
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from bot.access.resources import Unit
from bot.clock import from_iso
from bot.elastic.assignments import to_body


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--elastic-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--org", required=True)
    args = parser.parse_args()

    conn = sqlite3.connect(args.db)
    rows = conn.execute(
        "SELECT id, elastic_user_id, unit, expires_at FROM requests WHERE state = 'active'"
    ).fetchall()
    conn.close()
    client = httpx.Client(
        base_url=args.elastic_url,
        headers={"Authorization": f"ApiKey {args.api_key}", "Accept": "application/json"},
        timeout=10,
    )
    remaining = len(rows)
    lock = threading.Lock()
    done = threading.Event()

    def revoke(user_id: str, unit_text: str) -> None:
        nonlocal remaining
        body = to_body([Unit.parse(unit_text)], args.org)
        client.request(
            "DELETE", f"/api/v1/users/{user_id}/role_assignments", json=body
        ).raise_for_status()
        with lock:
            remaining -= 1
            if remaining == 0:
                done.set()

    scheduler = BackgroundScheduler(
        timezone=UTC,
        executors={"default": ThreadPoolExecutor(8)},
        job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
    )
    for request_id, user_id, unit, expires_at in rows:
        scheduler.add_job(
            revoke,
            "date",
            run_date=from_iso(expires_at),
            args=[user_id, unit],
            id=f"revoke:{request_id}",
            replace_existing=True,
        )
    scheduler.start()
    print("READY", flush=True)
    if not rows:
        done.set()
    done.wait(timeout=600)
    scheduler.shutdown(wait=False)
    client.close()
    print("DONE", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
