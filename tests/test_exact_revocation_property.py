"""Property: after every grant ends, a member holds exactly what they held before, and while
grants run they hold at least their standing access plus what the running grants give.

Each example is independent and fast: the pure planning code (bot/access/planning.py) drives
an in-memory Elastic Cloud with the real service's semantics (no reference counting; ``all``
absorbs a role's specific assignments, removing it takes them too) and an in-memory record
of owned units, in the order AccessService calls them. Hundreds of examples run on every
test run; the end-to-end tests in test_elastic_grants.py cover the same steps through the
real service, database and emulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.access import planning
from bot.access.resources import Unit

ORG_ID = "1234567890"
PROD, STAGING = "d" * 32, "e" * 32
CHOICES = [
    Unit("deployment", "deployment-viewer", PROD),
    Unit("deployment", "deployment-editor", PROD),
    Unit("deployment", "deployment-viewer", STAGING),
    Unit("deployment", "deployment-viewer", "*"),
    Unit("deployment", "deployment-editor", "*"),
    Unit("organization", "billing-admin", ORG_ID),
]


class Elastic:
    """One member's role assignments, merged and subtracted as Elastic Cloud does."""

    def __init__(self) -> None:
        self.units: set[Unit] = set()

    def add(self, units) -> None:
        for u in units:
            if u.scope != "organization" and u.target == "*":
                self.units -= {
                    h for h in self.units if (h.scope, h.role_id) == (u.scope, u.role_id)
                }
                self.units.add(u)
            elif not planning.holds(self.units, u):
                self.units.add(u)

    def remove(self, units) -> None:
        for u in units:
            self.units.discard(u)  # a specific id under an ``all`` changes nothing


@dataclass
class Ledger:
    """What the database keeps: owned units (first adder wins), live grants, standing access."""

    owned: dict[Unit, int] = field(default_factory=dict)
    live: dict[int, Unit] = field(default_factory=dict)
    held_before: dict[int, list[Unit]] = field(default_factory=dict)

    def own(self, units, grant: int) -> None:
        for u in units:
            self.owned.setdefault(u, grant)

    def needed_by_others(self, grant: int) -> set[Unit]:
        return {u for g, u in self.live.items() if g != grant}


def start(elastic: Elastic, ledger: Ledger, grant: int, unit: Unit) -> None:
    """AccessService.grant and _apply_grant."""
    held = frozenset(elastic.units)
    adding = planning.to_add(held, unit)
    ledger.own(adding, grant)
    ledger.held_before[grant] = sorted(planning.standing(held, ledger.owned))
    ledger.live[grant] = unit
    elastic.add(adding)


def end(elastic: Elastic, ledger: Ledger, grant: int) -> None:
    """AccessService._finish_revocation and _restore_shadowed (the grant is revoking)."""
    unit = ledger.live.pop(grant)
    others = ledger.needed_by_others(grant)
    released = planning.release(unit, ledger.owned, others)
    removing = planning.to_remove(released, elastic.units)
    if removing:
        elastic.remove(removing)
        if any(u.target == "*" for u in removing):
            standing = set(ledger.held_before[grant])
            for u in removing:
                adder = ledger.owned.get(u)
                if adder is not None and adder != grant:
                    standing |= set(ledger.held_before[adder])
            restore = planning.to_restore(removing, elastic.units, standing, others)
            elastic.add(restore)
            ledger.own(planning.owned_after_restore(restore, others, standing), grant)
    for u in released:
        ledger.owned.pop(u, None)


def covered(wanted, holdings) -> bool:
    return all(planning.holds(holdings, u) for u in wanted)


scenario = st.tuples(
    st.sets(st.sampled_from(CHOICES), max_size=3),  # standing access
    st.lists(  # grants: (unit, start minute, duration in minutes)
        st.tuples(st.sampled_from(CHOICES), st.integers(0, 240), st.integers(1, 180)),
        min_size=1,
        max_size=6,
    ),
    st.booleans(),  # at the same minute, do ends come before starts?
)


@settings(max_examples=600, deadline=None)
@given(scenario)
def test_grants_end_leaving_exactly_the_standing_access(case):
    standing, grants, ends_first = case
    elastic, ledger = Elastic(), Ledger()
    elastic.add(sorted(standing))
    before = frozenset(elastic.units)
    timeline = []
    for grant, (unit, at, minutes) in enumerate(grants):
        timeline.append((at, 1 if ends_first else 0, grant, "start", unit))
        timeline.append((at + minutes, 0 if ends_first else 1, grant, "end", unit))
    timeline.sort(key=lambda e: e[:3])
    for _, _, grant, what, unit in timeline:
        if what == "start":
            start(elastic, ledger, grant, unit)
        else:
            end(elastic, ledger, grant)
        running = set(ledger.live.values())
        assert covered(before, elastic.units), (what, grant, elastic.units)
        assert covered(running, elastic.units), (what, grant, elastic.units)
    assert elastic.units == before
    assert ledger.owned == {}


# -- the same steps, by hand, for the cases that matter most ------------------------------------
VIEWER_PROD, VIEWER_ALL = CHOICES[0], CHOICES[3]


def test_overlapping_grants_keep_the_role_until_the_last_ends():
    elastic, ledger = Elastic(), Ledger()
    start(elastic, ledger, 1, VIEWER_PROD)
    start(elastic, ledger, 2, VIEWER_PROD)
    end(elastic, ledger, 1)
    assert VIEWER_PROD in elastic.units
    end(elastic, ledger, 2)
    assert elastic.units == set()


def test_standing_access_absorbed_by_an_all_grant_comes_back():
    elastic, ledger = Elastic(), Ledger()
    elastic.add([VIEWER_PROD])
    start(elastic, ledger, 1, VIEWER_ALL)
    assert elastic.units == {VIEWER_ALL}
    end(elastic, ledger, 1)
    assert elastic.units == {VIEWER_PROD}


def test_a_live_grant_absorbed_by_an_all_grant_comes_back_and_then_ends():
    elastic, ledger = Elastic(), Ledger()
    start(elastic, ledger, 1, VIEWER_PROD)
    start(elastic, ledger, 2, VIEWER_ALL)
    end(elastic, ledger, 2)
    assert elastic.units == {VIEWER_PROD}
    end(elastic, ledger, 1)
    assert elastic.units == set()
