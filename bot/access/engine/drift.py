"""Elastic Cloud or the catalogue changing under the bot: the daily reconciliation of what
the bot owns and removed against what Elastic shows, and renamed or retagged resources with
open requests. Both are reported to the integration owners, once; nothing is changed.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.access import alerts, planning
from bot.access.engine.core import (
    SYSTEM,
    Part,
)
from bot.access.model import AccessRequest
from bot.access.planning import holds
from bot.access.resources import Resource, Unit
from bot.access.states import State
from bot.access.text import escape

log = logging.getLogger(__name__)

#: How far back the reconciliation checks what the bot removed (grants ended since).
RECONCILE_LOOKBACK = timedelta(days=30)


class Drift(Part):
    def reconcile(self) -> list[dict]:
        """Compare what the bot owns, and what it recorded as removed for grants that ended
        in the last ``RECONCILE_LOOKBACK``, with what Elastic Cloud shows now. A role the bot
        removed that is back, or one it owns (of a live grant) that vanished, is reported to
        the integration owners, once per finding (remembered in the database). Nothing is
        added or removed. Returns the findings reported this time."""
        now = self.clock.now()
        members = {m.user_id: m for m in self.elastic.members()}  # one read, started now
        found: list[dict] = []
        for user_id, unit, request_id in self.store.all_owned_units():
            request = self.store.get(request_id)
            if request is None or request.state is not State.ACTIVE:
                continue  # being granted or removed: in motion, not drift
            member = members.get(user_id)
            if member is not None and not member.listed:
                continue  # listed without role assignments: not known, so not "vanished"
            if member is None or not holds(member.units, unit):
                found.append(_finding("vanished", request, user_id, unit))
        owned: dict[str, set[Unit]] = {}
        for request_id, user_id, unit in self.store.recent_removals(now - RECONCILE_LOOKBACK):
            member = members.get(user_id)
            if member is None or not holds(member.units, unit):
                continue
            mine = owned.setdefault(user_id, self.store.owned_units(user_id))
            if holds(mine, unit) or unit in self.store.units_needed_by_others(user_id, 0):
                continue  # a later grant of the bot gives it again
            found.append(_finding("returned", self.store.get(request_id), user_id, unit))
        new = [
            f
            for f in found
            if self.store.first_finding(f["key"], f["kind"], f["request"].id, f["detail"], now)
        ]
        for f in new:
            self.store.event(f["request"].id, now, SYSTEM, f"drift_{f['kind']}", f["detail"])
            log.warning("reconcile: %s", f["detail"]["what"])
        if new:
            self.notifier.notify_owners(
                self.core.people.integration_owners(),
                alerts.DriftFound(tuple(f["finding"] for f in new)),
            )
        log.info("reconcile: %d finding(s), %d new", len(found), len(new))
        return [{"kind": f["kind"], **f["detail"]} for f in new]

    def resources_changed(self, changes: list[tuple[Resource, Resource]]) -> int:
        """A catalogue refresh saw a resource's name or owner tag change. Who approves comes
        from that tag, which people other than the integration owners can edit, so a change
        on a resource with open requests is reported to the integration owners (approvers
        never grow from it: see :meth:`People.approvers_for`). Returns how many were reported."""
        setting = self.policy.resource_owner
        reported = 0
        for old, new in changes:
            tag_key = setting.tag_key if setting else None
            renamed = old.name != new.name
            retagged = tag_key is not None and old.tags.get(tag_key) != new.tags.get(tag_key)
            if not (renamed or retagged):
                continue
            open_requests = self.store.open_requests_on(new)
            if not open_requests:
                continue
            refs = tuple(r.ref for r in open_requests)
            log.warning(
                "resource %s changed with open requests %s: name %r -> %r, tag %s %r -> %r",
                new.key,
                ", ".join(refs),
                old.name,
                new.name,
                tag_key,
                old.tags.get(tag_key) if tag_key else None,
                new.tags.get(tag_key) if tag_key else None,
            )
            self.notifier.notify_owners(
                self.core.people.integration_owners(),
                alerts.ResourceChanged(old, new, renamed, tag_key if retagged else None, refs),
            )
            reported += 1
        return reported


def _finding(kind: str, request: AccessRequest, user_id: str, unit: Unit) -> dict:
    """One drift finding: its key (reported once), the audit record (``what``: the finding
    in a sentence, kept with the event) and the finding the owners are told about."""
    role = f"`{escape(planning.describe(unit))}` ({escape(unit.scope)}, {escape(unit.target)})"
    who = f"Elastic Cloud member {escape(user_id)} (<@{request.requester_id}>)"
    if kind == "vanished":
        what = f"{request.ref} is live but {who} no longer holds {role} the bot added"
    else:
        what = f"{who} holds {role} again, which the bot removed when {request.ref} ended"
    return {
        "key": f"drift:{kind}:{request.id}:{user_id}:{unit.text}",
        "kind": kind,
        "request": request,
        "detail": {"user_id": user_id, "unit": unit.text, "what": what},
        "finding": alerts.DriftFinding(kind, request, user_id, unit),
    }
