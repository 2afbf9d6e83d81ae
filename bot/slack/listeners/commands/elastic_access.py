"""``/elastic-access …``: help, the form and ``list`` are answered in the ack; what calls
Elastic Cloud or writes (file, extend, revoke), ``who-approves`` (it reads Slack's user
groups) and the export are handed to the lazy part."""

from __future__ import annotations

import logging

from slack_bolt import Ack, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.access.commands import (
    Extend,
    FileRequest,
    Help,
    ListRequests,
    OpenModal,
    Revoke,
    WhoApproves,
    parse_command,
)
from bot.access.errors import AccessError
from bot.access.service import LIST_PAGE_SIZE, AuditExport, audit_export, list_requests
from bot.access.text import unescape
from bot.slack import blocks
from bot.slack.blocks import replies
from bot.slack.listeners.commands.export import send_export
from bot.slack.listeners.request_form import open_request_form

log = logging.getLogger(__name__)


def answer(ack: Ack, command: dict, respond: Respond, client: WebClient, runtime, later) -> None:
    user_id = command["user_id"]
    try:
        # Slack sends &, < and > as entities; parse (and store) what the person typed.
        parsed = parse_command(unescape(command.get("text", "")))
    except AccessError as exc:
        help_text = blocks.help_text(runtime.policy.max_duration, str(exc))
        ack(response_type="ephemeral", text=help_text, **blocks.NO_UNFURL)
        return
    if isinstance(parsed, Help):
        ack(response_type="ephemeral", text=blocks.help_text(runtime.policy.max_duration))
    elif isinstance(parsed, OpenModal):
        ack()
        metadata = {"channel": command.get("channel_id")}
        try:
            open_request_form(client, runtime, command["trigger_id"], metadata, user_id)
        except SlackApiError as exc:
            log.warning("views.open failed: %s", exc.response.get("error"))
            respond(response_type="ephemeral", text=replies.REQUEST_FORM_TOO_SLOW)
    elif isinstance(parsed, ListRequests):
        export = audit_export(runtime.service, user_id, parsed.filters)
        if export is not None:
            later(export)
            ack(response_type="ephemeral", text=replies.EXPORT_PREPARING)
            return
        requests, total, heading, query = list_requests(runtime.service, user_id, parsed.filters)
        text, body = blocks.request_list(
            requests,
            total,
            heading,
            page=query.page,
            page_size=LIST_PAGE_SIZE,
            filters=parsed.filters,
        )
        ack(response_type="ephemeral", text=text, blocks=body, **blocks.NO_UNFURL)
    else:  # filing, extending and revoking call Elastic Cloud: after the ack
        later(parsed)
        ack()


def act(later, command: dict, respond: Respond, client: WebClient, runtime) -> None:
    """The lazy part: the work is recorded by the service before the reply says so."""
    parsed, user_id, service = later.value, command["user_id"], runtime.service
    if isinstance(parsed, AuditExport):
        send_export(client, runtime, user_id, parsed)
        return
    if isinstance(parsed, FileRequest):
        request = service.file_request(
            user_id,
            parsed.resource,
            parsed.role,
            parsed.duration,
            parsed.justification,
            break_glass=parsed.break_glass,
        )
        text = replies.filed(request) if not parsed.break_glass else replies.broke_glass(request)
        respond(response_type="ephemeral", text=text, **blocks.NO_UNFURL)
    elif isinstance(parsed, Extend):
        request = service.request_extension(
            parsed.request_id, user_id, parsed.duration, parsed.reason
        )
        respond(response_type="ephemeral", text=replies.extension(request))
    elif isinstance(parsed, WhoApproves):
        explanation = service.who_approves(user_id, parsed.resource, parsed.role)
        text, body = blocks.who_approves(explanation)
        respond(response_type="ephemeral", text=text, blocks=body, **blocks.NO_UNFURL)
    elif isinstance(parsed, Revoke):
        request = service.revoke(parsed.request_id, user_id)
        respond(response_type="ephemeral", text=replies.revoked(request))
