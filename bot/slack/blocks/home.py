"""The App Home tab: the viewer's active access and pending requests, and what waits for
their approval."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.access.durations import format_duration
from bot.access.model import AccessRequest
from bot.access.text import escape
from bot.slack.action_ids import Action
from bot.slack.blocks.format import (
    Blocks,
    context,
    label,
    plain,
    quote,
    section,
    summary_fields,
    when,
)


def home_view(
    *,
    active: Sequence[AccessRequest],
    pending: Sequence[AccessRequest],
    to_approve: Sequence[AccessRequest],
    now: datetime,
    parked: Sequence[AccessRequest] = (),
) -> dict[str, Any]:
    """``parked``: the viewer's ended grants whose removal Elastic refuses (not active)."""
    blocks: Blocks = [
        {"type": "header", "text": plain("Elastic Cloud access", 150)},
        {
            "type": "actions",
            "block_id": "home",
            "elements": [
                {
                    "type": "button",
                    "action_id": Action.OPEN_REQUEST_MODAL,
                    "text": plain("Request access"),
                    "style": "primary",
                    "value": "home",
                }
            ],
        },
        {"type": "header", "text": plain("My active access", 150)},
    ]
    if active:
        for r in active[:15]:
            left = format_duration(max(timedelta(0), (r.expires_at or now) - now))
            blocks.append(
                section(
                    f"*{r.ref}* `{escape(r.role_id)}` on {label(r)} — {left} left (ends {when(r.expires_at)})"
                )
            )
    elif not parked:
        blocks.append(context("None right now."))
    for r in parked[:10]:
        blocks.append(
            section(
                f"*{r.ref}* `{escape(r.role_id)}` on {label(r)} — ended {when(r.expires_at)}; "
                f":parking: parked: {escape(r.parked or '')}"
            )
        )
    blocks.append({"type": "header", "text": plain("My pending requests", 150)})
    if pending:
        blocks += [
            section(
                f"*{r.ref}* `{escape(r.role_id)}` on {label(r)} — waiting since {when(r.created_at)}"
            )
            for r in pending[:15]
        ]
    else:
        blocks.append(context("None."))
    blocks.append({"type": "header", "text": plain("Waiting for my approval", 150)})
    if to_approve:
        for r in to_approve[:10]:
            blocks.append(
                section(
                    f"*{r.ref}* — waiting since {when(r.created_at)}\n{quote(r.justification[:300])}"
                )
            )
            blocks.append(summary_fields(r))
            blocks.append(
                {
                    "type": "actions",
                    "block_id": f"home-decide:{r.id}",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": Action.APPROVE,
                            "text": plain("Approve"),
                            "style": "primary",
                            "value": str(r.id),
                        },
                        {
                            "type": "button",
                            "action_id": Action.DENY,
                            "text": plain("Deny"),
                            "style": "danger",
                            "value": str(r.id),
                        },
                    ],
                }
            )
    else:
        blocks.append(context("Nothing to approve."))
    return {"type": "home", "blocks": blocks[:100]}
