"""Sends and updates the bot's DMs, and remembers (channel, ts) so cards can be updated later.

A Slack failure here is logged and swallowed: the database already holds the truth, and a
lost notification must never undo or block a grant or a revocation.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.access.model import AccessRequest
from bot.access.states import State
from bot.access.text import escape
from bot.slack import blocks
from bot.store.repository import MessageRef

log = logging.getLogger(__name__)

#: Slack errors worth trying again later; anything else (a deactivated user, DMs turned off)
#: will not get better by retrying, so the notification counts as done.
TRANSIENT_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "service_unavailable",
        "fatal_error",
        "internal_error",
        "request_timeout",
        "team_added_to_org",
    }
)

APPROVER = "approver"
REQUESTER = "requester"
CHANNEL = "channel"


def _extension_kind(request: AccessRequest) -> str:
    """The cards of a request's next extension (its count of extensions so far)."""
    return f"extension{request.extensions}"


class SlackNotifier:
    def __init__(
        self, client: WebClient, store, access_details: str = "", channel: str | None = None
    ) -> None:
        self.client = client
        self.store = store
        self.access_details = access_details
        self.channel = channel
        #: Called with a user ID whose App Home should be re-rendered.
        self.on_home_changed = None

    # -- plumbing ----------------------------------------------------------------------------
    def _post(self, user_id: str, text: str, body: blocks.Blocks) -> tuple[str, str] | None:
        return self._send(user_id, text, body)[0]

    def _send(
        self, user_id: str, text: str, body: blocks.Blocks
    ) -> tuple[tuple[str, str] | None, bool]:
        """Post a message; returns ((channel, ts) or None, whether a retry could help)."""
        try:
            response = self.client.chat_postMessage(
                channel=user_id, text=text, blocks=body, **blocks.NO_UNFURL
            )
            return (response["channel"], response["ts"]), False
        except SlackApiError as exc:
            error = exc.response.get("error")
            log.warning("message to %s failed: %s", user_id, error)
            return None, exc.response.status_code >= 500 or error in TRANSIENT_ERRORS
        except Exception as exc:  # connection refused, timeouts: Slack may be back soon
            log.warning("message to %s failed: %s", user_id, type(exc).__name__)
            return None, True

    def _update(self, ref: MessageRef, text: str, body: blocks.Blocks) -> None:
        try:
            self.client.chat_update(channel=ref.channel, ts=ref.ts, text=text, blocks=body)
        except SlackApiError as exc:
            log.warning(
                "updating message %s/%s failed: %s", ref.channel, ref.ts, exc.response.get("error")
            )

    def _homes(self, user_ids: Iterable[str]) -> None:
        if self.on_home_changed:
            for user_id in set(user_ids):
                try:
                    self.on_home_changed(user_id)
                except Exception:  # a home refresh is cosmetic; never let it break a flow
                    log.exception("refreshing App Home for %s failed", user_id)

    def _tell_requester(self, request: AccessRequest) -> bool:
        """DM the requester; False when Slack failed in a way worth retrying later."""
        text, body = blocks.requester_update(request, self.access_details)
        posted, retry = self._send(request.requester_id, text, body)
        if posted:
            self.store.save_message(
                MessageRef(request.id, REQUESTER, request.requester_id, *posted)
            )
        return not retry

    def _card(self, request: AccessRequest) -> tuple[str, blocks.Blocks]:
        approved = [
            a.approver_id for a in self.store.approvals(request.id) if a.decision == "approve"
        ]
        return blocks.approver_card(request, approved)

    def _post_cards(
        self, request_id: int, kind: str, users: Iterable[str], text: str, body: blocks.Blocks
    ) -> None:
        """DM each of ``users`` a card and remember it, so every card can be updated later."""
        for user_id in users:
            posted = self._post(user_id, text, body)
            if posted:
                self.store.save_message(MessageRef(request_id, kind, user_id, *posted))

    def _update_cards(self, request_id: int, kind: str, text: str, body: blocks.Blocks) -> None:
        for ref in self.store.messages(request_id, kind):
            self._update(ref, text, body)

    def _refresh_cards(self, request: AccessRequest) -> None:
        self._update_cards(request.id, APPROVER, *self._card(request))
        self._channel(request)

    def _channel(self, request: AccessRequest) -> None:
        """Keep the request's one message in ``notify_channel`` current."""
        if not self.channel:
            return
        text, body = blocks.channel_update(request)
        existing = self.store.messages(request.id, CHANNEL)
        if existing:
            self._update(existing[0], text, body)
            return
        posted = self._post(self.channel, text, body)
        if posted:
            self.store.save_message(MessageRef(request.id, CHANNEL, self.channel, *posted))

    # -- the core's Notifier port -----------------------------------------------------------
    def request_filed(self, request: AccessRequest) -> bool:
        text, body = self._card(request)
        already = {m.user_id for m in self.store.messages(request.id, APPROVER)}
        complete = True
        for approver in request.approvers:
            if approver in already:  # a re-send after a crash: update, never duplicate
                continue
            posted, retry = self._send(approver, text, body)
            if posted:
                self.store.save_message(MessageRef(request.id, APPROVER, approver, *posted))
            complete = complete and not retry
        self._refresh_cards(request)
        complete = self._tell_requester(request) and complete
        self._homes([request.requester_id, *request.approvers])
        return complete

    def request_decided(self, request: AccessRequest) -> bool:
        self._refresh_cards(request)
        # Approved: the grant follows at once, and its DM says who approved; one DM, not two.
        told = True if request.state is State.APPROVED else self._tell_requester(request)
        self._homes([request.requester_id, *request.approvers])
        return told

    def grant_delayed(self, request: AccessRequest) -> None:
        """The grant did not go through at once (Elastic Cloud trouble): say so, once."""
        self._post(
            request.requester_id,
            f"Request {request.ref} approved; granting is delayed",
            [
                blocks.section(
                    f":hourglass: *Request {request.ref} approved* by {blocks.who(request.decided_by)}. "
                    "Elastic Cloud did not take the role assignment yet; I keep trying and will "
                    "DM you when it is granted."
                )
            ],
        )

    def request_granted(self, request: AccessRequest) -> bool:
        self._refresh_cards(request)
        told = self._tell_requester(request)
        self._homes([request.requester_id])
        return told

    def request_failed(self, request: AccessRequest) -> bool:
        self._refresh_cards(request)
        told = self._tell_requester(request)
        self._homes([request.requester_id, *request.approvers])
        return told

    def request_ended(self, request: AccessRequest) -> bool:
        self._refresh_cards(request)
        told = self._tell_requester(request)
        self._homes([request.requester_id])
        return told

    def approval_recorded(self, request: AccessRequest) -> None:
        self._refresh_cards(request)

    def escalated(self, request: AccessRequest, added: list[str]) -> None:
        """Cards for the integration owners the request now also goes to; the requester is told."""
        self._post_cards(request.id, APPROVER, added, *self._card(request))
        self._post(
            request.requester_id,
            f"Request {request.ref} escalated",
            [
                blocks.section(
                    f":arrow_double_up: Nobody decided on request {request.ref} yet, so I also "
                    "asked " + ", ".join(f"<@{a}>" for a in added) + "."
                )
            ],
        )
        self._homes(added)

    def remind(self, request: AccessRequest, approvers: list[str]) -> None:
        text, body = blocks.reminder(request)
        for approver in approvers:
            self._post(approver, text, body)

    def extension_requested(
        self, request: AccessRequest, approvers: list[str], needed: int = 1
    ) -> None:
        self._post_cards(
            request.id,
            _extension_kind(request),
            approvers,
            *blocks.extension_card(
                request, needed=needed, asked=self.store.extension_asked(request.id)
            ),
        )
        self._post(
            request.requester_id,
            f"Extension of {request.ref} sent for approval",
            [
                blocks.section(
                    f":inbox_tray: Your extension of {request.ref} was sent to "
                    + ", ".join(f"<@{a}>" for a in approvers)
                    + "."
                )
            ],
        )

    def extension_approval_recorded(
        self, request: AccessRequest, approved_by: list[str], needed: int
    ) -> None:
        """A quorum extension got one more approval: every card shows how many it has."""
        self._update_cards(
            request.id,
            _extension_kind(request),
            *blocks.extension_card(
                request,
                approved_by=approved_by,
                needed=needed,
                asked=self.store.extension_asked(request.id),
            ),
        )

    def extension_decided(
        self,
        request: AccessRequest,
        *,
        approved: bool,
        actor_id: str,
        reason: str | None,
        after: AccessRequest | None = None,
    ) -> None:
        shown = after or request
        verdict = (
            f"Approved by {blocks.who(actor_id)}"
            if approved
            else f"Denied by {blocks.who(actor_id)}"
        )
        self._update_cards(
            request.id, _extension_kind(request), *blocks.extension_card(request, decided=verdict)
        )
        text, body = blocks.extension_result(shown, approved, actor_id, reason)
        self._post(request.requester_id, text, body)
        self._channel(shown)
        self._homes([request.requester_id])

    def expiring_soon(self, request: AccessRequest) -> None:
        text, body = blocks.expiry_notice(request)
        self._post(request.requester_id, text, body)

    def revocation_overdue(self, request: AccessRequest, owners: list[str]) -> None:
        self.notify_owners(
            owners,
            f"Access {request.ref} ({escape(request.role_id)} on {blocks.label(request)} for "
            f"<@{request.requester_id}>) expired {blocks.when(request.expires_at)} but is not "
            f"removed yet: {blocks.failure(request) or 'still retrying'}. The bot keeps retrying.",
        )

    def revocation_parked(self, request: AccessRequest, owners: list[str]) -> None:
        text, body = blocks.parked_alert(request)
        for owner in owners:
            self._post(owner, text, body)

    def revocation_recovered(self, request: AccessRequest, owners: list[str]) -> None:
        self.notify_owners(
            owners,
            f"Access {request.ref} ({escape(request.role_id)} on {blocks.label(request)} for "
            f"<@{request.requester_id}>) has now been removed.",
        )

    def notify_owners(self, owners: list[str], text: str) -> None:
        """DM ``owners`` an alert; ``text`` is mrkdwn with its untrusted parts escaped."""
        message, body = blocks.owner_alert(text)
        for owner in owners:
            self._post(owner, message, body)

    def credentials_refused(self, owners: list[str], error: str) -> None:
        """Elastic Cloud refused the bot's API key: the owners and the notify channel hear
        it once."""
        text = (
            "Elastic Cloud refused the bot's API key (ELASTIC_CLOUD_API_KEY): "
            f"{escape(error)}. Approved requests wait and nothing is granted until the key "
            "works again (replace or renew it); revocations keep retrying."
        )
        self.notify_owners(owners, text)
        if self.channel:
            self._post(self.channel, *blocks.owner_alert(text))

    def credentials_restored(self, owners: list[str], waiting: int) -> None:
        text = f"Elastic Cloud accepts the bot's API key again; {waiting} waiting grant(s) go on."
        self.notify_owners(owners, text)
        if self.channel:
            self._post(self.channel, *blocks.owner_alert(text))
