"""``conversations.open``: the bot's DMs (and group DMs) with the people it writes to."""

from __future__ import annotations

import time
from typing import Any

from bot.standins.slack.replies import _ApiError, _missing, _truthy
from bot.standins.slack.state import _SlackState


class _Conversations(_SlackState):
    """The conversations methods of :class:`~.fake.FakeSlack`."""

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users_arg = args.get("users")
        if _missing(users_arg):
            channel = args.get("channel")
            if _missing(channel):
                raise _ApiError(self.missing_arg_error("conversations.open", "users"))
            if channel not in self._user_of_dm and channel not in self._mpims.values():
                raise _ApiError("channel_not_found")
            return {"no_op": True, "already_open": True, "channel": {"id": channel}}
        ids = [u.strip() for u in str(users_arg).split(",") if u.strip()]
        if len(ids) > 8:
            raise _ApiError("too_many_users")
        for uid in ids:
            if uid not in self._users:
                raise _ApiError("user_not_found")
            if self._users[uid]["deleted"]:
                raise _ApiError("user_disabled")
        if len(ids) == 1:
            channel, already = self._open_dm(ids[0])
        else:
            key = tuple(sorted(ids))
            already = key in self._mpims
            channel = self._mpims.setdefault(key, self._new_id("G"))
        body: dict[str, Any] = {"channel": {"id": channel}}
        if _truthy(args.get("return_im")):
            body["channel"].update(
                {
                    "created": int(time.time()),
                    "is_im": len(ids) == 1,
                    "is_org_shared": False,
                    "user": ids[0] if len(ids) == 1 else None,
                    "is_open": True,
                }
            )
        if already:
            body = {"no_op": True, "already_open": True, **body}
        return body
