"""Slack messages and Elastic Cloud's state as plain text, for the scenario runner's output.

Why plain text: a scenario's output is read in a terminal or a CI log, and diffed; the page
has the HTML (``blockkit``). Mentions become ``@name``, links ``text (url)``, buttons
``[Approve]``, so a log line reads like the message did.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

_TOKEN = re.compile(r"<([^<>\n]+)>")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


def unescape(text: str) -> str:
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    return text


def mrkdwn_plain(text: str, name_of: Callable[[str], str]) -> str:
    """mrkdwn without its markup: ``<@U1>`` → ``@alice``, ``<url|text>`` → ``text (url)``."""

    def token(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "@" + (label or name_of(target[1:]))
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!subteam^"):
            return label or "@" + target.removeprefix("!subteam^")
        if target.startswith("!"):
            return label or "@" + target[1:].split("^")[0]
        return f"{label} ({target})" if label and label != target else target

    return unescape(_TOKEN.sub(token, text))


def text_of_element(element: dict[str, Any]) -> str:
    text = element.get("text")
    if isinstance(text, dict):
        return str(text.get("text", ""))
    return str(text or "")


def message_lines(message: dict[str, Any], name_of: Callable[[str], str]) -> list[str]:
    """A message (or a view) as lines of text: its blocks, else its ``text``."""
    blocks = message.get("blocks") or []
    if not blocks:
        return mrkdwn_plain(str(message.get("text") or ""), name_of).splitlines() or [""]
    lines: list[str] = []
    for block in blocks:
        lines += block_lines(block, name_of)
    return lines


def block_lines(block: dict[str, Any], name_of: Callable[[str], str]) -> list[str]:
    kind = block.get("type")

    def plain(obj: Any) -> str:
        if not isinstance(obj, dict):
            return ""
        return mrkdwn_plain(str(obj.get("text", "")), name_of)

    if kind in ("section", "header"):
        lines = plain(block.get("text")).splitlines()
        fields = [plain(f).replace("\n", ": ", 1) for f in block.get("fields") or []]
        if fields:
            lines.append(" · ".join(f.replace("\n", " ") for f in fields))
        accessory = block.get("accessory")
        if isinstance(accessory, dict) and accessory.get("type") == "button":
            lines.append(f"[{text_of_element(accessory)}]")
        return lines
    if kind == "context":
        return [" ".join(plain(e) for e in block.get("elements") or [] if isinstance(e, dict))]
    if kind == "actions":
        labels = [
            f"[{text_of_element(e)}]" if e.get("type") == "button" else f"[{e.get('type')}]"
            for e in block.get("elements") or []
            if isinstance(e, dict)
        ]
        return [" ".join(labels)]
    if kind == "divider":
        return ["―――"]
    if kind == "input":
        return [f"{plain(block.get('label'))}: <{(block.get('element') or {}).get('type')}>"]
    return [f"<{kind} block>"]


def buttons(blocks: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every button in ``blocks`` (actions blocks and section accessories)."""
    found = []
    for block in blocks:
        for element in block.get("elements") or []:
            if isinstance(element, dict) and element.get("type") == "button":
                found.append(element | {"block_id": block.get("block_id", "")})
        accessory = block.get("accessory")
        if isinstance(accessory, dict) and accessory.get("type") == "button":
            found.append(accessory | {"block_id": block.get("block_id", "")})
    return found


def holdings_lines(
    members: list[dict[str, Any]], invitations: list[dict[str, Any]], names: dict[str, str]
) -> list[str]:
    """Elastic Cloud's organization: each member's roles, then the pending invitations.
    ``names`` maps resource IDs to their names."""
    lines = []
    for member in sorted(members, key=lambda m: m["email"]):
        roles = role_list(member.get("role_assignments") or {}, names)
        lines.append(f"{member['email']}: {', '.join(roles) if roles else '(no roles)'}")
    for invitation in invitations:
        roles = role_list(invitation.get("role_assignments") or {}, names)
        state = "expired" if invitation.get("expired") else "pending"
        lines.append(f"invitation to {invitation['email']} ({state}): {', '.join(roles)}")
    return lines


def role_list(assignments: dict[str, Any], names: dict[str, str]) -> list[str]:
    """``role on target`` for each of a RoleAssignments object's entries."""
    out = [f"{a['role_id']} on the organization" for a in assignments.get("organization") or []]
    scoped = [("deployment", a, "deployment_ids") for a in assignments.get("deployment") or []]
    for kind, entries in (assignments.get("project") or {}).items():
        scoped += [(kind, a, "project_ids") for a in entries or []]
    for kind, entry, key in scoped:
        targets = (
            ["all deployments" if kind == "deployment" else f"all {kind} projects"]
            if entry.get("all")
            else []
        )
        targets += [names.get(i, i) for i in entry.get(key) or []]
        out += [f"{entry['role_id']} on {t}" for t in targets]
    return out
