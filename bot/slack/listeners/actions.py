"""Buttons: Approve, Deny, Revoke now, Acknowledge (a parked revocation), Request access
(App Home), resource picked in the form."""

from __future__ import annotations

import json
import logging

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.access.errors import AccessError
from bot.access.service import LIST_PAGE_SIZE, list_requests
from bot.slack import blocks
from bot.slack.action_ids import Action
from bot.slack.listeners.commands import open_request_modal

log = logging.getLogger(__name__)


def _request_id(body: dict) -> int | None:
    try:
        return int(str(body["actions"][0]["value"]).split(":", 1)[0])
    except (KeyError, IndexError, ValueError, TypeError):
        return None


def _asked(body: dict) -> int | None:
    """The extension an extension card was made for (``<request>:<asked>``), if it says."""
    try:
        return int(str(body["actions"][0]["value"]).split(":", 1)[1])
    except (KeyError, IndexError, ValueError, TypeError):
        return None


def _tell_clicker(respond: Respond, client: WebClient, body: dict, text: str) -> None:
    """A message only the clicker sees, next to what they clicked."""
    if body.get("response_url"):
        respond(text=text, response_type="ephemeral", replace_original=False, **blocks.NO_UNFURL)
        return
    client.chat_postMessage(channel=body["user"]["id"], text=text, **blocks.NO_UNFURL)


def register(app: App, runtime) -> None:
    def on_click(action_id: str, act) -> None:
        """A button whose value is a request ID: ack, act as the clicker, explain refusals."""

        @app.action(action_id)
        def handle(ack: Ack, body: dict, respond: Respond, client: WebClient) -> None:
            ack()
            request_id = _request_id(body)
            if request_id is None:
                return

            def work() -> None:
                try:
                    said = act(request_id, body["user"]["id"], _asked(body))
                except AccessError as exc:
                    _tell_clicker(respond, client, body, f":warning: {exc}")
                    return
                if isinstance(said, str):
                    _tell_clicker(respond, client, body, said)

            runtime.background(work)

    service = runtime.service

    def approve(request_id: int, user_id: str, _asked: int | None) -> None:
        service.decide(request_id, user_id, approve=True)

    def approve_extension(request_id: int, user_id: str, asked: int | None) -> None:
        service.decide_extension(request_id, user_id, approve=True, asked=asked)

    def deny_extension(request_id: int, user_id: str, asked: int | None) -> None:
        service.decide_extension(request_id, user_id, approve=False, asked=asked)

    def revoke_now(request_id: int, user_id: str, _asked: int | None) -> str:
        return f"{service.revoke(request_id, user_id).ref}: access removed."

    def ack_parked(request_id: int, user_id: str, _asked: int | None) -> str:
        return service.acknowledge_parked(request_id, user_id)

    for action, act in (
        (Action.APPROVE, approve),
        (Action.APPROVE_EXTENSION, approve_extension),
        (Action.DENY_EXTENSION, deny_extension),
        (Action.REVOKE_NOW, revoke_now),
        (Action.ACK_PARKED, ack_parked),
    ):
        on_click(action, act)

    @app.action(Action.DENY)
    def deny(ack: Ack, body: dict, respond: Respond, client: WebClient) -> None:
        ack()
        request_id = _request_id(body)
        if request_id is None:
            return
        user_id = body["user"]["id"]
        try:
            request = runtime.service.get(request_id)
            runtime.service.check_decider(request, user_id)
        except AccessError as exc:
            _tell_clicker(respond, client, body, f":warning: {exc}")
            return
        metadata = {"request_id": request_id, "response_url": body.get("response_url")}
        try:
            client.views_open(
                trigger_id=body["trigger_id"], view=blocks.deny_modal(request, metadata)
            )
        except SlackApiError as exc:
            # The form could not open (slow trigger): deny without a reason rather than drop the click.
            log.warning(
                "deny form failed to open (%s); denying without a reason", exc.response.get("error")
            )
            try:
                runtime.service.decide(request_id, user_id, approve=False)
            except AccessError as err:
                _tell_clicker(respond, client, body, f":warning: {err}")

    @app.action(Action.EXTEND)
    def extend(ack: Ack, body: dict, respond: Respond, client: WebClient) -> None:
        ack()
        request_id = _request_id(body)
        if request_id is None:
            return
        try:
            # Someone who may not see the request learns nothing of it (not who filed it).
            request = runtime.service.visible(request_id, body["user"]["id"])
            if body["user"]["id"] != request.requester_id:
                raise AccessError(f"Only the requester can extend {request.ref}.")
            room = runtime.service.extension_room(request)
            if room < runtime.policy.min_duration:
                raise AccessError(
                    f"{request.ref} already has the longest total time policy allows."
                )
            client.views_open(
                trigger_id=body["trigger_id"],
                view=blocks.extend_modal(request, room, runtime.policy.default_duration),
            )
        except AccessError as exc:
            _tell_clicker(respond, client, body, f":warning: {exc}")
        except SlackApiError as exc:
            log.warning("extend form failed to open: %s", exc.response.get("error"))
            _tell_clicker(
                respond,
                client,
                body,
                "Slack did not let me open the form in time; use `/elastic-access extend <id> <duration> <reason>`.",
            )

    @app.action(Action.LIST_PREV)
    @app.action(Action.LIST_NEXT)
    def list_page(ack: Ack, body: dict, respond: Respond, client: WebClient) -> None:
        """Another page of /elastic-access list, in place of the one shown."""
        ack()
        try:
            value = json.loads(body["actions"][0]["value"])
            filters = tuple(str(f) for f in value["f"]) + (f"page:{int(value['p'])}",)
        except (KeyError, ValueError, TypeError):
            return
        try:
            requests, total, heading, query = list_requests(
                runtime.service, body["user"]["id"], filters
            )
        except AccessError as exc:
            _tell_clicker(respond, client, body, f":warning: {exc}")
            return
        text, view = blocks.request_list(
            requests, total, heading, page=query.page, page_size=LIST_PAGE_SIZE, filters=filters
        )
        respond(
            text=text,
            blocks=view,
            response_type="ephemeral",
            replace_original=True,
            **blocks.NO_UNFURL,
        )

    @app.action(Action.OPEN_REQUEST_MODAL)
    def open_modal(ack: Ack, body: dict, client: WebClient) -> None:
        ack()
        user_id = body["user"]["id"]
        refusal = open_request_modal(client, runtime, body["trigger_id"], {}, user_id)
        if refusal:
            client.chat_postMessage(
                channel=user_id, text=f":warning: {refusal}", **blocks.NO_UNFURL
            )

    @app.action(Action.RESOURCE)
    def resource_picked(ack: Ack, body: dict, client: WebClient) -> None:
        """Re-render the form so the role list shows only roles valid for the chosen resource."""
        ack()
        view = body.get("view") or {}
        selected = (body["actions"][0].get("selected_option") or {}).get("value", "")
        resource = runtime.catalogue.find(selected)
        policy = runtime.policy
        try:
            metadata = json.loads(view.get("private_metadata") or "{}")
        except ValueError:
            metadata = {}
        try:
            client.views_update(
                view_id=view["id"],
                hash=view.get("hash"),
                view=blocks.request_modal(
                    integration_name=policy.integration_name,
                    access_details=policy.access_details,
                    max_duration=policy.max_duration,
                    default_duration=policy.default_duration,
                    resource=resource,
                    metadata=metadata,
                    break_glass=policy.rules.any_break_glass,
                ),
            )
        except SlackApiError as exc:  # hash_conflict: the user is typing; the submit re-checks
            log.info("views.update skipped: %s", exc.response.get("error"))
