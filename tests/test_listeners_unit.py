"""Listener functions with stub ``ack``/``respond``/``client``: no HTTP server, no database.

The error handler's mapping, what an ack part does before its ack (nothing slow), and the
wiring's promise: a lazy part runs after its ack part returned, only if it handed work."""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest
from slack_bolt import Ack, App, BoltRequest
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from bot.access.commands import FileRequest
from bot.access.errors import NotAllowed
from bot.slack.action_ids import Action, View
from bot.slack.listeners import errors, register
from bot.slack.listeners.actions.decisions import take_click
from bot.slack.listeners.commands.elastic_access import answer
from bot.slack.listeners.wiring import Later, wire
from bot.standins import payloads


class Recorder:
    """Stands in for ``respond`` and ``client``: records what would reach Slack."""

    def __init__(self) -> None:
        self.said: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, **kwargs: Any) -> None:  # respond(...)
        self.said.append(("respond", kwargs))

    def chat_postMessage(self, **kwargs: Any) -> dict:  # noqa: N802 - WebClient's name
        self.said.append(("dm", kwargs))
        return {"ok": True, "channel": "D1"}


class Untouchable:
    """A runtime whose every part fails the test when used: the ack part must not."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the ack part used runtime.{name}")


def click(value: str = "7", action_id: str = Action.APPROVE) -> dict:
    return payloads.block_actions(
        "U1", action_id, value, response_url="https://hooks.example/r", trigger_id="1.2.3"
    )


# -- the error handler -------------------------------------------------------------------------
def test_a_refusal_before_the_ack_is_the_commands_private_answer() -> None:
    recorder = Recorder()
    body = {"command": "/elastic-access", "user_id": "U1", "response_url": "https://h/r"}
    answered = errors.on_error(
        NotAllowed("Not yours."), body, recorder, recorder, response=object()
    )
    assert answered is not None and answered.status == 200
    sent = json.loads(answered.body)
    assert sent["response_type"] == "ephemeral" and sent["text"] == ":warning: Not yours."
    assert sent["unfurl_links"] is False
    assert recorder.said == []


def test_a_refusal_after_the_ack_goes_next_to_the_click() -> None:
    recorder = Recorder()
    assert errors.on_error(NotAllowed("Too late."), click(), recorder, recorder, None) is None
    [(how, sent)] = recorder.said
    assert how == "respond" and sent["text"] == ":warning: Too late."
    assert sent["response_type"] == "ephemeral" and sent["replace_original"] is False


def test_our_own_failure_is_logged_and_the_clicker_hears_it_went_wrong(caplog) -> None:
    recorder = Recorder()
    with caplog.at_level(logging.ERROR, logger="bot.slack.listeners.errors"):
        errors.on_error(KeyError("boom"), click(), recorder, recorder, None)
    [(_, sent)] = recorder.said
    assert sent["text"] == errors.OUR_FAULT
    assert "boom" not in sent["text"]
    [record] = caplog.records
    assert record.exc_info and record.exc_info[1].args == ("boom",)
    assert f"click on {Action.APPROVE}" in record.getMessage()


def test_a_form_that_was_not_filed_is_said_in_a_dm() -> None:
    recorder = Recorder()
    body = {
        "type": "view_submission",
        "user": {"id": "U1"},
        "view": {"callback_id": View.REQUEST_ACCESS, "private_metadata": "{}"},
    }
    errors.on_error(NotAllowed("Limit reached."), body, recorder, recorder, None)
    [(how, sent)] = recorder.said
    assert how == "dm" and sent["channel"] == "U1"
    assert sent["text"] == ":warning: Your access request was not filed: Limit reached."


def test_an_events_failure_is_only_logged(caplog) -> None:
    recorder = Recorder()
    body = {"type": "event_callback", "event": {"type": "user_change"}}
    with caplog.at_level(logging.ERROR, logger="bot.slack.listeners.errors"):
        errors.on_error(RuntimeError("x"), body, recorder, recorder, None)
    assert recorder.said == []
    assert "event user_change" in caplog.text


# -- ack parts: cheap, and nothing slow before the ack -----------------------------------------
def test_a_decision_button_hands_the_request_to_the_lazy_part() -> None:
    ack, later = Ack(), Later()
    take_click(ack, click("12:3", Action.APPROVE_EXTENSION), later)
    assert ack.response is not None and ack.response.status == 200
    assert later.handed and later.value == (12, 3)


def test_a_button_without_a_request_id_is_acknowledged_and_nothing_more() -> None:
    ack, later = Ack(), Later()
    take_click(ack, click("nonsense"), later)
    assert ack.response is not None and not later.handed


def test_a_slash_request_is_acknowledged_before_anything_is_asked_of_the_runtime() -> None:
    ack, later, recorder = Ack(), Later(), Recorder()
    command = {"user_id": "U1", "text": "request prod-search deployment-viewer 1h debugging"}
    answer(ack, command, recorder, recorder, Untouchable(), later)
    assert ack.response is not None and ack.response.body == ""
    assert isinstance(later.value, FileRequest) and later.value.resource == "prod-search"
    assert recorder.said == []


# -- the wiring: lazy parts after their ack part, on the runtime's pool -------------------------
@pytest.fixture
def app() -> App:
    return App(
        client=WebClient(base_url="http://127.0.0.1:9/"),  # nothing listens: no Slack calls
        signing_secret="unused",
        authorize=lambda enterprise_id, team_id, user_id: AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, bot_token="xoxb-test", bot_id="B1"
        ),
    )


@pytest.fixture
def pool():
    executor = ThreadPoolExecutor(max_workers=2)
    yield executor
    executor.shutdown(wait=True)


def runtime_on(pool: ThreadPoolExecutor) -> SimpleNamespace:
    return SimpleNamespace(background=lambda fn: pool.submit(fn))


def dispatch(app: App, body: dict):
    return app.dispatch(BoltRequest(body=body, mode="socket_mode"))


def test_the_lazy_part_runs_after_the_ack_part_returned(app, pool) -> None:
    order: list[str] = []
    wire(app, runtime_on(pool))

    def fast(ack, later):
        later("work")
        ack()
        order.append("acked")
        time.sleep(0.2)  # e.g. a form opened with the trigger after the ack
        order.append("ack part returned")

    def slow(later, runtime):
        assert runtime.background  # the runtime reached the lazy part through its context
        order.append(f"lazy part with {later.value}")

    app.action("b")(ack=fast, lazy=[slow])
    assert dispatch(app, click(action_id="b")).status == 200
    pool.shutdown(wait=True)  # as Runtime.stop does: in-flight lazy parts finish
    assert order == ["acked", "ack part returned", "lazy part with work"]


def test_no_lazy_part_when_the_ack_part_handed_nothing(app, pool) -> None:
    ran = threading.Event()
    wire(app, runtime_on(pool))
    app.action("b")(ack=lambda ack: ack(), lazy=[lambda: ran.set()])
    assert dispatch(app, click(action_id="b")).status == 200
    pool.shutdown(wait=True)
    assert not ran.is_set()


def test_a_lazy_parts_refusal_reaches_the_one_error_handler(app, pool, monkeypatch) -> None:
    told: list[str] = []
    monkeypatch.setattr(errors, "tell", lambda body, respond, client, text: told.append(text))
    register(app, SimpleNamespace(background=lambda fn: pool.submit(fn), service=None))

    def refused(later, body, runtime):
        raise NotAllowed("You are not an approver of #7.")

    app.action("b")(ack=take_click, lazy=[refused])
    assert dispatch(app, click(action_id="b")).status == 200
    pool.shutdown(wait=True)
    assert told == [":warning: You are not an approver of #7."]
