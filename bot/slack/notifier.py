"""Sends and updates the bot's DMs, and remembers (channel, ts) so cards can be updated later.

A Slack failure here is logged and swallowed: the database already holds the truth, and a
lost notification must never undo or block a grant or a revocation.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.access.alerts import Alert
from bot.access.model import AccessRequest
from bot.access.review import Review
from bot.access.states import State
from bot.slack.blocks import alerts, cards, dms
from bot.slack.blocks import review as review_blocks
from bot.slack.blocks.format import NO_UNFURL, Blocks
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
    def _post(self, user_id: str, text: str, body: Blocks) -> tuple[str, str] | None:
        return self._send(user_id, text, body)[0]

    def _send(self, user_id: str, text: str, body: Blocks) -> tuple[tuple[str, str] | None, bool]:
        """Post a message; returns ((channel, ts) or None, whether a retry could help)."""
        try:
            response = self.client.chat_postMessage(
                channel=user_id, text=text, blocks=body, **NO_UNFURL
            )
            return (response["channel"], response["ts"]), False
        except SlackApiError as exc:
            error = exc.response.get("error")
            log.warning("message to %s failed: %s", user_id, error)
            return None, exc.response.status_code >= 500 or error in TRANSIENT_ERRORS
        except Exception as exc:  # connection refused, timeouts: Slack may be back soon
            log.warning("message to %s failed: %s", user_id, type(exc).__name__)
            return None, True

    def _update(self, ref: MessageRef, text: str, body: Blocks) -> None:
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
        text, body = dms.requester_update(request, self.access_details)
        posted, retry = self._send(request.requester_id, text, body)
        if posted:
            self.store.save_message(
                MessageRef(request.id, REQUESTER, request.requester_id, *posted)
            )
        return not retry

    def _approved(self, request: AccessRequest) -> list[str]:
        return [a.approver_id for a in self.store.approvals(request.id) if a.decision == "approve"]

    def _each_card(self, request: AccessRequest):
        """``viewer -> (text, blocks)``: each approver's own card (why they are asked)."""
        approved = self._approved(request)
        return lambda viewer: cards.approver_card(request, approved, viewer)

    def _post_cards(
        self, request_id: int, kind: str, users: Iterable[str], text: str, body: Blocks
    ) -> None:
        """DM each of ``users`` a card and remember it, so every card can be updated later."""
        for user_id in users:
            posted = self._post(user_id, text, body)
            if posted:
                self.store.save_message(MessageRef(request_id, kind, user_id, *posted))

    def _update_cards(self, request_id: int, kind: str, text: str, body: Blocks) -> None:
        for ref in self.store.messages(request_id, kind):
            self._update(ref, text, body)

    def _refresh_cards(self, request: AccessRequest) -> None:
        card = self._each_card(request)
        for ref in self.store.messages(request.id, APPROVER):
            self._update(ref, *card(ref.user_id))
        self._channel(request)

    def _channel(self, request: AccessRequest) -> None:
        """Keep the request's one message in ``notify_channel`` current."""
        if not self.channel:
            return
        text, body = dms.channel_update(request)
        existing = self.store.messages(request.id, CHANNEL)
        if existing:
            self._update(existing[0], text, body)
            return
        posted = self._post(self.channel, text, body)
        if posted:
            self.store.save_message(MessageRef(request.id, CHANNEL, self.channel, *posted))

    # -- the core's Notifier port -----------------------------------------------------------
    def request_filed(self, request: AccessRequest) -> bool:
        card = self._each_card(request)
        already = {m.user_id for m in self.store.messages(request.id, APPROVER)}
        complete = True
        for approver in request.approvers:
            if approver in already:  # a re-send after a crash: update, never duplicate
                continue
            posted, retry = self._send(approver, *card(approver))
            if posted:
                self.store.save_message(MessageRef(request.id, APPROVER, approver, *posted))
            complete = complete and not retry
        # Only the cards sent before (a re-send after a crash) are brought up to date: a card
        # posted a moment ago is current, and updating it again could land after an approval
        # that followed at once, putting its buttons back.
        for ref in self.store.messages(request.id, APPROVER):
            if ref.user_id in already:
                self._update(ref, *card(ref.user_id))
        self._channel(request)
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
        self._post(request.requester_id, *dms.grant_delayed(request))

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
        card = self._each_card(request)
        for user_id in added:
            self._post_cards(request.id, APPROVER, [user_id], *card(user_id))
        self._post(request.requester_id, *dms.escalated(request, added))
        self._homes(added)

    def remind(self, request: AccessRequest, approvers: list[str]) -> None:
        for approver in approvers:
            self._post(approver, *cards.reminder(request, approver))

    def extension_requested(
        self, request: AccessRequest, approvers: list[str], needed: int = 1
    ) -> None:
        self._post_cards(
            request.id,
            _extension_kind(request),
            approvers,
            *cards.extension_card(
                request, needed=needed, asked=self.store.extension_asked(request.id)
            ),
        )
        self._post(request.requester_id, *dms.extension_sent(request, approvers))

    def extension_approval_recorded(
        self, request: AccessRequest, approved_by: list[str], needed: int
    ) -> None:
        """A quorum extension got one more approval: every card shows how many it has."""
        self._update_cards(
            request.id,
            _extension_kind(request),
            *cards.extension_card(
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
        verdict = cards.extension_verdict(approved, actor_id)
        self._update_cards(
            request.id, _extension_kind(request), *cards.extension_card(request, decided=verdict)
        )
        text, body = dms.extension_result(shown, approved, actor_id, reason)
        self._post(request.requester_id, text, body)
        self._channel(shown)
        self._homes([request.requester_id])

    def expiring_soon(self, request: AccessRequest) -> None:
        text, body = dms.expiry_notice(request)
        self._post(request.requester_id, text, body)

    def revocation_overdue(self, request: AccessRequest, owners: list[str]) -> None:
        self._to_owners(owners, *alerts.revocation_overdue(request))

    def revocation_parked(self, request: AccessRequest, owners: list[str]) -> None:
        self._to_owners(owners, *alerts.parked_alert(request))

    def revocation_recovered(self, request: AccessRequest, owners: list[str]) -> None:
        self._to_owners(owners, *alerts.revocation_recovered(request))

    def notify_owners(self, owners: list[str], alert: Alert) -> None:
        """DM ``owners`` an alert (its words: :mod:`bot.slack.blocks.alerts`)."""
        self._to_owners(owners, *alerts.owner_alert(alert))

    def _to_owners(self, owners: list[str], text: str, body: Blocks) -> None:
        for owner in owners:
            self._post(owner, text, body)

    def credentials_refused(self, owners: list[str], error: str) -> None:
        """Elastic Cloud refused the bot's API key: the owners and the notify channel hear
        it once."""
        self._to_owners_and_channel(owners, *alerts.credentials_refused(error))

    def credentials_restored(self, owners: list[str], waiting: int) -> None:
        self._to_owners_and_channel(owners, *alerts.credentials_restored(waiting))

    def _to_owners_and_channel(self, owners: list[str], text: str, body: Blocks) -> None:
        self._to_owners(owners, text, body)
        if self.channel:
            self._post(self.channel, text, body)

    def access_review(self, user_id: str, review: Review) -> None:
        """DM one owner their access review digest (words: :mod:`bot.slack.blocks.review`)."""
        self._post(user_id, *review_blocks.digest(review))
