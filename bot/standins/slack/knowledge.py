"""What the fake knows about Slack: the workspace's ids, documented limits, and per method
its required args, bot scopes and error codes.

Built in, so the project's tests run anywhere; :class:`~.fake.FakeSlack` replaces the method
tables with Slack's published fixtures (``web-api-methods/*.json``) when
:func:`default_fixtures_dir` finds them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def default_fixtures_dir(repo_root: Path | None = None) -> Path | None:
    """Where the shared Slack method fixtures live, or None when they are not on this machine.

    Why: CI and developers mount the shared folder beside the repo; tests must still run
    (with built-in knowledge) where it is absent.
    """
    import os

    root = repo_root or Path(__file__).resolve().parents[3]
    shared = Path(os.environ.get("ELASTIC_ACCESS_SHARED", root.parent / "shared"))
    path = shared / "slack-fixtures" / "web-api-methods"
    return path if path.is_dir() else None
