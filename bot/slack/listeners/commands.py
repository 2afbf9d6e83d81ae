"""``/elastic-access``: open the form, file a request, list, revoke, help."""

from __future__ import annotations

import json
import logging

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.access.commands import (
    Extend,
    FileRequest,
    Help,
    ListRequests,
    OpenModal,
    Revoke,
    parse_command,
)
from bot.access.errors import AccessError
from bot.access.service import LIST_PAGE_SIZE, list_requests
from bot.access.states import State
from bot.access.text import escape, unescape
from bot.slack import blocks

log = logging.getLogger(__name__)
COMMAND = "/elastic-access"


def open_request_modal(
    client: WebClient, runtime, trigger_id: str, metadata: dict, user_id: str
) -> str | None:
    """Open the form (the trigger lasts 3 s), or return why ``user_id`` may not request at
    all: the form lists the organization's resources, which a guest must not browse. The
    check is one cached directory lookup, so the trigger is still fresh."""
    refusal = runtime.service.refusal_to_request(user_id)
    if refusal:
        return refusal
    policy = runtime.policy
    client.views_open(
        trigger_id=trigger_id,
        view=blocks.request_modal(
            integration_name=policy.integration_name,
            access_details=policy.access_details,
            max_duration=policy.max_duration,
            default_duration=policy.default_duration,
            metadata=metadata,
            break_glass=policy.rules.any_break_glass,
        ),
    )
    return None


def export_to_dm(client: WebClient, runtime, user_id: str, query) -> None:
    """Upload the audit trail as CSV to the caller's DM, scoped like their ``list``.

    Integration owners and auditors get every event; anyone else the events of what they
    may list: their own requests, and requests for resources they own."""
    from datetime import timedelta

    from bot.access.listing import visible_scope
    from bot.audit import events_csv

    service = runtime.service
    scope = visible_scope(query, service.viewer(user_id), service.owned_resource_keys(user_id))
    now = runtime.clock.now()
    since = query.since or now - timedelta(days=30)
    content = events_csv(
        runtime.store.export_events(
            since, query.until, requester_id=scope.requester_id, resource_keys=scope.resource_keys
        )
    )
    opened = client.chat_postMessage(
        channel=user_id,
        text=f"Audit trail of {scope.label} since {since:%Y-%m-%d %H:%M} UTC (CSV attached).",
        **blocks.NO_UNFURL,
    )
    client.files_upload_v2(
        channel=opened["channel"],
        content=content,
        filename=f"elastic-access-audit-{now:%Y%m%d-%H%M}.csv",
        title="elastic-access audit trail",
    )


def register(app: App, runtime) -> None:
    @app.command(COMMAND)
    def handle(ack: Ack, command: dict, respond: Respond, client: WebClient) -> None:
        user_id = command["user_id"]
        try:
            # Slack sends &, < and > as entities; parse (and store) what the person typed.
            parsed = parse_command(unescape(command.get("text", "")))
        except AccessError as exc:
            ack(
                response_type="ephemeral",
                text=blocks.help_text(runtime.policy.max_duration, str(exc)),
                **blocks.NO_UNFURL,
            )
            return
        if isinstance(parsed, Help):
            ack(response_type="ephemeral", text=blocks.help_text(runtime.policy.max_duration))
            return
        if isinstance(parsed, OpenModal):
            ack()
            try:
                refusal = open_request_modal(
                    client,
                    runtime,
                    command["trigger_id"],
                    {"channel": command.get("channel_id")},
                    user_id,
                )
                if refusal:
                    respond(
                        response_type="ephemeral", text=f":warning: {refusal}", **blocks.NO_UNFURL
                    )
            except SlackApiError as exc:
                log.warning("views.open failed: %s", exc.response.get("error"))
                respond(
                    response_type="ephemeral",
                    text=(
                        "Slack did not let me open the request form in time. Please run "
                        "`/elastic-access` again, or use `/elastic-access request <resource> <role> "
                        "<duration> <justification>`."
                    ),
                )
            return
        if isinstance(parsed, ListRequests):
            try:
                requests, total, heading, query = list_requests(
                    runtime.service, user_id, parsed.filters
                )
                if query.export:
                    ack(
                        response_type="ephemeral",
                        text="Preparing the export; I'll DM you the CSV file.",
                    )
                    export_to_dm(client, runtime, user_id, query)
                    return
            except AccessError as exc:
                ack(response_type="ephemeral", text=f":warning: {exc}", **blocks.NO_UNFURL)
                return
            text, body = blocks.request_list(
                requests,
                total,
                heading,
                page=query.page,
                page_size=LIST_PAGE_SIZE,
                filters=parsed.filters,
            )
            ack(response_type="ephemeral", text=text, blocks=body, **blocks.NO_UNFURL)
            return
        # Filing and revoking call Elastic Cloud: acknowledge at once and work on a
        # background thread, answering through respond(); Bolt's own threads stay free
        # for acknowledging everyone else within Slack's 3 seconds.
        ack()

        def work() -> None:
            try:
                if isinstance(parsed, FileRequest):
                    request = runtime.service.file_request(
                        user_id,
                        parsed.resource,
                        parsed.role,
                        parsed.duration,
                        parsed.justification,
                        break_glass=parsed.break_glass,
                    )
                    if parsed.break_glass:
                        granted = request.expires_at is not None and request.state is State.ACTIVE
                        text = (
                            f":rotating_light: Break-glass {request.ref}: "
                            f"`{escape(request.role_id)}` on {blocks.label(request)} "
                            + (
                                f"is yours until {blocks.when(request.expires_at)}."
                                if granted
                                else "is being granted; I'll DM you."
                            )
                            + " The integration owners have been told."
                        )
                    else:
                        text = (
                            f"Request {request.ref} filed: `{escape(request.role_id)}` on "
                            f"{blocks.label(request)}. I'll DM you when it is decided."
                        )
                    respond(response_type="ephemeral", text=text, **blocks.NO_UNFURL)
                elif isinstance(parsed, Extend):
                    request = runtime.service.request_extension(
                        parsed.request_id, user_id, parsed.duration, parsed.reason
                    )
                    if request.extension_seconds is None:
                        respond(
                            response_type="ephemeral",
                            text=f"{request.ref} extended: it now ends {blocks.when(request.expires_at)}.",
                        )
                    else:
                        respond(
                            response_type="ephemeral",
                            text=f"Extension of {request.ref} sent for approval.",
                        )
                elif isinstance(parsed, Revoke):
                    request = runtime.service.revoke(parsed.request_id, user_id)
                    respond(
                        response_type="ephemeral",
                        text=f"Request {request.ref} is {request.state.value}: the role has been removed.",
                    )
            except AccessError as exc:
                respond(response_type="ephemeral", text=f":warning: {exc}", **blocks.NO_UNFURL)
            except Exception:
                log.exception("command %s failed", json.dumps(command.get("text", ""))[:200])
                respond(
                    response_type="ephemeral",
                    text=(
                        ":warning: Something went wrong on my side; nothing was filed. "
                        "Please try again in a minute."
                    ),
                )

        runtime.background(work)
