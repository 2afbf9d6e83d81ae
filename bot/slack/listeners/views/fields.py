"""Reading a submitted form, and showing an error next to one of its fields."""

from __future__ import annotations

import json

from bot.access.errors import AccessError
from bot.access.text import plain


def values(view: dict) -> dict:
    return view.get("state", {}).get("values", {})


def metadata(view: dict) -> dict:
    """What the form was opened with (raises ValueError when it is not a JSON object)."""
    found = json.loads(view.get("private_metadata") or "{}")
    if not isinstance(found, dict):
        raise ValueError("private_metadata is not an object")
    return found


def checked(state: dict, block: str) -> bool:
    element = (state.get(block) or {}).get(block) or {}
    return bool(element.get("selected_options"))


def value(state: dict, block: str) -> str:
    element = (state.get(block) or {}).get(block) or {}
    if element.get("selected_option"):
        return element["selected_option"].get("value", "")
    return element.get("value") or ""


def inline(exc: AccessError) -> str:
    """An inline form error: Slack shows these as plain text, so the message (mrkdwn, its
    untrusted parts escaped) is shown unescaped; plain text pings nobody and links nothing."""
    return plain(str(exc))[:150]
