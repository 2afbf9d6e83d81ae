"""What ``python -m bot probe`` measured about Elastic Cloud, kept with its date.

The latest probe run is what the bot goes by (:class:`bot.access.planning.Semantics`); with
no run recorded, or for a question a run could not answer, the safest assumption stands.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.access.planning import SAFEST, Semantics
from bot.clock import to_iso


def record(
    db, member: str, answers: dict[str, bool | None], report: dict[str, Any], now: datetime
) -> None:
    """Store one probe run: ``answers`` maps each question to True, False or None (unknown)."""
    with db.write():
        db.execute(
            "INSERT INTO probe_answers (measured_at, member, answers, report) VALUES (?, ?, ?, ?)",
            (to_iso(now), member, json.dumps(answers, sort_keys=True), json.dumps(report)),
        )


def latest_run(db) -> dict[str, Any] | None:
    """The latest run: measured_at, member, answers, report; None if the probe never ran."""
    row = db.one(
        "SELECT measured_at, member, answers, report FROM probe_answers ORDER BY id DESC LIMIT 1"
    )
    if row is None:
        return None
    return {
        "measured_at": row["measured_at"],
        "member": row["member"],
        "answers": json.loads(row["answers"]),
        "report": json.loads(row["report"]),
    }


def current(db) -> Semantics:
    """The semantics the bot goes by: the latest measured answers, else the safest."""
    run = latest_run(db)
    if run is None:
        return SAFEST
    return Semantics.from_answers(run["answers"], run["measured_at"])
