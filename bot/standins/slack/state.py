"""The fake workspace's shared state, and the lookups every Web API method uses.

Users, user groups, channels and DMs, messages, views, triggers, files and ``response_url``
posts live on :class:`~.fake.FakeSlack`; this declares them once (typed) for the parts
(:mod:`.server` and the method groups) and holds what they share: ids, message timestamps,
which channel a ``channel`` argument means, and each method's required args.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from bot.standins.slack.replies import _ApiError, _Script


class _SlackState:
    """The attributes the fake's parts share (set by ``FakeSlack.__init__``), and the
    lookups they all use. Hold ``_lock`` to read or change any of them."""

    bot_token: str
    scopes: list[str]
    webhook_max_uses: int | None
    clock: Callable[[], float]
    _lock: threading.RLock
    _ids: Iterator[int]
    _last_ts_us: int
    _required: dict[str, tuple[str, ...]]
    _method_scopes: dict[str, tuple[str, ...]]
    _missing_arg_errors: dict[tuple[str, str], str]
    _methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]]
    _calls: list[dict[str, Any]]
    _scripts: dict[str, deque[_Script]]
    _users: dict[str, dict[str, Any]]
    _usergroups: dict[str, dict[str, Any]]
    _channels: dict[str, dict[str, Any]]
    _dm_of_user: dict[str, str]
    _user_of_dm: dict[str, str]
    _mpims: dict[tuple[str, ...], str]
    _messages: dict[tuple[str, str], dict[str, Any]]
    _ephemerals: list[dict[str, Any]]
    _triggers: dict[str, float]
    _used_triggers: set[str]
    _views: dict[str, dict[str, Any]]
    _view_by_external_id: dict[str, str]
    _home_by_user: dict[str, str]
    _pending_files: dict[str, dict[str, Any]]
    _uploaded: list[dict[str, Any]]
    _webhooks: list[tuple[str, Any]]
    _webhook_uses: dict[str, int]
    _webhook_refusals: list[tuple[str, Any, dict[str, Any]]]

    def required_args(self, method: str) -> tuple[str, ...]:
        """Required args (without ``token``) the fake enforces for ``method``."""
        return self._required.get(method, ())

    def missing_arg_error(self, method: str, arg: str) -> str:
        """The error code the fake answers when ``arg`` is missing for ``method``."""
        return self._missing_arg_errors.get((method, arg), "invalid_arguments")

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    def _next_ts(self) -> str:
        """A message ts like ``1700000000.000100``: wall-clock based, unique, increasing."""
        now_us = int(time.time() * 1_000_000)
        self._last_ts_us = max(now_us, self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def _open_dm(self, user_id: str) -> tuple[str, bool]:
        """The bot's DM with a user, created on first use; returns (id, already_open)."""
        existing = self._dm_of_user.get(user_id)
        if existing:
            return existing, True
        channel = "D" + user_id[1:]
        if channel in self._user_of_dm:
            channel = self._new_id("D")
        self._dm_of_user[user_id] = channel
        self._user_of_dm[channel] = user_id
        return channel, False

    def _resolve_channel(self, channel: Any, *, allow_user_ids: bool) -> str:
        """Map a channel argument to a channel id, or raise what Slack would."""
        if not isinstance(channel, str) or not channel:
            raise _ApiError("channel_not_found")
        if channel[0] in "UW":
            if not allow_user_ids or channel not in self._users:
                raise _ApiError("channel_not_found")
            # Slack delivers to a deactivated user's DM without error (python-slack-sdk#1156).
            return self._open_dm(channel)[0]
        if channel[0] == "D":
            if channel not in self._user_of_dm:
                raise _ApiError("channel_not_found")
            return channel
        if channel.startswith("#"):
            for info in self._channels.values():
                if info["name"] == channel[1:]:
                    channel = info["id"]
                    break
            else:
                raise _ApiError("channel_not_found")
        if channel[0] in "CG":
            info = self._channels.get(channel)
            if info is not None:
                if info["is_archived"]:
                    raise _ApiError("is_archived")
                if not info["is_member"]:
                    raise _ApiError("not_in_channel")
            elif channel not in self._mpims.values():
                raise _ApiError("channel_not_found")
            return channel
        raise _ApiError("channel_not_found")
