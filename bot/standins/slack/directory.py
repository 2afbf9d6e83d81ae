"""Users and user groups: ``auth.test``, ``users.info``, ``users.lookupByEmail``,
``usergroups.list`` and ``usergroups.users.list``, with the objects shaped as Slack's
(an email only with ``users:read.email``, a time zone's label and offset, a group's users).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.standins.slack.knowledge import BOT_ID, BOT_USER_ID, TEAM_ID, TEAM_NAME
from bot.standins.slack.replies import _ApiError, _truthy
from bot.standins.slack.state import _SlackState


class _Directory(_SlackState):
    """The users and user-group methods of :class:`~.fake.FakeSlack`."""

    def _user_object(self, rec: dict[str, Any]) -> dict[str, Any]:
        tz = rec["tz"]
        try:
            now = datetime.now(UTC).astimezone(ZoneInfo(tz))
            offset = int(now.utcoffset().total_seconds()) if now.utcoffset() else 0
            label = now.tzname() or tz
        except (ValueError, KeyError, OSError):
            offset, label = 0, tz
        profile: dict[str, Any] = {
            "real_name": rec["real_name"],
            "real_name_normalized": rec["real_name"],
            "display_name": rec["name"],
            "display_name_normalized": rec["name"],
            "team": TEAM_ID,
        }
        if rec["email"] and "users:read.email" in self.scopes:
            profile["email"] = rec["email"]
        if rec["is_bot"]:
            profile["bot_id"] = BOT_ID if rec["id"] == BOT_USER_ID else f"B{rec['id'][1:]}"
        return {
            "id": rec["id"],
            "team_id": rec.get("team_id") or TEAM_ID,
            "name": rec["name"],
            "deleted": rec["deleted"],
            "color": "9f69e7",
            "real_name": rec["real_name"],
            "tz": tz,
            "tz_label": label,
            "tz_offset": offset,
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": rec.get("is_restricted", False),
            "is_ultra_restricted": rec.get("is_ultra_restricted", False),
            "is_stranger": rec.get("is_stranger", False),
            "is_email_confirmed": rec.get("is_email_confirmed", True),
            "is_bot": rec["is_bot"],
            "is_app_user": False,
            "has_2fa": False,
            "updated": int(time.time()),
        }

    def _usergroup_object(self, group: dict[str, Any], *, include_users: bool) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": group["id"],
            "team_id": TEAM_ID,
            "is_usergroup": True,
            "name": group["name"],
            "description": group["description"],
            "handle": group["handle"],
            "is_external": False,
            "date_create": group["date_create"],
            "date_update": group["date_update"],
            "date_delete": group["date_update"] if group["disabled"] else 0,
            "auto_type": None,
            "created_by": "USLACKBOT",
            "updated_by": "USLACKBOT",
            "deleted_by": None,
            "prefs": {"channels": [], "groups": []},
            "user_count": len(group["users"]),
        }
        if include_users:
            obj["users"] = list(group["users"])
        return obj

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://fake-workspace.slack.com/",
            "team": TEAM_NAME,
            "user": self._users[BOT_USER_ID]["name"],
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        rec = self._users.get(str(args["user"]))
        if rec is None:
            raise _ApiError("user_not_found")
        return {"user": self._user_object(rec)}

    def _users_lookup_by_email(self, args: dict[str, Any]) -> dict[str, Any]:
        email = str(args["email"]).strip().lower()
        for rec in self._users.values():
            # Deactivated users are not returned (Slack docs for users.lookupByEmail).
            if rec["email"] and rec["email"].lower() == email and not rec["deleted"]:
                return {"user": self._user_object(rec)}
        raise _ApiError("users_not_found")

    def _usergroups_list(self, args: dict[str, Any]) -> dict[str, Any]:
        include_users = _truthy(args.get("include_users"))
        include_disabled = _truthy(args.get("include_disabled"))
        include_count = _truthy(args.get("include_count"))
        groups = []
        for group in self._usergroups.values():
            if group["disabled"] and not include_disabled:
                continue
            obj = self._usergroup_object(group, include_users=include_users)
            if not include_count:
                obj.pop("user_count")
            groups.append(obj)
        return {"usergroups": groups}

    def _usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = self._usergroups.get(str(args["usergroup"]))
        if group is None:
            raise _ApiError("no_such_subteam")
        return {"users": list(group["users"])}
