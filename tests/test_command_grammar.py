"""What ``/elastic-access <text>`` means, and what the user is told when it means nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.access.commands import (
    FileRequest,
    Help,
    ListRequests,
    OpenModal,
    Revoke,
    parse_command,
)
from bot.access.errors import InvalidRequest
from bot.access.text import plain


@pytest.mark.parametrize("text", ["", "   ", None, "request", "request   ", "REQUEST"])
def test_no_arguments_opens_the_form(text):
    assert parse_command(text) == OpenModal()


def test_full_request_with_quoted_justification():
    parsed = parse_command('request prod-search deployment-viewer 2h "investigating INC-42"')
    assert parsed == FileRequest(
        resource="prod-search",
        role="deployment-viewer",
        duration=timedelta(hours=2),
        justification="investigating INC-42",
    )


def test_unquoted_justification_words_are_joined():
    parsed = parse_command(
        "request prod-search deployment-viewer 1h30m looking at   the INC-42 logs"
    )
    assert isinstance(parsed, FileRequest)
    assert parsed.duration == timedelta(hours=1, minutes=30)
    assert parsed.justification == "looking at the INC-42 logs"


def test_justification_with_an_apostrophe_is_kept():
    # An unbalanced quote must not lose the request: the words are split plainly instead.
    parsed = parse_command("request prod-search deployment-viewer 2h can't reach the cluster")
    assert isinstance(parsed, FileRequest)
    assert parsed.justification == "can't reach the cluster"


def test_quoted_resource_name_with_spaces():
    parsed = parse_command('request "prod search" deployment-viewer 30m why not')
    assert isinstance(parsed, FileRequest)
    assert parsed.resource == "prod search"


def test_verb_and_role_are_case_insensitive_resource_is_kept():
    parsed = parse_command("Request Prod-Search Deployment-Viewer 2H reason")
    assert isinstance(parsed, FileRequest)
    assert parsed.resource == "Prod-Search"
    assert parsed.role == "deployment-viewer"
    assert parsed.duration == timedelta(hours=2)


@pytest.mark.parametrize(
    "text", ["request prod-search", "request prod-search deployment-viewer", "request a"]
)
def test_missing_arguments_show_the_usage(text):
    with pytest.raises(InvalidRequest) as err:
        parse_command(text)
    message = plain(str(err.value))  # as Slack shows the mrkdwn
    assert "Missing arguments" in message
    assert "/elastic-access request <resource> <role> <duration> <justification" in message


@pytest.mark.parametrize(
    "text",
    [
        "request prod-search deployment-viewer 2h",
        "request prod-search deployment-viewer 2h    ",
        'request prod-search deployment-viewer 2h ""',
    ],
)
def test_missing_justification_says_why_it_is_needed(text):
    with pytest.raises(InvalidRequest) as err:
        parse_command(text)
    assert err.value.field == "justification"
    assert "justification is required" in str(err.value)
    assert "after the duration" in str(err.value)


def test_bare_number_duration_suggests_units():
    with pytest.raises(InvalidRequest) as err:
        parse_command("request prod-search deployment-viewer 2 looking at logs")
    assert err.value.field == "duration"
    message = str(err.value)
    assert message.startswith("Duration:")
    assert "2m" in message and "2h" in message


@pytest.mark.parametrize("duration", ["0m", "2x", "1h1h", "-1h", "soon"])
def test_bad_duration_is_flagged_on_the_duration_field(duration):
    with pytest.raises(InvalidRequest) as err:
        parse_command(f"request prod-search deployment-viewer {duration} looking at logs")
    assert err.value.field == "duration"
    assert duration in str(err.value)


def test_absurdly_long_duration_is_an_invalid_request():
    with pytest.raises(InvalidRequest) as err:
        parse_command("request prod-search deployment-viewer 9999999999999d looking at logs")
    assert err.value.field == "duration"


def test_list_with_filters():
    assert parse_command("list active pending") == ListRequests(("active", "pending"))


@pytest.mark.parametrize("text", ["list", "list  ", "LIST"])
def test_list_without_filters(text):
    assert parse_command(text) == ListRequests(())


@pytest.mark.parametrize("text", ["revoke #12", "revoke 12", "revoke   #12  ", "REVOKE 12"])
def test_revoke_by_id(text):
    assert parse_command(text) == Revoke(12)


def test_revoke_with_a_non_id_says_what_ids_look_like():
    with pytest.raises(InvalidRequest) as err:
        parse_command("revoke abc")
    assert "'abc' is not a request ID" in str(err.value)
    assert "#12" in str(err.value)


@pytest.mark.parametrize("text", ["revoke", "revoke   ", "revoke 12 13", "revoke #12 now"])
def test_revoke_without_exactly_one_id_shows_usage(text):
    with pytest.raises(InvalidRequest) as err:
        parse_command(text)
    assert "/elastic-access revoke <id>" in plain(str(err.value))


@pytest.mark.parametrize("text", ["revoke ##12", "revoke 12a", "revoke #-1", "revoke 1.5"])
def test_revoke_malformed_ids(text):
    with pytest.raises(InvalidRequest, match="is not a request ID"):
        parse_command(text)


@pytest.mark.parametrize("text", ["help", "HELP", "help me please"])
def test_help(text):
    assert parse_command(text) == Help()


@pytest.mark.parametrize("text", ["grant prod 2h", "approve 12", "lsit", "?"])
def test_unknown_verb_points_to_help(text):
    with pytest.raises(InvalidRequest) as err:
        parse_command(text)
    message = str(err.value)
    assert "Unknown subcommand" in message
    assert text.split()[0].lower() in message
    assert "/elastic-access help" in message
    assert err.value.field is None


def test_break_glass_is_a_request_taken_at_once():
    parsed = parse_command("break-glass prod-search deployment-admin 30m INC-42 outage")
    assert parsed == FileRequest(
        "prod-search", "deployment-admin", timedelta(minutes=30), "INC-42 outage", True
    )
    assert parse_command("BreakGlass prod-search deployment-admin 30m why").break_glass
    assert parse_command("request prod-search deployment-admin 30m why").break_glass is False
    with pytest.raises(InvalidRequest, match="justification is required"):
        parse_command("break-glass prod-search deployment-admin 30m")
    with pytest.raises(InvalidRequest, match="break-glass &lt;resource&gt;"):
        parse_command("break-glass prod-search")
