"""The words of every message, modal and the Home tab, as Block Kit rendered from core
objects, one module per surface. Pure functions: no I/O, easy to look at in tests.

- :mod:`.cards`: the approvers' cards (a request or an extension to decide) and reminders;
- :mod:`.dms`: the requester's DMs and the notify channel's message per request;
- :mod:`.alerts`: alerts to the integration owners;
- :mod:`.modals`: the request form, the deny reason, the extension form;
- :mod:`.listing`: ``/elastic-access list`` pages and the help;
- :mod:`.home`: the App Home tab;
- :mod:`.format`: what they share (escaping where text enters mrkdwn, people, times).

Every message also carries a plain ``text`` (notifications, screen readers). The names below
are re-exported so that callers can keep writing ``blocks.<name>``.
"""

from bot.slack.blocks.alerts import owner_alert, parked_alert
from bot.slack.blocks.cards import approver_card, extension_card, reminder
from bot.slack.blocks.dms import (
    channel_update,
    expiry_notice,
    extend_button,
    extension_result,
    requester_update,
)
from bot.slack.blocks.format import (
    MAX_ERROR_TEXT,
    MAX_OPTION_TEXT,
    NO_UNFURL,
    STATE_EMOJI,
    Blocks,
    context,
    failure,
    label,
    option,
    section,
    status_line,
    summary_fields,
    when,
    who,
)
from bot.slack.blocks.home import home_view
from bot.slack.blocks.listing import HELP, help_text, request_line, request_list, who_approves
from bot.slack.blocks.modals import (
    DURATION_PRESETS,
    deny_modal,
    duration_options,
    extend_modal,
    request_modal,
    resource_option,
)

__all__ = [
    "DURATION_PRESETS",
    "HELP",
    "MAX_ERROR_TEXT",
    "MAX_OPTION_TEXT",
    "NO_UNFURL",
    "STATE_EMOJI",
    "Blocks",
    "approver_card",
    "channel_update",
    "context",
    "deny_modal",
    "duration_options",
    "expiry_notice",
    "extend_button",
    "extend_modal",
    "extension_card",
    "extension_result",
    "failure",
    "help_text",
    "home_view",
    "label",
    "owner_alert",
    "parked_alert",
    "reminder",
    "request_line",
    "request_list",
    "request_modal",
    "requester_update",
    "resource_option",
    "section",
    "status_line",
    "summary_fields",
    "when",
    "who",
    "who_approves",
    "option",
    "TYPEAHEAD_UNAVAILABLE",
]

#: The type-ahead's one option when Slack could not say which rules the person may use.
TYPEAHEAD_UNAVAILABLE = "Slack did not answer; type again in a minute"
