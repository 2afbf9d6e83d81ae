"""Form submissions: checked in the ack part (errors show in the form), filed in the lazy
part (the form has closed; the outcome arrives as a DM or next to the card)."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.action_ids import View
from bot.slack.listeners.errors import after_ack
from bot.slack.listeners.views.deny_reason import check_denial, deny
from bot.slack.listeners.views.extend_grant import check_extension, extend
from bot.slack.listeners.views.request_access import check_request, file_request


def register(app: App) -> None:
    app.view(View.REQUEST_ACCESS)(ack=after_ack(check_request), lazy=[file_request])
    app.view(View.DENY_REASON)(ack=after_ack(check_denial), lazy=[deny])
    app.view(View.EXTEND_GRANT)(ack=after_ack(check_extension), lazy=[extend])
