"""No secret ever reaches a log line, the database file or a Slack message."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.access.states import State
from bot.logs import RedactSecrets
from tests.harness import API_KEY, BOT_TOKEN, OWNER, REQUESTER, SIGNING_SECRET, stored_bytes

SECRETS = (API_KEY, BOT_TOKEN, SIGNING_SECRET)


def test_a_whole_lifecycle_leaks_no_secret(bot, slack, elastic, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    elastic.script("POST", r"/role_assignments$", 503, times=1)  # errors get logged too
    bot.command(REQUESTER, "request prod-search deployment-viewer 1h INC-5 secrets drill")
    slack.wait_for(lambda: bot.state(1) is State.PENDING)
    bot.decide(1, OWNER, approve=True)
    bot.advance(timedelta(hours=1, seconds=1))
    assert bot.state(1) is State.EXPIRED
    lines = [caplog.handler.format(r) for r in caplog.records] + [
        r.getMessage() for r in caplog.records
    ]
    assert lines, "the lifecycle should have logged something"
    for secret in SECRETS:
        assert not any(secret in line for line in lines), f"a log line holds {secret[:6]}…"
    data = stored_bytes(bot.runtime)
    for secret in SECRETS:
        assert secret.encode() not in data, f"the database holds {secret[:6]}…"
    for call in slack.calls:
        body = str(call["args"])
        for secret in SECRETS:
            assert secret not in body
    for call in elastic.calls:  # the key travels only in the Authorization header
        assert API_KEY not in str(call["body"]) and API_KEY not in call["path"]


def test_the_redacting_filter_hides_secrets_in_messages_and_tracebacks():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "key=%s", (API_KEY,), None)
    try:
        raise RuntimeError(f"boom {BOT_TOKEN}")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    RedactSecrets(SECRETS).filter(record)
    assert API_KEY not in record.getMessage() and "[redacted]" in record.getMessage()
    assert BOT_TOKEN not in (record.exc_text or "")


def test_json_logs_carry_the_request_reference(bot, slack, capsys):
    import json as _json

    from bot import logs

    logs.configure("json", "INFO", SECRETS)
    try:
        bot.command(REQUESTER, "request prod-search deployment-viewer 1h INC-8 log drill")
        slack.wait_for(lambda: bot.state(1) is State.PENDING)
        bot.decide(1, OWNER, approve=True)
    finally:
        logging.getLogger().handlers.clear()
    records = [
        _json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    about = [r for r in records if "granted until" in r["message"]]
    assert about and all(r.get("request") == "#1" for r in about)
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
