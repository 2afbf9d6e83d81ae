"""The sandbox page's Block Kit renderer (issue #17): what a message says reaches the page as
text, never as markup; what the renderer does not know is shown, never dropped."""

from __future__ import annotations

import json

from bot.sandbox.blockkit import mrkdwn, render, safe_href


def test_plain_and_mrkdwn_text_is_html_escaped() -> None:
    html = render(
        [
            {
                "type": "section",
                "text": {"type": "plain_text", "text": "<script>alert(1)</script>"},
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": '*hi* <img src=x onerror=alert(1)> & "q"'},
            },
            {"type": "header", "text": {"type": "plain_text", "text": "<b>head</b>"}},
        ]
    )
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>head</b>" not in html
    assert "<strong>hi</strong>" in html and "&amp;" in html and "&quot;q&quot;" in html


def test_slack_entities_are_shown_as_the_characters_they_stand_for() -> None:
    assert mrkdwn("a &lt;b&gt; &amp; c") == "a &lt;b&gt; &amp; c"  # escaped once, not twice


def test_minimal_mrkdwn_bold_italic_code_quote_mentions() -> None:
    html = mrkdwn(
        "*Access request #1* _now_ `deployment_viewer` for <@U0ALICE>\n>INC-42",
        {"U0ALICE": "Alice"},
    )
    assert "<strong>Access request #1</strong>" in html
    assert "<em>now</em>" in html
    assert "<code>deployment_viewer</code>" in html  # no italics inside code
    assert "@Alice</span>" in html
    assert "<blockquote>INC-42</blockquote>" in html


def test_links_keep_only_safe_hrefs() -> None:
    html = mrkdwn(
        "<https://cloud.elastic.co|console> <javascript:alert(1)|click me> <data:text/html,x|data>"
    )
    assert '<a href="https://cloud.elastic.co"' in html and ">console</a>" in html
    assert "javascript:" not in html and "click me" in html
    assert "data:text" not in html and "data" in html
    assert html.count("<a ") == 1


def test_a_button_with_an_unsafe_url_is_not_a_link() -> None:
    html = render(
        [
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Go"},
                        "url": "javascript:alert(1)",
                    },
                ],
            }
        ]
    )
    assert "javascript" not in html and "Go" in html and "<a " not in html


def test_safe_href() -> None:
    assert safe_href("https://example.com/a?b=c") == "https://example.com/a?b=c"
    assert safe_href("mailto:someone@example.com") == "mailto:someone@example.com"
    for bad in (
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:x",
        "java\tscript:x",
        "data:text/html,<b>",
        "vbscript:x",
        "//evil.example",
        "http://a b",
    ):
        assert safe_href(bad) is None, bad


def test_unknown_blocks_and_elements_are_shown_as_json() -> None:
    odd_block = {"type": "rich_text_future", "payload": "<b>keep me</b>"}
    odd_element = {"type": "conversations_select", "action_id": "pick"}
    html = render([odd_block, {"type": "actions", "elements": [odd_element]}, "not even a dict"])
    assert html.count('class="bk-unknown"') == 3
    assert "rich_text_future" in html and "&lt;b&gt;keep me&lt;/b&gt;" in html
    assert "conversations_select" in html and "not even a dict" in html
    assert json.dumps("x")  # the JSON is escaped above, never raw


def test_forms_render_inputs_selects_and_errors() -> None:
    blocks = [
        {
            "type": "input",
            "block_id": "resource",
            "dispatch_action": True,
            "label": {"type": "plain_text", "text": "Resource"},
            "element": {"type": "external_select", "action_id": "resource", "min_query_length": 0},
        },
        {
            "type": "input",
            "block_id": "role",
            "label": {"type": "plain_text", "text": "Role"},
            "element": {
                "type": "static_select",
                "action_id": "role",
                "options": [
                    {"text": {"type": "plain_text", "text": "Viewer"}, "value": "deployment-viewer"}
                ],
            },
        },
        {
            "type": "input",
            "block_id": "justification",
            "label": {"type": "plain_text", "text": "Why"},
            "element": {
                "type": "plain_text_input",
                "action_id": "justification",
                "multiline": True,
                "initial_value": "</textarea><script>x</script>",
            },
        },
        {
            "type": "input",
            "block_id": "when",
            "optional": True,
            "label": {"type": "plain_text", "text": "When"},
            "element": {"type": "datepicker", "action_id": "when", "initial_date": "2030-01-07"},
        },
        {
            "type": "input",
            "block_id": "bg",
            "label": {"type": "plain_text", "text": "Emergency"},
            "element": {
                "type": "checkboxes",
                "action_id": "bg",
                "options": [
                    {"text": {"type": "plain_text", "text": "Break-glass"}, "value": "yes"}
                ],
            },
        },
    ]
    html = render(blocks, errors={"justification": "Say why <here>"})
    assert 'class="bk-typeahead"' in html and 'data-dispatch="1"' in html
    assert '<option value="deployment-viewer">Viewer</option>' in html
    assert "</textarea><script>" not in html and "&lt;/textarea&gt;&lt;script&gt;" in html
    assert 'type="date"' in html and 'value="2030-01-07"' in html and "(optional)" in html
    assert 'type="checkbox"' in html and 'value="yes"' in html
    assert 'class="bk-error" role="alert">Say why &lt;here&gt;</div>' in html


def test_buttons_carry_what_a_click_sends() -> None:
    html = render(
        [
            {
                "type": "actions",
                "block_id": "decide:7",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "approve",
                        "value": '7" onclick="x',
                        "style": "primary",
                        "text": {"type": "plain_text", "text": "Approve"},
                        "confirm": {
                            "title": {"type": "plain_text", "text": "Sure?"},
                            "text": {"type": "plain_text", "text": "Really <b>"},
                        },
                    }
                ],
            }
        ]
    )
    assert 'data-action-id="approve"' in html and 'data-block-id="decide:7"' in html
    assert 'data-value="7&quot; onclick=&quot;x"' in html
    assert 'data-confirm="Sure? — Really &lt;b&gt;"' in html and "bk-primary" in html


def test_a_message_without_blocks_shows_its_text() -> None:
    assert "<strong>done</strong>" in render([], text="*done*")
