"""A fake Slack Web API: a real HTTP server on 127.0.0.1 for offline tests and benchmarks.

Why a real server: ``slack_sdk.WebClient`` talks urllib, so httpx-level mocks never see
Slack calls, and a server lets Bolt's own encoding, retries and ``respond()`` run for real.
Why stateful: the bot's correctness depends on what Slack refuses (single-use trigger ids,
``chat.update`` only on the bot's own messages, block limits, ``hash_conflict``), so the fake
keeps users, DMs, messages and views and refuses what the real service refuses.

Method knowledge (required args, error tables, scopes) is read at run time from the
``web-api-methods/*.json`` fixture files when a directory is given; without one a small
built-in table is used so the project's tests still run.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

__all__ = [
    "BOT_ID",
    "BOT_USER_ID",
    "DEFAULT_SCOPES",
    "ERROR_CODES",
    "GENERIC_ERRORS",
    "TEAM_ID",
    "TRIGGER_TTL_SECONDS",
    "FakeSlack",
    "answer_errors",
    "default_fixtures_dir",
    "text_of",
]

T = TypeVar("T")

TEAM_ID = "T0001"
#: What makes a Slack user more or less than a full member, with a full member's values.
USER_STANDING: dict[str, Any] = {
    "is_restricted": False,
    "is_ultra_restricted": False,
    "is_stranger": False,
    "is_email_confirmed": True,
    "team_id": TEAM_ID,
}
TEAM_NAME = "Fake Workspace"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
APP_ID = "AFAKEAPP"

DEFAULT_SCOPES: tuple[str, ...] = (
    "commands",
    "chat:write",
    "im:write",
    "users:read",
    "users:read.email",
    "usergroups:read",
    "files:write",
)

# Limits Slack documents for Block Kit and views (slack-bolt.md §2.3, Block Kit reference).
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT_CHARS = 40_000  # longer text is truncated with a `message_truncated` warning
MAX_VIEW_BYTES = 250_000
TRIGGER_TTL_SECONDS = 3.0
VIEW_TITLE_MAX = 24
PRIVATE_METADATA_MAX = 3000
CALLBACK_ID_MAX = 255

# Built-in knowledge, used when no fixtures directory is given. Required args exclude `token`.
_BUILTIN_REQUIRED: dict[str, tuple[str, ...]] = {
    "auth.test": (),
    "chat.postMessage": ("channel",),
    "chat.update": ("ts", "channel"),
    "chat.postEphemeral": ("user", "channel"),
    "conversations.open": (),
    "users.info": ("user",),
    "users.lookupByEmail": ("email",),
    "usergroups.list": (),
    "usergroups.users.list": ("usergroup",),
    "views.open": ("view",),
    "views.publish": ("user_id", "view"),
    "views.update": ("view",),
    "files.getUploadURLExternal": ("filename", "length"),
    "files.completeUploadExternal": ("files",),
}

# Bot scopes per method; any one of them is enough (conversations.open lists alternatives).
_BUILTIN_SCOPES: dict[str, tuple[str, ...]] = {
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "conversations.open": ("channels:manage", "groups:write", "im:write", "mpim:write"),
    "users.info": ("users:read",),
    "users.lookupByEmail": ("users:read.email",),
    "usergroups.list": ("usergroups:read",),
    "usergroups.users.list": ("usergroups:read",),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
}

# What Slack answers when a required arg is missing, where its error table has a
# specific code ("Value passed for `channel` was invalid", "Missing `users`").
_BUILTIN_MISSING_ARG_ERRORS: dict[tuple[str, str], str] = {
    ("chat.postMessage", "channel"): "channel_not_found",
    ("chat.update", "channel"): "channel_not_found",
    ("chat.postEphemeral", "channel"): "channel_not_found",
    ("users.info", "user"): "user_not_found",
    ("conversations.open", "users"): "users_list_not_supplied",
}

# Errors any method may return regardless of its own table.
GENERIC_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "invalid_arguments", "missing_scope", "ratelimited"}
)

# Codes each implemented handler can return, beyond GENERIC_ERRORS. Tests compare these
# with the fixtures' error tables so the fake never invents a code for a documented method.
ERROR_CODES: dict[str, frozenset[str]] = {
    "auth.test": frozenset(),
    "chat.postMessage": frozenset(
        {
            "channel_not_found",
            "not_in_channel",
            "is_archived",
            "no_text",
            "invalid_blocks",
            "invalid_blocks_format",
            "too_many_attachments",
        }
    ),
    "chat.update": frozenset(
        {
            "channel_not_found",
            "message_not_found",
            "cant_update_message",
            "no_text",
            "invalid_blocks",
            "invalid_blocks_format",
            "too_many_attachments",
        }
    ),
    "chat.postEphemeral": frozenset(
        {
            "channel_not_found",
            "user_not_in_channel",
            "not_in_channel",
            "is_archived",
            "no_text",
            "invalid_blocks",
            "invalid_blocks_format",
            "too_many_attachments",
        }
    ),
    "conversations.open": frozenset(
        {
            "channel_not_found",
            "user_not_found",
            "user_disabled",
            "too_many_users",
            "users_list_not_supplied",
        }
    ),
    "users.info": frozenset({"user_not_found"}),
    "users.lookupByEmail": frozenset({"users_not_found"}),
    "usergroups.list": frozenset(),
    "usergroups.users.list": frozenset({"no_such_subteam"}),
    "views.open": frozenset(
        {
            "expired_trigger_id",
            "exchanged_trigger_id",
            "invalid_trigger_id",
            "view_too_large",
            "duplicate_external_id",
        }
    ),
    "views.update": frozenset({"hash_conflict", "not_found", "view_too_large"}),
    "views.publish": frozenset({"hash_conflict", "view_too_large", "duplicate_external_id"}),
    # Not in the fixtures; kept minimal.
    "files.getUploadURLExternal": frozenset(),
    "files.completeUploadExternal": frozenset({"file_not_found", "channel_not_found"}),
}

_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "context_actions",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
_JSON_ARGS = ("blocks", "attachments", "view", "files", "metadata")

# Which interactive elements each block kind takes (Block Kit reference: "compatible
# elements" of the section, actions and input blocks). Anything else is `invalid_blocks`.
_SELECTS = frozenset(
    f"{multi}{kind}_select"
    for multi in ("", "multi_")
    for kind in ("static", "external", "users", "conversations", "channels")
)
_SECTION_ACCESSORIES = _SELECTS | {
    "button",
    "checkboxes",
    "datepicker",
    "image",
    "overflow",
    "radio_buttons",
    "timepicker",
    "workflow_button",
}
_ACTIONS_ELEMENTS = (_SECTION_ACCESSORIES - {"image"}) | {"datetimepicker", "rich_text_input"}
_INPUT_ELEMENTS = _SELECTS | {
    "checkboxes",
    "datepicker",
    "datetimepicker",
    "email_text_input",
    "file_input",
    "number_input",
    "plain_text_input",
    "radio_buttons",
    "rich_text_input",
    "timepicker",
    "url_text_input",
}
# Elements that carry a confirmation dialog (`confirm`).
_CONFIRMABLE = _SELECTS | {
    "button",
    "checkboxes",
    "datepicker",
    "datetimepicker",
    "overflow",
    "radio_buttons",
    "timepicker",
}
# Limits of the bot's own HTTP answers: options for type-ahead (block_suggestion).
MAX_OPTIONS = 100
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
VIEW_SUBMISSION_ACTIONS = ("errors", "update", "push", "clear")


def default_fixtures_dir(repo_root: Path | None = None) -> Path | None:
    """Where the shared Slack method fixtures live, or None when they are not on this machine.

    Why: CI and developers mount the shared folder beside the repo; tests must still run
    (with built-in knowledge) where it is absent.
    """
    import os

    root = repo_root or Path(__file__).resolve().parents[2]
    shared = Path(os.environ.get("ELASTIC_ACCESS_SHARED", root.parent / "shared"))
    path = shared / "slack-fixtures" / "web-api-methods"
    return path if path.is_dir() else None


def text_of(message: Any) -> str:
    """Flatten a message (or view, or block list) into one string for assertions.

    Why: asserting on nested Block Kit is brittle; tests want ``"Approve" in text_of(msg)``.
    Collects top-level ``text``, section text and fields, headers, context elements,
    button labels, option labels, titles and rich-text runs.
    """
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            kind = node.get("type")
            text = node.get("text")
            if kind in ("plain_text", "mrkdwn", "text") and isinstance(text, str):
                parts.append(text)
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    continue
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    if isinstance(message, dict):
        top = message.get("text")
        if isinstance(top, str):
            parts.append(top)
        for key in ("title", "blocks", "attachments"):
            if key in message:
                walk(message[key])
    else:
        walk(message)
    return "\n".join(parts)


class _ApiError(Exception):
    """Raised inside method handlers to answer ``{"ok": false, "error": code, ...}``."""

    def __init__(self, code: str, status: int = 200, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.extra = extra


def _invalid_arguments(messages: Iterable[str]) -> _ApiError:
    return _ApiError("invalid_arguments", response_metadata={"messages": list(messages)})


@dataclass
class _Reply:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class _Script:
    reply: _Reply
    remaining: int


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value == "")


def _ptr(base: str, *parts: Any) -> str:
    return base + "".join(f"/{p}" for p in parts)


class _BlockChecker:
    """Validates Block Kit the way Slack does, collecting Slack-style error messages.

    Why: a fake that accepts any blocks lets layout bugs (a 76-char button label, a reused
    action_id) reach production, where Slack answers ``invalid_blocks``.
    """

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.action_ids: set[str] = set()
        self.block_ids: set[str] = set()

    def err(self, message: str, pointer: str) -> None:
        self.errors.append(f"[ERROR] {message} [json-pointer:{pointer}]")

    def text_obj(self, obj: Any, ptr: str, *, max_len: int, plain_only: bool = False) -> None:
        if not isinstance(obj, dict):
            self.err("must provide an object", ptr)
            return
        allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if obj.get("type") not in allowed:
            self.err("must be a valid enum value", _ptr(ptr, "type"))
        text = obj.get("text")
        if not isinstance(text, str):
            self.err("must provide a string", _ptr(ptr, "text"))
        elif not text:
            self.err("must be more than 0 characters", _ptr(ptr, "text"))
        elif len(text) > max_len:
            self.err(f"must be less than {max_len + 1} characters", _ptr(ptr, "text"))

    def blocks(self, blocks: Any, ptr: str, *, max_blocks: int) -> None:
        if not isinstance(blocks, list):
            self.err("must provide an array", ptr)
            return
        if len(blocks) > max_blocks:
            self.err(f"no more than {max_blocks} items allowed", ptr)
        for i, block in enumerate(blocks):
            self.block(block, _ptr(ptr, i))

    def block(self, block: Any, ptr: str) -> None:
        if not isinstance(block, dict):
            self.err("must provide an object", ptr)
            return
        kind = block.get("type")
        if not isinstance(kind, str):
            self.err("missing required field: type", ptr)
            return
        if kind not in _BLOCK_TYPES:
            self.err(f"unsupported type: {kind}", _ptr(ptr, "type"))
            return
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or len(block_id) > 255:
                self.err("must be less than 256 characters", _ptr(ptr, "block_id"))
            elif block_id in self.block_ids:
                self.err(f"duplicate block_id: {block_id}", _ptr(ptr, "block_id"))
            else:
                self.block_ids.add(block_id)
        getattr(self, f"block_{kind}", lambda _b, _p: None)(block, ptr)

    def block_section(self, block: dict[str, Any], ptr: str) -> None:
        if "text" not in block and "fields" not in block:
            self.err("must provide either text or fields", ptr)
        if "text" in block:
            self.text_obj(block["text"], _ptr(ptr, "text"), max_len=3000)
        if "fields" in block:
            fields = block["fields"]
            if not isinstance(fields, list) or not fields:
                self.err("must provide a non-empty array", _ptr(ptr, "fields"))
            else:
                if len(fields) > 10:
                    self.err("no more than 10 items allowed", _ptr(ptr, "fields"))
                for i, field in enumerate(fields):
                    self.text_obj(field, _ptr(ptr, "fields", i), max_len=2000)
        if "accessory" in block:
            self.element(block["accessory"], _ptr(ptr, "accessory"), _SECTION_ACCESSORIES)

    def block_header(self, block: dict[str, Any], ptr: str) -> None:
        self.text_obj(block.get("text"), _ptr(ptr, "text"), max_len=150, plain_only=True)

    def block_context(self, block: dict[str, Any], ptr: str) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            self.err("must provide a non-empty array", _ptr(ptr, "elements"))
            return
        if len(elements) > 10:
            self.err("no more than 10 items allowed", _ptr(ptr, "elements"))
        for i, el in enumerate(elements):
            if isinstance(el, dict) and el.get("type") in ("plain_text", "mrkdwn"):
                self.text_obj(el, _ptr(ptr, "elements", i), max_len=3000)
            elif not (isinstance(el, dict) and el.get("type") == "image"):
                self.err("must be a text or image element", _ptr(ptr, "elements", i))

    def block_actions(self, block: dict[str, Any], ptr: str) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            self.err("must provide a non-empty array", _ptr(ptr, "elements"))
            return
        if len(elements) > 25:
            self.err("no more than 25 items allowed", _ptr(ptr, "elements"))
        for i, el in enumerate(elements):
            self.element(el, _ptr(ptr, "elements", i), _ACTIONS_ELEMENTS)

    def block_input(self, block: dict[str, Any], ptr: str) -> None:
        self.text_obj(block.get("label"), _ptr(ptr, "label"), max_len=2000, plain_only=True)
        if "element" not in block:
            self.err("missing required field: element", ptr)
        else:
            self.element(block["element"], _ptr(ptr, "element"), _INPUT_ELEMENTS)
        if "hint" in block:
            self.text_obj(block["hint"], _ptr(ptr, "hint"), max_len=2000, plain_only=True)

    def block_image(self, block: dict[str, Any], ptr: str) -> None:
        if "image_url" not in block and "slack_file" not in block:
            self.err("must provide either image_url or slack_file", ptr)
        alt = block.get("alt_text")
        if not isinstance(alt, str) or len(alt) > 2000:
            self.err("must provide a string of at most 2000 characters", _ptr(ptr, "alt_text"))

    def element(self, el: Any, ptr: str, allowed: frozenset[str]) -> None:
        if not isinstance(el, dict) or not isinstance(el.get("type"), str):
            self.err("must provide an element object with a type", ptr)
            return
        if el["type"] not in allowed:
            self.err(f"unsupported type: {el['type']}", _ptr(ptr, "type"))
            return
        action_id = el.get("action_id")
        if action_id is not None:
            if not isinstance(action_id, str) or not action_id or len(action_id) > 255:
                self.err("must be between 1 and 255 characters", _ptr(ptr, "action_id"))
            elif action_id in self.action_ids:
                self.err(f"duplicate action_id: {action_id}", _ptr(ptr, "action_id"))
            else:
                self.action_ids.add(action_id)
        kind = el["type"]
        if kind == "button":
            self.text_obj(el.get("text"), _ptr(ptr, "text"), max_len=75, plain_only=True)
            value = el.get("value")
            if value is not None and (not isinstance(value, str) or len(value) > 2000):
                self.err("must be less than 2001 characters", _ptr(ptr, "value"))
            url = el.get("url")
            if url is not None and (not isinstance(url, str) or len(url) > 3000):
                self.err("must be less than 3001 characters", _ptr(ptr, "url"))
            if el.get("style") not in (None, "primary", "danger"):
                self.err("must be a valid enum value", _ptr(ptr, "style"))
        if "placeholder" in el:
            self.text_obj(el["placeholder"], _ptr(ptr, "placeholder"), max_len=150, plain_only=True)
        plain_only = kind.endswith("select")
        choices = self.options_of(el, ptr, plain_only=plain_only)
        if "confirm" in el:
            if kind not in _CONFIRMABLE:
                self.err("unsupported field: confirm", _ptr(ptr, "confirm"))
            else:
                self.confirm(el["confirm"], _ptr(ptr, "confirm"))
        # initial_option(s) must be one of the element's own options (same text and value);
        # an external_select has none to compare with.
        if choices is not None:
            picked: list[tuple[str, Any]] = []
            if "initial_option" in el:
                picked.append(("initial_option", el["initial_option"]))
            if isinstance(el.get("initial_options"), list):
                picked += [(f"initial_options/{i}", o) for i, o in enumerate(el["initial_options"])]
            for where, option in picked:
                if _option_key(option) not in choices:
                    self.err("must match one of the provided options", _ptr(ptr, where))
        elif "initial_option" in el:
            self.option(el["initial_option"], _ptr(ptr, "initial_option"), plain_only=plain_only)

    def options_of(
        self, el: dict[str, Any], ptr: str, *, plain_only: bool
    ) -> set[tuple[Any, ...]] | None:
        """Check ``options`` / ``option_groups``; the keys of the options given, or None."""
        if "options" not in el and "option_groups" not in el:
            return None
        keys: set[tuple[Any, ...]] = set()
        options = el.get("options")
        if isinstance(options, list):
            self.option_list(options, _ptr(ptr, "options"), plain_only=plain_only)
            keys |= {_option_key(o) for o in options}
        groups = el.get("option_groups")
        if isinstance(groups, list):
            if len(groups) > MAX_OPTIONS:
                self.err(f"no more than {MAX_OPTIONS} items allowed", _ptr(ptr, "option_groups"))
            for i, group in enumerate(groups):
                gptr = _ptr(ptr, "option_groups", i)
                if not isinstance(group, dict):
                    self.err("must provide an object", gptr)
                    continue
                self.text_obj(
                    group.get("label"),
                    _ptr(gptr, "label"),
                    max_len=MAX_OPTION_TEXT,
                    plain_only=True,
                )
                group_options = group.get("options")
                if not isinstance(group_options, list):
                    self.err("must provide an array", _ptr(gptr, "options"))
                    continue
                self.option_list(group_options, _ptr(gptr, "options"), plain_only=plain_only)
                keys |= {_option_key(o) for o in group_options}
        return keys

    def option_list(self, options: list[Any], ptr: str, *, plain_only: bool) -> None:
        if len(options) > MAX_OPTIONS:
            self.err(f"no more than {MAX_OPTIONS} items allowed", ptr)
        for i, opt in enumerate(options):
            self.option(opt, _ptr(ptr, i), plain_only=plain_only)

    def confirm(self, obj: Any, ptr: str) -> None:
        """A confirmation dialog: plain_text title (100), text (300, plain_text or mrkdwn),
        plain_text confirm and deny (30 each), optional style primary/danger."""
        if not isinstance(obj, dict):
            self.err("must provide an object", ptr)
            return
        for key, limit, plain_only in (
            ("title", 100, True),
            ("text", 300, False),
            ("confirm", 30, True),
            ("deny", 30, True),
        ):
            if key not in obj:
                self.err(f"missing required field: {key}", ptr)
            else:
                self.text_obj(obj[key], _ptr(ptr, key), max_len=limit, plain_only=plain_only)
        if obj.get("style") not in (None, "primary", "danger"):
            self.err("must be a valid enum value", _ptr(ptr, "style"))

    def option(self, opt: Any, ptr: str, *, plain_only: bool) -> None:
        if not isinstance(opt, dict):
            self.err("must provide an object", ptr)
            return
        self.text_obj(
            opt.get("text"), _ptr(ptr, "text"), max_len=MAX_OPTION_TEXT, plain_only=plain_only
        )
        value = opt.get("value")
        if value is None:
            self.err("missing required field: value", ptr)
        elif not isinstance(value, str) or len(value) > MAX_OPTION_VALUE:
            self.err(f"must be less than {MAX_OPTION_VALUE + 1} characters", _ptr(ptr, "value"))


def _option_key(option: Any) -> tuple[Any, ...]:
    """What makes two option objects the same option for ``initial_option`` matching."""
    if not isinstance(option, dict):
        return (repr(option),)
    text = option.get("text") if isinstance(option.get("text"), dict) else {}
    return (text.get("type"), text.get("text"), option.get("value"))


class _Handler(BaseHTTPRequestHandler):
    """Routes every request to the owning FakeSlack (set as a class attribute per server)."""

    fake: FakeSlack
    server_version = "FakeSlack/1.0"

    def do_GET(self) -> None:
        self.fake._serve(self)

    def do_POST(self) -> None:
        self.fake._serve(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging; the fake records calls itself."""


class FakeSlack:
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

    def required_args(self, method: str) -> tuple[str, ...]:
        """Required args (without ``token``) the fake enforces for ``method``."""
        return self._required.get(method, ())

    def missing_arg_error(self, method: str, arg: str) -> str:
        """The error code the fake answers when ``arg`` is missing for ``method``."""
        return self._missing_arg_errors.get((method, arg), "invalid_arguments")

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

    # ------------------------------------------------------------------ HTTP plumbing

    def _serve(self, req: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(req.path)
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length) if length else b""
        path = parts.path
        if path.startswith("/api/"):
            reply = self._api(unquote(path[len("/api/") :]), req, parts.query, raw)
        elif path.startswith("/webhook/"):
            reply = self._webhook(unquote(path[len("/webhook/") :]), raw)
        elif path.startswith("/upload/"):
            reply = self._upload(unquote(path[len("/upload/") :]), raw)
        else:
            reply = _Reply(404, "not found", {})
        self._send(req, reply)

    def _send(self, req: BaseHTTPRequestHandler, reply: _Reply) -> None:
        body = reply.body
        headers = dict(reply.headers)
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode("utf-8")
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        elif isinstance(body, bytes):
            data = body
        else:
            data = str(body).encode("utf-8")
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        req.send_response(reply.status)
        for key, value in headers.items():
            req.send_header(key, value)
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    @staticmethod
    def _parse_args(req: BaseHTTPRequestHandler, query: str, raw: bytes) -> dict[str, Any]:
        """Parse like Slack: query string, then a JSON or form-urlencoded body."""
        args: dict[str, Any] = {
            k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()
        }
        content_type = (req.headers.get("Content-Type") or "").lower()
        text = raw.decode("utf-8", errors="replace")
        if content_type.startswith("application/json"):
            try:
                body = json.loads(text) if text.strip() else {}
            except ValueError:
                body = {}
            if isinstance(body, dict):
                args.update(body)
        elif text:
            args.update({k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()})
        for key in _JSON_ARGS:
            value = args.get(key)
            if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
                # Left as a string when unparseable; validation reports the bad format.
                with contextlib.suppress(ValueError):
                    args[key] = json.loads(value)
        return args

    def _api(self, method: str, req: BaseHTTPRequestHandler, query: str, raw: bytes) -> _Reply:
        """Answer a Web API call and record it with the answer (``calls()[i]["response"]``)."""
        record: dict[str, Any] = {}
        reply = self._api_reply(method, req, query, raw, record)
        with self._lock:
            record["status"] = reply.status
            record["response"] = copy.deepcopy(reply.body)
        return reply

    def _api_reply(
        self,
        method: str,
        req: BaseHTTPRequestHandler,
        query: str,
        raw: bytes,
        record: dict[str, Any],
    ) -> _Reply:
        args = self._parse_args(req, query, raw)
        headers = {k.lower(): v for k, v in req.headers.items()}
        auth = headers.get("authorization", "")
        token = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else None
        token = token or args.pop("token", None)
        args.pop("token", None)
        scope_header = {"x-oauth-scopes": ",".join(self.scopes)}
        with self._lock:
            record.update(
                {
                    "method": method,
                    "args": copy.deepcopy(args),
                    "headers": headers,
                    "time": self.clock(),
                }
            )
            self._calls.append(record)
            scripted = self._scripts.get(method)
            if method not in self._methods and not scripted:
                return _Reply(
                    404, {"ok": False, "error": "unknown_method", "req_method": method}, {}
                )
            if not token:
                return _Reply(200, {"ok": False, "error": "not_authed"}, {})
            if token != self.bot_token:
                return _Reply(200, {"ok": False, "error": "invalid_auth"}, {})
            if scripted:
                entry = scripted[0]
                entry.remaining -= 1
                if entry.remaining <= 0:
                    scripted.popleft()
                return _Reply(
                    entry.reply.status,
                    copy.deepcopy(entry.reply.body),
                    {**scope_header, **entry.reply.headers},
                )
            try:
                self._check_scopes(method)
                for arg in self.required_args(method):
                    if _missing(args.get(arg)):
                        code = self.missing_arg_error(method, arg)
                        if code == "invalid_arguments":
                            raise _invalid_arguments([f"[ERROR] missing required field: {arg}"])
                        raise _ApiError(code)
                body = self._methods[method](args)
            except _ApiError as exc:
                return _Reply(
                    exc.status, {"ok": False, "error": exc.code, **exc.extra}, scope_header
                )
            except Exception as exc:  # a bug in the fake: say so instead of hanging up
                detail = f"fake bug in {method}: {exc!r}"
                return _Reply(500, {"ok": False, "error": "internal_error", "detail": detail}, {})
            return _Reply(200, {"ok": True, **body}, scope_header)

    def _check_scopes(self, method: str) -> None:
        needed = self._method_scopes.get(method)
        if needed and not set(needed) & set(self.scopes):
            raise _ApiError(
                "missing_scope", needed=",".join(needed), provided=",".join(self.scopes)
            )

    def _webhook(self, name: str, raw: bytes) -> _Reply:
        try:
            body: Any = json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            body = raw.decode("utf-8", errors="replace")
        with self._lock:
            uses = self._webhook_uses.get(name, 0)
            if self.webhook_max_uses is not None and uses >= self.webhook_max_uses:
                # response_url works 5 times within 30 minutes.
                return _Reply(404, {"ok": False, "error": "used_url"}, {})
            error = _response_url_error(body)
            if error is not None:
                self._webhook_refusals.append((name, body, error))
                return _Reply(400, error, {})
            self._webhook_uses[name] = uses + 1
            self._webhooks.append((name, body))
        return _Reply(200, {"ok": True}, {})

    def _upload(self, file_id: str, raw: bytes) -> _Reply:
        with self._lock:
            pending = self._pending_files.get(file_id)
            if pending is None:
                return _Reply(404, "file not found", {})
            pending["content"] = raw
        return _Reply(200, f"OK - {len(raw)}", {})

    # ------------------------------------------------------------------ helpers

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    def _next_ts(self) -> str:
        """A message ts like ``1700000000.000100``: wall-clock based, unique, increasing."""
        now_us = int(time.time() * 1_000_000)
        self._last_ts_us = max(now_us, self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

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

    @staticmethod
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

    # ------------------------------------------------------------------ methods

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

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(args.get("channel"), allow_user_ids=True)
        text, blocks, attachments, extra = self._message_content(args)
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
        text, blocks, attachments, extra = self._message_content(args)
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
        text, blocks, attachments, extra = self._message_content(args)
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

    # views ---------------------------------------------------------------

    @staticmethod
    def _check_view(view: Any, *, expected_type: str) -> dict[str, Any]:
        """Validate a view payload; raise ``invalid_arguments``/``view_too_large``."""
        if isinstance(view, str):
            raise _invalid_arguments(["[ERROR] failed to parse view JSON [json-pointer:/view]"])
        if not isinstance(view, dict):
            raise _invalid_arguments(["[ERROR] must provide an object [json-pointer:/view]"])
        if len(json.dumps(view)) > MAX_VIEW_BYTES:
            raise _ApiError("view_too_large")
        checker = _BlockChecker()
        if view.get("type") != expected_type:
            checker.err(f"must be '{expected_type}'", "/view/type")
        if expected_type == "modal":
            if "title" not in view:
                checker.err("missing required field: title", "/view")
            else:
                checker.text_obj(
                    view["title"], "/view/title", max_len=VIEW_TITLE_MAX, plain_only=True
                )
            for key in ("submit", "close"):
                if view.get(key) is not None:
                    checker.text_obj(
                        view[key], f"/view/{key}", max_len=VIEW_TITLE_MAX, plain_only=True
                    )
        if "blocks" not in view:
            checker.err("missing required field: blocks", "/view")
        else:
            checker.blocks(view["blocks"], "/view/blocks", max_blocks=MAX_VIEW_BLOCKS)
            has_input = any(
                isinstance(b, dict) and b.get("type") == "input" for b in view["blocks"] or []
            )
            if expected_type == "modal" and has_input and not view.get("submit"):
                checker.err("must provide submit when blocks contain input blocks", "/view")
        for key, limit in (
            ("private_metadata", PRIVATE_METADATA_MAX),
            ("callback_id", CALLBACK_ID_MAX),
            ("external_id", 255),
        ):
            value = view.get(key)
            if value is not None and (not isinstance(value, str) or len(value) > limit):
                checker.err(f"must be less than {limit + 1} characters", f"/view/{key}")
        if checker.errors:
            raise _invalid_arguments(checker.errors)
        return view

    def _store_view(
        self, view: dict[str, Any], *, view_id: str | None = None, user_id: str | None = None
    ) -> dict[str, Any]:
        external_id = view.get("external_id") or ""
        if external_id:
            owner = self._view_by_external_id.get(external_id)
            if owner is not None and owner != view_id:
                raise _ApiError("duplicate_external_id")
        previous = self._views.get(view_id) if view_id else None
        vid = view_id or self._new_id("V")
        stored = {
            "id": vid,
            "team_id": TEAM_ID,
            "type": view.get("type"),
            "title": copy.deepcopy(view.get("title")),
            "submit": copy.deepcopy(view.get("submit")),
            "close": copy.deepcopy(view.get("close")),
            "blocks": copy.deepcopy(view.get("blocks") or []),
            "private_metadata": view.get("private_metadata") or "",
            "callback_id": view.get("callback_id") or "",
            "external_id": external_id,
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": previous["root_view_id"] if previous else vid,
            "previous_view_id": None,
            "app_id": APP_ID,
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        if user_id is not None:
            stored["user_id"] = user_id
        if previous and previous.get("external_id") and previous["external_id"] != external_id:
            self._view_by_external_id.pop(previous["external_id"], None)
        if external_id:
            self._view_by_external_id[external_id] = vid
        self._views[vid] = stored
        return copy.deepcopy(stored)

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger = args.get("trigger_id") or args.get("interactivity_pointer")
        if _missing(trigger):
            raise _invalid_arguments(["[ERROR] missing required field: trigger_id"])
        view = self._check_view(args["view"], expected_type="modal")
        issued = self._triggers.get(str(trigger))
        if issued is None:
            raise _ApiError("invalid_trigger_id")
        if trigger in self._used_triggers:
            raise _ApiError("exchanged_trigger_id")
        if self.clock() - issued > TRIGGER_TTL_SECONDS:
            raise _ApiError("expired_trigger_id")
        self._used_triggers.add(str(trigger))
        return {"view": self._store_view(view)}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id = args.get("view_id")
        external_id = args.get("external_id")
        if _missing(view_id) and _missing(external_id):
            raise _invalid_arguments(["[ERROR] either view_id or external_id is required"])
        if _missing(view_id):
            view_id = self._view_by_external_id.get(str(external_id))
        current = self._views.get(str(view_id)) if view_id else None
        if current is None:
            raise _ApiError("not_found")
        view = self._check_view(args["view"], expected_type=current["type"])
        given_hash = args.get("hash")
        if not _missing(given_hash) and given_hash != current["hash"]:
            raise _ApiError("hash_conflict")
        return {"view": self._store_view(view, view_id=current["id"])}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = str(args["user_id"])
        if user_id not in self._users:
            raise _invalid_arguments(["invalid `user_id`"])
        view = self._check_view(args["view"], expected_type="home")
        current_id = self._home_by_user.get(user_id)
        given_hash = args.get("hash")
        if (
            current_id is not None
            and not _missing(given_hash)
            and given_hash != self._views[current_id]["hash"]
        ):
            raise _ApiError("hash_conflict")
        stored = self._store_view(view, view_id=current_id, user_id=user_id)
        self._home_by_user[user_id] = stored["id"]
        return {"view": stored}

    # files ---------------------------------------------------------------

    def _files_get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            length = int(args["length"])
        except (TypeError, ValueError):
            raise _invalid_arguments(["[ERROR] length must be an integer"]) from None
        file_id = self._new_id("F")
        self._pending_files[file_id] = {
            "file_id": file_id,
            "filename": str(args["filename"]),
            "length": length,
            "content": None,
        }
        return {"upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        files = args["files"]
        if not isinstance(files, list) or not files:
            raise _invalid_arguments(["[ERROR] files must be a non-empty JSON array"])
        channel_id = args.get("channel_id") or None
        if channel_id is not None:
            channel_id = self._resolve_channel(channel_id, allow_user_ids=False)
        entries = []
        for item in files:
            file_id = item.get("id") if isinstance(item, dict) else None
            pending = self._pending_files.get(str(file_id))
            if pending is None or pending["content"] is None:
                raise _ApiError("file_not_found")
            entries.append((item, pending))
        out = []
        for item, pending in entries:
            del self._pending_files[pending["file_id"]]
            title = item.get("title") or pending["filename"]
            self._uploaded.append(
                {
                    "file_id": pending["file_id"],
                    "filename": pending["filename"],
                    "title": title,
                    "channel_id": channel_id,
                    "content": pending["content"],
                    "initial_comment": args.get("initial_comment") or None,
                }
            )
            out.append(
                {
                    "id": pending["file_id"],
                    "name": pending["filename"],
                    "title": title,
                    "size": len(pending["content"]),
                    "user": BOT_USER_ID,
                }
            )
        return {"files": out}


# ---------------------------------------------------------------------- the bot's answers


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
        FakeSlack._message_content(body)
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
            FakeSlack._check_view(data.get("view"), expected_type="modal")
        except _ApiError as exc:
            return exc.extra.get("response_metadata", {}).get("messages") or [exc.code]
    return []
