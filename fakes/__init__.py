"""Test infrastructure that is not part of the bot: a throwaway PostgreSQL server.

The Slack and Elastic stand-ins moved into the package (``bot.standins``): the sandbox uses them.
"""
