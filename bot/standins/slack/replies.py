"""What a Web API method handler raises or answers, and the small argument helpers they share.

Apart so that the Block Kit checker, the methods and the HTTP side use the same error type
(``{"ok": false, "error": code, ...}``) without importing one another.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


class _ApiError(Exception):
    """Raised inside method handlers to answer ``{"ok": false, "error": code, ...}``."""

    def __init__(self, code: str, status: int = 200, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.extra = extra


def _invalid_arguments(messages: Iterable[str]) -> _ApiError:
    return _ApiError("invalid_arguments", response_metadata={"messages": list(messages)})


@dataclass
class _Reply:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class _Script:
    reply: _Reply
    remaining: int


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value == "")


def _ptr(base: str, *parts: Any) -> str:
    return base + "".join(f"/{p}" for p in parts)
