"""Buttons. A decision button's ack part only reads which request it is for; the decision
is its lazy part. Buttons that open a form do so in the ack part (the trigger lasts 3 s)."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.action_ids import Action
from bot.slack.listeners.actions.decisions import (
    acknowledge_parked,
    approve,
    approve_extension,
    deny_extension,
    revoke_now,
    take_click,
)
from bot.slack.listeners.actions.deny import deny_without_reason, open_deny_form
from bot.slack.listeners.actions.extend import open_extend_form
from bot.slack.listeners.actions.list_page import list_page
from bot.slack.listeners.actions.open_request_form import open_form_from_home
from bot.slack.listeners.actions.request_again import open_again_form
from bot.slack.listeners.actions.resource_picked import resource_picked
from bot.slack.listeners.errors import after_ack


def register(app: App) -> None:
    for action, decide in (
        (Action.APPROVE, approve),
        (Action.APPROVE_EXTENSION, approve_extension),
        (Action.DENY_EXTENSION, deny_extension),
        (Action.REVOKE_NOW, revoke_now),
        (Action.ACK_PARKED, acknowledge_parked),
    ):
        app.action(action)(ack=after_ack(take_click), lazy=[decide])
    app.action(Action.DENY)(ack=after_ack(open_deny_form), lazy=[deny_without_reason])
    app.action(Action.EXTEND)(after_ack(open_extend_form))
    app.action(Action.LIST_PREV)(after_ack(list_page))
    app.action(Action.LIST_NEXT)(after_ack(list_page))
    app.action(Action.OPEN_REQUEST_MODAL)(after_ack(open_form_from_home))
    app.action(Action.REQUEST_AGAIN)(after_ack(open_again_form))
    app.action(Action.RESOURCE)(after_ack(resource_picked))
