"""The product's core: requests, states, grammar, policy and the service that runs them.

Nothing in this package imports Slack, HTTP or SQLite; it talks to them through the
protocols in :mod:`bot.access.ports`, so it can be tested with plain objects and a fake clock.
"""
