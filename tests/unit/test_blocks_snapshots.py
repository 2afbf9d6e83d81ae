"""Block Kit snapshots: each main surface rendered for fixed requests, compared with the JSON
kept in ``tests/unit/snapshots/``. A change to what people see shows up as a diff in review.

After a deliberate change, rewrite the snapshots and read the diff before committing it::

    UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/unit/test_blocks_snapshots.py

A snapshot that does not exist yet is written (and the test fails once, so it is looked at).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.access.model import AccessRequest
from bot.access.resources import Unit
from bot.access.states import State
from bot.slack import blocks
from tests.unit.memory import ALICE, ALICE_ELASTIC, OLIVIA, OSCAR, PROD, STAGING, START

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS", "").strip().lower() in ("1", "true", "yes")

HOUR = timedelta(hours=1)
VIEWER = Unit("deployment", "deployment-viewer", PROD.id)

#: One request, as the store hands it to the edges, at each stage of its life.
PENDING = AccessRequest(
    id=42,
    requester_id=ALICE.id,
    requester_email=ALICE.email or "",
    resource=PROD,
    role_id="deployment-viewer",
    duration=HOUR,
    justification="INC-42: search latency <p99> & timeouts",
    state=State.PENDING,
    created_at=START,
    approvers=[OLIVIA.id, OSCAR.id],
    unit=VIEWER,
    elastic_user_id=ALICE_ELASTIC,
    approver_source="integration_owner",
)
APPROVED = replace(
    PENDING, state=State.APPROVED, decided_by=OLIVIA.id, decided_at=START + timedelta(minutes=3)
)
DENIED = replace(
    PENDING,
    state=State.DENIED,
    decided_by=OSCAR.id,
    decided_at=START + timedelta(minutes=5),
    decision_reason="Use staging-logs for this",
)
ACTIVE = replace(
    APPROVED,
    state=State.ACTIVE,
    granted_at=START + timedelta(minutes=3),
    expires_at=START + timedelta(minutes=3) + HOUR,
    added=[VIEWER],
    outcome=None,
)
EXPIRED = replace(
    ACTIVE,
    state=State.EXPIRED,
    ended_at=ACTIVE.expires_at,
    ended_by="system",
    outcome="removed",
)
FAILED = replace(
    APPROVED,
    state=State.FAILED,
    ended_at=START + timedelta(minutes=4),
    last_error="Elastic Cloud refused the role assignment: role_assignment.invalid",
)
OTHER_PENDING = replace(
    PENDING,
    id=43,
    resource=STAGING,
    unit=Unit("deployment", "deployment-editor", STAGING.id),
    role_id="deployment-editor",
    created_at=START + timedelta(minutes=10),
    justification="deploy rollback",
)


def rendered(message: tuple[str, Any]) -> dict[str, Any]:
    text, body = message
    return {"text": text, "blocks": body}


SURFACES: dict[str, Callable[[], Any]] = {
    "approver_card_pending": lambda: rendered(blocks.approver_card(PENDING)),
    "approver_card_one_of_two": lambda: rendered(
        blocks.approver_card(replace(PENDING, approvals_needed=2), approved_by=[OLIVIA.id])
    ),
    "approver_card_why_you_and_admin_warning": lambda: rendered(
        blocks.approver_card(
            replace(
                PENDING,
                role_id="deployment-admin",
                approver_reasons={
                    OLIVIA.id: {
                        "kind": "owner",
                        "resource": PROD.name,
                        "tag": "owner",
                        "value": "olivia@example.com",
                    }
                },
            ),
            viewer=OLIVIA.id,
        )
    ),
    "approver_card_approved": lambda: rendered(blocks.approver_card(APPROVED)),
    "approver_card_denied": lambda: rendered(blocks.approver_card(DENIED)),
    "requester_dm_granted": lambda: rendered(
        blocks.requester_update(ACTIVE, "Log in at https://cloud.example.com")
    ),
    "requester_dm_expired": lambda: rendered(blocks.requester_update(EXPIRED)),
    "requester_dm_failed": lambda: rendered(blocks.requester_update(FAILED)),
    "request_modal": lambda: blocks.request_modal(
        integration_name="elastic-cloud",
        access_details="Log in at https://cloud.example.com",
        max_duration=timedelta(hours=12),
        default_duration=HOUR,
        resource=PROD,
        metadata={"channel": "C1"},
    ),
    "request_modal_again": lambda: blocks.request_modal(
        integration_name="elastic-cloud",
        access_details="",
        max_duration=timedelta(hours=12),
        default_duration=HOUR,
        resource=PROD,
        roles=["deployment-viewer", "deployment-editor"],
        role="deployment-editor",
        duration=timedelta(hours=2),
        justification="INC-42: again",
    ),
    "home_view": lambda: blocks.home_view(
        active=[ACTIVE],
        pending=[OTHER_PENDING],
        to_approve=[PENDING],
        now=START + timedelta(minutes=30),
    ),
    "list_reply": lambda: rendered(
        blocks.request_list(
            [OTHER_PENDING, ACTIVE, DENIED], 23, "your requests", page=1, filters=("mine",)
        )
    ),
}


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_surface_matches_its_snapshot(name: str):
    # A round trip through JSON: what Slack receives (tuples become lists, and so on).
    got = json.loads(json.dumps(SURFACES[name](), ensure_ascii=False))
    path = SNAPSHOTS / f"{name}.json"
    text = json.dumps(got, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if UPDATE or not path.exists():
        new = not path.exists()
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if new and not UPDATE:
            pytest.fail(f"{path.name} did not exist and was written: look at it, then commit it")
        return
    want = json.loads(path.read_text(encoding="utf-8"))
    assert got == want, (
        f"{name} renders differently from snapshots/{path.name}; if the change is meant, "
        "rewrite it with UPDATE_SNAPSHOTS=1 and review the diff"
    )


def test_no_snapshot_is_left_without_a_surface():
    kept = {p.stem for p in SNAPSHOTS.glob("*.json")}
    assert kept <= set(SURFACES), f"snapshots nothing renders any more: {kept - set(SURFACES)}"
