"""Block Kit as HTML, for the sandbox page: the bot's real messages, forms and Home tab.

Faithful enough to read and to click: sections (text, fields, accessory), headers, dividers,
context, actions (buttons, selects), inputs (text, static and type-ahead selects, checkboxes,
radio buttons, date, time and number pickers), images as their alt text (the page loads
nothing from outside). A block or element this module does not know is shown as its JSON in
a ``<pre>``: never dropped, so a new kind of block the bot starts sending is seen at once.

Everything from a message is text to escape, never markup: plain text is HTML-escaped, and
mrkdwn is rendered minimally — ``*bold*``, ``_italic_``, ``~strike~``, `` `code` ``,
code blocks, ``>`` quotes, ``<@U123>`` mentions, ``<url|text>`` links — with links kept only
for ``http``, ``https`` and ``mailto`` addresses (``javascript:`` and the like become text).
Interactive elements carry ``data-*`` attributes the page's script acts on.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from typing import Any

SAFE_SCHEMES = ("http://", "https://", "mailto:")

#: The shortcodes the bot's messages use, as the characters Slack shows.
EMOJI = {
    "warning": "⚠️",
    "parking": "🅿️",
    "checkered_flag": "🏁",
    "rotating_light": "🚨",
    "x": "❌",
    "zzz": "💤",
    "white_check_mark": "✅",
    "no_entry": "⛔",
    "no_entry_sign": "🚫",
    "mag": "🔍",
    "large_green_circle": "🟢",
    "inbox_tray": "📥",
    "hourglass_flowing_sand": "⏳",
    "hourglass": "⌛",
    "gear": "⚙️",
    "email": "📧",
    "arrow_double_up": "⏫",
    "heavy_multiplication_x": "✖️",
    "bust_in_silhouette": "👤",
    "bell": "🔔",
    "alarm_clock": "⏰",
    "lock": "🔒",
    "key": "🔑",
}

_TOKEN = re.compile(r"<([^<>\n]*)>")
_CODE_BLOCK = re.compile(r"```(.*?)```", re.S)
_INLINE = [
    (re.compile(r"`([^`\n]+)`"), "code"),
    (re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])"), "strong"),
    (re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])"), "em"),
    (re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])"), "del"),
]
_EMOJI = re.compile(r":([a-z0-9_+-]+):")
_HOLE = "\x00"


def esc(text: Any) -> str:
    """HTML-escaped text, quotes included (safe inside attributes too)."""
    return html.escape(str(text), quote=True)


def safe_href(url: str) -> str | None:
    """``url`` if it is a web or mail address, else None (``javascript:``, ``data:`` …)."""
    cleaned = "".join(ch for ch in url.strip() if ch.isprintable() and not ch.isspace())
    if cleaned.lower().startswith(SAFE_SCHEMES) and cleaned == url.strip():
        return cleaned
    return None


def _slack_unescape(text: str) -> str:
    """Slack's three entities back to characters (they are escaped again as HTML)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mrkdwn(text: str, names: Mapping[str, str] | None = None) -> str:
    """mrkdwn → HTML; every character of ``text`` ends up escaped or in a tag made here."""
    names = names or {}
    text = str(text).replace(_HOLE, "")
    parts = _CODE_BLOCK.split(text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f'<pre class="bk-code">{esc(_slack_unescape(part.strip(chr(10))))}</pre>')
        else:
            out.append(_lines(part, names))
    return "".join(out)


def _lines(text: str, names: Mapping[str, str]) -> str:
    rendered: list[str] = []
    quote: list[str] = []
    for line in text.split("\n"):
        if line.startswith(("&gt;", ">")):
            quote.append(_inline(line.removeprefix("&gt;").removeprefix(">"), names))
            continue
        if quote:
            rendered.append(f"<blockquote>{'<br>'.join(quote)}</blockquote>")
            quote = []
        rendered.append(_inline(line, names) + "<br>")
    if quote:
        rendered.append(f"<blockquote>{'<br>'.join(quote)}</blockquote>")
    joined = "".join(rendered)
    return joined[: -len("<br>")] if joined.endswith("<br>") else joined


def _inline(text: str, names: Mapping[str, str]) -> str:
    """One line: tokens (mentions, links) set aside, the rest escaped then formatted."""
    holes: list[str] = []

    def hole(markup: str) -> str:
        holes.append(markup)
        return f"{_HOLE}{len(holes) - 1}{_HOLE}"

    def token(match: re.Match[str]) -> str:
        return hole(_token(match.group(1), names))

    line = _TOKEN.sub(token, text)
    line = esc(_slack_unescape(line))
    line = _INLINE[0][0].sub(lambda m: hole(f"<code>{m.group(1)}</code>"), line)
    for pattern, tag in _INLINE[1:]:
        line = pattern.sub(lambda m, tag=tag: f"<{tag}>{m.group(1)}</{tag}>", line)
    line = _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), line)
    return re.sub(f"{_HOLE}(\\d+){_HOLE}", lambda m: holes[int(m.group(1))], line)


def _token(inner: str, names: Mapping[str, str]) -> str:
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        who = label or names.get(target[1:], target[1:])
        return f'<span class="bk-mention" data-user="{esc(target[1:])}">@{esc(who)}</span>'
    if target.startswith("#"):
        return f'<span class="bk-mention">#{esc(label or target[1:])}</span>'
    if target.startswith("!subteam^"):
        return f'<span class="bk-mention">{esc(label or "@" + target[9:])}</span>'
    if target.startswith("!date^"):
        return esc(_slack_unescape(label or target))
    if target.startswith("!"):
        return f'<span class="bk-mention">@{esc(label or target[1:])}</span>'
    if ":" not in target:  # not a link Slack would make: the brackets are text
        return esc(_slack_unescape(f"<{inner}>"))
    href = safe_href(_slack_unescape(target))
    shown = esc(_slack_unescape(label or target))
    if href is None:
        return shown
    return f'<a href="{esc(href)}" target="_blank" rel="noopener noreferrer">{shown}</a>'


def text_html(obj: Any, names: Mapping[str, str] | None = None) -> str:
    """A text object (``plain_text`` or ``mrkdwn``) as HTML."""
    if isinstance(obj, str):
        return esc(obj)
    if not isinstance(obj, dict):
        return ""
    if obj.get("type") == "mrkdwn":
        return mrkdwn(str(obj.get("text", "")), names)
    return _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), esc(obj.get("text", "")))


def unknown(node: Any) -> str:
    """What this module cannot draw, as its JSON: seen, never dropped."""
    dumped = json.dumps(node, indent=2, ensure_ascii=False, sort_keys=True)
    return f'<pre class="bk-unknown">{esc(dumped)}</pre>'


class Renderer:
    """Renders blocks; ``errors`` (block_id → message) are a form's inline errors."""

    def __init__(
        self, names: Mapping[str, str] | None = None, errors: Mapping[str, str] | None = None
    ) -> None:
        self.names = names or {}
        self.errors = errors or {}

    def text(self, obj: Any) -> str:
        return text_html(obj, self.names)

    def blocks(self, blocks: Any) -> str:
        if not isinstance(blocks, list):
            return unknown(blocks)
        return "".join(self.block(b) for b in blocks)

    def block(self, block: Any) -> str:
        kind = block.get("type") if isinstance(block, dict) else None
        draw = getattr(self, f"block_{kind}", None) if isinstance(kind, str) else None
        if draw is None:
            return unknown(block)
        return draw(block)

    # -- blocks ----------------------------------------------------------------------------
    def block_section(self, block: dict[str, Any]) -> str:
        body = ""
        if block.get("text"):
            body += f'<div class="bk-text">{self.text(block["text"])}</div>'
        if block.get("fields"):
            fields = "".join(f'<div class="bk-field">{self.text(f)}</div>' for f in block["fields"])
            body += f'<div class="bk-fields">{fields}</div>'
        accessory = block.get("accessory")
        side = ""
        if accessory is not None:
            side = f'<div class="bk-accessory">{self.element(accessory, block)}</div>'
        return f'<div class="bk-block bk-section"><div class="bk-main">{body}</div>{side}</div>'

    def block_header(self, block: dict[str, Any]) -> str:
        return f'<h3 class="bk-block bk-header">{self.text(block.get("text"))}</h3>'

    def block_divider(self, block: dict[str, Any]) -> str:
        return '<hr class="bk-block bk-divider">'

    def block_context(self, block: dict[str, Any]) -> str:
        parts = []
        for element in block.get("elements") or []:
            kind = element.get("type") if isinstance(element, dict) else None
            if kind in ("mrkdwn", "plain_text"):
                parts.append(f"<span>{self.text(element)}</span>")
            elif kind == "image":
                parts.append(self.element(element, block))
            else:
                parts.append(unknown(element))
        return f'<div class="bk-block bk-context">{"".join(parts)}</div>'

    def block_actions(self, block: dict[str, Any]) -> str:
        inner = "".join(self.element(e, block) for e in block.get("elements") or [])
        return f'<div class="bk-block bk-actions">{inner}</div>'

    def block_image(self, block: dict[str, Any]) -> str:
        return f'<div class="bk-block">{self.element(block, block)}</div>'

    def block_input(self, block: dict[str, Any]) -> str:
        block_id = str(block.get("block_id", ""))
        optional = ' <span class="bk-optional">(optional)</span>' if block.get("optional") else ""
        hint = f'<div class="bk-hint">{self.text(block["hint"])}</div>' if block.get("hint") else ""
        error = self.errors.get(block_id)
        shown = f'<div class="bk-error" role="alert">{esc(error)}</div>' if error else ""
        element = self.element(block.get("element"), block, form=True)
        return (
            f'<div class="bk-block bk-input{" bk-has-error" if error else ""}" '
            f'data-block-id="{esc(block_id)}">'
            f"<label>{self.text(block.get('label'))}{optional}</label>"
            f"{element}{hint}{shown}</div>"
        )

    # -- elements --------------------------------------------------------------------------
    def element(self, element: Any, block: dict[str, Any], *, form: bool = False) -> str:
        kind = element.get("type") if isinstance(element, dict) else None
        draw = getattr(self, f"el_{kind}", None) if isinstance(kind, str) else None
        if draw is None:
            return unknown(element)
        return draw(element, block, form)

    def _data(self, element: dict[str, Any], block: dict[str, Any]) -> str:
        attrs = {
            "data-action-id": element.get("action_id", ""),
            "data-block-id": block.get("block_id", ""),
            "data-type": element.get("type", ""),
        }
        # A choice outside a form, or in an input that dispatches, is sent at once.
        if block.get("dispatch_action") or (
            block.get("type") in ("actions", "section") and element.get("type") != "button"
        ):
            attrs["data-dispatch"] = "1"
        return " ".join(f'{k}="{esc(v)}"' for k, v in attrs.items())

    def el_button(self, element: dict[str, Any], block: dict[str, Any], form: bool) -> str:
        label = self.text(element.get("text"))
        style = element.get("style", "")
        if element.get("url"):
            href = safe_href(str(element["url"]))
            if href is None:
                return f'<span class="bk-btn bk-disabled">{label}</span>'
            return (
                f'<a class="bk-btn" href="{esc(href)}" target="_blank" '
                f'rel="noopener noreferrer">{label}</a>'
            )
        confirm = ""
        if isinstance(element.get("confirm"), dict):
            c = element["confirm"]
            words = " — ".join(
                str((c.get(k) or {}).get("text", "")) for k in ("title", "text") if c.get(k)
            )
            confirm = f' data-confirm="{esc(words)}"'
        return (
            f'<button type="button" class="bk-btn bk-click {f"bk-{esc(style)}" if style else ""}" '
            f'{self._data(element, block)} data-value="{esc(element.get("value", ""))}"'
            f"{confirm}>{label}</button>"
        )

    def _option(self, option: dict[str, Any], selected: bool) -> str:
        chosen = " selected" if selected else ""
        label = str((option.get("text") or {}).get("text", ""))
        return f'<option value="{esc(option.get("value", ""))}"{chosen}>{esc(label)}</option>'

    def el_static_select(self, element: dict[str, Any], block: dict[str, Any], form: bool) -> str:
        initial = (element.get("initial_option") or {}).get("value")
        placeholder = str((element.get("placeholder") or {}).get("text", "Select"))
        options = f'<option value="">{esc(placeholder)}</option>'
        options += "".join(
            self._option(o, o.get("value") == initial) for o in element.get("options") or []
        )
        for group in element.get("option_groups") or []:
            inner = "".join(
                self._option(o, o.get("value") == initial) for o in group.get("options") or []
            )
            options += f'<optgroup label="{esc((group.get("label") or {}).get("text", ""))}">{inner}</optgroup>'
        return f'<select class="bk-select" {self._data(element, block)}>{options}</select>'

    def el_external_select(self, element: dict[str, Any], block: dict[str, Any], form: bool) -> str:
        initial = element.get("initial_option") or {}
        label = str((initial.get("text") or {}).get("text", ""))
        placeholder = str((element.get("placeholder") or {}).get("text", "Type to search"))
        return (
            f'<div class="bk-typeahead" {self._data(element, block)} '
            f'data-value="{esc(initial.get("value", ""))}" data-label="{esc(label)}">'
            f'<input type="text" class="bk-typeahead-input" autocomplete="off" '
            f'placeholder="{esc(placeholder)}" value="{esc(label)}">'
            f'<ul class="bk-suggestions"></ul></div>'
        )

    def el_plain_text_input(
        self, element: dict[str, Any], block: dict[str, Any], form: bool
    ) -> str:
        value = esc(element.get("initial_value", ""))
        placeholder = esc((element.get("placeholder") or {}).get("text", ""))
        limit = element.get("max_length")
        maxlength = f' maxlength="{int(limit)}"' if isinstance(limit, int) else ""
        data = self._data(element, block)
        if element.get("multiline"):
            return (
                f'<textarea class="bk-text-input" rows="3" {data} placeholder="{placeholder}"'
                f"{maxlength}>{value}</textarea>"
            )
        return (
            f'<input type="text" class="bk-text-input" {data} placeholder="{placeholder}" '
            f'value="{value}"{maxlength}>'
        )

    def _choices(self, element: dict[str, Any], block: dict[str, Any], kind: str) -> str:
        initial = element.get("initial_options") or (
            [element["initial_option"]] if element.get("initial_option") else []
        )
        chosen = {o.get("value") for o in initial if isinstance(o, dict)}
        name = esc(f"{block.get('block_id', '')}:{element.get('action_id', '')}")
        rows = []
        for option in element.get("options") or []:
            checked = " checked" if option.get("value") in chosen else ""
            description = option.get("description")
            more = f'<div class="bk-hint">{self.text(description)}</div>' if description else ""
            rows.append(
                f'<label class="bk-choice"><input type="{kind}" name="{name}" '
                f'value="{esc(option.get("value", ""))}"{checked}> '
                f"{self.text(option.get('text'))}{more}</label>"
            )
        return f'<div class="bk-choices" {self._data(element, block)}>{"".join(rows)}</div>'

    def el_checkboxes(self, element: dict[str, Any], block: dict[str, Any], form: bool) -> str:
        return self._choices(element, block, "checkbox")

    def el_radio_buttons(self, element: dict[str, Any], block: dict[str, Any], form: bool) -> str:
        return self._choices(element, block, "radio")

    def el_datepicker(self, element: dict[str, Any], block: dict[str, Any], form: bool) -> str:
        value = esc(element.get("initial_date", ""))
        return f'<input type="date" class="bk-text-input" {self._data(element, block)} value="{value}">'

    def el_timepicker(self, element: dict[str, Any], block: dict[str, Any], form: bool) -> str:
        value = esc(element.get("initial_time", ""))
        return f'<input type="time" class="bk-text-input" {self._data(element, block)} value="{value}">'

    def el_number_input(self, element: dict[str, Any], block: dict[str, Any], form: bool) -> str:
        value = esc(element.get("initial_value", ""))
        return f'<input type="number" class="bk-text-input" {self._data(element, block)} value="{value}">'

    def el_image(self, element: dict[str, Any], block: dict[str, Any], form: bool) -> str:
        # Shown as its alt text: the page fetches nothing from outside 127.0.0.1.
        return f'<span class="bk-image">[image: {esc(element.get("alt_text", ""))}]</span>'

    def el_overflow(self, element: dict[str, Any], block: dict[str, Any], form: bool) -> str:
        return "".join(
            f'<button type="button" class="bk-btn bk-click bk-overflow" {self._data(element, block)} '
            f'data-value="{esc(o.get("value", ""))}">{self.text(o.get("text"))}</button>'
            for o in element.get("options") or []
        )


def render(
    blocks: Any,
    *,
    names: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    text: str = "",
) -> str:
    """A message's or a view's blocks as HTML; a message without blocks shows its ``text``."""
    if not blocks:
        return f'<div class="bk-block bk-text">{mrkdwn(text, names)}</div>'
    return Renderer(names, errors).blocks(blocks)
