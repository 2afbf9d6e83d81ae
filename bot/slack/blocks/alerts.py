"""Alerts to the integration owners (and the notify channel): things a person has to look
at, such as a revocation Elastic Cloud refuses or a refused API key."""

from __future__ import annotations

from bot.access.model import AccessRequest
from bot.access.text import escape
from bot.slack.action_ids import Action
from bot.slack.blocks.format import Blocks, label, plain, section, when


def owner_alert(text: str) -> tuple[str, Blocks]:
    """``text`` is mrkdwn the core composed, its untrusted parts already escaped."""
    return text, [section(f":rotating_light: {text}")]


def parked_alert(request: AccessRequest) -> tuple[str, Blocks]:
    """To the integration owners, once: a revocation Elastic refuses (a stopped deployment)
    is parked, with a button to acknowledge it (recorded as the clicker's)."""
    text = (
        f"Access {request.ref} (`{escape(request.role_id)}` on {label(request)} for "
        f"<@{request.requester_id}>) expired {when(request.expires_at)} but is not removed yet: "
        f"Elastic Cloud refuses changes to the assignments of a stopped deployment. "
        f":parking: parked: {escape(request.parked or '')}. Remove the role by hand in the "
        "Elastic Cloud console, or restart the deployment; you will hear when it is removed."
    )
    return text, [
        section(f":rotating_light: {text}"),
        {
            "type": "actions",
            "block_id": f"parked:{request.id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": Action.ACK_PARKED,
                    "text": plain("Acknowledge"),
                    "value": str(request.id),
                }
            ],
        },
    ]
