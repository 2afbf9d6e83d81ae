"""Wakes the core up: one timer per grant, a periodic sweep, a catalogue refresh.

The scheduler holds nothing of its own: every job is derived from the database at start
(in-memory job store, nothing pickled) and only calls the core's idempotent entry points.
"""

from bot.scheduler.jobs import Scheduler

__all__ = ["Scheduler"]
