"""Someone was deactivated, made a guest, or changed their email: their access is re-checked
against Slack as it is now (the event's own copy is not relied on), and whatever they may no
longer have ends within seconds."""

from __future__ import annotations


def user_changed(event: dict, later) -> None:
    """The ack part (Bolt acks events itself): whom to re-check."""
    user_id = (event.get("user") or {}).get("id")
    if isinstance(user_id, str) and user_id:
        later(user_id)


def recheck(later, runtime) -> None:
    runtime.service.person_changed(later.value)
