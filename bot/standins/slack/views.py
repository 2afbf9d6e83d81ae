"""Views: ``views.open`` (single-use trigger ids), ``views.update`` (``hash_conflict``) and
``views.publish`` (the App Home), with each view checked for size, title, callback id,
private metadata and its blocks.
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from typing import Any

from bot.standins.slack.blockkit_check import _BlockChecker
from bot.standins.slack.knowledge import (
    APP_ID,
    BOT_ID,
    CALLBACK_ID_MAX,
    MAX_VIEW_BLOCKS,
    MAX_VIEW_BYTES,
    PRIVATE_METADATA_MAX,
    TEAM_ID,
    TRIGGER_TTL_SECONDS,
    VIEW_TITLE_MAX,
)
from bot.standins.slack.replies import _ApiError, _invalid_arguments, _missing
from bot.standins.slack.state import _SlackState


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
            checker.text_obj(view["title"], "/view/title", max_len=VIEW_TITLE_MAX, plain_only=True)
        for key in ("submit", "close"):
            if view.get(key) is not None:
                checker.text_obj(view[key], f"/view/{key}", max_len=VIEW_TITLE_MAX, plain_only=True)
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


class _Views(_SlackState):
    """The views methods of :class:`~.fake.FakeSlack`."""

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
        view = _check_view(args["view"], expected_type="modal")
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
        view = _check_view(args["view"], expected_type=current["type"])
        given_hash = args.get("hash")
        if not _missing(given_hash) and given_hash != current["hash"]:
            raise _ApiError("hash_conflict")
        return {"view": self._store_view(view, view_id=current["id"])}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = str(args["user_id"])
        if user_id not in self._users:
            raise _invalid_arguments(["invalid `user_id`"])
        view = _check_view(args["view"], expected_type="home")
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
