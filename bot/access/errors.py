"""Errors the core raises for people: each carries a message fit to show the person who acted."""

from __future__ import annotations


class AccessError(Exception):
    """Something a user asked for that cannot be done; ``str()`` is the message they see."""


class InvalidRequest(AccessError):
    """The request is malformed (bad resource, role, duration, justification)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotAllowed(AccessError):
    """The actor may not do this (not an approver, own request, not visible)."""


class AlreadyDecided(AccessError):
    """Someone else's write won the race, or the request moved on."""


class NotFound(AccessError):
    """No request with that ID."""
