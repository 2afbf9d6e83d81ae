"""What a handler is given and what it answers: the request, the reply, the API error.

Shared by the HTTP pipeline (:mod:`.server`), the handlers and the search evaluator, so that
none of them imports another just for these types. Errors are shaped as Elastic Cloud shapes
them: ``{"errors": [{"code", "message"}]}`` plus the ``x-cloud-error-codes`` header.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.standins.elastic.spec import Operation


class _ApiError(Exception):
    """Raised by a handler to answer with a documented error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class _Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    operation: Operation
    path_params: dict[str, str]


def _error_reply(status: int, code: str, message: str, fields: list[str] | None = None) -> _Reply:
    element: dict[str, Any] = {"code": code, "message": message}
    if fields:
        element["fields"] = fields
    return _Reply(status, {"errors": [element]}, {"x-cloud-error-codes": code})
