"""Invitation tokens are bearer credentials: whoever holds one can join the organization.

The bot keeps only their sha256. When it needs the token itself (to withdraw an invitation,
or to find its own after a crash), it lists the organization's pending invitations, which
Elastic Cloud returns with their tokens, and picks the one whose hash matches. A copy of the
database is then no way into the organization.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def digest(token: str) -> str:
    """What the bot stores for ``token``: its sha256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def find(tokens: Iterable[str], stored: str | None) -> str | None:
    """The token among ``tokens`` (pending invitations) whose digest is ``stored``, if any."""
    if not stored:
        return None
    return next((t for t in tokens if digest(t) == stored), None)
