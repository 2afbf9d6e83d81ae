"""Crash points for the crash-safety suite: die exactly here, as ``kill -9`` would.

Set ``ELASTIC_ACCESS_CRASH_AT=<point>`` and the process exits at once (``os._exit``: no
cleanup, no flushing) the first time it passes that point. Unset in production, where every
call is one dictionary lookup.
"""

from __future__ import annotations

import os
import sys

CRASH_ENV = "ELASTIC_ACCESS_CRASH_AT"

POINTS = (
    "after_request_stored",  # the request row exists; nobody has been told
    "after_approval_stored",  # approved in the database; no grant row yet
    "after_grant_row",  # grant row with expires_at committed; Elastic not called yet
    "after_elastic_grant",  # Elastic accepted the role; the row still says granting
    "after_revoking_row",  # revocation claimed; Elastic not called yet
    "after_elastic_revoke",  # Elastic removed the role; the row still says revoking
)


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        sys.stderr.write(f"crash point {name}: exiting now\n")
        sys.stderr.flush()
        os._exit(137)
