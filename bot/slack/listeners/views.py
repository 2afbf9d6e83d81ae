"""Modal submissions: the request form and the deny reason."""

from __future__ import annotations

import json
import logging

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.access.durations import DurationError, parse_duration
from bot.access.errors import AccessError, InvalidRequest
from bot.access.limits import check_reason
from bot.access.text import clean, plain
from bot.slack import blocks
from bot.slack.action_ids import Field, View

log = logging.getLogger(__name__)


def _checked(state: dict, block: str) -> bool:
    element = (state.get(block) or {}).get(block) or {}
    return bool(element.get("selected_options"))


def _value(state: dict, block: str) -> str:
    element = (state.get(block) or {}).get(block) or {}
    if element.get("selected_option"):
        return element["selected_option"].get("value", "")
    return element.get("value") or ""


def register(app: App, runtime) -> None:
    register_extend(app, runtime)

    @app.view(View.REQUEST_ACCESS)
    def submit_request(ack: Ack, body: dict, view: dict, client: WebClient) -> None:
        user_id = body["user"]["id"]
        state = view.get("state", {}).get("values", {})
        resource, role = _value(state, Field.RESOURCE), _value(state, Field.ROLE)
        justification = _value(state, Field.JUSTIFICATION).strip()
        break_glass = _checked(state, Field.BREAK_GLASS)
        errors: dict[str, str] = {}
        try:
            duration = parse_duration(_value(state, Field.DURATION))
        except DurationError as exc:
            errors[Field.DURATION] = clean(str(exc))[:150]
            duration = None
        if not resource:
            errors[Field.RESOURCE] = "Pick a resource."
        if not role:
            errors[Field.ROLE] = "Pick a role."
        if not justification:
            errors[Field.JUSTIFICATION] = "Say why you need this access."
        if not errors and duration is not None:
            try:
                _, rule = runtime.service.validate(resource, role, duration, justification)
                if break_glass and not rule.break_glass:
                    errors[Field.BREAK_GLASS] = (
                        "Policy does not allow break-glass for this role here."
                    )
            except InvalidRequest as exc:
                errors[exc.field or Field.RESOURCE] = _error(exc)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()

        def work() -> None:
            try:
                runtime.service.file_request(
                    user_id, resource, role, duration, justification, break_glass=break_glass
                )
            except AccessError as exc:
                _dm(client, user_id, f":warning: Your access request was not filed: {exc}")
            except Exception:
                log.exception("filing a request from the form failed")
                _dm(
                    client,
                    user_id,
                    ":warning: Something went wrong on my side; your request was not filed. Please try again.",
                )

        runtime.background(work)

    @app.view(View.DENY_REASON)
    def submit_deny(ack: Ack, body: dict, view: dict, client: WebClient) -> None:
        user_id = body["user"]["id"]
        try:
            metadata = json.loads(view.get("private_metadata") or "{}")
            request_id = int(metadata["request_id"])
        except (ValueError, KeyError, TypeError):
            ack(
                response_action="errors",
                errors={Field.REASON: "This form is out of date; use the Deny button again."},
            )
            return
        reason = _value(view.get("state", {}).get("values", {}), Field.REASON).strip() or None
        try:
            check_reason(reason)
            request = runtime.service.get(request_id)
            runtime.service.check_decider(request, user_id)
        except AccessError as exc:
            ack(response_action="errors", errors={Field.REASON: _error(exc)})
            return
        ack()

        def work() -> None:
            try:
                runtime.service.decide(request_id, user_id, approve=False, reason=reason)
            except AccessError as exc:
                url = metadata.get("response_url")
                if url:
                    WebhookClient(url).send(
                        text=f":warning: {exc}",
                        response_type="ephemeral",
                        replace_original=False,
                        **blocks.NO_UNFURL,
                    )
                else:
                    _dm(client, user_id, f":warning: {exc}")

        runtime.background(work)


def register_extend(app: App, runtime) -> None:
    @app.view(View.EXTEND_GRANT)
    def submit_extend(ack: Ack, body: dict, view: dict, client: WebClient) -> None:
        user_id = body["user"]["id"]
        state = view.get("state", {}).get("values", {})
        try:
            request_id = int(json.loads(view.get("private_metadata") or "{}")["request_id"])
            duration = parse_duration(_value(state, Field.DURATION))
        except (ValueError, KeyError, TypeError, DurationError):
            ack(
                response_action="errors",
                errors={Field.DURATION: "Pick how much more time you need."},
            )
            return
        reason = _value(state, Field.REASON)
        try:  # quick checks before the ack, so a bad form shows its errors inline
            runtime.service.check_extension(request_id, user_id, duration, reason)
        except InvalidRequest as exc:
            field = exc.field if exc.field in (Field.DURATION, Field.REASON) else Field.DURATION
            ack(response_action="errors", errors={field: _error(exc)})
            return
        except AccessError as exc:
            ack(response_action="errors", errors={Field.REASON: _error(exc)})
            return
        ack()

        def work() -> None:
            try:
                request = runtime.service.request_extension(request_id, user_id, duration, reason)
            except AccessError as exc:
                _dm(client, user_id, f":warning: Your extension was not filed: {exc}")
                return
            if request.extension_seconds is None:
                _dm(
                    client,
                    user_id,
                    f"{request.ref} extended: it now ends at {request.expires_at:%Y-%m-%d %H:%M} UTC.",
                )

        runtime.background(work)


def _error(exc: AccessError) -> str:
    """An inline form error: Slack shows these as plain text, so the message (mrkdwn, its
    untrusted parts escaped) is shown unescaped; plain text pings nobody and links nothing."""
    return plain(str(exc))[:150]


def _dm(client: WebClient, user_id: str, text: str) -> None:
    try:
        client.chat_postMessage(channel=user_id, text=text, **blocks.NO_UNFURL)
    except SlackApiError as exc:
        log.warning("DM to %s failed: %s", user_id, exc.response.get("error"))
