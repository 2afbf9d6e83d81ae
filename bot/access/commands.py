"""The grammar of ``/elastic-access``: text in, a typed command out, or a message saying why not."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from datetime import timedelta

from bot.access.durations import DurationError, parse_duration
from bot.access.errors import InvalidRequest
from bot.access.limits import check_justification, check_reason
from bot.access.listing import LIST_USAGE
from bot.access.text import escape

USAGE = {
    "request": "/elastic-access request <resource> <role> <duration> <justification…>",
    "break-glass": "/elastic-access break-glass <resource> <role> <duration> <reason…>",
    "list": LIST_USAGE,
    "revoke": "/elastic-access revoke <id>",
    "extend": "/elastic-access extend <id> <duration> <reason…>",
    "who-approves": "/elastic-access who-approves <resource> <role>",
    "help": "/elastic-access help",
}


@dataclass(frozen=True)
class OpenModal:
    """Plain ``/elastic-access`` or ``request`` with no arguments: the form."""


@dataclass(frozen=True)
class FileRequest:
    resource: str
    role: str
    duration: timedelta
    justification: str
    #: Take the access now, without approval, where a rule allows it (announced and audited).
    break_glass: bool = False


@dataclass(frozen=True)
class ListRequests:
    filters: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Revoke:
    request_id: int


@dataclass(frozen=True)
class Extend:
    request_id: int
    duration: timedelta
    reason: str


@dataclass(frozen=True)
class WhoApproves:
    """Who would approve this person's request for ``role`` on ``resource``, and why."""

    resource: str
    role: str


@dataclass(frozen=True)
class Help:
    error: str | None = None


Command = OpenModal | FileRequest | ListRequests | Revoke | Extend | WhoApproves | Help

_ID = re.compile(r"^#?(\d{1,12})$")


def parse_request_id(text: str) -> int:
    match = _ID.match(text.strip())
    if not match:
        raise InvalidRequest(f"'{escape(text)}' is not a request ID; IDs look like #12")
    return int(match.group(1))


def parse_command(text: str) -> Command:
    """Parse what followed the slash command. Raises :class:`InvalidRequest` for bad input;
    its message is mrkdwn, with the words the person typed escaped."""
    text = (text or "").strip()
    if not text:
        return OpenModal()
    verb, *tail = text.split(None, 1)
    verb = verb.lower()
    rest = tail[0].strip() if tail else ""
    if verb == "help":
        return Help()
    if verb == "request":
        return OpenModal() if not rest else _parse_request(rest)
    if verb in ("break-glass", "breakglass"):
        if not rest:
            raise InvalidRequest(f"Usage: `{escape(USAGE['break-glass'])}`")
        return _parse_request(rest, break_glass=True)
    if verb == "list":
        return ListRequests(tuple(rest.split()) if rest else ())
    if verb == "revoke":
        if not rest or len(rest.split()) != 1:
            raise InvalidRequest(f"Usage: `{escape(USAGE['revoke'])}`")
        return Revoke(parse_request_id(rest))
    if verb == "extend":
        words = rest.split()
        if len(words) < 3:
            raise InvalidRequest(f"Usage: `{escape(USAGE['extend'])}`")
        try:
            duration = parse_duration(words[1])
        except DurationError as exc:
            raise InvalidRequest(f"Duration: {escape(exc)}.", field="duration") from exc
        reason = " ".join(words[2:])
        check_reason(reason)
        return Extend(parse_request_id(words[0]), duration, reason)
    if verb in ("who-approves", "whoapproves"):
        try:
            words = shlex.split(rest)
        except ValueError:
            words = rest.split()
        if len(words) != 2:
            raise InvalidRequest(f"Usage: `{escape(USAGE['who-approves'])}`")
        return WhoApproves(words[0], words[1].lower())
    raise InvalidRequest(f"Unknown subcommand '{escape(verb)}'. Try `/elastic-access help`.")


def _parse_request(rest: str, break_glass: bool = False) -> FileRequest:
    try:
        words = shlex.split(rest)
    except ValueError:
        words = rest.split()
    usage = USAGE["break-glass" if break_glass else "request"]
    if len(words) < 3:
        raise InvalidRequest(f"Missing arguments. Usage: `{escape(usage)}`")
    resource, role, duration_text, *reason = words
    try:
        duration = parse_duration(duration_text)
    except DurationError as exc:
        raise InvalidRequest(f"Duration: {escape(exc)}.", field="duration") from exc
    justification = " ".join(reason).strip()
    check_justification(justification)
    if not justification:
        raise InvalidRequest(
            "A justification is required: say why you need this access, after the duration.",
            field="justification",
        )
    return FileRequest(resource, role.lower(), duration, justification, break_glass)
