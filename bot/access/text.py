"""Text the bot did not write, made safe to show in Slack.

Justifications, reasons, deployment and project names, tag values, display names and
Elastic's error messages all come from people or services other than the bot. Put into
Slack's ``mrkdwn`` as they are, ``<!channel>`` pings a whole channel and
``<https://evil.example|https://jira.example.com/INC-1>`` shows one link while opening
another. Slack's own rule is that ``&``, ``<`` and ``>`` are the only characters to escape;
anything escaped renders as the literal text the person typed.

Bidirectional controls and zero-width characters are removed from displayed text too: they
let a name read one way and be another (``admin\u202eresu``).
"""

from __future__ import annotations

import re

#: Bidirectional overrides, embeddings, isolates and marks (the Arabic letter mark too),
#: zero-width characters, the BOM.
_INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def clean(text: str) -> str:
    """``text`` without bidi controls and zero-width characters (for ``plain_text``)."""
    return _INVISIBLE.sub("", text)


def escape(text: object) -> str:
    """``text`` as literal characters inside Slack ``mrkdwn``: cleaned, then ``&``, ``<`` and
    ``>`` escaped so that no mention, channel ping or disguised link survives."""
    return clean(str(text)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">"}
_ENTITY = re.compile("&(?:amp|lt|gt);")


def unescape(text: str) -> str:
    """Slack's escaping undone: slash-command text arrives with ``&``, ``<`` and ``>`` as
    ``&amp;``, ``&lt;`` and ``&gt;``. Undone once on the way in, the bot stores what the
    person typed, and :func:`escape` on the way out escapes it exactly once."""
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(0)], text)


def plain(message: str) -> str:
    """A message the bot prepared for ``mrkdwn`` (untrusted parts escaped), for a place Slack
    shows as plain text (a form's inline errors): the escapes would show as ``&lt;``."""
    return clean(unescape(message))


def summary(text: str, limit: int = 200) -> str:
    """The first non-empty line of ``text``, cleaned, spaces collapsed, at most ``limit``
    characters: what a person is shown of a message from another service (an Elastic error),
    which may be long, multi-line or a page of someone else's markup."""
    first = next((line for line in clean(str(text)).splitlines() if line.strip()), "")
    first = " ".join(first.split())
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"
