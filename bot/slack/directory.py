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

from bot.access.ports import Freshness, Person, UpstreamError

log = logging.getLogger(__name__)
T = TypeVar("T")


def _unavailable(what: str, exc: SlackApiError) -> UpstreamError:
    """Slack failed to answer a lookup. Never cached, never taken as a fact about anyone
    ("no email", "nobody can approve"): the caller refuses for now or tries again later."""
    error = exc.response.get("error")
    log.warning("%s failed: %s", what, error)
    return UpstreamError(
        f"Slack did not answer ({what}: {error})", retryable=True, code="slack_unavailable"
    )


def _why(person: Person) -> str:
    return {
        "deactivated": "deactivated",
        "bot": "a bot",
        "guest": "a guest",
        "external": "from another organization",
        "unconfirmed": "email not confirmed",
    }.get(person.ineligible or "", person.ineligible or "")


class SlackDirectory:
    def __init__(self, client: WebClient, ttl: float = 60.0) -> None:
        self.client = client
        self.ttl = ttl
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        #: References that did not resolve, with the reason (reported to owners by the core).
        self.unresolved: dict[str, str] = {}
        self._home: tuple[str, str | None] | None = None

    def _cached(self, key: str, load: Callable[[], T], fresh: Freshness = False) -> T:
        """``fresh`` (:data:`bot.access.ports.Freshness`): False, an answer younger than the
        TTL; True, a new read; a ``time.monotonic()`` moment, an answer read since then."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            recent = hit is not None and now - hit[0] < self.ttl
            if recent and (fresh is False or (fresh is not True and hit[0] >= fresh)):
                return hit[1]
        value = load()
        with self._lock:
            self._cache[key] = (now, value)
        return value

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()
            self._home = None

    def _installation(self) -> tuple[str, str | None]:
        """The installing workspace (team ID, Enterprise Grid ID), from ``auth.test``.

        Read once per process. While Slack does not answer, raises (and remembers nothing):
        nobody counts as a member of a workspace the bot could not confirm."""
        if self._home is not None:
            return self._home
        try:
            answer = self.client.auth_test()
        except SlackApiError as exc:
            raise _unavailable("auth.test", exc) from exc
        team = answer.get("team_id")
        if not team:
            raise UpstreamError(
                "Slack's auth.test named no team", retryable=True, code="slack_unavailable"
            )
        self._home = (team, answer.get("enterprise_id") or None)
        return self._home

    def _ineligible(self, user: dict[str, Any]) -> str | None:
        """Why ``user`` is not a full member of the installing workspace, or None.

        Guests, Slack Connect users from other organizations, bots, deactivated users and
        users whose email Slack has not confirmed may not act on Elastic Cloud access."""
        if user.get("deleted"):
            return "deactivated"
        if user.get("is_bot") or user.get("is_app_user") or user.get("id") == "USLACKBOT":
            return "bot"
        if user.get("is_restricted") or user.get("is_ultra_restricted"):
            return "guest"
        if user.get("is_stranger"):
            return "external"
        team, enterprise = self._installation()
        same_grid = enterprise is not None and (
            (user.get("enterprise_user") or {}).get("enterprise_id") == enterprise
        )
        if user.get("team_id") != team and not same_grid:
            return "external"
        if user.get("is_email_confirmed") is False:
            return "unconfirmed"
        return None

    def _person(self, user: dict[str, Any]) -> Person:
        profile = user.get("profile") or {}
        name = (
            profile.get("display_name") or user.get("real_name") or user.get("name") or user["id"]
        )
        return Person(user["id"], profile.get("email"), name, self._ineligible(user))

    def person(self, user_id: str, fresh: Freshness = False) -> Person | None:
        def load() -> Person | None:
            try:
                return self._person(self.client.users_info(user=user_id)["user"])
            except SlackApiError as exc:
                error = exc.response.get("error")
                if error in ("user_not_found", "user_not_visible"):
                    # Slack says this user is gone from the workspace (not an outage): they
                    # may act no more, and what they hold ends like a deactivated user's.
                    return Person(user_id, None, user_id, "deactivated")
                raise _unavailable(f"users.info {user_id}", exc) from exc

        return self._cached(f"user:{user_id}", load, fresh)

    def resolve(self, reference: str, fresh: Freshness = False) -> list[Person]:
        """``fresh`` skips the cache: a decision is checked against Slack as it is now."""
        ref = reference.strip()
        if ref.startswith("@"):
            people = self._group(ref[1:], fresh)
        elif "@" in ref:
            people = self._by_email(ref, fresh)
        else:
            found = self.person(ref, fresh)
            people = [found] if found else []
            if not found or found.email is None and found.ineligible == "deactivated":
                self.unresolved[ref] = "no such Slack user"
                people = []
        inactive = [p for p in people if not p.active]
        if inactive and not ref.startswith("@"):
            self.unresolved[ref] = f"names someone who may not act: {_why(inactive[0])}"
        elif inactive and not any(p.active for p in people):
            self.unresolved[ref] = "every member of the group is someone who may not act"
        return [p for p in people if p.active]

    def _by_email(self, email: str, fresh: Freshness = False) -> list[Person]:
        def load() -> list[Person]:
            try:
                return [self._person(self.client.users_lookupByEmail(email=email)["user"])]
            except SlackApiError as exc:
                if exc.response.get("error") != "users_not_found":
                    raise _unavailable("users.lookupByEmail", exc) from exc
                self.unresolved[email] = "no Slack user has this email (users_not_found)"
                return []

        return self._cached(f"email:{email.lower()}", load, fresh)

    def _group_ids(self) -> dict[str, str]:
        def load() -> dict[str, str]:
            try:
                groups = self.client.usergroups_list()["usergroups"]
            except SlackApiError as exc:
                raise _unavailable("usergroups.list", exc) from exc
            return {g["handle"].lower(): g["id"] for g in groups}

        return self._cached("groups", load)

    def _group(self, handle: str, fresh: Freshness = False) -> list[Person]:
        group_id = self._group_ids().get(handle.lower())
        if group_id is None:
            self.unresolved[f"@{handle}"] = "no Slack user group has this handle"
            return []

        def load() -> list[str]:
            try:
                return list(self.client.usergroups_users_list(usergroup=group_id)["users"])
            except SlackApiError as exc:
                if exc.response.get("error") not in ("no_such_subteam", "subteam_not_found"):
                    raise _unavailable("usergroups.users.list", exc) from exc
                self.unresolved[f"@{handle}"] = "no Slack user group has this handle"
                return []

        people = []
        for user_id in self._cached(f"group:{group_id}", load, fresh):
            person = self.person(user_id, fresh)
            if person:
                people.append(person)
        return people
