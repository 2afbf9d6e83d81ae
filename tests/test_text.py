"""Unit tests of bot/access/text.py: what untrusted text becomes before Slack shows it.

Fast and pure, so the mutation run (scripts/mutation) covers them: the Slack escaping is
otherwise tested only end to end."""

from __future__ import annotations

import pytest

from bot.access.text import clean, escape, plain, summary, unescape


def test_escape_turns_the_three_special_characters_into_entities() -> None:
    assert escape("a & <b>") == "a &amp; &lt;b&gt;"
    # The ampersand first: an entity someone typed stays literal text, escaped once.
    assert escape("&lt;!channel&gt;") == "&amp;lt;!channel&amp;gt;"
    assert escape("<!channel> <https://evil.example|INC-1>") == (
        "&lt;!channel&gt; &lt;https://evil.example|INC-1&gt;"
    )
    assert escape(42) == "42"


@pytest.mark.parametrize(
    "invisible",
    [
        "\u202e",
        "\u202a",
        "\u2066",
        "\u2069",
        "\u200b",
        "\u200d",
        "\u200e",
        "\u061c",
        "\u2060",
        "\ufeff",
    ],
)
def test_clean_strips_bidi_controls_and_zero_width_characters(invisible: str) -> None:
    assert clean(f"admin{invisible}resu") == "adminresu"
    assert escape(f"a{invisible}&b") == "a&amp;b"


def test_clean_keeps_ordinary_text() -> None:
    text = "Zoë's prod-search, 2h (INC-42) — ok\nnext line"
    assert clean(text) == text


def test_unescape_undoes_slack_escaping_once() -> None:
    assert unescape("a &amp; &lt;b&gt;") == "a & <b>"
    assert unescape("&amp;lt;") == "&lt;"
    assert unescape(escape("x & <y> &amp;")) == "x & <y> &amp;"
    assert plain("&lt;@U1&gt;\u202e") == "<@U1>"


def test_summary_is_the_first_line_cleaned_and_cut() -> None:
    assert summary("\n  role   not\u200b found \nsecond line") == "role not found"
    assert summary("x" * 10, limit=5) == "xxxx…"
    assert summary("x" * 5, limit=5) == "xxxxx"
    assert summary("y" * 500) == "y" * 199 + "…"  # 200 characters by default
    assert summary("abc def ghi", limit=5) == "abc…"  # no space left before the ellipsis
    assert summary("") == summary("\n \n\u200b\n") == ""
    assert summary(404) == "404"  # type: ignore[arg-type]
