"""The engine behind :class:`bot.access.service.AccessService`: the lifecycle of a request,
in parts that each own one concern and share one :class:`~bot.access.engine.core.Core`.

Where things are (``core.py``: the shared ports, hooks and words):

==========================  ==================================================================
``engine/people.py``        integration owners, approvers of a request, resource owners, who
                            may see what
``engine/filing.py``        validate, file, who may ask, open-request and break-glass limits,
                            auto-approve and break-glass
``engine/decisions.py``     approvers' decisions on requests and extensions, one quorum count
``engine/extensions.py``    asking for more time, its quorum and room, applying it
``engine/granting.py``      approved → active: plan, write the row, add, confirm
``engine/inviting.py``      grants by invitation, and finding who accepted it
``engine/apikey.py``        a refused API key pauses granting; its expiry is watched
``engine/failures.py``      retry later with backoff, or fail for good
``engine/revocation.py``    revoke, expire, exact removal, restores, parking, appeared roles
``engine/leavers.py``       requesters who may no longer have access
``engine/drift.py``         reconciliation with Elastic, resources renamed or retagged
``engine/followups.py``     time-outs, reminders, escalation, expiry notices, overdue alerts
``engine/outbox.py``        notifications, recorded once people were told; re-sent if not
``engine/sweep.py``         the sweep: due rows on a thread pool, then the follow-ups
==========================  ==================================================================
"""
