"""Stand-ins for Slack and Elastic Cloud: real HTTP servers on 127.0.0.1.

Product code, not only test code: the sandbox (``python -m bot sandbox``) runs the real bot
against them, and the tests and the benchmarks use the same servers. ``elastic``
refuses what Elastic Cloud refuses (checked against the published specs when they are at
hand; otherwise routed by its own table and checked against its own request models, so a
malformed request is refused on a bare clone too); ``slack`` answers the Slack Web API
methods the bot calls; ``payloads`` builds the signed requests Slack would send.
"""
