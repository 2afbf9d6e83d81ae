"""What Slack sends the bot: slash commands, button clicks, option lookups, and how it signs them.

Shaped like Slack's own payloads (../shared/slack-fixtures); used by the test harness and by
the benchmarks, so both drive the bot with the same bodies.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote, urlencode

from slack_sdk.signature import SignatureVerifier

COMMAND = "/elastic-access"
TEAM = {"id": "T0001", "domain": "example"}


def sign(body: str | bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The two headers Slack adds to every request it sends."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


def command_form(user: str, text: str, *, response_url: str, trigger_id: str) -> dict[str, str]:
    """A ``/elastic-access`` invocation, as form fields."""
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM["id"],
        "team_domain": TEAM["domain"],
        "channel_id": "C0GENERAL",
        "channel_name": "general",
        "user_id": user,
        "user_name": user.lower(),
        "command": COMMAND,
        "text": text,
        "api_app_id": "A0APP",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def command_body(user: str, text: str, *, response_url: str, trigger_id: str) -> str:
    return urlencode(command_form(user, text, response_url=response_url, trigger_id=trigger_id))


def block_actions(
    user: str,
    action_id: str,
    value: str,
    *,
    response_url: str,
    trigger_id: str,
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A button click; ``message`` (channel, ts, text, blocks) when it was on a message."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": TEAM["id"]},
        "api_app_id": "A0APP",
        "token": "legacy-verification-token",
        "team": dict(TEAM),
        "trigger_id": trigger_id,
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": f"decide:{value}",
                "type": "button",
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    if message is not None:
        payload["container"] = {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": message["channel"],
            "is_ephemeral": False,
        }
        payload["channel"] = {"id": message["channel"], "name": "directmessage"}
        payload["message"] = {
            "ts": message["ts"],
            "text": message.get("text", ""),
            "blocks": message.get("blocks", []),
        }
    return payload


def view_action(
    user: str,
    view: dict[str, Any],
    action: dict[str, Any],
    *,
    trigger_id: str,
    state: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An element used in an open modal (``view`` as Slack holds it: ``id``, ``hash``), with
    ``state`` (its entered values) when given."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": TEAM["id"]},
        "team": dict(TEAM),
        "api_app_id": "A0APP",
        "token": "legacy-verification-token",
        "trigger_id": trigger_id,
        "container": {"type": "view", "view_id": view["id"]},
        "view": view if state is None else view | {"state": {"values": state}},
        "actions": [action],
    }


def picked(action_id: str, value: str, text: str = "") -> dict[str, Any]:
    """The action of choosing ``value`` in an external select (the form's resource)."""
    return {
        "action_id": action_id,
        "block_id": action_id,
        "type": "external_select",
        "selected_option": {"value": value, "text": {"type": "plain_text", "text": text or value}},
        "action_ts": f"{time.time():.6f}",
    }


def block_suggestion(user: str, action_id: str, value: str, view_id: str) -> dict[str, Any]:
    """An external select asking for options as the user types."""
    return {
        "type": "block_suggestion",
        "user": {"id": user, "team_id": TEAM["id"]},
        "team": {"id": TEAM["id"]},
        "api_app_id": "A0APP",
        "token": "legacy-verification-token",
        "action_id": action_id,
        "block_id": action_id,
        "value": value,
        "view": {"id": view_id, "type": "modal", "callback_id": "request_access"},
    }


def interaction_body(payload: dict[str, Any]) -> str:
    """Interactive payloads arrive form-encoded, as one ``payload`` field of JSON."""
    return "payload=" + quote(json.dumps(payload))
