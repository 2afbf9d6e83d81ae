"""A fake Slack Web API: a real HTTP server on 127.0.0.1 for the sandbox, offline tests and
benchmarks.

Why a real server: ``slack_sdk.WebClient`` talks urllib, so httpx-level mocks never see
Slack calls, and a server lets Bolt's own encoding, retries and ``respond()`` run for real.
Why stateful: the bot's correctness depends on what Slack refuses (single-use trigger ids,
``chat.update`` only on the bot's own messages, block limits, ``hash_conflict``), so the fake
keeps users, DMs, messages and views and refuses what the real service refuses.

Method knowledge (required args, error tables, scopes) is read at run time from the
``web-api-methods/*.json`` fixture files when a directory is given; without one a small
built-in table is used so the project's tests still run.


This module is the public face, :class:`FakeSlack`: construction, lifecycle, the fixtures,
seeding and inspection, scripted replies. The Web API methods live beside it, grouped by
surface (:mod:`.chat`, :mod:`.views`, :mod:`.directory`, :mod:`.conversations`,
:mod:`.files`), with the HTTP side in :mod:`.server` and the Block Kit checker in
:mod:`.blockkit_check`.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from bot.standins.slack.chat import _Chat
from bot.standins.slack.conversations import _Conversations
from bot.standins.slack.directory import _Directory
from bot.standins.slack.files import _Files
from bot.standins.slack.knowledge import (
    _BUILTIN_MISSING_ARG_ERRORS,
    _BUILTIN_REQUIRED,
    _BUILTIN_SCOPES,
    BOT_USER_ID,
    DEFAULT_SCOPES,
    USER_STANDING,
)
from bot.standins.slack.replies import _Reply, _Script
from bot.standins.slack.server import _Handler, _Serving
from bot.standins.slack.views import _Views

T = TypeVar("T")


class FakeSlack(_Serving, _Directory, _Conversations, _Chat, _Views, _Files):
    """A stateful fake of the Slack Web API served over HTTP on an ephemeral loopback port.

    Use as a context manager (or ``start()``/``stop()``), pass ``api_url`` as the
    ``WebClient`` ``base_url``, seed users and groups with ``add_user``/``add_usergroup``,
    and inspect ``calls``, ``messages_to``, ``home_view``, ``webhook_posts`` afterwards.
    """

    def __init__(
        self,
        fixtures_dir: Path | None = None,
        bot_token: str = "xoxb-test-token",  # noqa: S107 - a fake's fake token
        scopes: Iterable[str] | None = None,
        *,
        webhook_max_uses: int | None = 5,
    ) -> None:
        self.bot_token = bot_token
        self.scopes: list[str] = list(DEFAULT_SCOPES if scopes is None else scopes)
        self.webhook_max_uses = webhook_max_uses
        self.fixtures_dir = Path(fixtures_dir) if fixtures_dir is not None else None
        # Time source for trigger ages and call records; tests may replace it.
        self.clock: Callable[[], float] = time.monotonic

        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)
        self._last_ts_us = 0

        self._required: dict[str, tuple[str, ...]] = dict(_BUILTIN_REQUIRED)
        self._method_scopes: dict[str, tuple[str, ...]] = dict(_BUILTIN_SCOPES)
        self._missing_arg_errors: dict[tuple[str, str], str] = dict(_BUILTIN_MISSING_ARG_ERRORS)
        self.method_specs: dict[str, dict[str, Any]] = {}
        if self.fixtures_dir is not None:
            self._load_fixtures(self.fixtures_dir)

        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "usergroups.list": self._usergroups_list,
            "usergroups.users.list": self._usergroups_users_list,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }

        self._calls: list[dict[str, Any]] = []
        self._scripts: dict[str, deque[_Script]] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._usergroups: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, dict[str, Any]] = {}
        self._dm_of_user: dict[str, str] = {}
        self._user_of_dm: dict[str, str] = {}
        self._mpims: dict[tuple[str, ...], str] = {}
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._ephemerals: list[dict[str, Any]] = []
        self._triggers: dict[str, float] = {}
        self._used_triggers: set[str] = set()
        self._views: dict[str, dict[str, Any]] = {}
        self._view_by_external_id: dict[str, str] = {}
        self._home_by_user: dict[str, str] = {}
        self._pending_files: dict[str, dict[str, Any]] = {}
        self._uploaded: list[dict[str, Any]] = []
        self._webhooks: list[tuple[str, Any]] = []
        self._webhook_uses: dict[str, int] = {}
        self._webhook_refusals: list[tuple[str, Any, dict[str, Any]]] = []

        self._users[BOT_USER_ID] = {
            "id": BOT_USER_ID,
            "email": None,
            "name": "elastic-access",
            "real_name": "Elastic Access",
            "deleted": False,
            "is_bot": True,
            "tz": "UTC",
        }

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlack:
        """Bind an ephemeral port and serve on a daemon thread (port 0: parallel-safe)."""
        if self._server is not None:
            return self
        handler = type("FakeSlackHandler", (_Handler,), {"fake": self})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        self._server = server
        # poll_interval 0.05: the default 0.5 s costs that much on every shutdown.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down and release the port."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        """The ``base_url`` to give ``WebClient``."""
        return f"{self.base_url}/api/"

    def webhook_url(self, name: str = "cmd") -> str:
        """A ``response_url`` on this server; posts to it are kept under ``name``."""
        return f"{self.base_url}/webhook/{name}"

    # ------------------------------------------------------------------ fixtures

    def _load_fixtures(self, directory: Path) -> None:
        """Read required args, error tables and bot scopes from the method JSON files."""
        for path in sorted(directory.glob("*.json")):
            method = path.stem
            try:
                spec = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if not isinstance(spec, dict) or "args" not in spec:
                continue
            self.method_specs[method] = spec
            required = [a for a in spec["args"].get("required", []) if a != "token"]
            self._required[method] = tuple(required)
            bot_scopes = (spec.get("scope") or {}).get("bot")
            if bot_scopes:
                self._method_scopes[method] = tuple(bot_scopes)
            elif method in self._method_scopes:
                del self._method_scopes[method]
            errors = spec.get("errors") or {}
            for key in [k for k in self._missing_arg_errors if k[0] == method]:
                del self._missing_arg_errors[key]
            # "Missing `users`" beats "Value(s) passed for `users` was invalid".
            for pattern in (r"Missing `(\w+)`", r"Value(?:\(s\))? passed for `(\w+)`"):
                for code, info in errors.items():
                    desc = info.get("desc", "") if isinstance(info, dict) else ""
                    for arg in re.findall(pattern, desc):
                        self._missing_arg_errors.setdefault((method, arg), code)

    # ------------------------------------------------------------------ directory state

    def add_user(
        self,
        user_id: str,
        email: str | None = None,
        name: str | None = None,
        real_name: str | None = None,
        deleted: bool = False,
        is_bot: bool = False,
        tz: str = "UTC",
        **standing: Any,
    ) -> dict[str, Any]:
        """Add (or replace) a workspace member; returns the ``users.info`` user object.

        ``standing`` sets any of :data:`USER_STANDING` (a guest: ``is_restricted=True``; a
        Slack Connect user: ``team_id="T0OTHER", is_stranger=True``)."""
        unknown = set(standing) - set(USER_STANDING)
        if unknown:
            raise TypeError(f"unknown user fields: {sorted(unknown)}")
        with self._lock:
            login = name or (email.split("@", 1)[0] if email else user_id.lower())
            self._users[user_id] = {
                "id": user_id,
                "email": email,
                "name": login,
                "real_name": real_name or login,
                "deleted": deleted,
                "is_bot": is_bot,
                "tz": tz,
                **USER_STANDING,
                **standing,
            }
            return self._user_object(self._users[user_id])

    def set_user_deleted(self, user_id: str, deleted: bool = True) -> None:
        """Deactivate (or reactivate) a member, as an admin would."""
        with self._lock:
            self._users[user_id]["deleted"] = deleted

    def remove_user(self, user_id: str) -> None:
        """The user is gone from the workspace: ``users.info`` answers ``user_not_found``."""
        with self._lock:
            del self._users[user_id]

    def set_user(self, user_id: str, **fields: Any) -> dict[str, Any]:
        """Change a member as an admin would (``is_restricted=True`` makes them a guest);
        returns the new ``users.info`` user object, as a ``user_change`` event carries it."""
        with self._lock:
            unknown = set(fields) - set(USER_STANDING) - {"deleted", "email", "is_bot"}
            if unknown:
                raise TypeError(f"unknown user fields: {sorted(unknown)}")
            self._users[user_id].update(fields)
            return self._user_object(self._users[user_id])

    def add_usergroup(
        self,
        group_id: str,
        handle: str,
        users: list[str],
        name: str | None = None,
        description: str = "",
        disabled: bool = False,
    ) -> dict[str, Any]:
        """Add (or replace) a user group; returns its ``usergroups.list`` object."""
        with self._lock:
            now = int(time.time())
            self._usergroups[group_id] = {
                "id": group_id,
                "handle": handle,
                "name": name or handle,
                "description": description,
                "users": list(users),
                "disabled": disabled,
                "date_create": now,
                "date_update": now,
            }
            return self._usergroup_object(self._usergroups[group_id], include_users=True)

    def set_usergroup_users(self, group_id: str, users: list[str]) -> None:
        """Replace a group's members (``usergroups.users.update``)."""
        with self._lock:
            group = self._usergroups[group_id]
            group["users"] = list(users)
            group["date_update"] = int(time.time())

    def add_channel(
        self,
        channel_id: str,
        name: str | None = None,
        is_member: bool = True,
        is_archived: bool = False,
    ) -> None:
        """Declare a public/private channel. Slack knows no other: a post to an undeclared
        ``C…``/``G…`` id is ``channel_not_found``, to one with ``is_member=False``
        ``not_in_channel`` (DMs and user ids need no declaring)."""
        with self._lock:
            self._channels[channel_id] = {
                "id": channel_id,
                "name": name or channel_id.lower(),
                "is_member": is_member,
                "is_archived": is_archived,
            }

    def add_message(
        self,
        channel: str,
        text: str,
        user: str,
        blocks: list[dict[str, Any]] | None = None,
    ) -> str:
        """Put a message from a human into a channel (so tests can hit ``cant_update_message``)."""
        with self._lock:
            ts = self._next_ts()
            self._messages[(channel, ts)] = {
                "channel": channel,
                "ts": ts,
                "text": text,
                "blocks": blocks or [],
                "attachments": [],
                "user": user,
                "bot_id": None,
                "thread_ts": None,
            }
            return ts

    def new_trigger_id(self) -> str:
        """Issue a trigger id as Slack does for a command or click: 3 s, single use."""
        with self._lock:
            trigger = f"{next(self._ids)}{secrets.randbelow(10**6):06d}.{secrets.randbelow(10**7):07d}.{secrets.token_hex(16)}"
            self._triggers[trigger] = self.clock()
            return trigger

    # ------------------------------------------------------------------ inspection

    @property
    def calls(self) -> list[dict[str, Any]]:
        """Every API call received, in order (a snapshot copy)."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """Calls of one Web API method, in order."""
        with self._lock:
            return [c for c in self._calls if c["method"] == method]

    def reset(self) -> None:
        """Forget recorded calls (state such as messages and views is kept)."""
        with self._lock:
            self._calls.clear()

    def dm_channel(self, user_id: str) -> str | None:
        """The DM channel id the bot has with ``user_id``, if one was opened."""
        with self._lock:
            return self._dm_of_user.get(user_id)

    def messages_to(self, user_id: str) -> list[dict[str, Any]]:
        """Messages now in the bot's DM with ``user_id`` (latest versions), in post order."""
        with self._lock:
            channel = self._dm_of_user.get(user_id)
            if channel is None:
                return []
            return [copy.deepcopy(m) for (ch, _), m in self._messages.items() if ch == channel]

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        """Messages now in a channel (latest versions), in post order."""
        with self._lock:
            return [copy.deepcopy(m) for (ch, _), m in self._messages.items() if ch == channel]

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """One message by (channel, ts), or None."""
        with self._lock:
            found = self._messages.get((channel, ts))
            return copy.deepcopy(found) if found is not None else None

    def ephemerals_to(self, user_id: str) -> list[dict[str, Any]]:
        """Ephemeral messages shown to ``user_id``, in order."""
        with self._lock:
            return [copy.deepcopy(e) for e in self._ephemerals if e["user"] == user_id]

    def webhook_refusals(self, name: str | None = None) -> list[dict[str, Any]]:
        """Posts to ``webhook_url(name)`` refused as Slack would (``{"body", "error"}``)."""
        with self._lock:
            return [
                {"body": copy.deepcopy(body), "error": copy.deepcopy(error)}
                for n, body, error in self._webhook_refusals
                if name in (None, n)
            ]

    def webhook_posts(self, name: str | None = None) -> list[Any]:
        """JSON bodies posted to ``webhook_url(name)`` (all webhooks when ``name`` is None)."""
        with self._lock:
            return [copy.deepcopy(body) for n, body in self._webhooks if name in (None, n)]

    def view(self, view_id: str) -> dict[str, Any] | None:
        """A view (modal or home) as Slack stores it, or None."""
        with self._lock:
            found = self._views.get(view_id)
            return copy.deepcopy(found) if found is not None else None

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The latest Home tab published for ``user_id``, or None."""
        with self._lock:
            view_id = self._home_by_user.get(user_id)
            return copy.deepcopy(self._views[view_id]) if view_id else None

    def uploaded_files(self) -> list[dict[str, Any]]:
        """Files completed with ``files.completeUploadExternal``, with their bytes."""
        with self._lock:
            return [dict(f) for f in self._uploaded]

    def clear_scripts(self) -> None:
        """Drop every scripted reply still queued (the outage is over)."""
        with self._lock:
            self._scripts.clear()

    def script(
        self,
        method: str,
        status: int = 200,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with this reply, changing no state.

        Defaults: 429 → ``{"ok": false, "error": "ratelimited"}`` with ``Retry-After: 0``;
        other non-200 → ``{"ok": false, "error": "fatal_error"}``; 200 → ``{"ok": true}``.
        """
        if body is None:
            if status == 429:
                body = {"ok": False, "error": "ratelimited"}
            elif status == 200:
                body = {"ok": True}
            else:
                body = {"ok": False, "error": "fatal_error"}
        hdrs = dict(headers or {})
        if status == 429 and not any(k.lower() == "retry-after" for k in hdrs):
            hdrs["Retry-After"] = "0"
        with self._lock:
            self._scripts.setdefault(method, deque()).append(
                _Script(_Reply(status, body, hdrs), times)
            )

    def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 5.0,
        interval: float = 0.02,
        message: str | None = None,
    ) -> T:
        """Poll ``predicate`` until it returns something truthy; return that value.

        Why: Bolt runs listeners on a thread pool after ``ack()``, so side effects land
        after ``dispatch`` returns. Raises AssertionError with the calls seen so far.
        """
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            last = predicate()
            if last:
                return last
            if time.monotonic() >= deadline:
                break
            time.sleep(interval)
        seen = [c["method"] for c in self.calls]
        what = message or getattr(predicate, "__name__", "condition")
        raise AssertionError(
            f"{what} not met within {timeout}s (last value {last!r}); Slack calls so far: {seen}"
        )
