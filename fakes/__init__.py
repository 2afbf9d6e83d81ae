"""Fakes shared by the tests and the benchmarks: real HTTP servers on 127.0.0.1 that stand in
for Slack and Elastic Cloud, and the Slack payloads that drive the bot.

Not part of the bot: the wheel ships only ``bot`` (``[tool.setuptools.packages.find]``).
"""
