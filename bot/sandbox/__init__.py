"""``python -m bot sandbox``: the real bot against local stand-ins for Slack and Elastic Cloud.

Why: nobody should need a Slack workspace and an organization-owner key to see what the bot
does, nor test a policy file on production. The sandbox starts the stand-ins of
:mod:`bot.standins`, seeds them with a demo organization (or the user's own, ``--seed``),
and runs the unchanged bot against them through the same signed HTTP requests Slack sends.

One module per job: ``seed`` (what exists), ``world`` (the running servers), ``actions``
(what a person can do), ``snapshot`` (what everyone sees), ``blockkit`` (Block Kit as
HTML), ``web`` (the page), ``script`` (headless scenarios), ``cli`` (the command line).
"""
