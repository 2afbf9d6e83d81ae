"""What a person can do in the sandbox, done as Slack would do it to the bot.

Typing ``/elastic-access …``, clicking a button on a message, in a private reply or on the
Home tab, picking from a type-ahead, submitting a form: each is one signed request built by
:mod:`bot.standins.payloads` (or shaped like it) and sent to the bot's real HTTP endpoint.
What only that person saw comes back by two roads, as in Slack: the bot's own answer to the
request (an ack with a message, a form's inline errors) and posts to the request's
``response_url``; both are kept here, per person, as :class:`Private` replies.

The page (``web``) and the scenario runner (``script``) both drive the sandbox through
:class:`Actions` and nothing else, so the page shows what a scenario would do.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.sandbox.world import World
from bot.standins import payloads

#: The fault switches of the page and of scenarios: what each makes the stand-in do.
FAULTS = {
    "elastic_429": "Elastic Cloud answers 429 Too Many Requests",
    "elastic_503": "Elastic Cloud answers 503 Service Unavailable",
    "elastic_key_rejected": "Elastic Cloud rejects the bot's API key",
    "slack_rate_limited": "Slack rate-limits the bot's messages",
}
_SLACK_WRITES = ("chat.postMessage", "chat.update", "views.publish", "conversations.open")
_FOREVER = 10**9


class ActionError(Exception):
    """What the person asked cannot be done (no such button, no form open, …)."""


@dataclass
class Private:
    """A reply only ``user`` saw: an ack's message, a ``response_url`` post, an ephemeral."""

    id: int
    user: str
    text: str
    blocks: list[dict[str, Any]]
    at: float
    #: Where it came from, shown on the page: ``/elastic-access list``, a click on …
    origin: str = ""


@dataclass
class Modal:
    """The form open for one person: the view as Slack holds it, and its inline errors."""

    view_id: str
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class _Hook:
    """A ``response_url`` handed out with one request: whose it is, and which private reply
    a ``replace_original`` post replaces (a click on an ephemeral message)."""

    user: str
    origin: str
    replaces: int | None = None
    seen: int = 0


class Actions:
    """Everything a person can do, plus the clock and the fault switches."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.slack = world.slack
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._private: list[Private] = []
        self._hooks: dict[str, _Hook] = {}
        self._triggers: dict[str, str] = {}
        self.modals: dict[str, Modal] = {}
        self.faults: dict[str, bool] = dict.fromkeys(FAULTS, False)
        #: How many of each person's ephemerals (``chat.postEphemeral``) are taken in.
        self._ephemerals_seen: dict[str, int] = {}

    # -- typing a command --------------------------------------------------------------------
    def command(self, user: str, text: str) -> list[Private]:
        """``/elastic-access <text>`` typed by ``user``; returns the private replies it got
        (a form it opened is in :attr:`modals`)."""
        text = text.strip()
        if text.startswith(payloads.COMMAND):
            text = text[len(payloads.COMMAND) :].strip()
        origin = f"{payloads.COMMAND} {text}".strip()
        before = self._mark(user)
        hook = self._hook(user, origin)
        trigger = self._trigger(user)
        form = payloads.command_form(
            user, text, response_url=self.slack.webhook_url(hook), trigger_id=trigger
        )
        response = self.world.post(urlencode(form), "application/x-www-form-urlencoded")
        self._keep_answer(user, origin, response)
        self.world.settle()
        self._find_modal(user, trigger)
        return self.private_since(user, before)

    # -- clicking ------------------------------------------------------------------------------
    def click(
        self,
        user: str,
        where: str,
        action_id: str,
        value: str = "",
        block_id: str = "",
        *,
        ref: str = "",
    ) -> list[Private]:
        """A button clicked by ``user``: ``where`` is ``message`` (``ref`` =
        ``channel/ts``), ``private`` (``ref`` = the reply's id) or ``home``."""
        before = self._mark(user)
        trigger = self._trigger(user)
        payload: dict[str, Any]
        if where == "message":
            channel, _, ts = ref.partition("/")
            message = self.slack.message(channel, ts)
            if message is None:
                raise ActionError(f"no message {ref}")
            hook = self._hook(user, f"a click on {_label(message, action_id)}")
            payload = payloads.block_actions(
                user,
                action_id,
                value,
                response_url=self.slack.webhook_url(hook),
                trigger_id=trigger,
                message=message,
            )
        elif where == "private":
            reply = self._reply(user, int(ref or 0))
            hook = self._hook(user, reply.origin, replaces=reply.id)
            payload = payloads.block_actions(
                user,
                action_id,
                value,
                response_url=self.slack.webhook_url(hook),
                trigger_id=trigger,
            )
            payload["container"] = {"type": "message", "is_ephemeral": True}
            payload["message"] = {"text": reply.text, "blocks": reply.blocks}
        elif where == "home":
            view = self.slack.home_view(user)
            if view is None:
                raise ActionError("the Home tab has not been opened")
            payload = payloads.block_actions(
                user, action_id, value, response_url="", trigger_id=trigger
            )
            payload.pop("response_url")
            payload["container"] = {"type": "view", "view_id": view["id"]}
            payload["view"] = view
        else:
            raise ActionError(f"no such place to click: {where!r}")
        if block_id:
            payload["actions"][0]["block_id"] = block_id
        self._interact(payload)
        self.world.settle()
        self._find_modal(user, trigger)
        return self.private_since(user, before)

    # -- the form ------------------------------------------------------------------------------
    def modal_view(self, user: str) -> dict[str, Any] | None:
        modal = self.modals.get(user)
        return self.slack.view(modal.view_id) if modal else None

    def close_modal(self, user: str) -> None:
        self.modals.pop(user, None)

    def options(self, user: str, action_id: str, query: str) -> list[dict[str, Any]]:
        """The type-ahead's options for ``query``, as the bot answers them."""
        modal = self._modal(user)
        payload = payloads.block_suggestion(user, action_id, query, modal.view_id)
        response = self._interact(payload)
        if response.status_code != 200 or not response.content:
            return []
        data = response.json()
        found = list(data.get("options") or [])
        for group in data.get("option_groups") or []:
            found += group.get("options") or []
        return found

    def pick(self, user: str, values: dict[str, Any], block_id: str) -> None:
        """A choice in a form input that dispatches an action (the resource select): the bot
        updates the form (the roles of that resource)."""
        modal = self._modal(user)
        view = self.slack.view(modal.view_id)
        assert view is not None
        state = form_state(view, values)
        block = next((b for b in view["blocks"] if b.get("block_id") == block_id), None)
        if block is None or "element" not in block:
            raise ActionError(f"the form has no input {block_id!r}")
        element = block["element"]
        chosen = state.get(block_id, {}).get(element.get("action_id", block_id), {})
        action = {
            "action_id": element.get("action_id", block_id),
            "block_id": block_id,
            "type": element.get("type"),
            "action_ts": f"{time.time():.6f}",
            **{k: v for k, v in chosen.items() if k != "type"},
        }
        payload = payloads.view_action(
            user, view, action, trigger_id=self._trigger(user), state=state
        )
        self._interact(payload)
        self.world.settle()

    def submit(self, user: str, values: dict[str, Any]) -> dict[str, str]:
        """Submit the open form with ``values`` (block_id → what was entered); returns the
        inline errors (empty when the form closed)."""
        modal = self._modal(user)
        view = self.slack.view(modal.view_id)
        assert view is not None
        state = form_state(view, values)
        payload = {
            "type": "view_submission",
            "team": dict(payloads.TEAM),
            "user": {"id": user, "username": user.lower(), "team_id": payloads.TEAM["id"]},
            "api_app_id": "A0APP",
            "token": "legacy-verification-token",
            "trigger_id": self._trigger(user),
            "view": view | {"state": {"values": state}},
            "response_urls": [],
        }
        response = self._interact(payload)
        errors: dict[str, str] = {}
        if response.status_code == 200 and response.content.strip():
            try:
                data = response.json()
            except ValueError:
                data = {}
            if data.get("response_action") == "errors":
                errors = {str(k): str(v) for k, v in (data.get("errors") or {}).items()}
        if errors:
            modal.errors = errors
        else:
            self.modals.pop(user, None)
        self.world.settle()
        return errors

    # -- the Home tab ------------------------------------------------------------------------
    def open_home(self, user: str) -> dict[str, Any] | None:
        """``user`` opens the app's Home tab (the ``app_home_opened`` event)."""
        body = {
            "token": "legacy-verification-token",
            "team_id": payloads.TEAM["id"],
            "api_app_id": "A0APP",
            "type": "event_callback",
            "event_id": f"Ev{next(self._ids):08d}",
            "event_time": int(time.time()),
            "event": {
                "type": "app_home_opened",
                "user": user,
                "channel": f"D{user[1:]}",
                "tab": "home",
                "event_ts": f"{time.time():.6f}",
            },
        }
        self.world.post(json.dumps(body), "application/json")
        self.world.settle()
        return self.slack.home_view(user)

    # -- time and faults -----------------------------------------------------------------------
    def advance(self, delta: timedelta) -> None:
        self.world.advance(delta)

    def set_fault(self, name: str, on: bool) -> None:
        """Switch a fault on or off (:data:`FAULTS`); off puts the stand-in back as it was."""
        if name not in FAULTS:
            raise ActionError(f"no fault {name!r}; the faults are {', '.join(FAULTS)}")
        with self._lock:
            self.faults[name] = on
            elastic, slack = self.world.elastic, self.slack
            elastic.clear_scripts()
            elastic.api_key = (
                "essu_revoked_key" if self.faults["elastic_key_rejected"] else self.world.api_key
            )
            for status, key in ((429, "elastic_429"), (503, "elastic_503")):
                if self.faults[key]:
                    elastic.script(
                        "*",
                        r"^/api/v1/",
                        status,
                        body={
                            "errors": [{"code": f"sandbox.fault_{status}", "message": FAULTS[key]}]
                        },
                        headers={"Retry-After": "1"} if status == 429 else None,
                        times=_FOREVER,
                    )
            slack.clear_scripts()
            if self.faults["slack_rate_limited"]:
                for method in _SLACK_WRITES:
                    slack.script(method, 429, headers={"Retry-After": "1"}, times=_FOREVER)

    # -- private replies -----------------------------------------------------------------------
    def private(self, user: str) -> list[Private]:
        """Every private reply ``user`` has seen, oldest first."""
        self._collect()
        with self._lock:
            return [p for p in self._private if p.user == user]

    def private_since(self, user: str, mark: int) -> list[Private]:
        return [p for p in self.private(user) if p.id > mark]

    def _mark(self, user: str) -> int:
        self._collect()
        with self._lock:
            return max((p.id for p in self._private), default=0)

    def _reply(self, user: str, reply_id: int) -> Private:
        for reply in self.private(user):
            if reply.id == reply_id:
                return reply
        raise ActionError(f"no private reply {reply_id} for {user}")

    def _keep(self, user: str, origin: str, body: dict[str, Any], replaces: int | None) -> None:
        text = str(body.get("text") or "")
        blocks = list(body.get("blocks") or [])
        if body.get("delete_original") and replaces is not None:
            self._private = [p for p in self._private if p.id != replaces]
            return
        if body.get("replace_original") is True and replaces is not None:
            for reply in self._private:
                if reply.id == replaces:
                    reply.text, reply.blocks, reply.at = text, blocks, time.time()
                    return
        if text or blocks:
            self._private.append(Private(next(self._ids), user, text, blocks, time.time(), origin))

    def _keep_answer(self, user: str, origin: str, response: httpx.Response) -> None:
        """The bot's own HTTP answer to a command: a message only the caller sees."""
        if response.status_code != 200 or not response.content.strip():
            return
        if response.headers.get("content-type", "").startswith("application/json"):
            try:
                body = response.json()
            except ValueError:
                return
        else:
            body = {"text": response.text}
        with self._lock:
            self._keep(user, origin, body, None)

    def _collect(self) -> None:
        """Take in what arrived since the last look: ``response_url`` posts and ephemerals."""
        with self._lock:
            for name, hook in self._hooks.items():
                posts = self.slack.webhook_posts(name)
                for body in posts[hook.seen :]:
                    if isinstance(body, dict):
                        self._keep(hook.user, hook.origin, body, hook.replaces)
                hook.seen = len(posts)
            for user in (u.id for u in self.world.seed.slack_users):
                shown = self.slack.ephemerals_to(user)
                for eph in shown[self._ephemerals_seen.get(user, 0) :]:
                    self._keep(user, "", eph, None)
                self._ephemerals_seen[user] = len(shown)

    # -- plumbing --------------------------------------------------------------------------
    def _hook(self, user: str, origin: str, replaces: int | None = None) -> str:
        with self._lock:
            # Unguessable: a web page that found the fake Slack's port must not be able to
            # post a "private reply" of its own onto the sandbox page.
            name = f"sandbox-{secrets.token_urlsafe(16)}"
            self._hooks[name] = _Hook(user, origin, replaces)
            return name

    def _trigger(self, user: str) -> str:
        trigger = self.slack.new_trigger_id()
        with self._lock:
            self._triggers[trigger] = user
        return trigger

    def _find_modal(self, user: str, trigger: str) -> None:
        """A form the bot opened with this request's trigger is now ``user``'s open form."""
        for call in reversed(self.slack.calls_to("views.open")):
            if call.get("args", {}).get("trigger_id") != trigger:
                continue
            response = call.get("response") or {}
            if response.get("ok"):
                self.modals[user] = Modal(response["view"]["id"])
            return

    def _modal(self, user: str) -> Modal:
        modal = self.modals.get(user)
        if modal is None:
            raise ActionError("no form is open")
        return modal

    def _interact(self, payload: dict[str, Any]) -> httpx.Response:
        return self.world.post(
            payloads.interaction_body(payload), "application/x-www-form-urlencoded"
        )


def form_state(view: dict[str, Any], values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Slack's ``view.state.values`` for a form filled with ``values``.

    ``values`` maps an input's ``block_id`` to what was entered: text for a text input, the
    value (or the label) of an option for a select, ``{"value", "label"}`` for an option
    from a type-ahead, a list for checkboxes and multi-selects, ``YYYY-MM-DD`` for a date."""
    state: dict[str, dict[str, Any]] = {}
    for block in view.get("blocks") or []:
        if block.get("type") != "input":
            continue
        block_id = block.get("block_id", "")
        element = block.get("element") or {}
        action_id = element.get("action_id", block_id)
        kind = element.get("type", "")
        entered = values.get(block_id)
        state[block_id] = {action_id: _element_state(kind, element, entered)}
    return state


def _element_state(kind: str, element: dict[str, Any], entered: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind}
    if kind in ("plain_text_input", "number_input", "email_text_input", "url_text_input"):
        out["value"] = None if entered in (None, "") else str(entered)
    elif kind == "datepicker":
        out["selected_date"] = entered or element.get("initial_date")
    elif kind == "timepicker":
        out["selected_time"] = entered or element.get("initial_time")
    elif kind in ("checkboxes", "multi_static_select"):
        wanted = entered if isinstance(entered, list) else ([entered] if entered else [])
        out["selected_options"] = [
            o for o in (find_option(element, w) for w in wanted) if o is not None
        ]
    elif kind == "external_select":
        if isinstance(entered, dict) and entered.get("value"):
            label = str(entered.get("label") or entered["value"])
            out["selected_option"] = {
                "text": {"type": "plain_text", "text": label},
                "value": str(entered["value"]),
            }
        elif isinstance(entered, str) and entered:
            out["selected_option"] = {
                "text": {"type": "plain_text", "text": entered},
                "value": entered,
            }
        else:
            out["selected_option"] = element.get("initial_option")
    else:  # static_select, radio_buttons, and the like
        if entered in (None, ""):
            out["selected_option"] = element.get("initial_option")
        else:
            out["selected_option"] = find_option(element, entered)
    return out


def options_of(element: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        found += group.get("options") or []
    return found


def find_option(element: dict[str, Any], wanted: Any) -> dict[str, Any] | None:
    """The element's option whose value is ``wanted``, else whose label is (any case)."""
    wanted = str(wanted)
    options = options_of(element)
    for option in options:
        if option.get("value") == wanted:
            return option
    for option in options:
        if str((option.get("text") or {}).get("text", "")).lower() == wanted.lower():
            return option
    return None


def _label(message: dict[str, Any], action_id: str) -> str:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return f"“{(element.get('text') or {}).get('text', action_id)}”"
    return f"“{action_id}”"
