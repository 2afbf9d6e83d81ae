"""Property: after every grant ends, a member holds exactly what they held before, and while
grants run they hold at least their standing access plus what the running grants give.

Each example is independent and fast: the pure planning code (bot/access/planning.py) drives
an in-memory Elastic Cloud (no reference counting) and an in-memory record of owned units, in
the order AccessService calls them. Where Elastic's behaviour is not documented (issue #18)
the model runs under every combination that matters: ``all`` absorbs a role's specific
assignments (removing it takes them too) or keeps them beside it; a second role on the same
deployment replaces the first or is added beside it; a second organization role replaces
the first or not; a DELETE removes only the entry with the same ``application_roles``
(strict) or every entry of that role there, whatever their ``application_roles`` (lenient).
Grants and standing access include stack roles and console-only entries (issue #14 §1). Under each, the bot either believes the safest combination
(``planning.SAFEST``, what it assumes before a probe) or what a probe measured (the truth).
Thousands of examples run on every test run; the end-to-end tests in test_elastic_grants.py
and test_grant_ownership.py cover the same steps through the real service, database and
emulator.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.access import planning
from bot.access.resources import Unit

ORG_ID = "1234567890"
PROD, STAGING = "d" * 32, "e" * 32
PROJECT = "p" * 32
CHOICES = [
    Unit("deployment", "deployment-viewer", PROD),
    Unit("deployment", "deployment-editor", PROD),
    Unit("deployment", "deployment-viewer", STAGING),
    Unit("deployment", "deployment-viewer", "*"),
    Unit("deployment", "deployment-editor", "*"),
    Unit("organization", "billing-admin", ORG_ID),
    Unit("organization", "organization-admin", ORG_ID),
    # Stack roles and console-only entries (issue #14 §1): the same role and target as plain
    # entries above, told apart only by their application_roles.
    Unit("deployment", "deployment-viewer", PROD, ("ops_readonly",)),
    Unit("deployment", "deployment-viewer", STAGING, ("ops_readonly",)),
    Unit("deployment", "deployment-admin", PROD, ()),
    Unit("deployment", "deployment-admin", "*", ()),
    Unit("project:elasticsearch", "elasticsearch-viewer", PROJECT),
    Unit("project:elasticsearch", "elasticsearch-viewer", PROJECT, ("marketing-reader",)),
    Unit("project:elasticsearch", "elasticsearch-viewer", PROJECT, ("team-writer",)),
]
#: (all absorbs, one role per deployment, one organization role, strict DELETE): every
#: combination.
SERVICES = list(itertools.product([True, False], repeat=4))


class Elastic:
    """One member's role assignments, merged and subtracted as Elastic Cloud may."""

    def __init__(
        self,
        absorbs: bool = True,
        replace: bool = False,
        one_org: bool = False,
        strict: bool = True,
    ):
        self.units: set[Unit] = set()
        self.absorbs, self.replace, self.one_org = absorbs, replace, one_org
        #: A DELETE takes only the entry with the same application_roles (else every entry
        #: of that role on that target, as the emulator's lenient mode).
        self.strict = strict

    def add(self, units) -> None:
        for u in units:
            if u.scope == "organization":
                if self.one_org:
                    self.units -= {h for h in self.units if h.scope == "organization"}
                self.units.add(u)
                continue
            if self.replace and u.target != "*":  # as the emulator's one role per resource
                self.units -= {
                    h
                    for h in self.units
                    if (h.scope, h.target) == (u.scope, u.target) and h.role_id != u.role_id
                }
            if u.target == "*":
                if self.absorbs:  # within one entry: the same role and application_roles
                    self.units -= {
                        h
                        for h in self.units
                        if (h.scope, h.role_id, h.application_roles)
                        == (u.scope, u.role_id, u.application_roles)
                    }
                self.units.add(u)
            elif not (self.absorbs and planning.holds(self.units, u)):
                self.units.add(u)

    def remove(self, units) -> None:
        for u in units:
            if self.strict:
                self.units.discard(u)  # absorbing: a specific id under an ``all`` changes nothing
            else:
                self.units -= {h for h in self.units if h.plain == u.plain}


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


def start(elastic: Elastic, ledger: Ledger, grant: int, unit: Unit, belief=planning.SAFEST) -> bool:
    """Granting.grant and apply_grant (engine/granting.py); False: refused (planning.refusal)."""
    held = frozenset(elastic.units)
    if planning.refusal(unit, held, belief, ledger.owned):
        return False
    adding = planning.to_add(held, unit)
    ledger.own(adding, grant)
    ledger.held_before[grant] = sorted(planning.standing(held, ledger.owned))
    ledger.live[grant] = unit
    elastic.add(adding)
    return True


def end(elastic: Elastic, ledger: Ledger, grant: int) -> None:
    """Revocation.finish and restore_shadowed (engine/revocation.py; the grant is revoking)."""
    if grant not in ledger.live:
        return  # refused: nothing to end
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


@pytest.mark.parametrize("measured", [False, True], ids=["assumed-safest", "measured"])
@pytest.mark.parametrize(
    "absorbs,replace,one_org,strict",
    SERVICES,
    ids=[
        f"{'absorb' if a else 'keep'}-{'replace' if r else 'union'}-"
        f"{'oneorg' if o else 'orgunion'}-{'strict' if d else 'lenient'}"
        for a, r, o, d in SERVICES
    ],
)
# 150 examples each, or more where the loaded profile asks for more (CI's: 300, tests/conftest.py)
@settings(max_examples=max(150, settings().max_examples), deadline=None)
@given(case=scenario)
def test_grants_end_leaving_exactly_the_standing_access(
    absorbs, replace, one_org, strict, measured, case
):
    standing, grants, ends_first = case
    elastic, ledger = Elastic(absorbs, replace, one_org, strict), Ledger()
    belief = (
        planning.Semantics(
            all_absorbs=absorbs,
            one_role_per_resource=replace,
            one_organization_role=one_org,
            delete_needs_application_roles=strict,
        )
        if measured
        else planning.SAFEST
    )
    elastic.add(sorted(standing))
    before = frozenset(elastic.units)
    timeline = []
    for grant, (unit, at, minutes) in enumerate(grants):
        timeline.append((at, 1 if ends_first else 0, grant, "start", unit))
        timeline.append((at + minutes, 0 if ends_first else 1, grant, "end", unit))
    timeline.sort(key=lambda e: e[:3])
    for _, _, grant, what, unit in timeline:
        if what == "start":
            start(elastic, ledger, grant, unit, belief)
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


def test_a_role_that_would_replace_one_held_on_the_same_deployment_is_refused():
    """Under one role per deployment, editor over a standing viewer role would take the viewer
    role away for the grant and put it back only approximately: refused, in words."""
    elastic, ledger = Elastic(replace=True), Ledger()
    elastic.add([VIEWER_PROD])
    editor = CHOICES[1]
    why = planning.refusal(editor, elastic.units, planning.SAFEST)
    assert why and "deployment-viewer" in why and "python -m bot probe" in why
    assert not start(elastic, ledger, 1, editor)
    assert elastic.units == {VIEWER_PROD}
    union = planning.Semantics(one_role_per_resource=False, measured_at="2026-12-02T10:00:00")
    assert planning.refusal(editor, elastic.units, union) is None
    assert planning.refusal(VIEWER_PROD, elastic.units, planning.SAFEST) is None  # adds nothing


def test_a_second_organization_role_is_refused_only_where_it_replaces():
    billing, owner = CHOICES[5], CHOICES[6]
    single = planning.Semantics(one_organization_role=True, measured_at="2026-12-02T10:00:00")
    why = planning.refusal(owner, {billing}, single)
    assert why and "measured on 2026-12-02" in why and "billing-admin" in why
    assert (
        planning.refusal(owner, {billing}, planning.Semantics(one_organization_role=False)) is None
    )
    assert planning.refusal(owner, {VIEWER_PROD}, single) is None


def test_keeping_entries_beside_all_needs_no_restore():
    """Where ``all`` keeps the specific entries, removing it leaves them: nothing is re-added."""
    elastic, ledger = Elastic(absorbs=False), Ledger()
    elastic.add([VIEWER_PROD])
    start(elastic, ledger, 1, VIEWER_ALL)
    assert elastic.units == {VIEWER_PROD, VIEWER_ALL}
    end(elastic, ledger, 1)
    assert elastic.units == {VIEWER_PROD}


def test_safest_semantics_are_the_documented_assumptions():
    assert (
        planning.Semantics(
            all_absorbs=True,
            one_role_per_resource=True,
            one_organization_role=True,
            delete_needs_application_roles=True,
            invitation_minutes=False,
            hidden_refuses_named=True,
            hidden_refuses_all=True,
        )
        == planning.SAFEST
    )
    measured = planning.Semantics.from_answers(
        {"one_role_per_resource": False, "hidden_refuses_all": None, "bogus": True},
        "2026-12-02T10:00:00+00:00",
    )
    assert not measured.one_role_per_resource and measured.hidden_refuses_all
    assert measured.measured_at == "2026-12-02T10:00:00+00:00"


# -- stack roles and console-only entries (issue #14 §1) ----------------------------------------
STACK_PROD, CONSOLE_ADMIN_PROD = CHOICES[7], CHOICES[9]
PLAIN_PROJECT, MARKETING, TEAM = CHOICES[11], CHOICES[12], CHOICES[13]


def test_an_entry_with_application_roles_and_a_plain_one_do_not_stand_for_each_other():
    assert not planning.holds({MARKETING}, PLAIN_PROJECT)
    assert not planning.holds({PLAIN_PROJECT}, MARKETING)
    assert not planning.holds({CONSOLE_ADMIN_PROD}, Unit("deployment", "deployment-admin", PROD))
    assert planning.to_add({PLAIN_PROJECT}, MARKETING) == [MARKETING]


@pytest.mark.parametrize("strict", [True, False], ids=["strict", "lenient"])
def test_a_stack_role_grant_is_removed_exactly_and_never_beside_the_same_role(strict):
    elastic, ledger = Elastic(strict=strict), Ledger()
    elastic.add([VIEWER_PROD])  # standing, on another resource
    assert start(elastic, ledger, 1, MARKETING)
    assert elastic.units == {VIEWER_PROD, MARKETING}
    end(elastic, ledger, 1)
    assert elastic.units == {VIEWER_PROD}
    # Beside a plain entry of the same role there (a lenient DELETE would take both): refused.
    elastic.add([PLAIN_PROJECT])
    why = planning.refusal(MARKETING, elastic.units, planning.SAFEST)
    assert why and "elasticsearch-viewer" in why and "application roles" in why
    assert not start(elastic, ledger, 2, MARKETING)
    # Nor a plain entry beside a stack-role one, nor one stack role beside another.
    elastic.units = {TEAM}
    assert planning.refusal(PLAIN_PROJECT, elastic.units, planning.SAFEST)
    assert planning.refusal(MARKETING, elastic.units, planning.SAFEST)


def test_a_stack_role_held_as_standing_access_is_refused_one_the_bot_added_is_shared():
    why = planning.entry_refusal(MARKETING, {MARKETING}, owned=(), you=True)
    assert why and why.startswith("You already hold elasticsearch-viewer with application")
    elastic, ledger = Elastic(), Ledger()
    assert start(elastic, ledger, 1, STACK_PROD)
    assert start(elastic, ledger, 2, STACK_PROD)  # overlapping grants share the entry
    end(elastic, ledger, 1)
    assert STACK_PROD in elastic.units
    end(elastic, ledger, 2)
    assert elastic.units == set()
