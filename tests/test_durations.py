"""Durations as people type them, and as the bot writes them back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.access.durations import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("  45m ", timedelta(minutes=45)),
        ("2H", timedelta(hours=2)),
        ("1H30M", timedelta(hours=1, minutes=30)),
        ("1D", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
    ],
)
def test_accepts_what_people_type(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "   ", None])
def test_empty_is_refused_with_examples(text):
    with pytest.raises(DurationError) as err:
        parse_duration(text)
    message = str(err.value)
    assert "required" in message
    assert "30m" in message and "2h" in message


def test_bare_number_is_refused_and_the_message_suggests_units():
    with pytest.raises(DurationError) as err:
        parse_duration("2")
    message = str(err.value)
    assert "no unit" in message
    assert "2m" in message and "2h" in message


@pytest.mark.parametrize("text", ["0m", "0h", "0h0m", "0d 0m"])
def test_zero_is_refused(text):
    with pytest.raises(DurationError, match="zero"):
        parse_duration(text)


def test_repeated_unit_is_refused_naming_the_unit():
    with pytest.raises(DurationError) as err:
        parse_duration("1h1h")
    assert "'h'" in str(err.value)
    assert "twice" in str(err.value)


@pytest.mark.parametrize(
    "text",
    ["-1h", "1x", "h", "m30", "1.5h", "1h30", "two hours", "1h-30m", "∞", "1h;drop", "+2h"],
)
def test_garbage_is_refused_with_examples(text):
    with pytest.raises(DurationError) as err:
        parse_duration(text)
    message = str(err.value)
    assert text in message  # the user sees what they typed
    assert "30m" in message  # ... and how to write it


def test_duration_error_is_a_value_error():
    # Callers (config validators) rely on this to turn it into a one-line config error.
    assert issubclass(DurationError, ValueError)


@pytest.mark.parametrize("text", ["9999999999999d", "1000000000d", "99999999999999999999w"])
def test_absurdly_long_duration_is_a_duration_error(text):
    with pytest.raises(DurationError):
        parse_duration(text)


def test_thousands_of_digits_is_a_duration_error():
    with pytest.raises(DurationError):
        parse_duration("9" * 5000 + "h")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(minutes=30), "30m"),
        (timedelta(hours=2), "2h"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(days=1, hours=2), "1d2h"),
        (timedelta(days=8), "8d"),
        (timedelta(seconds=90), "1m30s"),
        (5400, "1h30m"),
        (5400.0, "1h30m"),
        (timedelta(0), "0m"),
        (-60, "0m"),
    ],
)
def test_format_duration(value, text):
    assert format_duration(value) == text


@pytest.mark.parametrize("text", ["30m", "2h", "1d", "1h30m", "1d2h3m", "12h"])
def test_formatted_text_reads_back_as_typed(text):
    assert format_duration(parse_duration(text)) == text


@given(st.integers(min_value=1, max_value=60 * 24 * 3650))
def test_format_parse_round_trip(minutes):
    seconds = minutes * 60
    text = format_duration(seconds)
    assert parse_duration(text) == timedelta(seconds=seconds)
    assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize(
    ("duration", "expires_in"),
    [
        (timedelta(minutes=1), "1h"),
        (timedelta(minutes=45), "1h"),
        (timedelta(minutes=90), "2h"),
        (timedelta(hours=2), "2h"),
        (timedelta(hours=24), "1d"),
        (timedelta(hours=25), "25h"),
        (timedelta(days=3), "3d"),
    ],
)
def test_invitation_expiry_is_whole_hours_or_days_rounded_up(duration, expires_in):
    from bot.access.service import invitation_expiry

    assert invitation_expiry(duration) == expires_in
