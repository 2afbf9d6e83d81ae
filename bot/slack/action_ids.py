"""Slack's IDs for what the bot renders and listens to, each defined once.

``blocks`` puts them on buttons, selects and forms; ``listeners`` register on the same names.
Messages already posted in Slack carry these strings, so change none of them: old buttons
would stop working.
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """``action_id`` of a button or select (``@app.action``)."""

    APPROVE = "approve"
    DENY = "deny"
    APPROVE_EXTENSION = "approve_extension"
    DENY_EXTENSION = "deny_extension"
    REVOKE_NOW = "revoke_now"
    EXTEND = "extend"
    ACK_PARKED = "ack_parked"
    OPEN_REQUEST_MODAL = "open_request_modal"
    LIST_PREV = "list_prev"
    LIST_NEXT = "list_next"
    #: On the DM about a request that ended: the form again, filled in from that request.
    REQUEST_AGAIN = "request_again"
    #: The resource select of the request form (its options load from ``@app.options``).
    RESOURCE = "resource"


class View(StrEnum):
    """``callback_id`` of a modal (``@app.view``)."""

    REQUEST_ACCESS = "request_access"
    DENY_REASON = "deny_reason"
    EXTEND_GRANT = "extend_grant"


class Field(StrEnum):
    """``block_id`` (and ``action_id``) of an input in a modal: where its value is read from and
    where a validation error is shown."""

    RESOURCE = "resource"
    ROLE = "role"
    DURATION = "duration"
    JUSTIFICATION = "justification"
    BREAK_GLASS = "break_glass"
    REASON = "reason"
