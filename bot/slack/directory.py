"""Slack users, emails and user groups, as the core's :class:`~bot.access.ports.Directory`.

Lookups are cached briefly: approver resolution runs on every request and every click, and
``usergroups.users.list`` is a Tier 2 method. The cache is short so group changes show up
within a minute ("resolution follows the group as it is now").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.access.ports import Person

log = logging.getLogger(__name__)
T = TypeVar("T")


class SlackDirectory:
    def __init__(self, client: WebClient, ttl: float = 60.0) -> None:
        self.client = client
        self.ttl = ttl
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        #: References that did not resolve, with the reason (reported to owners by the core).
        self.unresolved: dict[str, str] = {}

    def _cached(self, key: str, load: Callable[[], T], fresh: bool = False) -> T:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit and now - hit[0] < self.ttl and not fresh:
                return hit[1]
        value = load()
        with self._lock:
            self._cache[key] = (now, value)
        return value

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    @staticmethod
    def _person(user: dict[str, Any]) -> Person:
        profile = user.get("profile") or {}
        name = (
            profile.get("display_name") or user.get("real_name") or user.get("name") or user["id"]
        )
        active = not user.get("deleted") and not user.get("is_bot")
        return Person(user["id"], profile.get("email"), name, active)

    def person(self, user_id: str, fresh: bool = False) -> Person | None:
        def load() -> Person | None:
            try:
                return self._person(self.client.users_info(user=user_id)["user"])
            except SlackApiError as exc:
                log.warning("users.info %s failed: %s", user_id, exc.response.get("error"))
                return None

        return self._cached(f"user:{user_id}", load, fresh)

    def resolve(self, reference: str, fresh: bool = False) -> list[Person]:
        """``fresh`` skips the cache: a decision is checked against Slack as it is now."""
        ref = reference.strip()
        if ref.startswith("@"):
            people = self._group(ref[1:], fresh)
        elif "@" in ref:
            people = self._by_email(ref, fresh)
        else:
            found = self.person(ref, fresh)
            people = [found] if found else []
            if not found:
                self.unresolved[ref] = "no such Slack user"
        inactive = [p for p in people if not p.active]
        if inactive and not ref.startswith("@"):
            self.unresolved[ref] = "the Slack user is deactivated"
        return [p for p in people if p.active]

    def _by_email(self, email: str, fresh: bool = False) -> list[Person]:
        def load() -> list[Person]:
            try:
                return [self._person(self.client.users_lookupByEmail(email=email)["user"])]
            except SlackApiError as exc:
                self.unresolved[email] = (
                    f"no Slack user has this email ({exc.response.get('error')})"
                )
                return []

        return self._cached(f"email:{email.lower()}", load, fresh)

    def _group_ids(self) -> dict[str, str]:
        def load() -> dict[str, str]:
            try:
                groups = self.client.usergroups_list()["usergroups"]
            except SlackApiError as exc:
                log.warning("usergroups.list failed: %s", exc.response.get("error"))
                return {}
            return {g["handle"].lower(): g["id"] for g in groups}

        return self._cached("groups", load)

    def _group(self, handle: str, fresh: bool = False) -> list[Person]:
        group_id = self._group_ids().get(handle.lower())
        if group_id is None:
            self.unresolved[f"@{handle}"] = "no Slack user group has this handle"
            return []

        def load() -> list[str]:
            try:
                return list(self.client.usergroups_users_list(usergroup=group_id)["users"])
            except SlackApiError as exc:
                self.unresolved[f"@{handle}"] = (
                    f"could not list the group ({exc.response.get('error')})"
                )
                return []

        people = []
        for user_id in self._cached(f"group:{group_id}", load, fresh):
            person = self.person(user_id, fresh)
            if person:
                people.append(person)
        return people
