"""elastic-access-bot: just-in-time, time-bound Elastic Cloud access from Slack."""

__version__ = "0.1.0"
