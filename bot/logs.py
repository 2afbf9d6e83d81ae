"""Logging: readable text by default, one JSON object per line with ``LOG_FORMAT=json``.

A redacting filter sits on the root handler: whatever a library or a careless format string
tries to print, a secret this process holds comes out as ``[redacted]``.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

#: The request a log line is about (``#12``), set around work on one request.
request_ref: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_ref", default=None
)


def about_request(func):
    """Decorate a method whose first argument is a request (or its ID): every log line
    written while it runs carries that request's reference (``#12``)."""

    @functools.wraps(func)
    def wrapper(self, first, *args, **kwargs):
        ref = f"#{first}" if isinstance(first, int) else f"#{getattr(first, 'id', '?')}"
        token = request_ref.set(ref)
        try:
            return func(self, first, *args, **kwargs)
        finally:
            request_ref.reset(token)

    return wrapper


class WithholdForgedBodies(logging.Filter):
    """Bolt logs a request whose signature fails with its whole body. That body is whatever
    a forger sent, or a captured real request replayed (its ``response_url`` can post to a
    channel for half an hour): the log keeps only that it happened and the body's size."""

    PREFIX = "Invalid request signature detected"

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(self.PREFIX):
            size = len(message.partition("body: ")[2])
            record.msg = f"{self.PREFIX} (body withheld, about {size} characters)"
            record.args = ()
        return True


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "[redacted]")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = self._clean(record.getMessage())
            record.msg, record.args = message, None
            if record.exc_info and not record.exc_text:
                record.exc_text = self._clean(logging.Formatter().formatException(record.exc_info))
            elif record.exc_text:
                record.exc_text = self._clean(record.exc_text)
        record.request = request_ref.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if getattr(record, "request", None):
            data["request"] = record.request
        if record.exc_info or record.exc_text:
            data["error"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ref = getattr(record, "request", None)
        prefix = f"[{ref}] " if ref else ""
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%d %H:%M:%S")
        line = f"{stamp} {record.levelname:<7} {record.name}: {prefix}{record.getMessage()}"
        if record.exc_text:
            line += "\n" + record.exc_text
        elif record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure(fmt: str = "text", level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactSecrets(secrets))
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "apscheduler.executors", "apscheduler.scheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
