"""Messages: ``chat.postMessage``, ``chat.update`` (only the bot's own messages) and
``chat.postEphemeral``, with text, blocks and attachments checked as Slack checks them.
"""

from __future__ import annotations

import copy
from typing import Any

from bot.standins.slack.blockkit_check import _BlockChecker
from bot.standins.slack.knowledge import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    MAX_MESSAGE_BLOCKS,
    MAX_TEXT_CHARS,
    TEAM_ID,
)
from bot.standins.slack.replies import _ApiError, _invalid_arguments, _missing
from bot.standins.slack.state import _SlackState


def _message_content(
    args: dict[str, Any],
) -> tuple[str | None, list[Any], list[Any], dict[str, Any]]:
    """Validate text/blocks/attachments as chat.* methods do.

    Returns (text, blocks, attachments, extra response fields). Text over 40,000
    characters is truncated and posted with a ``message_truncated`` warning, as Slack
    has done since 2018 (changelog "Truncating really long messages").
    """
    text = args.get("text")
    text = None if text is None else str(text)
    blocks = args.get("blocks")
    attachments = args.get("attachments")
    if _missing(text) and _missing(blocks) and _missing(attachments):
        raise _ApiError("no_text")
    if isinstance(blocks, str):
        if blocks == "":
            blocks = None
        else:
            raise _ApiError("invalid_blocks_format")
    if blocks is not None:
        checker = _BlockChecker()
        checker.blocks(blocks, "/blocks", max_blocks=MAX_MESSAGE_BLOCKS)
        if checker.errors:
            raise _ApiError(
                "invalid_blocks",
                errors=[m.removeprefix("[ERROR] ") for m in checker.errors],
                response_metadata={"messages": checker.errors},
            )
    if isinstance(attachments, str) and attachments:
        raise _invalid_arguments(["[ERROR] attachments must be a JSON array"])
    if isinstance(attachments, list) and len(attachments) > 100:
        raise _ApiError("too_many_attachments")
    extra: dict[str, Any] = {}
    if text is not None and len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
        extra = {
            "warning": "message_truncated",
            "response_metadata": {
                "warnings": ["message_truncated"],
                "messages": [
                    "[WARN] Your message was truncated but still posted. "
                    "The `text` field accepts up to 40,000 characters."
                ],
            },
        }
    return text, list(blocks or []), list(attachments or []), extra


class _Chat(_SlackState):
    """The chat methods of :class:`~.fake.FakeSlack`."""

    def _bot_message(self, record: dict[str, Any]) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "text": record["text"] or "",
            "ts": record["ts"],
        }
        if record["blocks"]:
            msg["blocks"] = copy.deepcopy(record["blocks"])
        if record["attachments"]:
            msg["attachments"] = copy.deepcopy(record["attachments"])
        if record.get("thread_ts"):
            msg["thread_ts"] = record["thread_ts"]
        if record.get("edited"):
            msg["edited"] = dict(record["edited"])
        return msg

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(args.get("channel"), allow_user_ids=True)
        text, blocks, attachments, extra = _message_content(args)
        ts = self._next_ts()
        record = {
            "channel": channel,
            "ts": ts,
            "text": text or "",
            "blocks": blocks,
            "attachments": attachments,
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "thread_ts": args.get("thread_ts") or None,
            "metadata": args.get("metadata"),
        }
        self._messages[(channel, ts)] = record
        return {"channel": channel, "ts": ts, "message": self._bot_message(record), **extra}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        # chat.update needs the DM id (D…), never a user id.
        channel = self._resolve_channel(args.get("channel"), allow_user_ids=False)
        ts = str(args["ts"])
        record = self._messages.get((channel, ts))
        if record is None:
            raise _ApiError("message_not_found")
        if record["bot_id"] != BOT_ID:
            raise _ApiError("cant_update_message")
        text, blocks, attachments, extra = _message_content(args)
        record["text"] = text or ""
        record["blocks"] = blocks
        record["attachments"] = attachments
        record["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        return {
            "channel": channel,
            "ts": ts,
            "text": record["text"],
            "message": self._bot_message(record),
            **extra,
        }

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        user = args["user"]
        channel_arg = args["channel"]
        if user not in self._users or self._users[user]["deleted"]:
            raise _ApiError("user_not_in_channel")
        channel = self._resolve_channel(channel_arg, allow_user_ids=True)
        dm_user = self._user_of_dm.get(channel)
        if dm_user is not None and dm_user != user:
            raise _ApiError("user_not_in_channel")
        text, blocks, attachments, extra = _message_content(args)
        message_ts = self._next_ts()
        self._ephemerals.append(
            {
                "channel": channel,
                "user": user,
                "text": text or "",
                "blocks": blocks,
                "attachments": attachments,
                "message_ts": message_ts,
                "thread_ts": args.get("thread_ts") or None,
            }
        )
        return {"message_ts": message_ts, **extra}
