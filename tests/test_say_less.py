"""Say less: Elastic's errors reach people as a short, escaped summary (never a proxy's
page), and the notify channel shows outcomes, not deny reasons or errors."""

from __future__ import annotations

import json

import httpx
import pytest

from bot.access.states import State
from bot.elastic.errors import ElasticError
from tests.harness import OWNER, REQUESTER

CHANNEL = "C0ACCESS"
LONG_ERROR = (
    "<!channel> role refused, see <https://evil.example|the docs> " + "x" * 400 + "\n"
    "Traceback (most recent call last): secret internals"
)
PAGE = b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1><p>nginx at 10.0.0.7</p></body></html>"


def _response(status: int, **kwargs) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("POST", "http://x/api"), **kwargs)


def test_an_elastic_error_is_its_first_line_and_bounded():
    body = {"errors": [{"code": "role_assignments.invalid", "message": LONG_ERROR}]}
    error = str(ElasticError.from_response(_response(400, json=body)))
    assert error.startswith("<!channel> role refused")  # raw here; escaped where shown
    assert "Traceback" not in error and "secret" not in error
    assert len(error) <= 200 + len(" (role_assignments.invalid, HTTP 400)")
    assert error.endswith("(role_assignments.invalid, HTTP 400)")


@pytest.mark.parametrize(
    "headers", [{"content-type": "text/html; charset=utf-8"}, {"content-type": "text/plain"}]
)
def test_a_proxy_page_is_named_never_shown(headers):
    error = ElasticError.from_response(_response(502, content=PAGE, headers=headers))
    assert str(error) == "Elastic Cloud answered with an unexpected page (HTTP 502)"
    assert error.retryable and error.code == "http_502"


def _failed_grant(make_bot, slack, elastic, **script):
    slack.add_channel(CHANNEL)
    bot = make_bot(notify_channel=CHANNEL)
    elastic.script("POST", r"/role_assignments$", 400, **script)
    bot.command(REQUESTER, "request prod-search deployment-viewer 1h INC-8")
    slack.wait_for(lambda: bot.state(1) is State.PENDING)
    bot.decide(1, OWNER, approve=True)
    assert bot.state(1) is State.FAILED
    failed = slack.wait_for(
        lambda: [m for m in slack.messages_to(REQUESTER) if "failed" in json.dumps(m)]
    )[-1]
    channel = slack.wait_for(
        lambda: [m for m in slack.messages_in(CHANNEL) if "failed" in json.dumps(m)]
    )[-1]
    return json.dumps(failed), json.dumps(channel)


def test_the_requester_sees_elastics_error_short_and_escaped(make_bot, slack, elastic):
    dm, channel = _failed_grant(
        make_bot,
        slack,
        elastic,
        body={"errors": [{"code": "role_assignments.invalid", "message": LONG_ERROR}]},
    )
    assert "&lt;!channel&gt; role refused, see &lt;https://evil.example|the docs&gt;" in dm
    assert "<!channel>" not in dm and "Traceback" not in dm and "x" * 300 not in dm
    # The channel says that it failed, not why: Elastic's words are for the people involved.
    assert "role refused" not in channel and "role_assignments.invalid" not in channel
    assert "Failed" in channel


def test_a_proxy_page_reaches_nobody(make_bot, slack, elastic):
    dm, channel = _failed_grant(
        make_bot, slack, elastic, raw_body=PAGE, headers={"Content-Type": "text/html"}
    )
    assert "Elastic Cloud answered with an unexpected page (HTTP 400)" in dm
    for leak in ("Bad Gateway", "nginx", "10.0.0.7", "DOCTYPE"):
        assert leak not in dm and leak not in channel


def test_the_channel_shows_a_denial_but_not_its_reason(make_bot, slack, elastic):
    slack.add_channel(CHANNEL)
    bot = make_bot(notify_channel=CHANNEL)
    bot.command(REQUESTER, "request prod-search deployment-viewer 1h INC-9")
    slack.wait_for(lambda: bot.state(1) is State.PENDING)
    bot.decide(1, OWNER, approve=False, reason="your manager said no")
    slack.wait_for(lambda: "Denied" in json.dumps(slack.messages_in(CHANNEL)))
    assert "manager" not in json.dumps(slack.messages_in(CHANNEL))
    told = slack.wait_for(
        lambda: [m for m in slack.messages_to(REQUESTER) if "denied" in json.dumps(m)]
    )
    assert "your manager said no" in json.dumps(told[-1])  # the requester is told why
    cards = json.dumps(slack.messages_to(OWNER))
    assert "your manager said no" in cards  # and so are the approvers, on their cards
