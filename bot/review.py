"""``python -m bot review``: the access review of the whole organization for a period.

    python -m bot review --since 7d [--until 2026-11-01] [--format text|json|csv]
                         [--no-elastic] [--database PATH]

The same review the owners get as digests (``access_review``), for every resource: the
just-in-time grants live in the period (who, what, how long, why, who approved), the standing
access Elastic Cloud shows that the bot did not grant, and what is parked or overdue now.

It reads the database like ``python -m bot audit`` (``--database``, else ``DATABASE_URL``,
else ``DATABASE_PATH``; read-only) and Elastic Cloud's member list, which needs the
``ELASTIC_CLOUD_*`` settings. ``--no-elastic`` skips the standing access and says so. Exit 0
on success, 2 on bad arguments, a missing or unreachable database, missing Elastic settings
or an Elastic Cloud that does not answer (one line on stderr).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from bot.access.planning import describe
from bot.access.resources import Unit
from bot.clock import SystemClock

FORMATS = ("text", "json", "csv")
DEFAULT_ELASTIC_URL = "https://api.elastic-cloud.com"

#: The CSV header: one row per grant, standing role or grant needing attention.
CSV_COLUMNS = (
    "section",
    "resource",
    "resource_name",
    "request_id",
    "user_id",
    "email",
    "role",
    "start",
    "end",
    "granted_for",
    "held",
    "state",
    "justification",
    "approved_by",
    "note",
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``review`` on the ``python -m bot`` sub-command parsers."""
    parser = subparsers.add_parser(
        "review",
        help="the access review of the whole organization for a period",
        description="Just-in-time grants in the period, standing access the bot did not "
        "grant (from Elastic Cloud's member list), and what is parked or overdue.",
    )
    _arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since",
        required=True,
        help="start: 7d or 2h (before now), 2026-11-01, or 2026-11-01T10:00 (UTC)",
    )
    parser.add_argument("--until", default=None, help="end (exclusive; default now)")
    parser.add_argument("--format", choices=FORMATS, default="text", help="default text")
    parser.add_argument(
        "--no-elastic",
        action="store_true",
        help="do not read Elastic Cloud: leave out the standing access (and say so)",
    )
    parser.add_argument(
        "--database",
        default=None,
        help="SQLite file (default: PostgreSQL at $DATABASE_URL when set, else "
        "$DATABASE_PATH, else ./elastic-access.db)",
    )


def _error(message: str) -> int:
    print(f"review: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from bot import audit
    from bot.access.review import Period, build_review
    from bot.store import audit as read
    from bot.store.repository import Store

    now = SystemClock().now()
    try:
        since, until = audit.window(args, now, until_default=now)
    except ValueError as exc:
        return _error(str(exc))

    elastic = None
    if not args.no_elastic:
        try:
            elastic = ElasticSettings.from_environment()
        except ValueError as exc:
            return _error(
                f"{exc} (Elastic Cloud's member list is needed for the standing access; "
                "--no-elastic leaves it out)"
            )
    grace = _grace()
    if grace is None:
        return _error("OVERDUE_ALERT_AFTER is not a duration such as 5m")

    try:
        db, name = audit._open(audit._database(args))
    except audit._Unusable as exc:
        return _error(str(exc))
    try:
        store = Store(db)
        period = Period(since, until)
        grants = read.review_grants(db, since, until)
        approvals = read.review_approvals(db, since, until)
        attention = read.needing_attention(db, now, grace)
        owned = store.all_owned_units()
        resources = store.catalogue()
    except audit._errors() as exc:
        return _error(f"reading {name} failed: {audit._one_line(exc)}")
    finally:
        db.close()

    members = None
    organization_id = ""
    if elastic is not None:
        organization_id = elastic.organization_id
        try:
            members = elastic.members()
        except Exception as exc:
            return _error(
                f"cannot read Elastic Cloud's member list at {elastic.url}: "
                f"{audit._one_line(exc)} (--no-elastic leaves the standing access out)"
            )
    review = build_review(
        period,
        now=now,
        grants=grants,
        approvals=approvals,
        attention=attention,
        overdue_after=grace,
        members=members,
        owned=owned,
        resources=resources,
        organization_id=organization_id,
        standing_skipped=members is None,
    )
    write = {"text": write_text, "json": write_json, "csv": write_csv}[args.format]
    write(review, sys.stdout)
    sys.stdout.flush()
    return 0


@dataclass(frozen=True)
class ElasticSettings:
    """The ``ELASTIC_CLOUD_*`` settings the review needs, from the environment (the rest of
    the bot's settings, Slack's included, are not needed here)."""

    url: str
    api_key: str = field(repr=False)
    organization_id: str

    @classmethod
    def from_environment(cls) -> ElasticSettings:
        import os
        from pathlib import Path

        from bot.config import _loopback

        key = os.environ.get("ELASTIC_CLOUD_API_KEY", "").strip()
        key_file = os.environ.get("ELASTIC_CLOUD_API_KEY_FILE", "").strip()
        if not key and key_file:
            try:
                key = Path(key_file).read_text().strip()
            except OSError as exc:
                raise ValueError(
                    f"ELASTIC_CLOUD_API_KEY_FILE: cannot read {key_file} ({exc.strerror})"
                ) from None
        if not key:
            raise ValueError("ELASTIC_CLOUD_API_KEY: required (or ELASTIC_CLOUD_API_KEY_FILE)")
        organization_id = os.environ.get("ELASTIC_CLOUD_ORGANIZATION_ID", "").strip()
        if not organization_id:
            raise ValueError("ELASTIC_CLOUD_ORGANIZATION_ID: required")
        url = os.environ.get("ELASTIC_CLOUD_API_URL", "").strip() or DEFAULT_ELASTIC_URL
        if not url.lower().startswith("https://") and not _loopback(url):
            raise ValueError("ELASTIC_CLOUD_API_URL: must be https:// (http:// only to loopback)")
        return cls(url, key, organization_id)

    def members(self) -> list:
        import logging

        from bot.elastic.client import ElasticClient, RetryPolicy

        # A retry is not news on the command line: a failure ends in one line of its own.
        logging.getLogger("bot.elastic").setLevel(logging.ERROR)

        client = ElasticClient(
            self.url,
            self.api_key,
            self.organization_id,
            timeout=10.0,
            retry=RetryPolicy(attempts=2, initial=0.2, maximum=1.0, total=10.0),
        )
        try:
            return client.members()
        finally:
            client.close()


def _grace() -> timedelta | None:
    """How long after its end a grant still held counts as overdue (``OVERDUE_ALERT_AFTER``)."""
    import os

    from bot.access.durations import DurationError, parse_duration

    raw = os.environ.get("OVERDUE_ALERT_AFTER", "").strip()
    if not raw:
        return timedelta(minutes=5)
    try:
        return parse_duration(raw)
    except DurationError:
        return None


# -- output ------------------------------------------------------------------------------------
def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else ""


def _held(grant: Any) -> str:
    from bot.access.durations import format_duration

    return format_duration(grant.held_for)


def _granted_for(grant: Any) -> str:
    from bot.access.durations import format_duration

    return format_duration(grant.granted_for)


def _approved(grant: Any) -> list[str]:
    return list(grant.approved_by) or (
        [grant.request.decided_by] if grant.request.decided_by else []
    )


def _standing_note(review: Any) -> str:
    if review.standing_skipped:
        return "not read (--no-elastic): only the bot's grants are listed"
    if review.standing_error is not None:
        return f"could not be read ({review.standing_error})"
    if review.standing_unknown:
        return (
            "read from Elastic Cloud's member list, except for members listed without role "
            "assignments (not known): " + ", ".join(review.standing_unknown)
        )
    return "read from Elastic Cloud's member list"


def as_data(review: Any) -> dict[str, Any]:
    """The review as plain JSON-able data (``--format json``)."""
    return {
        "since": _iso(review.period.start),
        "until": _iso(review.period.end),
        "standing_access": (
            "skipped"
            if review.standing_skipped
            else ("unreadable" if review.standing_error is not None else "read")
        ),
        "standing_access_note": _standing_note(review),
        "resources": [
            {
                "key": item.resource.key,
                "kind": item.resource.kind.value,
                "id": item.resource.id,
                "name": item.resource.name,
                "grants": [
                    {
                        "request_id": g.request.id,
                        "requester_id": g.request.requester_id,
                        "requester_email": g.request.requester_email,
                        "role": g.request.role_id,
                        "granted_at": _iso(g.request.granted_at),
                        "ended_at": _iso(g.request.ended_at),
                        "expires_at": _iso(g.request.expires_at),
                        "granted_for": _granted_for(g),
                        "held": _held(g),
                        "held_seconds": int(g.held_for.total_seconds()),
                        "state": g.request.state.value,
                        "justification": g.request.justification,
                        "approved_by": _approved(g),
                    }
                    for g in item.grants
                ],
                "standing": [
                    {
                        "user_id": s.user_id,
                        "email": s.email,
                        "role": s.unit.role_id,
                        "application_roles": _app_roles(s.unit),
                        "scope": s.unit.scope,
                        "target": s.unit.target,
                    }
                    for s in item.standing
                ],
                "attention": [
                    {
                        "request_id": a.request.id,
                        "kind": a.kind,
                        "why": a.why,
                        "requester_id": a.request.requester_id,
                        "role": a.request.role_id,
                        "expires_at": _iso(a.request.expires_at),
                    }
                    for a in item.attention
                ],
            }
            for item in review.resources
        ],
    }


def write_json(review: Any, out: IO[str]) -> None:
    json.dump(as_data(review), out, indent=2)
    out.write("\n")


def rows(review: Any) -> list[dict[str, Any]]:
    """One row per grant, standing role and grant needing attention (``--format csv``)."""
    out: list[dict[str, Any]] = []
    for item in review.resources:
        where = {"resource": item.resource.key, "resource_name": item.resource.name}
        for g in item.grants:
            r = g.request
            out.append(
                where
                | {
                    "section": "grant",
                    "request_id": r.id,
                    "user_id": r.requester_id,
                    "email": r.requester_email,
                    "role": r.role_id,
                    "start": _iso(r.granted_at),
                    "end": _iso(r.ended_at or r.expires_at),
                    "granted_for": _granted_for(g),
                    "held": _held(g),
                    "state": r.state.value,
                    "justification": r.justification,
                    "approved_by": " ".join(_approved(g)),
                }
            )
        for s in item.standing:
            out.append(
                where
                | {
                    "section": "standing",
                    "user_id": s.user_id,
                    "email": s.email,
                    "role": describe(s.unit),
                    "note": f"{s.unit.scope} {s.unit.target}",
                }
            )
        for a in item.attention:
            r = a.request
            out.append(
                where
                | {
                    "section": a.kind,
                    "request_id": r.id,
                    "user_id": r.requester_id,
                    "email": r.requester_email,
                    "role": r.role_id,
                    "end": _iso(r.expires_at),
                    "state": r.state.value,
                    "note": a.why,
                }
            )
    if not review.standing_read:
        out.append({"section": "note", "note": f"standing access {_standing_note(review)}"})
    return out


def write_csv(review: Any, out: IO[str]) -> None:
    from bot.audit import csv_cell

    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows(review):
        writer.writerow([csv_cell(row.get(c)) for c in CSV_COLUMNS])


def write_text(review: Any, out: IO[str]) -> None:
    from bot.access.text import clean

    def say(line: str = "") -> None:
        out.write(" ".join(clean(line).split("\n")) + "\n")

    say(
        f"Access review {_iso(review.period.start)} to {_iso(review.period.end)}, whole organization"
    )
    say(f"Standing access: {_standing_note(review)}")
    grants = standing = attention = 0
    for item in review.resources:
        say()
        say(f"{item.resource.label} ({item.resource.key})")
        if item.grants:
            say("  just-in-time grants:")
        for g in item.grants:
            r = g.request
            approved = ", ".join(_approved(g)) or "nobody"
            say(
                f"    #{r.id} {r.requester_email or r.requester_id} ({r.requester_id}) {r.role_id} "
                f"for {_granted_for(g)} from {_iso(r.granted_at)}, {r.state.value} "
                f"(held {_held(g)}); "
                f"approved by {approved}; why: {' '.join(r.justification.split())}"
            )
        if item.standing:
            say("  standing access (not granted by the bot):")
        for s in item.standing:
            say(f"    {s.email or '(no email)'} ({s.user_id}) {describe(s.unit)}")
        if item.attention:
            say("  needs attention:")
        for a in item.attention:
            r = a.request
            what = f"parked: {a.why}" if a.kind == "parked" else "overdue: not removed yet"
            say(f"    #{r.id} {r.requester_email} {r.role_id} ended {_iso(r.expires_at)}; {what}")
        grants += len(item.grants)
        standing += len(item.standing)
        attention += len(item.attention)
    say()
    shown = f"{standing} standing role(s)" if review.standing_read else "standing access not read"
    say(f"{grants} just-in-time grant(s), {shown}, {attention} needing attention")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot review")
    _arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))


def _app_roles(unit: Unit) -> list[str] | None:
    """A unit's ``application_roles`` as JSON shows them: null for a plain entry, [] for
    console only, else the stack roles."""
    return None if unit.application_roles is None else list(unit.application_roles)
