"""What the page shows, as one JSON object: read from the stand-ins, never from the bot.

Why from the stand-ins: the page must show what Slack's users and Elastic Cloud would see —
the messages as Slack holds them now (each update applied), the member list as Elastic
answers it — not what the bot believes it did. Block Kit is rendered to HTML here
(``blockkit``) so the page's script only places it.
"""

from __future__ import annotations

from typing import Any

from bot.sandbox.actions import FAULTS, Actions
from bot.sandbox.blockkit import esc, render
from bot.sandbox.transcript import role_list


def people(actions: Actions) -> list[dict[str, Any]]:
    """Everyone in the workspace, with whether Elastic knows them and how many DMs they have."""
    world = actions.world
    members = {m["email"].lower() for m in world.elastic.members()}
    out = []
    for user in world.seed.slack_users:
        email = (user.email or "").lower()
        out.append(
            {
                "id": user.id,
                "name": user.name,
                "real_name": user.real_name or user.name,
                "email": user.email or "",
                "guest": user.guest,
                "member": email in members,
                "dms": len(world.slack.messages_to(user.id)),
            }
        )
    return out


def names(actions: Actions) -> dict[str, str]:
    return {u.id: u.real_name or u.name for u in actions.world.seed.slack_users}


def state(actions: Actions, user: str) -> dict[str, Any]:
    """Everything the page shows while ``user`` is the person at the keyboard."""
    world = actions.world
    who = names(actions)
    dms = [
        {
            "ref": f"{m['channel']}/{m['ts']}",
            "edited": bool(m.get("edited")),
            "html": render(m.get("blocks"), names=who, text=m.get("text", "")),
        }
        for m in world.slack.messages_to(user)
    ]
    dm_channel = world.slack.dm_channel(user)
    files = [
        {"name": f["title"] or f["filename"], "size": len(f["content"] or b"")}
        for f in world.slack.uploaded_files()
        if dm_channel and f["channel_id"] == dm_channel
    ]
    private = [
        {
            "id": p.id,
            "origin": p.origin,
            "html": render(p.blocks, names=who, text=p.text),
        }
        for p in actions.private(user)
    ]
    home = world.slack.home_view(user)
    channel_id, channel_name = notify_channel(actions)
    channel = [
        {
            "ref": f"{m['channel']}/{m['ts']}",
            "html": render(m.get("blocks"), names=who, text=m.get("text", "")),
        }
        for m in (world.slack.messages_in(channel_id) if channel_id else [])
    ]
    return {
        "clock": world.clock.now().isoformat(timespec="seconds"),
        "ticking": getattr(world.clock, "ticking", False),
        "user": user,
        "people": people(actions),
        "dms": dms,
        "files": files,
        "private": private,
        "modal": modal(actions, user),
        "home": render(home.get("blocks"), names=who) if home else None,
        "channel": {"name": channel_name, "messages": channel} if channel_id else None,
        "elastic": elastic(actions),
        "faults": [
            {"name": name, "label": label, "on": actions.faults[name]}
            for name, label in FAULTS.items()
        ],
    }


def modal(actions: Actions, user: str) -> dict[str, Any] | None:
    view = actions.modal_view(user)
    if view is None:
        return None
    errors = actions.modals[user].errors
    return {
        "id": view["id"],
        "hash": view.get("hash", ""),
        "errors": errors,
        "title": esc((view.get("title") or {}).get("text", "")),
        "submit": esc((view.get("submit") or {}).get("text", "Submit")),
        "close": esc((view.get("close") or {}).get("text", "Cancel")),
        "html": render(view.get("blocks"), names=names(actions), errors=errors),
    }


def notify_channel(actions: Actions) -> tuple[str | None, str]:
    settings = actions.world.settings
    channel = settings.notify_channel if settings else None
    if not channel:
        return None, ""
    if channel.startswith("#"):
        return "C0NOTIFY", channel[1:]
    return channel, "access-log"


def elastic(actions: Actions) -> dict[str, Any]:
    """Elastic Cloud's side: members with their roles, and invitations, in words."""
    world = actions.world
    resource_names = world.resource_names()
    members = [
        {
            "email": m["email"],
            "name": m.get("name", ""),
            "user_id": m["user_id"],
            "roles": role_list(m.get("role_assignments") or {}, resource_names),
        }
        for m in sorted(world.elastic.members(), key=lambda m: m["email"])
    ]
    invitations = [
        {
            "email": i["email"],
            "expires_at": i["expires_at"],
            "expired": i.get("expired", False),
            "roles": role_list(i.get("role_assignments") or {}, resource_names),
        }
        for i in world.elastic.invitations()
    ]
    return {
        "organization": {
            "id": world.seed.organization.id,
            "name": world.seed.organization.name,
        },
        "members": members,
        "invitations": invitations,
        "resources": [
            {"name": name, "kind": kind, "id": rid} for name, (kind, rid) in world.resources.items()
        ],
    }
