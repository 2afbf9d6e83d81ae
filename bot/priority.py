"""Slack's acknowledgements come before the work behind them.

Slack gives an ack 3 seconds; the grant, the DMs and the card updates behind an approval can
start a few milliseconds later without anyone noticing. In one Python process both share the
GIL (and, on a small machine, the CPUs), so under a burst of clicks the background work of
earlier clicks slowed the acks of later ones (docs/benchmark-history.md).

The web app counts the Slack requests it is answering (:func:`answering`). Work handed off
by a listener runs marked as background (:func:`background`). When it starts (a listener
hands it off before its own answer is written) and before each outbound call (the Elastic
client's request hook, the Slack client's ``api_call``), it :func:`pause`-s while any
request is in flight and until :data:`QUIET` has passed since the last answer went out, for
at most :data:`MAX_PAUSE` each time; while requests keep coming, one background thread goes
on at a time. A steady stream of requests slows the work down and never stops it.

The quiet period covers what the count cannot see: the next request's time in the server
before the application is called. Revocations (the scheduler's threads) and the notification
queue are not marked, so they never wait: punctual revocation is the other promise that
cannot slip.

Process-wide on purpose: the GIL and the CPUs the requests compete for are process-wide.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: The longest one outbound call of background work waits for acks to finish.
MAX_PAUSE = 0.02

_cond = threading.Condition()
_in_flight = 0
_local = threading.local()
#: When the last answer went out (monotonic).
_last_end = 0.0
#: Background work also waits this long after the last answer went out: requests come in
#: bursts, and the next one spends a few milliseconds in the server before it is counted.
QUIET = 0.005
#: The background thread allowed one step while requests are in flight (its ident), if any.
_turn: int | None = None


def begin() -> None:
    """A Slack request is being answered (pair with :func:`end`)."""
    global _in_flight
    with _cond:
        _in_flight += 1


def end() -> None:
    """Its answer went out."""
    global _in_flight
    global _last_end
    with _cond:
        _in_flight -= 1
        _last_end = time.monotonic()
        if not _in_flight:
            _cond.notify_all()  # waiters now wait out the quiet period


@contextmanager
def answering() -> Iterator[None]:
    """Around the handling of one Slack request."""
    begin()
    try:
        yield
    finally:
        end()


def background(fn: Callable[[], None]) -> Callable[[], None]:
    """``fn``, run with its thread marked as background work (so :func:`pause` waits)."""

    def run() -> None:
        _local.background = True
        try:
            pause()  # the first step, up to the first call, lets the acks go first too
            fn()
        finally:
            _local.background = False
            _step_done()

    return run


def _step_done() -> None:
    """The calling thread's step of background work ended: another may take the turn."""
    global _turn
    if _turn == threading.get_ident():
        with _cond:
            _turn = None
            _cond.notify_all()


def pause(*_: object) -> None:
    """Let in-flight acks finish first, if this thread is background work.

    While requests are in flight (or less than :data:`QUIET` after the last), background
    work goes one step (from one outbound call to the next) at a time: after waiting
    :data:`MAX_PAUSE`, a thread takes the turn, if nobody holds it, and gives it back at its
    next call. Otherwise every thread runs freely, which is what a grant waiting on Elastic
    Cloud's latency needs.

    Accepts and ignores arguments so it can serve directly as an httpx request hook."""
    global _turn
    if not getattr(_local, "background", False):
        return
    _step_done()
    me = threading.get_ident()
    deadline = time.monotonic() + MAX_PAUSE
    with _cond:
        while True:
            now = time.monotonic()
            quiet_left = _last_end + QUIET - now
            if not _in_flight and quiet_left <= 0:
                return
            left = deadline - now
            if left <= 0 and _turn is None:
                _turn = me
                return
            wait = left if left > 0 else MAX_PAUSE
            _cond.wait(wait if _in_flight else min(wait, quiet_left))


def in_flight() -> int:
    """How many Slack requests are being answered right now (for tests and diagnostics)."""
    return _in_flight
