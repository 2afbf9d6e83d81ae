"""Elastic Cloud failures, mapped to what the core needs to know: retry or report."""

from __future__ import annotations

import re

import httpx

from bot.access.ports import UpstreamError
from bot.elastic.models import BasicFailedReply

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class ElasticError(UpstreamError):
    """An error answer from Elastic Cloud, with its code and message when it sent them."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        retryable = status is None or status in RETRYABLE_STATUS
        super().__init__(message, retryable=retryable, code=code)
        self.status = status
        self.retry_after = retry_after

    @classmethod
    def from_response(cls, response: httpx.Response) -> ElasticError:
        code, message = _parse_error_body(response)
        return cls(
            f"{message} ({code}, HTTP {response.status_code})",
            status=response.status_code,
            code=code,
            retry_after=_retry_after(response),
        )


def _parse_error_body(response: httpx.Response) -> tuple[str, str]:
    """Elastic's ``{"errors":[{code,message}]}``, or the gist of a proxy's HTML page."""
    try:
        reply = BasicFailedReply.model_validate(response.json())
        if reply.errors:
            first = reply.errors[0]
            return first.code, first.message
    except ValueError:
        pass
    text = re.sub(r"<[^>]+>", " ", response.text or "")
    text = " ".join(text.split())[:200] or response.reason_phrase or "no body"
    return f"http_{response.status_code}", text


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
