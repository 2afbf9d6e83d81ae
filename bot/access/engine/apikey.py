"""The API key: while Elastic Cloud refuses it, granting pauses (nothing is attempted or
counted) and the sweep asks again with backoff; the integration owners are told once when it
is refused, when it works again, and before it expires.
"""

from __future__ import annotations

import logging
import math
import threading
from datetime import datetime, timedelta

from bot.access import alerts
from bot.access.engine.core import (
    Part,
)
from bot.access.model import AccessRequest
from bot.access.ports import UpstreamError

log = logging.getLogger(__name__)

#: While Elastic Cloud refuses the API key, how often the sweep asks again: from the first,
#: doubling up to the last.
KEY_PROBE_FIRST = timedelta(seconds=30)
KEY_PROBE_MAX = timedelta(minutes=15)
#: Days before the API key expires when the integration owners are warned, and how often
#: its expiry is read (with ``ELASTIC_CLOUD_API_KEY_ID`` set).
KEY_EXPIRY_WARNINGS = (14, 7, 1)
KEY_EXPIRY_CHECK = timedelta(hours=6)


class KeyWatch(Part):
    def __init__(self, core) -> None:
        super().__init__(core)
        #: While the API key is refused: since when, and when the sweep next asks again.
        self._key_lock = threading.Lock()
        self._key_rejected_since: datetime | None = None
        self._key_probe_at: datetime | None = None
        self._key_probe_delay = KEY_PROBE_FIRST
        self._key_expiry_read_at: datetime | None = None
        self._key_expiry_warned: set[int] = set()

    @property
    def api_key_id(self) -> str | None:
        return self.core.api_key_id

    def refused(self, exc: Exception, now: datetime) -> bool:
        """Whether ``exc`` says Elastic Cloud refused the API key; if so granting pauses
        (the integration owners and the notify channel are told once)."""
        if not getattr(exc, "credentials_rejected", False):
            return False
        with self._key_lock:
            first = self._key_rejected_since is None
            if first:
                self._key_rejected_since = now
                self._key_probe_delay = KEY_PROBE_FIRST
                self._key_probe_at = now + KEY_PROBE_FIRST
        if first:
            log.error("Elastic Cloud refused the API key (%s): granting paused", exc)
            self.notifier.credentials_refused(self.core.people.integration_owners(), str(exc)[:300])
        return True

    def wait(self, request: AccessRequest, now: datetime) -> bool:
        """While the key is refused, leave the request waiting in its state (no attempt
        made, none counted) until the next probe; True if it waits."""
        with self._key_lock:
            if self._key_rejected_since is None:
                return False
            wake = self._key_probe_at or now
        if request.expires_at is not None:
            wake = min(wake, request.expires_at)  # a granting row still ends on time
        self.store.update_fields(
            request.id, now=now, next_attempt_at=wake, lease_owner=None, lease_until=None
        )
        return True

    def watch(self, now: datetime) -> None:
        """Each sweep: notice a key refused by any call (revocations included), ask again
        with backoff while it is, and when it works again let the waiting grants go on."""
        rejected = getattr(self.elastic, "credentials_rejected", None)
        if rejected and self._key_rejected_since is None:
            self.refused(_KeyRefused(rejected), now)
        with self._key_lock:
            if self._key_rejected_since is None:
                return
            probe = self._key_probe_at is None or now >= self._key_probe_at
        if probe:
            try:
                getattr(self.elastic, "organization", lambda: None)()
            except UpstreamError as exc:
                with self._key_lock:
                    self._key_probe_delay = min(self._key_probe_delay * 2, KEY_PROBE_MAX)
                    self._key_probe_at = now + self._key_probe_delay
                log.warning("Elastic Cloud API key still refused (%s)", exc)
                if getattr(exc, "credentials_rejected", False):
                    return
        if getattr(self.elastic, "credentials_rejected", None):
            return
        with self._key_lock:
            since, self._key_rejected_since, self._key_probe_at = (
                self._key_rejected_since,
                None,
                None,
            )
        if since is None:
            return
        waiting = self.store.wake_grants(now)
        log.warning("Elastic Cloud accepts the API key again: %d grant(s) go on", waiting)
        self.notifier.credentials_restored(self.core.people.integration_owners(), waiting)

    def watch_expiry(self, now: datetime) -> None:
        """Warn the integration owners 14, 7 and 1 days before the API key expires (each
        once per process), reading its expiry every few hours."""
        read = getattr(self.elastic, "api_key_expiry", None)
        if not self.api_key_id or read is None:
            return
        if self._key_expiry_read_at and now - self._key_expiry_read_at < KEY_EXPIRY_CHECK:
            return
        self._key_expiry_read_at = now
        try:
            expires = read(self.api_key_id)
        except (UpstreamError, ValueError) as exc:
            log.warning("could not read the API key's expiry (%s)", exc)
            return
        if expires is None:
            return
        left = expires - now
        due = {d for d in KEY_EXPIRY_WARNINGS if left <= timedelta(days=d)}
        if not due or min(due) in self._key_expiry_warned:
            return
        self._key_expiry_warned |= due
        days = max(0, math.ceil(left.total_seconds() / 86400))
        log.warning("the Elastic Cloud API key expires in %d day(s), at %s", days, expires)
        self.notifier.notify_owners(
            self.core.people.integration_owners(),
            alerts.ApiKeyExpiring(self.api_key_id, days, expires),
        )


class _KeyRefused(Exception):
    """A refusal of the API key seen by some other call (the client remembers it)."""

    credentials_rejected = True
