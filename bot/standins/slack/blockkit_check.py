"""Block Kit validated the way Slack validates it, with Slack-style error messages.

Why: a fake that accepts any blocks lets layout bugs (a 76-char button label, a reused
action_id, an element a block kind does not take) reach production, where Slack answers
``invalid_blocks``. Used for messages, views, and the bot's own type-ahead answers.
"""

from __future__ import annotations

from typing import Any

from bot.standins.slack.replies import _ptr

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
