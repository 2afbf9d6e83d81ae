"""Elastic Cloud failures, mapped to what the core needs to know: retry or report.

An error's message reaches people (the requester's DM, the approvers' cards), so it says
little: Elastic's first error, its first line, bounded; and of a proxy's HTML page only that
there was one.
"""

from __future__ import annotations

import logging

import httpx

from bot.access.ports import UpstreamError
from bot.access.text import summary
from bot.elastic.models import BasicFailedReply

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
#: Error codes that mean the API key itself was refused, whatever the status (the spec lists
#: 401 ``root.unauthorized`` and 403 ``root.invalid_authentication``).
CREDENTIAL_CODES = frozenset({"root.unauthorized", "root.invalid_authentication"})
#: How much of Elastic's own words a person is shown (its first line, at most).
MAX_MESSAGE = 200
MAX_CODE = 80


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

    @property
    def credentials_rejected(self) -> bool:
        """Elastic Cloud refused the API key: broken for every call, not for this one."""
        return self.status == 401 or (self.status is not None and self.code in CREDENTIAL_CODES)

    @classmethod
    def from_response(cls, response: httpx.Response) -> ElasticError:
        """The error people are shown: a short summary, never a page of someone's markup."""
        status = response.status_code
        if _looks_like_html(response):
            # A proxy, a load balancer or a captive portal answered, not Elastic Cloud: its
            # page says nothing the requester can act on, and whoever runs it chose the words.
            log.info("Elastic Cloud answered HTTP %s with a page, not JSON", status)
            return cls(
                f"Elastic Cloud answered with an unexpected page (HTTP {status})",
                status=status,
                code=f"http_{status}",
                retry_after=_retry_after(response),
            )
        code, message = _parse_error_body(response)
        return cls(
            f"{message} ({code}, HTTP {status})",
            status=status,
            code=code,
            retry_after=_retry_after(response),
        )


def _looks_like_html(response: httpx.Response) -> bool:
    if "html" in response.headers.get("content-type", "").lower():
        return True
    return (response.text or "").lstrip().startswith("<")


def _parse_error_body(response: httpx.Response) -> tuple[str, str]:
    """Elastic's ``{"errors":[{code,message}]}`` (its first error), else the first line of
    the body; each bounded (:func:`bot.access.text.summary`), since they end up in Slack."""
    try:
        reply = BasicFailedReply.model_validate(response.json())
        if reply.errors:
            first = reply.errors[0]
            code = summary(first.code, MAX_CODE) or f"http_{response.status_code}"
            return code, summary(first.message, MAX_MESSAGE) or "no message"
    except ValueError:
        pass
    text = summary(response.text or "", MAX_MESSAGE) or response.reason_phrase or "no body"
    return f"http_{response.status_code}", text


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
