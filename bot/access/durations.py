"""Durations as people type them: ``30m``, ``2h``, ``1d``, ``1h30m``.

Kept strict on purpose: an access bot that guesses what "2" means grants the wrong thing.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)\s*([wdhms])")
_WHOLE = re.compile(r"^(?:\d+\s*[wdhms]\s*)+$")


#: Far beyond any sensible grant, and far below what ``timedelta`` can hold.
LONGEST = timedelta(days=3650)


class DurationError(ValueError):
    """A duration the user typed that cannot be understood."""


def parse_duration(text: str) -> timedelta:
    """Parse ``1h30m``-style text; raises :class:`DurationError` with a fixable message."""
    raw = (text or "").strip().lower().replace(" ", "")
    if not raw:
        raise DurationError("a duration is required, e.g. 30m, 2h, 1d or 1h30m")
    if raw.isdigit():
        raise DurationError(f"'{text}' has no unit; write it like {raw}m or {raw}h")
    if not _WHOLE.match(raw):
        raise DurationError(f"'{text}' is not a duration; write it like 30m, 2h, 1d or 1h30m")
    seen: set[str] = set()
    seconds = 0
    for amount, unit in _PART.findall(raw):
        if unit in seen:
            raise DurationError(f"'{text}' names '{unit}' twice")
        seen.add(unit)
        if len(amount.lstrip("0")) > 9:
            raise DurationError(f"'{text}' is too long; at most {LONGEST.days}d")
        seconds += int(amount) * _UNITS[unit]
    if seconds <= 0:
        raise DurationError(f"'{text}' is zero; access needs at least 1m")
    if seconds > LONGEST.total_seconds():
        raise DurationError(f"'{text}' is too long; at most {LONGEST.days}d")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta | float | int) -> str:
    """Render a duration compactly (``1h30m``), the same way users type it."""
    total = int(delta.total_seconds() if isinstance(delta, timedelta) else delta)
    if total <= 0:
        return "0m"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    return "".join(parts)
