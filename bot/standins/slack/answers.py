"""Response checks: what Slack would refuse in the bot's own HTTP answers and ``response_url``
posts.

The bot answers slash commands, view submissions and type-ahead in the HTTP response; Slack
drops or refuses a malformed answer silently, so the tests check each one with
:func:`answer_errors`, and the fake refuses a bad ``response_url`` post (400) as Slack does.
"""

from __future__ import annotations

import json
from typing import Any

from bot.standins.slack.blockkit_check import _BlockChecker
from bot.standins.slack.chat import _message_content
from bot.standins.slack.replies import _ApiError
from bot.standins.slack.views import _check_view

VIEW_SUBMISSION_ACTIONS = ("errors", "update", "push", "clear")


def _response_url_error(body: Any) -> dict[str, Any] | None:
    """What Slack answers (400) to a ``response_url`` post it refuses, or None.

    A ``response_url`` post is a message like ``chat.postMessage``'s (text and blocks limits,
    Block Kit validation) plus ``response_type``, ``replace_original`` and
    ``delete_original``; a ``delete_original`` needs no content."""
    if not isinstance(body, dict):
        return {"ok": False, "error": "invalid_payload"}
    if body.get("response_type") not in (None, "ephemeral", "in_channel"):
        return _refusal(
            "invalid_payload", ["[ERROR] must be a valid enum value [json-pointer:/response_type]"]
        )
    for key in ("replace_original", "delete_original"):
        if key in body and not isinstance(body[key], bool):
            return _refusal("invalid_payload", [f"[ERROR] must be a boolean [json-pointer:/{key}]"])
    if body.get("delete_original") is True:
        return None
    try:
        _message_content(body)
    except _ApiError as exc:
        messages = exc.extra.get("response_metadata", {}).get("messages", [])
        return _refusal(exc.code, messages)
    return None


def _refusal(code: str, messages: list[str]) -> dict[str, Any]:
    return {"ok": False, "error": code, "response_metadata": {"messages": messages}}


def answer_errors(
    kind: str, body: str | bytes, content_type: str = "", *, view: dict[str, Any] | None = None
) -> list[str]:
    """What Slack would refuse in the bot's own HTTP answer (a 200) to a request of ``kind``.

    ``kind`` is ``"command"`` (a slash command), or an interaction payload's ``type``:
    ``"view_submission"`` (``view`` is the submitted view, for ``response_action: errors``),
    ``"block_suggestion"`` (type-ahead options) or ``"block_actions"`` (Slack ignores the
    body). An empty body is a plain acknowledgement everywhere but type-ahead, which needs
    options. Returns Slack-style error messages; empty when Slack would take the answer.
    """
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    if kind in ("block_actions", "interactive_message", "shortcut", "message_action"):
        return []
    if not text.strip():
        return (
            ["[ERROR] must provide options or option_groups"] if kind == "block_suggestion" else []
        )
    if not content_type.lower().startswith("application/json"):
        if kind == "command":
            return []  # shown to the caller as the text of an ephemeral message
        return [f"[ERROR] expected a JSON body, got {content_type or 'no content type'}"]
    try:
        data = json.loads(text)
    except ValueError:
        return ["[ERROR] failed to parse JSON body"]
    if not isinstance(data, dict):
        return ["[ERROR] must provide an object"]
    if kind == "command":
        error = _response_url_error(data)
        if error is None:
            return []
        return error.get("response_metadata", {}).get("messages") or [error["error"]]
    if kind == "view_submission":
        return _view_submission_errors(data, view)
    if kind == "block_suggestion":
        checker = _BlockChecker()
        if "options" not in data and "option_groups" not in data:
            checker.err("must provide options or option_groups", "")
        for key in ("options", "option_groups"):
            if key in data and not isinstance(data[key], list):
                checker.err("must provide an array", f"/{key}")
        checker.options_of(
            {k: data[k] for k in ("options", "option_groups") if isinstance(data.get(k), list)},
            "",
            plain_only=True,
        )
        return checker.errors
    return [f"[ERROR] no rules for answers to {kind!r}"]


def _view_submission_errors(data: dict[str, Any], view: dict[str, Any] | None) -> list[str]:
    action = data.get("response_action")
    if action not in VIEW_SUBMISSION_ACTIONS:
        return ["[ERROR] must be a valid enum value [json-pointer:/response_action]"]
    if action == "errors":
        errors = data.get("errors")
        if not isinstance(errors, dict) or not errors:
            return ["[ERROR] must provide a non-empty object [json-pointer:/errors]"]
        inputs = {
            b.get("block_id")
            for b in (view or {}).get("blocks") or []
            if isinstance(b, dict) and b.get("type") == "input"
        }
        out = []
        for block_id, message in errors.items():
            if block_id not in inputs:
                out.append(f"[ERROR] no input block with block_id {block_id!r} in the view")
            if not isinstance(message, str) or not message:
                out.append(f"[ERROR] must provide a string [json-pointer:/errors/{block_id}]")
        return out
    if action in ("update", "push"):
        try:
            _check_view(data.get("view"), expected_type="modal")
        except _ApiError as exc:
            return exc.extra.get("response_metadata", {}).get("messages") or [exc.code]
    return []
