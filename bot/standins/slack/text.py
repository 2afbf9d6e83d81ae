"""Block Kit flattened to text, for assertions and for reading a conversation."""

from __future__ import annotations

from typing import Any


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
